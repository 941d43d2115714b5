"""`config schema`: the JSON Schema accepts what the loader accepts and flags what it rejects."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from quota_watch.cli.app import app
from quota_watch.config.load import validate_config
from quota_watch.config.schema import SCHEMA_FILE, config_schema, render_schema

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(render_schema())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def problems(validator: jsonschema.protocols.Validator, data: dict[str, Any]) -> list[str]:
    return [
        "/".join(map(str, e.absolute_path)) + ": " + e.message for e in validator.iter_errors(data)
    ]


def test_command_prints_the_published_schema() -> None:
    result = runner.invoke(app, ["config", "schema"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (ROOT / SCHEMA_FILE).read_text(encoding="utf-8")
    assert json.loads(result.stdout)["$schema"].endswith("2020-12/schema")


def test_example_config_and_the_embedded_default_validate(
    validator: jsonschema.protocols.Validator,
) -> None:
    example = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    assert problems(validator, example) == []
    assert problems(validator, {}) == []


def test_a_config_the_loader_accepts_validates(validator: jsonschema.protocols.Validator) -> None:
    text = """
[polling]
interval = "1h30m"
[logging]
format = "logfmt"
[[accounts]]
name = "cf"
collector = "cloudflare"
interval = 600
[accounts.options]
account_id = "0123456789abcdef0123456789abcdef"
token_file = "/run/secrets/cf"
"""
    data = tomllib.loads(text)
    assert problems(validator, data) == []
    validate_config({k: v for k, v in data.items() if k != "accounts"}, None, {})


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[server]\nlisten_on = 'x'\n", ""),
        ("[polling]\ninterval = '5 minutes'\n", "polling/interval"),
        ("[logging]\nlevel = 'loud'\n", "logging/level"),
        (
            "[[accounts]]\nname = 'h'\ncollector = 'host'\n[accounts.options]\nno_such = 1\n",
            "accounts/0/options",
        ),
        ("[[accounts]]\nname = 'bad name'\ncollector = 'host'\n", "accounts/0/name"),
        (
            "[[accounts]]\nname = 'cf'\ncollector = 'cloudflare'\n[accounts.options]\n"
            "account_id = '0123456789abcdef0123456789abcdef'\n",
            "accounts/0/options",
        ),
    ],
)
def test_schema_flags_what_the_loader_rejects(
    validator: jsonschema.protocols.Validator, text: str, where: str
) -> None:
    found = problems(validator, tomllib.loads(text))
    assert found, text
    assert any(line.startswith(where) for line in found), found


def test_without_collectors_options_stay_free() -> None:
    schema = config_schema()
    assert "allOf" not in schema["$defs"]["AccountSettings"]
    assert schema["$defs"]["PollingSettings"]["properties"]["interval"]["default"] == "5m"
