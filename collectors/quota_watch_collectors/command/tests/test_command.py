"""The command collector's cases (real subprocesses), its environment and its option checks."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from quota_watch_collectors.command.collector import CommandCollector
from quota_watch_collectors.command.options import CommandOptions

from quota_watch.sdk import CollectContext, NoData, Reading, UnexpectedResponse
from quota_watch.testing import iter_cases, run_case

HERE = Path(__file__).parent
TOKEN = "fake-usage-token-0123456789"
COUNT = {"title": "N", "unit": "count", "measure": "level"}


@pytest.mark.parametrize("case_dir", iter_cases(HERE), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(CommandCollector, case_dir)


async def test_the_echoed_token_is_redacted_from_the_stderr_tail() -> None:
    result = await run_case(CommandCollector, HERE / "cases" / "auth_error")
    message = str(result.error)
    assert TOKEN not in message
    assert "token *** was rejected by the API" in message


async def test_a_traceback_tail_names_the_exception() -> None:
    result = await run_case(CommandCollector, HERE / "cases" / "crashed")
    assert "exit 1" in str(result.error)
    assert "RuntimeError: unexpected field" in str(result.error)
    assert TOKEN not in str(result.error)


async def run(code: str, *args: str, **extra: Any) -> list[Reading]:
    raw = {"command": [sys.executable, "-c", code, *args], "limits": {"n": COUNT}, **extra}
    async with httpx.AsyncClient() as client:
        collector = CommandCollector(CommandOptions.model_validate(raw), client)
        ctx = CollectContext(account="t", now=datetime.now(UTC), periods={})
        return await collector.collect(ctx)


async def test_the_daemons_environment_is_not_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QW_DAEMON_SECRET", "do-not-pass-me")
    code = 'import os; print(f\'n {len(os.environ.get("QW_DAEMON_SECRET", ""))}\')'
    assert await run(code, output="lines") == [Reading("n", 0.0)]


async def test_arguments_reach_the_program_verbatim_without_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "touched"
    code = "import sys; print(f'n {len(sys.argv[1])}')"
    argument = f"$(touch {marker}); `touch {marker}`"
    readings = await run(code, argument, output="lines")
    assert readings == [Reading("n", float(len(argument)))]
    assert not marker.exists()


async def test_the_working_directory_is_honoured(tmp_path: Path) -> None:
    (tmp_path / "figure").write_text("7", encoding="utf-8")
    code = "print('n', open('figure').read())"
    assert await run(code, output="lines", cwd=str(tmp_path)) == [Reading("n", 7.0)]


@pytest.mark.parametrize(
    ("stdout", "message"),
    [
        ('[{"limit": "n", "value": -1}]', "value '-1' is not a count quantity"),
        ('[{"limit": "n", "value": true}]', "invalid field"),
        ('[{"limit": "n", "value": 1, "resource": "a"}]', "per account: no resource"),
        ('[{"limit": "n", "value": 1}, {"limit": "n", "value": 2}]', "printed twice"),
        ('{"n": 1}', "expected a JSON list"),
        ('[{"limit": "n", "value": "5 GB"}]', "not a count quantity"),
    ],
)
async def test_bad_json_output_names_the_problem(stdout: str, message: str) -> None:
    with pytest.raises(UnexpectedResponse, match=message):
        await run(f"print({stdout!r})")


async def test_a_bad_line_names_its_number() -> None:
    with pytest.raises(UnexpectedResponse, match="line 2: expected 'LIMIT VALUE"):
        await run("print('n 1'); print('n 1 2 3')", output="lines")


async def test_no_output_at_all_is_no_data() -> None:
    with pytest.raises(NoData):
        await run("pass", output="lines")


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("python3 usage.py", "valid list"),
        (["python3 usage.py --json"], "not run through a shell"),
        ([], "at least 1 item"),
        ([""], "program"),
    ],
)
def test_a_shell_string_is_refused(command: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CommandOptions.model_validate({"command": command, "limits": {"n": COUNT}})


def test_env_values_stay_out_of_the_repr() -> None:
    options = CommandOptions.model_validate(
        {"command": ["x"], "env": {"TOKEN": TOKEN}, "limits": {"n": COUNT}}
    )
    assert TOKEN not in repr(options)
    assert TOKEN not in options.model_dump_json()
