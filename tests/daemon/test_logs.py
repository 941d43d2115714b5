"""Logging set-up: levels, JSON lines, and libraries that must stay quiet."""

from __future__ import annotations

import json
import logging

import pytest

from quota_watch.daemon.logs import setup_logging


def test_levels_and_quiet_libraries(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info", "text")
    logging.getLogger("quota_watch_collectors.host.collector").info("collector says hi")
    logging.getLogger("httpx").info("GET https://api.example.com/?token=abcdef")
    logging.getLogger("quota_watch.daemon").debug("not shown at info")
    err = capsys.readouterr().err
    assert "collector says hi" in err
    assert "token=abcdef" not in err
    assert "not shown" not in err


def test_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("debug", "json")
    logging.getLogger("quota_watch.x").warning("hello %s", "world")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    data = json.loads(line)
    assert data["message"] == "hello world"
    assert data["level"] == "warning"
    assert data["time"].endswith("+00:00")
