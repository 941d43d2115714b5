"""Conventions of the command line: --version, shell completion, help placeholders, notify test."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from quota_watch.cli.app import app

runner = CliRunner()
BIN = Path(sys.executable).parent


def command_paths() -> list[list[str]]:
    """Every leaf command as its argv prefix, e.g. ["db", "backup"]."""
    found: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        subcommands = getattr(command, "commands", {})
        if not subcommands:
            found.append(path)
        for name, sub in subcommands.items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def test_version_comes_from_the_package_metadata() -> None:
    for flag in ("--version", "-V"):
        result = runner.invoke(app, [flag])
        assert result.exit_code == 0, result.output
        assert result.stdout == f"quota-watch {version('quota-watch')}\n"


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_help_placeholders_are_upper_case_names(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    options = result.stdout.partition("Options:")[2].partition("Examples:")[0]
    # typer's type-derived placeholders (<str>, <file>, <list[str]>, <table|json>) on options
    assert not re.search(r"^\s+(-\w, )?--[\w-]+ <", options, re.MULTILINE), options
    for option, metavar in (
        ("--config", "PATH"),
        ("--account", "ACCOUNT"),
        ("--format", "FORMAT"),
        ("--group", "POOL"),
    ):
        if re.search(rf"{option}\b", options):
            assert f"{option} {metavar}" in options, (option, options)


def test_choices_stay_visible_in_help() -> None:
    result = runner.invoke(app, ["report", "--help"])
    assert "--format FORMAT" in result.stdout
    assert "table, json, csv, markdown" in result.stdout


def test_run_help_suggests_pidof_x() -> None:
    result = runner.invoke(app, ["run", "--help"])
    assert "pidof -x quota-watch" in result.stdout
    assert "--log-format FORMAT" in result.stdout and "logfmt" in result.stdout
    assert "--log-level LEVEL" in result.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_for_each_shell(shell: str) -> None:
    result = runner.invoke(app, ["completion", shell])
    assert result.exit_code == 0, result.output
    assert "_QUOTA_WATCH_COMPLETE" in result.stdout
    assert f"complete_{shell}" in result.stdout
    assert "quota-watch" in result.stdout


def test_completion_refuses_other_shells() -> None:
    result = runner.invoke(app, ["completion", "tcsh"])
    assert result.exit_code == 2


def test_bash_completes_commands_and_options_through_the_script() -> None:
    """Source the generated script in a real bash and ask it to complete, as the shell would."""
    bash = shutil.which("bash")
    if bash is None or not (BIN / "quota-watch").exists():
        pytest.skip("needs bash and the installed quota-watch script")
    script = runner.invoke(app, ["completion", "bash"]).stdout
    probe = (
        script
        + "\nCOMP_WORDS=(quota-watch con); COMP_CWORD=1;"
        + ' _quota_watch_completion quota-watch; echo "${COMPREPLY[@]}"'
        + "\nCOMP_WORDS=(quota-watch run --log-f); COMP_CWORD=2;"
        + ' _quota_watch_completion quota-watch; echo "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = subprocess.run(
        [bash, "--norc", "-c", probe], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    commands, options = out.stdout.splitlines()[-2:]
    assert commands.split() == ["config"]
    assert options.split() == ["--log-format"]


def test_notify_test_names_skipped_notifiers_even_when_none_is_left(tmp_path: Path) -> None:
    config = tmp_path / "qw.toml"
    config.write_text(
        '[[notifiers]]\nname = "pager"\nurl = "json://127.0.0.1:9/x"\nseverities = ["critical"]\n'
    )
    result = runner.invoke(app, ["notify", "test", "-s", "info", "-c", str(config)])
    assert result.exit_code == 1
    assert (
        "pager: skipped: takes critical messages, not info (try --severity critical)"
        in result.output
    )
    assert "no notifier takes info messages" in result.output
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    none = runner.invoke(app, ["notify", "test", "-c", str(empty)])
    assert none.exit_code == 1
    assert "no [[notifiers]] configured" in none.output
