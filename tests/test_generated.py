"""Generated, committed files: each matches a fresh render; `--check` catches a stale copy."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quota_watch.cli.app import app
from quota_watch.generated import ARTEFACTS, Artefact, artefact, main, stale, write
from quota_watch.prometheus.dashboards.export import load_inputs, render

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("item", ARTEFACTS, ids=[str(a.path) for a in ARTEFACTS])
def test_committed_file_is_the_render(item: Artefact) -> None:
    assert (ROOT / item.path).read_text(encoding="utf-8") == item.render(), (
        f"{item.path} is stale: run `python -m quota_watch.generated`"
    )


def test_every_generated_file_is_registered() -> None:
    registered = {a.path for a in ARTEFACTS}
    assert len(registered) == len(ARTEFACTS)
    on_disk = [*ROOT.glob("dashboards/*.json"), *ROOT.glob("rules/prometheus/*.yml")]
    assert {p.relative_to(ROOT) for p in on_disk} <= registered
    boards = {a.path.name for a in ARTEFACTS if a.path.parent == Path("dashboards")}
    assert boards == set(render(load_inputs()))


def test_registry_renders_what_the_commands_export(tmp_path: Path) -> None:
    runner = CliRunner()
    rules = runner.invoke(app, ["rules", "export", "-o", "-"])
    assert rules.exit_code == 0, rules.output
    assert rules.stdout == artefact("prometheus rules").render()
    example = runner.invoke(app, ["config", "example"])
    assert example.exit_code == 0, example.output
    assert example.stdout == artefact("config example").render()
    boards = runner.invoke(app, ["dashboards", "export", "-o", str(tmp_path)])
    assert boards.exit_code == 0, boards.output
    for item in ARTEFACTS:
        if item.path.parent == Path("dashboards"):
            assert (tmp_path / item.path.name).read_text(encoding="utf-8") == item.render()


def copy_checkout(target: Path) -> None:
    for item in ARTEFACTS:
        (target / item.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / item.path, target / item.path)


def test_check_exits_1_on_a_stale_copy_and_0_when_fresh(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_checkout(tmp_path)
    assert stale(tmp_path) == []
    assert main(["--check", "--root", str(tmp_path)]) == 0
    assert f"{len(ARTEFACTS)} generated files up to date" in capsys.readouterr().out

    rules = tmp_path / "rules" / "prometheus" / "quota-watch.rules.yml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("0.8", "0.75"), encoding="utf-8")
    (tmp_path / "docs" / "metrics.md").unlink()
    assert [a.path for a in stale(tmp_path)] == [
        Path("rules", "prometheus", "quota-watch.rules.yml"),
        Path("docs", "metrics.md"),
    ]
    assert main(["--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{rules}: stale" in err
    assert f"{tmp_path / 'docs' / 'metrics.md'}: stale" in err
    assert "config.example.toml" not in err

    assert main(["--root", str(tmp_path)]) == 0
    assert stale(tmp_path) == []
    assert main(["--check", "--root", str(tmp_path)]) == 0


def test_write_returns_every_path(tmp_path: Path) -> None:
    written = write(tmp_path)
    assert written == [tmp_path / a.path for a in ARTEFACTS]
    assert stale(tmp_path) == []


def test_module_runs_with_help_and_check() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "quota_watch.generated", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--check" in help_text and "config.example.toml" in help_text
    checked = subprocess.run(
        [sys.executable, "-m", "quota_watch.generated", "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
