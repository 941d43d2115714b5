"""The JSON Schema of the config file, for editors (Taplo / Even Better TOML) to validate it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter

from quota_watch.config.settings import Settings
from quota_watch.units import format_duration

SCHEMA_ID = "https://raw.githubusercontent.com/quota-watch/quota-watch/main/docs/config.schema.json"
SCHEMA_FILE = "docs/config.schema.json"
#: What parse_duration reads: "90s", "10m", "1h30m", "7d" (whitespace between parts allowed).
DURATION_PATTERN = r"^\s*([0-9]+(\.[0-9]+)?\s*(ms|min|s|m|h|d|w)\s*)+$"
_ISO_DURATION: TypeAdapter[timedelta] = TypeAdapter(timedelta)


def _duration(node: dict[str, Any]) -> dict[str, Any]:
    """A duration node as the loader reads it: "10m" or a number of seconds."""
    out = {k: v for k, v in node.items() if k not in ("format", "type", "default")}
    out["anyOf"] = [
        {"type": "string", "pattern": DURATION_PATTERN},
        {"type": "number", "exclusiveMinimum": 0},
    ]
    if isinstance(node.get("default"), str):
        out["default"] = format_duration(_ISO_DURATION.validate_python(node["default"]))
    return out


def _loader_terms(node: Any) -> Any:
    """Rewrite pydantic's ISO 8601 durations and path formats into what the TOML loader reads."""
    if isinstance(node, list):
        return [_loader_terms(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {k: _loader_terms(v) for k, v in node.items()}
    if node.get("format") == "duration":
        return _duration(node)
    if node.get("format") in ("path", "file-path", "password"):
        node = {k: v for k, v in node.items() if k not in ("format", "writeOnly")}
    return node


def _with_secret_files(options: dict[str, Any]) -> dict[str, Any]:
    """Allow `X_file = "/path"` beside each option X, as the loader does."""
    properties = options.get("properties")
    if not isinstance(properties, dict):
        return options
    extra = {
        f"{name}_file": {
            "type": "string",
            "description": f"a file whose contents (stripped) are {name}; instead of {name}",
        }
        for name in properties
        if f"{name}_file" not in properties
    }
    out = {**options, "properties": {**properties, **extra}}
    required = [name for name in options.get("required", []) if f"{name}_file" in extra]
    if required:
        out["required"] = [name for name in options["required"] if name not in required]
        out["allOf"] = [
            {"anyOf": [{"required": [name]}, {"required": [f"{name}_file"]}]} for name in required
        ]
        if not out["required"]:
            del out["required"]
    return out


def _collector_options(collectors: Mapping[str, type[Any]], defs: dict[str, Any]) -> list[Any]:
    """One if/then per collector: `collector = "x"` makes `options` follow x's Options model."""
    branches: list[Any] = []
    for name, options_model in sorted(collectors.items()):
        prefix = f"{name}.options."
        schema = options_model.model_json_schema(ref_template=f"#/$defs/{prefix}{{model}}")
        for key, sub in schema.pop("$defs", {}).items():
            defs[f"{prefix}{key}"] = sub
        schema.pop("title", None)
        branches.append(
            {
                "if": {"properties": {"collector": {"const": name}}, "required": ["collector"]},
                "then": {"properties": {"options": _with_secret_files(schema)}},
            }
        )
    return branches


def config_schema(collectors: Mapping[str, type[Any]] | None = None) -> dict[str, Any]:
    """The config file's JSON Schema; with `collectors` (name -> Options model), their options."""
    schema = Settings.model_json_schema()
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    account = defs["AccountSettings"]
    names = sorted(collectors or {})
    if names:
        account["properties"]["collector"]["examples"] = names
        account["allOf"] = _collector_options(collectors or {}, defs)
    schema["$defs"] = dict(sorted(defs.items()))
    schema = _loader_terms(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **{k: v for k, v in schema.items() if k != "title"},
        "title": "quota-watch configuration",
    }


def installed_collector_options() -> dict[str, type[Any]]:
    """Every installed collector's Options model by name (raises RegistryError)."""
    from quota_watch.collect.registry import discover

    return {name: info.cls.Options for name, info in discover().items()}


def render_schema() -> str:
    """The schema of the config with every installed collector's options, as file text."""
    return json.dumps(config_schema(installed_collector_options()), indent=2) + "\n"
