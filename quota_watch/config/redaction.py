"""Redaction of values that may hold credentials: URLs (user-info and query values) and option
values a model marks as not for display (`repr=False`)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

MASK = "**********"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]*")


def mask_url(text: str) -> str:
    """`text` (one URL) with its password and every query value replaced by ***; a URL that
    cannot be parsed keeps only its scheme."""
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        scheme = text.split("://", 1)[0]
        return f"{scheme}://*** (not a valid URL)"
    if parts.password is None and not parts.query:
        return text  # nothing to hide (and sqlite:////abs keeps its four slashes)
    netloc = parts.netloc
    if "@" in netloc:
        user = parts.username or ""
        host_part = netloc.rsplit("@", 1)[1] if host else host + port
        netloc = f"{user}:***@{host_part}" if parts.password is not None else f"{user}@{host_part}"
    query = "&".join(
        f"{pair.split('=', 1)[0]}=***" if "=" in pair else pair
        for pair in parts.query.split("&")
        if pair
    )
    rebuilt = f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")
    return rebuilt + (f"#{parts.fragment}" if parts.fragment else "")


def mask_urls_in(text: str) -> str:
    """Every URL inside free text masked as by mask_url."""
    return _URL.sub(lambda m: mask_url(m.group(0)), text)


def _mask_leaves(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _mask_leaves(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask_leaves(v) for v in node]
    return MASK if node is not None else None


def _mask_strings(node: Any) -> Any:
    if isinstance(node, str):
        return mask_url(node) if "://" in node else node
    if isinstance(node, dict):
        return {k: _mask_strings(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask_strings(v) for v in node]
    return node


def redact_options(options: BaseModel) -> dict[str, Any]:
    """`options` dumped for display: secrets masked (SecretStr dumps as **********), fields
    with repr=False masked (URLs keep everything but their credentials), and every URL masked."""
    dump: dict[str, Any] = options.model_dump(mode="json")
    for name, field in type(options).model_fields.items():
        if field.repr is False and name in dump:
            value = dump[name]
            if isinstance(value, str) and "://" in value:
                dump[name] = mask_url(value)
            else:
                dump[name] = _mask_leaves(value)
    result: dict[str, Any] = _mask_strings(dump)
    return result
