"""Configuration loading: lookup order, interpolation, secrets, path-named errors, the example."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from quota_watch.config.errors import ConfigError
from quota_watch.config.example import render_example
from quota_watch.config.load import find_config_file, load_config, redacted, validate_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "quota-watch.toml"
    path.write_text(text)
    return path


HTTP_JSON_ACCOUNT = """
[[accounts]]
name = "api"
collector = "http_json"
[accounts.options]
url = "http://127.0.0.1:1/usage"
headers = { Authorization = "Bearer ${API_TOKEN}" }
[accounts.options.limits.requests]
title = "Requests"
unit = "count"
measure = "cumulative"
period = "daily"
cap = "100k"
value = "requests"
"""


def test_embedded_default_when_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    if Path("/etc/quota-watch/config.toml").exists():
        pytest.skip("this machine has /etc/quota-watch/config.toml")
    config = load_config(None, env)
    assert config.source is None
    assert [(a.name, a.collector) for a in config.accounts] == [("host", "host")]
    assert config.store_url().startswith("sqlite:///")


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    xdg = tmp_path / "xdg" / "quota-watch"
    xdg.mkdir(parents=True)
    (xdg / "config.toml").write_text("")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert find_config_file(None, env) == xdg / "config.toml"
    local = write(tmp_path, "")
    assert find_config_file(None, env) == Path("quota-watch.toml")
    other = tmp_path / "other.toml"
    other.write_text("")
    assert find_config_file(None, {**env, "QUOTA_WATCH_CONFIG": str(other)}) == other
    assert find_config_file(local, {**env, "QUOTA_WATCH_CONFIG": str(other)}) == local
    with pytest.raises(ConfigError, match="not found"):
        find_config_file(tmp_path / "missing.toml", env)


def test_interpolation_and_env_override(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nlisten = '127.0.0.1:1234'\n" + HTTP_JSON_ACCOUNT)
    env = {"API_TOKEN": "s3cr3t-value", "QUOTA_WATCH_SERVER__LISTEN": "127.0.0.1:5555"}
    config = load_config(path, env)
    assert config.settings.server.listen == "127.0.0.1:5555"
    options = config.account("api").options
    header = options.headers["Authorization"]  # type: ignore[attr-defined]
    assert header.get_secret_value() == "Bearer s3cr3t-value"
    shown = str(redacted(config))
    assert "s3cr3t" not in shown
    assert "**********" in shown


def test_secret_from_file(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("http://127.0.0.1:1/from-a-file\n")
    text = HTTP_JSON_ACCOUNT.replace(
        'headers = { Authorization = "Bearer ${API_TOKEN}" }', ""
    ).replace('url = "http://127.0.0.1:1/usage"', f'url_file = "{secret}"')
    # url is not a secret, but *_file works for any option the model has
    config = load_config(write(tmp_path, text), {})
    assert str(config.account("api").options.url) == "http://127.0.0.1:1/from-a-file"  # type: ignore[attr-defined]


def test_three_errors_named_by_path(tmp_path: Path) -> None:
    text = (
        "[server]\nlisten = '127.0.0.1:9877'\nbogus = 1\n"
        "[[accounts]]\nname = 'a'\ncollector = 'host'\n"
        "[[accounts]]\nname = 'b'\ncollector = 'host'\ninterval = 5.5.5\n"
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as syntax:
        load_config(path, {})
    assert "line 10" in str(syntax.value)

    text = (
        "[server]\nlisten = '127.0.0.1:9877'\nbogus = 1\n"
        "[[accounts]]\nname = 'a'\ncollector = 'host'\n"
        "[[accounts]]\nname = 'b'\ncollector = 'host'\ninterval = [1]\n" + HTTP_JSON_ACCOUNT
    )
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text), {})
    errors = exc.value.errors
    assert len(errors) == 3, errors
    joined = "\n".join(errors)
    assert "server.bogus: unknown key" in joined
    assert "accounts[1].interval:" in joined
    assert "accounts[2].options.headers.Authorization: environment variable API_TOKEN" in joined


def test_collector_options_and_cap_overrides_validated(tmp_path: Path) -> None:
    text = (
        "[[accounts]]\nname = 'h'\ncollector = 'host'\n"
        "[accounts.options]\nno_such_option = 1\n"
        "[[accounts]]\nname = 'h'\ncollector = 'nope'\n"
        "[[accounts]]\nname = 'x'\ncollector = 'host'\n"
        "[accounts.limits]\nnetwork_egress = '5 parsecs'\nnot_a_limit = 3\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text), {})
    joined = "\n".join(exc.value.errors)
    assert "accounts[0].options.no_such_option: unknown key" in joined
    assert "accounts[1].name: 'h' is already used by accounts[0]" in joined
    assert "accounts[1].collector: unknown collector 'nope'" in joined
    assert "accounts[2].limits.network_egress:" in joined
    assert "accounts[2].limits.not_a_limit: unknown limit" in joined


def test_cap_override_parsed() -> None:
    data = {
        "accounts": [
            {"name": "h", "collector": "host", "limits": {"network_egress": "1 TB"}},
        ]
    }
    config = validate_config(data, None, {})
    assert config.account("h").cap_overrides == {"network_egress": 1e12}
    assert config.account("h").interval == timedelta(minutes=5)


def test_config_check_cli_exit_code_and_no_traceback(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[server]\nbogus = 1\n[[accounts]]\nname = 'a'\ncollector = 'host'\ninterval = []\n"
        "[accounts.options]\nproc_path = '${MISSING_VAR_FOR_TEST}'\n",
    )
    env = {k: v for k, v in os.environ.items() if k != "MISSING_VAR_FOR_TEST"}
    proc = subprocess.run(
        [sys.executable, "-m", "quota_watch", "config", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "server.bogus: unknown key" in proc.stderr
    assert "accounts[0].interval:" in proc.stderr
    assert "accounts[0].options.proc_path: environment variable MISSING_VAR_FOR_TEST" in proc.stderr


def test_config_example_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "example.toml"
    path.write_text(render_example())
    config = load_config(path, {})
    assert [a.name for a in config.accounts] == ["host"]
