"""Read-only commands load the config with a scope: only the accounts they read are validated
in full, notifiers are not checked, and a broken file still fails with its line and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quota_watch.cli.app import app
from quota_watch.config.errors import ConfigError
from quota_watch.config.load import load_config

runner = CliRunner()

GOOD = """
[[accounts]]
name = "vm"
collector = "host"
group = "fleet"

[[accounts]]
name = "vm2"
collector = "host"
group = "fleet"
"""
BROKEN = """
[[accounts]]
name = "broken"
collector = "host"
[accounts.options]
no_such_option = 1
"""
"""Options its collector rejects."""
ACCOUNTS = GOOD + BROKEN
NOTIFIER = """
[[notifiers]]
name = "nowhere"
url = "nosuchscheme://somewhere"
"""


def config_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "qw.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "qw.db"}"\n{ACCOUNTS}{extra}')
    return path


def test_a_scope_validates_only_its_accounts(tmp_path: Path) -> None:
    path = config_file(tmp_path)
    with pytest.raises(ConfigError) as full:
        load_config(path, {})
    assert any("accounts[2].options.no_such_option: unknown key" in e for e in full.value.errors)

    seen: list[list[str]] = []

    def scope(every: object) -> set[str]:
        seen.append([a.name for a in every])  # type: ignore[attr-defined]
        return {"vm"}

    config = load_config(path, {}, accounts=scope)
    assert seen == [["vm", "vm2", "broken"]]  # the scope sees every account's settings
    assert [a.name for a in config.accounts] == ["vm"]
    assert [a.name for a in config.settings.accounts] == ["vm", "vm2", "broken"]
    assert set(config.collectors) == {"host"}

    with pytest.raises(ConfigError) as scoped:
        load_config(path, {}, accounts=lambda _every: {"broken"})
    assert any("no_such_option: unknown key" in e for e in scoped.value.errors)


def test_a_scope_still_checks_the_file_and_every_account_key(tmp_path: Path) -> None:
    path = config_file(tmp_path, "\n[[accounts]]\nname = 'x'\ncollector = 'host'\nbogus = 1\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path, {}, accounts=lambda _every: {"vm"})
    assert any("accounts[3].bogus: unknown key" in e for e in exc.value.errors)

    path.write_text(path.read_text() + "\n[server\n")
    with pytest.raises(ConfigError) as syntax:
        load_config(path, {}, accounts=lambda _every: {"vm"})
    assert "line" in str(syntax.value)


def test_a_scope_leaves_notifiers_alone(tmp_path: Path) -> None:
    path = config_file(tmp_path, NOTIFIER)
    with pytest.raises(ConfigError) as full:
        load_config(path, {}, accounts=lambda _every: {"vm", "vm2", "broken"})
    assert not any("notifiers[0]" in e for e in full.value.errors)  # only the broken options
    config = load_config(path, {}, accounts=lambda _every: {"vm"})
    assert [n.name for n in config.settings.notifiers] == ["nowhere"]


def test_report_and_history_read_past_an_account_they_do_not_show(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "qw.db"}"\n{GOOD}')
    collected = runner.invoke(app, ["collect", "--once", "-f", "json", "-c", str(good)])
    assert collected.exit_code == 0, collected.output
    reading = next(r for r in json.loads(collected.stdout) if r["resource"] is None)
    path = config_file(tmp_path, NOTIFIER)

    checked = runner.invoke(app, ["config", "check", "-c", str(path)])
    assert checked.exit_code == 2
    shown = runner.invoke(app, ["report", "-a", "vm", "-f", "json", "-c", str(path)])
    assert shown.exit_code == 0, shown.output
    assert {r["account"] for r in json.loads(shown.stdout)} == {"vm"}
    history = ["history", "-a", "vm", "-l", reading["limit"], "-f", "csv", "-c", str(path)]
    assert runner.invoke(app, history).exit_code == 0
    plan = runner.invoke(app, ["plan", "-g", "fleet", "-f", "json", "-c", str(path)])
    assert plan.exit_code == 0, plan.output

    everything = runner.invoke(app, ["report", "-c", str(path)])
    assert everything.exit_code == 2
    assert "accounts[2].options.no_such_option: unknown key" in everything.output
    unknown = runner.invoke(app, ["report", "-a", "nope", "-c", str(path)])
    assert unknown.exit_code == 2
    assert "--account: unknown value 'nope' (valid: vm, vm2, broken)" in unknown.output
