"""--log-level / --log-format: logfmt and JSON lines with structured fields; the cycle line."""

from __future__ import annotations

import json
import logging
import re
import shlex
import time
from pathlib import Path
from typing import Any

import pytest

from quota_watch.daemon.logs import setup_logging
from quota_watch.sdk import Measure
from quota_watch.testing.emulated import EmulatedAccount, EmulatedLimit
from quota_watch.testing.emulator import Emulator, Faults, demo_accounts
from tests.support.daemon_proc import DaemonProcess, free_port

_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_logfmt(line: str) -> dict[str, str]:
    """A logfmt line as a dict (quoted values unescaped)."""
    out: dict[str, str] = {}
    for key, raw in _PAIR.findall(line):
        out[key] = shlex.split(raw)[0] if raw.startswith('"') else raw
    return out


def test_logfmt_keeps_fields_apart_and_quotes_what_needs_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging("info", "logfmt")
    logging.getLogger("quota_watch.x").warning(
        "alert %s firing", "QuotaAlmostFull", extra={"alert": "QuotaAlmostFull", "account": "a b"}
    )
    line = capsys.readouterr().err.strip().splitlines()[-1]
    fields = parse_logfmt(line)
    assert fields["level"] == "warning"
    assert fields["logger"] == "quota_watch.x"
    assert fields["msg"] == "alert QuotaAlmostFull firing"
    assert fields["alert"] == "QuotaAlmostFull"
    assert fields["account"] == "a b"
    assert 'account="a b"' in line


def test_json_carries_extra_fields_as_keys(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("debug", "json")
    logging.getLogger("quota_watch.x").info(
        "notifier %s: sent", "ops", extra={"notifier": "ops", "messages": 2}
    )
    data = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert data["notifier"] == "ops"
    assert data["messages"] == 2
    assert data["message"] == "notifier ops: sent"


def _records(daemon: DaemonProcess, fmt: str) -> list[dict[str, Any]]:
    lines = [line for line in daemon.log().splitlines() if line.strip()]
    if fmt == "json":
        return [json.loads(line) for line in lines if line.startswith("{")]
    return [parse_logfmt(line) for line in lines if line.startswith("time=")]


def _wait_for_record(daemon: DaemonProcess, fmt: str, **want: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        daemon.check_alive()
        for record in _records(daemon, fmt):
            if all(str(record.get(k)) == v for k, v in want.items()):
                return record
        time.sleep(0.2)
    raise AssertionError(f"no log record with {want}:\n{daemon.log()}")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["logfmt", "json"])
def test_daemon_logs_one_line_per_cycle_with_structured_fields(tmp_path: Path, fmt: str) -> None:
    hot = EmulatedLimit(start_value=99, cap=100, measure=Measure.LEVEL, period="none")
    accounts = [*demo_accounts(2), EmulatedAccount("acct-hot", "hot-token", {"disk": hot})]
    with Emulator(accounts, seed=3) as emulator:
        emulator.set_faults("acct-02", Faults(error_rate=1.0))
        config = tmp_path / "quota-watch.toml"
        config.write_text(
            emulator.config_toml(interval="2s", store_url=f"sqlite:///{tmp_path / 'qw.db'}")
        )
        args = ["--log-format", fmt, "--log-level", "info"]
        with DaemonProcess(tmp_path, free_port(), config=config, args=args) as daemon:
            cycle = _wait_for_record(daemon, fmt, polled="3", failed="1")
            text = cycle["message" if fmt == "json" else "msg"]
            assert re.fullmatch(r"polled 3 accounts, 1 failed, next in \d+s", text), text
            assert cycle["failed_accounts"] == "acct-02"
            alert = _wait_for_record(daemon, fmt, account="acct-hot", transition="firing")
            assert (alert["provider"], alert["limit"]) == ("http_json", "disk")
            assert alert["alert"] in ("QuotaAlmostFull", "QuotaFullyUsed")
            assert alert["severity"] in ("warning", "critical")
            failure = _wait_for_record(daemon, fmt, account="acct-02", outcome="unavailable")
            assert failure["provider"] == "http_json"
            assert daemon.stop() == 0, daemon.log()
            assert not any(r.get("level") == "debug" for r in _records(daemon, fmt))
