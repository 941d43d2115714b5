"""Waiting for a condition with a generous deadline (tests never assert that something is fast)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    diagnostics: Callable[[], str] | None = None,
) -> None:
    """Poll `condition` until it holds; AssertionError naming `what` (and, if given, what
    `diagnostics()` says: logs, the server's state) after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    detail = "" if diagnostics is None else f"\n{diagnostics()}"
    raise AssertionError(f"{what}: not after {timeout}s{detail}")
