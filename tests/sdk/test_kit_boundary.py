"""No transport or status mapping outside the SDK: collectors leave it to ProviderHttp."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from tests.support.imports import COLLECTORS, ROOT

_MAPPED_STATUSES = {401, 403, 408, 429}
_RAW_BODY_READS = {"aiter_bytes", "aiter_raw", "aiter_text", "aiter_lines", "aread"}
_RAW_STATUS = {"status_code", "raise_for_status", "is_error", "is_success"}


def _is_httpx_error(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "httpx"
        and node.attr.endswith(("Error", "Exception", "Timeout"))
    )


def _mapped_status(node: ast.Compare) -> bool:
    """`x.status == 401`, `x.status in (401, 403)`, `x.status >= 500` and the like."""
    sides = [node.left, *node.comparators]
    if not any(isinstance(s, ast.Attribute) and s.attr == "status" for s in sides):
        return False
    numbers = {
        c.value
        for side in sides
        for c in ast.walk(side)
        if isinstance(c, ast.Constant) and isinstance(c.value, int)
    }
    return bool(numbers & _MAPPED_STATUSES) or any(500 <= n <= 599 for n in numbers)


def mapping_outside_the_kit(source: str) -> list[str]:
    """What in `source` maps transport errors or statuses, or reads a body, itself."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _is_httpx_error(node):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Attribute) and node.attr in _RAW_BODY_READS | _RAW_STATUS:
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Compare) and _mapped_status(node):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def collector_modules() -> list[Path]:
    """Every runtime module of the built-in collectors (tests and emulators excluded)."""
    return [
        path
        for path in sorted(COLLECTORS.rglob("*.py"))
        if "tests" not in path.relative_to(COLLECTORS).parts
        and "emulator" not in path.relative_to(COLLECTORS).parts
        and path.name != "emulator.py"
    ]


def test_no_collector_maps_transport_errors_or_statuses() -> None:
    modules = collector_modules()
    assert len(modules) > 30  # the scan sees the collectors
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in modules
        if (found := mapping_outside_the_kit(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "use quota_watch.sdk.ProviderHttp (and a Quirks subclass) instead"


def test_the_scan_finds_the_block_every_client_used_to_repeat() -> None:
    before = textwrap.dedent(
        """
        async def fetch(client, url):
            try:
                async with client.stream("GET", url) as response:
                    body = await response.aread()
            except httpx.TimeoutException as exc:
                raise ProviderUnavailable("timed out")
            except httpx.TransportError as exc:
                raise ProviderUnavailable("failed")
            if response.status_code in (401, 403):
                raise AuthError("refused")
            if answer.status == 429:
                raise RateLimited("slow down")
            if answer.status >= 500:
                raise ProviderUnavailable("down")
        """
    )
    found = mapping_outside_the_kit(before)
    assert len(found) == 6, found
    quirk = "if answer.status == 404:\n    raise AuthError('hidden')\n"
    assert mapping_outside_the_kit(quirk) == []
