"""TOML output for `config show`, dropping null values (TOML has none)."""

from __future__ import annotations

from typing import Any

import tomli_w


def _drop_none(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _drop_none(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_drop_none(v) for v in node]
    return node


def dumps(data: dict[str, Any]) -> str:
    """`data` as a TOML document."""
    return tomli_w.dumps(_drop_none(data))
