"""Collector READMEs: the limits table is rendered from limits.toml and drift-tested."""

from __future__ import annotations

from pathlib import Path

import pytest

from quota_watch.collect.catalog import load_catalogue, parse_catalogue
from quota_watch.collect.limitsdoc import (
    BEGIN,
    END,
    cap_text,
    collector_readmes,
    limits_table,
    render_readme,
)
from quota_watch.generated import ARTEFACTS, stale
from quota_watch.sdk import Unit

ROOT = Path(__file__).resolve().parents[2]

CATALOGUE = parse_catalogue(
    """
[provider]
name = "example"
title = "Example (Free)"
source = "https://example.com/pricing"
verified = 2026-11-22
[provider.policy]
multi_account = "allowed"
commercial_use = "allowed"
[limits.bandwidth]
title = "Bandwidth | per cycle"
unit = "bytes"
measure = "cumulative"
period = { kind = "billing_cycle", anchor_day = 17, tz = "America/Los_Angeles" }
cap = "100 GiB"
enforcement = "billed"
"""
)


@pytest.mark.parametrize(
    ("cap", "unit", "text"),
    [
        (100 * 2**30, Unit.BYTES, "100 GiB"),
        (10e9, Unit.BYTES, "10 GB"),
        (500e6, Unit.BYTES, "500 MB"),
        (123, Unit.BYTES, "123 bytes"),
        (300 * 60, Unit.SECONDS, "300 min"),
        (120 * 3600, Unit.SECONDS, "120 h"),
        (0.01, Unit.SECONDS, "10 ms"),
        (100_000, Unit.COUNT, "100,000"),
        (None, Unit.COUNT, "—"),
    ],
)
def test_caps_read_as_the_catalogue_writes_them(cap: float | None, unit: Unit, text: str) -> None:
    assert cap_text(cap, unit) == text


def test_the_table_holds_the_catalogue_facts() -> None:
    table = limits_table(CATALOGUE)
    assert table.startswith(BEGIN) and table.rstrip().endswith(END)
    row = (
        "| `bandwidth` | Bandwidth \\| per cycle | bytes | cumulative | "
        "billing cycle from day 17 (America/Los_Angeles) | account | 100 GiB | billed |"
    )
    assert row in table.splitlines()
    assert "<https://example.com/pricing> (checked 2026-11-22)" in table


def test_the_table_goes_between_the_markers_else_under_limits_else_at_the_end() -> None:
    block = limits_table(CATALOGUE)
    marked = f"# x\n\n## Limits\n\n{BEGIN}\nold table\n{END}\nprose\n"
    assert render_readme(marked, CATALOGUE) == f"# x\n\n## Limits\n\n{block}prose\n"
    under = "# x\n## Limits\nprose\n## Errors\n"
    assert render_readme(under, CATALOGUE) == f"# x\n## Limits\n\n{block}prose\n## Errors\n"
    bare = "# x\n\ntext\n"
    assert render_readme(bare, CATALOGUE) == f"# x\n\ntext\n\n## Limits\n\n{block}"
    assert render_readme(render_readme(bare, CATALOGUE), CATALOGUE) == render_readme(
        bare, CATALOGUE
    )


def test_every_collector_readme_is_registered_and_fresh() -> None:
    readmes = collector_readmes(ROOT)
    assert len(readmes) >= 8
    registered = {a.path for a in ARTEFACTS}
    for readme in readmes:
        assert readme.relative_to(ROOT) in registered
        text = readme.read_text(encoding="utf-8")
        assert text.count(BEGIN) == 1 and text.count(END) == 1, readme
        for name in load_catalogue(readme.parent / "limits.toml").limits:
            assert f"| `{name}` |" in text, (readme, name)


def test_a_hand_edited_table_is_stale(tmp_path: Path) -> None:
    for item in ARTEFACTS:
        (tmp_path / item.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / item.path).write_text(item.render(), encoding="utf-8")
    readme = tmp_path / "collectors" / "quota_watch_collectors" / "netlify" / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("100 GiB", "100 GB"), "utf-8")
    assert [a.path for a in stale(tmp_path)] == [readme.relative_to(tmp_path)]
