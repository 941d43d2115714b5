"""`collect --once` and `collectors list` in the terminal: the report's table and formatter,
fitted to 80, 100 and 160 columns, caps in the providers' units, plain text when piped."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from quota_watch.cli.app import app
from tests.support.widths import WIDTHS, assert_fits

runner = CliRunner()


def _run(args: list[str], width: int) -> str:
    result = runner.invoke(app, args, env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("width", WIDTHS)
def test_collectors_list_fits_and_speaks_the_providers_units(width: int) -> None:
    out = _run(["collectors", "list"], width)
    assert_fits(out, width, _run(["collectors", "list"], 1000))
    assert "\x1b[" not in out
    for shown in ("2,000 minutes", "120 core-hours", "500 MiB", "100 GiB", "10 ms", "13k GB-s"):
        assert shown in out
    assert "1.39 d" not in out and "524 MB" not in out


@pytest.fixture
def host_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "qw.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "qw.db"}"\n'
        '[[accounts]]\nname = "vm"\ncollector = "host"\n'
    )
    return path


@pytest.mark.parametrize("width", WIDTHS)
def test_collect_once_shows_the_report_table(host_config: Path, width: int) -> None:
    out = _run(["collect", "--once", "-c", str(host_config)], width)
    header = out.splitlines()[0].split()
    assert header[:2] == ["STATUS", "PROVIDER"] if width >= 120 else ["STATUS", "ACCOUNT"]
    assert "USED" in header and "USE%" in header
    assert "disk_used[/]" in out
    # The disk's value changes between two polls, so no second rendering to compare words with.
    assert max(len(line) for line in out.splitlines()) <= width
