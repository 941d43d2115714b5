"""Fuzzed configs (hypothesis): `config check` ends in exit 0 or 2 with one clear message, never a
traceback. QUOTA_WATCH_FUZZ_EXAMPLES sets the number of examples (200 by default; 1,000 for the
figure in issue 15)."""

from __future__ import annotations

import os
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from typer.testing import CliRunner

from quota_watch.cli.app import app
from quota_watch.config.settings import Settings

EXAMPLES = int(os.environ.get("QUOTA_WATCH_FUZZ_EXAMPLES", "200"))


def _vocabulary(model: type[BaseModel], into: set[str]) -> set[str]:
    for name, field in model.model_fields.items():
        into.add(name)
        for arg in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg is not model:
                _vocabulary(arg, into)
    return into


KEYS = sorted(
    _vocabulary(Settings, set())
    | {"url", "token", "token_file", "options", "limits", "collector", "name", "interval"}
    | {"value", "cap_path", "for_each", "resource", "unit", "measure", "period", "scope"}
)
COLLECTORS = ["host", "github", "http_json", "cloudflare", "aws", "supabase", "vercel", "netlify"]
UNITS = ["ms", "s", "m", "h", "d", "w", "", "x"]

durations = st.builds(
    lambda n, u: f"{n}{u}",
    st.one_of(st.integers(-10, 10**12), st.floats(allow_nan=True, allow_infinity=True)),
    st.sampled_from(UNITS),
)
scalars = st.one_of(
    durations,
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=40),
    st.sampled_from(
        [
            "${HOME}",
            "${UNSET_FUZZ_VAR}",
            "sqlite://",
            "postgresql://u:pw@127.0.0.1:1/x?password=y",
            "127.0.0.1:0",
            "[::1]:65536",
            "http://user:pass@127.0.0.1:1/x?api_key=k",
            "/dev/zero",
            "/",
            *COLLECTORS,
        ]
    ),
    st.datetimes(timezones=st.just(UTC), min_value=datetime(1970, 1, 2)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=5),
    ),
    max_leaves=25,
)
accounts = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.one_of(st.just("acct"), st.text(max_size=10)),
            "collector": st.sampled_from(COLLECTORS),
        },
        optional={
            "interval": durations,
            "options": st.dictionaries(st.sampled_from(KEYS), values, max_size=4),
            "limits": st.dictionaries(st.text(max_size=8), scalars, max_size=3),
            "enabled": values,
        },
    ),
    max_size=3,
)
documents = st.fixed_dictionaries(
    {},
    optional={
        "server": st.dictionaries(st.sampled_from(KEYS), values, max_size=3),
        "store": st.dictionaries(st.sampled_from(KEYS), values, max_size=3),
        "polling": st.dictionaries(st.sampled_from(KEYS), values, max_size=4),
        "heartbeat": st.dictionaries(st.sampled_from(KEYS), values, max_size=3),
        "alerts": st.dictionaries(st.sampled_from(KEYS), values, max_size=3),
        "accounts": accounts,
        "rules": st.lists(st.dictionaries(st.sampled_from(KEYS), values, max_size=4), max_size=2),
        "notifiers": st.lists(
            st.dictionaries(st.sampled_from(KEYS), values, max_size=4), max_size=2
        ),
        "extra": values,
    },
)
env_overrides = st.dictionaries(
    st.sampled_from(
        [
            "QUOTA_WATCH_POLLING",
            "QUOTA_WATCH_POLLING__INTERVAL",
            "QUOTA_WATCH_SERVER__LISTEN",
            "QUOTA_WATCH_STORE__URL",
            "QUOTA_WATCH_ACCOUNTS",
            "QUOTA_WATCH_HEARTBEAT",
        ]
    ),
    st.text(alphabet=string.printable, max_size=30),
    max_size=2,
)


def _toml(document: dict[str, Any]) -> bytes | None:
    try:
        return tomli_w.dumps(document).encode()
    except (TypeError, ValueError):  # e.g. a key tomli_w cannot write
        return None


def check(tmp_path: Path, raw: bytes, env: dict[str, str]) -> None:
    path = tmp_path / "fuzz.toml"
    path.write_bytes(raw)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QUOTA_WATCH_")}
    result = CliRunner().invoke(
        app, ["config", "check", "-c", str(path)], env={**clean, **env}, catch_exceptions=True
    )
    output = result.output
    assert result.exit_code in (0, 2), (result.exit_code, output, raw[:500], env)
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), (repr(result.exception), raw[:500])
    assert "Traceback" not in output, output
    if result.exit_code == 2:
        assert "configuration error" in output or "error" in output, output


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(document=documents, env=env_overrides)
def test_fuzzed_configs_exit_0_or_2_without_a_traceback(
    tmp_path: Path, document: dict[str, Any], env: dict[str, str]
) -> None:
    raw = _toml(document)
    if raw is not None:
        check(tmp_path, raw, env)


@pytest.mark.slow
@settings(max_examples=max(20, EXAMPLES // 10), deadline=None)
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_exit_2_without_a_traceback(
    tmp_path_factory: pytest.TempPathFactory, raw: bytes
) -> None:
    check(tmp_path_factory.mktemp("bytes"), raw, {})


GITHUB = b'[[accounts]]\nname = "g"\ncollector = "github"\n[accounts.options]\n'


def test_known_edge_cases(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    deep = "a = " + "[" * 5000 + "]" * 5000
    for raw in (
        b'[store]\nurl = "\xff\xfe"\n',
        deep.encode(),
        b'[[accounts]]\nname = "a"\ncollector = ["host"]\n',
        b'[polling]\ninterval = "99999999d"\n',
        b'[polling]\ninterval = "1ms"\n',
        b'[store.retention]\nsamples = "999999999d"\n',
        GITHUB + f'token_file = "{fifo}"\n'.encode(),
        GITHUB + b'token_file = "/dev/zero"\n',
        GITHUB + f'token_file = "{tmp_path}"\n'.encode(),
        b'[store]\nurl = "mysql://u:pw@h/db"\n',
        b'[server]\nlisten = "nonexistent.invalid:9877"\n',
    ):
        check(tmp_path, raw, {})
    check(tmp_path, b"", {"QUOTA_WATCH_POLLING": "{not json"})
    check(tmp_path, b"", {"QUOTA_WATCH_ACCOUNTS": "[1, 2"})
