"""Settings validate the same with and without pydantic-settings: a config without a QUOTA_WATCH_*
override is validated by the plain model (config.settings.file_settings), one with an override
through pydantic-settings (config.environ); both give the same values, fields set and errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from quota_watch.config.environ import with_environment
from quota_watch.config.errors import ConfigError, format_validation_error
from quota_watch.config.load import load_config, validate_config
from quota_watch.config.settings import Settings, file_settings, overrides_in

DOCUMENTS: list[dict[str, Any]] = [
    {},
    {"server": {"listen": "127.0.0.1:1234"}, "polling": {"interval": "2m", "jitter": 0.2}},
    # pydantic-settings matches top-level keys in any case; the first spelling wins
    {"Server": {"listen": "127.0.0.1:1"}, "STORE": {"url": "sqlite:////tmp/x.db"}},
    {"server": {"listen": "127.0.0.1:1"}, "SERVER": {"listen": "127.0.0.1:2"}},
    {"SERVER": {"listen": "127.0.0.1:2"}, "server": {"listen": "127.0.0.1:1"}},
    {
        "accounts": [{"name": "vm", "collector": "host", "interval": "1m", "group": "g"}],
        "rules": [{"match": {"account": "vm"}, "stale": False, "warning": "70%"}],
        "notifiers": [{"name": "ops", "url": "json://127.0.0.1:9/hook"}],
        "include": ["conf.d/*.toml"],
    },
]

INVALID: list[dict[str, Any]] = [
    {"bogus": 1, "server": {"listen": "nowhere"}},
    {"Bogus": 1, "polling": {"jitter": 2}, "accounts": [{"name": "-bad", "collector": 1}]},
    {"heartbeat": {"url": "https://hc-ping.com/x", "interval": "5s"}, "zzz": {}},
    {"store": "sqlite:///x.db", "logging": {"level": "loud"}},
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_plain_model_validates_as_pydantic_settings_does(document: dict[str, Any]) -> None:
    plain = file_settings(document)
    through = with_environment(document, {})
    assert type(plain) is type(through) is Settings
    assert plain == through
    assert plain.model_fields_set == through.model_fields_set
    assert plain.model_dump(mode="json") == through.model_dump(mode="json")


@pytest.mark.parametrize("document", INVALID)
def test_the_plain_model_reports_the_errors_pydantic_settings_does(
    document: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError) as plain:
        file_settings(document)
    with pytest.raises(ValidationError) as through:
        with_environment(document, {})
    assert format_validation_error(plain.value) == format_validation_error(through.value)


def test_only_a_variable_naming_a_setting_is_an_override() -> None:
    assert not overrides_in({})
    assert not overrides_in({"QUOTA_WATCH_CONFIG": "/etc/qw.toml", "HOME": "/root"})
    assert not overrides_in({"QUOTA_WATCH_FUZZ_EXAMPLES": "10", "OTHER_SERVER": "x"})
    assert overrides_in({"QUOTA_WATCH_SERVER__LISTEN": "127.0.0.1:1"})
    assert overrides_in({"quota_watch_polling": "{}"})  # pydantic-settings ignores the case
    assert overrides_in({"QUOTA_WATCH_ACCOUNTS": "[]"})


def test_an_override_still_applies_and_a_bad_one_is_named(tmp_path: Path) -> None:
    config = validate_config({"server": {"listen": "127.0.0.1:1"}}, None, {})
    assert config.settings.server.listen == "127.0.0.1:1"
    env = {"QUOTA_WATCH_SERVER__LISTEN": "127.0.0.1:5555"}
    overridden = validate_config({"server": {"listen": "127.0.0.1:1"}}, None, env)
    assert overridden.settings.server.listen == "127.0.0.1:5555"
    assert type(overridden.settings) is Settings
    with pytest.raises(ConfigError) as bad:
        validate_config({}, None, {"QUOTA_WATCH_POLLING": "{not json"})
    assert any("QUOTA_WATCH_POLLING" in line for line in bad.value.errors)
    assert not any("not json" in line for line in bad.value.errors)


def test_loading_without_an_override_never_imports_pydantic_settings(tmp_path: Path) -> None:
    path = tmp_path / "qw.toml"
    path.write_text('[[accounts]]\nname = "vm"\ncollector = "host"\n')
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from quota_watch.config.load import load_config\n"
        "env = {k: v for k, v in os.environ.items() if not k.startswith('QUOTA_WATCH_')}\n"
        "load_config(Path(sys.argv[1]), env)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic_settings'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    assert load_config(path, {}).settings.accounts[0].name == "vm"
