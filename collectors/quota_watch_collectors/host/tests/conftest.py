"""Fixtures of the host collector's tests: a fake /proc and /sys tree and an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from quota_watch_collectors.host.tests.support import Tree


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    """A fresh fake /proc and /sys tree."""
    return Tree(tmp_path)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client (the host collector makes no requests)."""
    async with httpx.AsyncClient() as http:
        yield http
