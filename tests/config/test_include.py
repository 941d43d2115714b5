"""`include = ["conf.d/*.toml"]`: merged in file-name order; errors name the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quota_watch.cli.app import app
from quota_watch.config.errors import ConfigError
from quota_watch.config.load import load_config

runner = CliRunner()

MAIN = """\
include = ["conf.d/*.toml"]

[store]
url = "sqlite:///{db}"

[[accounts]]
name = "vm"
collector = "host"
"""


def account(name: str) -> str:
    return f'[[accounts]]\nname = "{name}"\ncollector = "host"\n'


@pytest.fixture
def main(tmp_path: Path) -> Path:
    (tmp_path / "conf.d").mkdir()
    path = tmp_path / "quota-watch.toml"
    path.write_text(MAIN.format(db=tmp_path / "qw.db"))
    return path


def test_included_accounts_and_notifiers_follow_in_file_name_order(main: Path) -> None:
    confd = main.parent / "conf.d"
    (confd / "20-b.toml").write_text(account("b1") + "\n" + account("b2"))
    (confd / "10-a.toml").write_text(
        account("a1") + '\n[[notifiers]]\nname = "ops"\nurl = "json://127.0.0.1:9/x"\n'
    )
    (confd / "notes.txt").write_text("not toml")
    config = load_config(main, env={})
    assert [a.name for a in config.accounts] == ["vm", "a1", "b1", "b2"]
    assert [n.name for n in config.settings.notifiers] == ["ops"]
    assert config.includes == (confd / "10-a.toml", confd / "20-b.toml")


def test_no_match_is_fine_and_no_include_changes_nothing(main: Path, tmp_path: Path) -> None:
    assert [a.name for a in load_config(main, env={}).accounts] == ["vm"]
    plain = tmp_path / "plain.toml"
    plain.write_text(account("vm") + "\n" + account("vm"))
    with pytest.raises(ConfigError) as caught:
        load_config(plain, env={})
    assert caught.value.errors == [
        f"{plain}: accounts[1].name: 'vm' is already used by accounts[0]"
    ]


def test_a_duplicate_across_files_names_both_files_and_lines(main: Path) -> None:
    confd = main.parent / "conf.d"
    (confd / "10-a.toml").write_text("# shard one\n\n" + account("a1"))
    (confd / "20-b.toml").write_text(account("b1") + "\n" + account("a1"))
    with pytest.raises(ConfigError) as caught:
        load_config(main, env={})
    assert caught.value.errors == [
        f"{confd / '20-b.toml'}:5: accounts[1].name: 'a1' is already used by "
        f"{confd / '10-a.toml'}:3: accounts[0]"
    ]


def test_a_bad_entry_names_its_file_and_line(main: Path) -> None:
    confd = main.parent / "conf.d"
    (confd / "10-a.toml").write_text(
        account("a1") + '\n[[accounts]]\nname = "a2"\ncollector = "host"\ninterval = "soon"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(main, env={})
    (line,) = caught.value.errors
    assert line.startswith(f"{confd / '10-a.toml'}:5: accounts[1].interval: ")
    assert "'soon' is not a duration" in line


def test_included_files_hold_only_the_arrays_and_parse_errors_name_the_line(main: Path) -> None:
    confd = main.parent / "conf.d"
    (confd / "10-a.toml").write_text('[server]\nlisten = "0.0.0.0:1"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(main, env={})
    assert caught.value.errors == [
        f"{confd / '10-a.toml'}: server: an included file holds only "
        "[[accounts]], [[notifiers]], [[rules]]"
    ]
    (confd / "10-a.toml").write_text('[[accounts]]\nname = "x"\ncollector = \n')
    with pytest.raises(ConfigError) as caught:
        load_config(main, env={})
    (line,) = caught.value.errors
    assert line.startswith(f"{confd / '10-a.toml'}: ")
    assert "line 3" in line


def test_check_and_show_reflect_the_merged_config(main: Path) -> None:
    confd = main.parent / "conf.d"
    (confd / "10-a.toml").write_text(account("a1"))
    check = runner.invoke(app, ["config", "check", "-c", str(main)])
    assert check.exit_code == 0, check.output
    assert check.stdout == f"{main}: OK, 2 accounts (with {confd / '10-a.toml'})\n"
    shown = runner.invoke(app, ["config", "show", "-c", str(main), "-f", "json"])
    assert [a["name"] for a in json.loads(shown.stdout)["accounts"]] == ["vm", "a1"]
    as_toml = runner.invoke(app, ["config", "show", "-c", str(main)])
    assert f"# included: {confd / '10-a.toml'}" in as_toml.stdout
    (confd / "20-b.toml").write_text(account("a1"))
    bad = runner.invoke(app, ["config", "check", "-c", str(main)])
    assert bad.exit_code == 2
    assert f"{confd / '20-b.toml'}:1: accounts[0].name: 'a1' is already used by" in bad.output
    assert "Traceback" not in bad.output
