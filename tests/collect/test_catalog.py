"""The limits.toml schema: a good catalogue, and every kind of mistake reported with its path."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from quota_watch.collect.catalog import (
    Catalogue,
    CatalogueError,
    Policy,
    ProviderInfo,
    load_catalogue,
    parse_catalogue,
)
from quota_watch.config.errors import ConfigError
from quota_watch.sdk import Enforcement, Measure, PeriodKind, PeriodSpec, Scope, Unit

GOOD = """
[provider]
name = "host"
title = "This machine (Oracle Cloud Always Free defaults)"
source = "https://docs.oracle.com/en-us/iaas/Content/FreeTier/freetier_topic-Always_Free_Resources.htm"
verified = 2026-11-22

[provider.policy]
multi_account = "discouraged"
commercial_use = "allowed"
notes = "One Always Free tenancy per person."

[limits.disk_used]
title = "Filesystem used"
unit = "bytes"
measure = "level"
period = "none"
scope = "resource"
cap = "200 GB"
enforcement = "soft"
notes = "Boot and block volumes share the 200 GB."

[limits.egress]
title = "Outbound data transfer"
unit = "bytes"
measure = "cumulative"
period = { kind = "calendar_month", tz = "UTC" }
cap = "10 TB"
enforcement = "billed"

[limits.requests]
title = "Requests"
unit = "count"
measure = "cumulative"
period = { kind = "billing_cycle", anchor_day = 31, tz = "America/New_York" }
cap = "100k"

[limits.cpu_time]
title = "CPU time"
unit = "seconds"
measure = "cumulative"
period = { kind = "rolling", window = "30d" }
cap = 3600
"""


def bad(text: str) -> list[str]:
    """The error lines of parsing `text`, which must fail."""
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text, "limits.toml")
    return caught.value.errors


def replace(old: str, new: str) -> str:
    """GOOD with one exact fragment replaced."""
    assert GOOD.count(old) == 1, old
    return GOOD.replace(old, new)


def test_good_catalogue() -> None:
    """Every field of a valid catalogue lands in the models, quantities in base units."""
    catalogue = parse_catalogue(GOOD)
    assert isinstance(catalogue, Catalogue)
    provider = catalogue.provider
    assert isinstance(provider, ProviderInfo)
    assert provider.name == "host"
    assert provider.source.startswith("https://docs.oracle.com/")
    assert provider.verified == datetime.date(2026, 11, 22)
    assert provider.policy == Policy(
        multi_account="discouraged",
        commercial_use="allowed",
        notes="One Always Free tenancy per person.",
    )
    assert list(catalogue.limits) == ["disk_used", "egress", "requests", "cpu_time"]

    disk = catalogue.limits["disk_used"]
    assert (disk.unit, disk.measure, disk.scope) == (Unit.BYTES, Measure.LEVEL, Scope.RESOURCE)
    assert disk.period == PeriodSpec(kind=PeriodKind.NONE)
    assert disk.cap == 200e9
    assert disk.enforcement is Enforcement.SOFT

    egress = catalogue.limits["egress"]
    assert egress.period == PeriodSpec(kind="calendar_month", tz="UTC")
    assert egress.cap == 1e13
    assert egress.enforcement is Enforcement.BILLED
    assert egress.scope is Scope.ACCOUNT  # the default

    requests = catalogue.limits["requests"]
    assert requests.period.anchor_day == 31
    assert requests.period.tz == "America/New_York"
    assert requests.cap == 1e5
    assert requests.enforcement is Enforcement.HARD  # the default

    cpu = catalogue.limits["cpu_time"]
    assert cpu.period.window == datetime.timedelta(days=30)
    assert cpu.cap == 3600


def test_load_catalogue_from_file(tmp_path: Path) -> None:
    """load_catalogue reads a file; its errors name the file."""
    good = tmp_path / "limits.toml"
    good.write_text(GOOD, encoding="utf-8")
    assert load_catalogue(good) == parse_catalogue(GOOD)

    broken = tmp_path / "broken.toml"
    broken.write_text(replace('cap = "200 GB"', 'cap = "200 parsecs"'), encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(broken)
    assert caught.value.path == broken
    assert str(caught.value).startswith(f"{broken}: limits.disk_used.cap: ")


def test_unreadable_files(tmp_path: Path) -> None:
    """A missing file is an OSError; bytes that are not UTF-8 are a catalogue error."""
    with pytest.raises(OSError):
        load_catalogue(tmp_path / "absent.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes(GOOD.replace("This machine", "Cette machine \xe9").encode("latin-1"))
    with pytest.raises(CatalogueError, match="not valid UTF-8"):
        load_catalogue(latin)


def test_empty_limits_allowed() -> None:
    """A collector whose limits come from config (http_json) ships an empty catalogue."""
    head = GOOD.split("[limits.disk_used]")[0]
    assert parse_catalogue(head).limits == {}
    assert parse_catalogue(head + "[limits]\n").limits == {}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'cap = "200 GB"',
            'cap = "5 parsecs"',
            "limits.disk_used.cap: '5 parsecs': unknown suffix",
        ),
        ('cap = "200 GB"', 'cap = "200 ms"', "limits.disk_used.cap: '200 ms': unknown suffix 'ms'"),
        ('cap = "100k"', 'cap = "100 GB"', "limits.requests.cap: '100 GB': unknown suffix 'GB'"),
        ('cap = "200 GB"', "cap = -5", "limits.disk_used.cap: -5: a quantity must be"),
        ('cap = "200 GB"', 'cap = "-5 GB"', "limits.disk_used.cap: '-5 GB' is not a quantity"),
        ('cap = "200 GB"', "cap = true", "limits.disk_used.cap: expected a number"),
        ('unit = "count"', 'unit = "requests"', "limits.requests.unit: must be 'bytes', 'seconds'"),
        ('measure = "level"', 'measure = "gauge"', "limits.disk_used.measure: must be"),
        ('scope = "resource"', 'scope = "project"', "limits.disk_used.scope: must be"),
        ('enforcement = "soft"', 'enforcement = "maybe"', "limits.disk_used.enforcement: must be"),
        ('period = "none"', 'period = "weekly"', "limits.disk_used.period.kind: must be"),
        ('period = "none"', "period = 7", "limits.disk_used.period: must be a table"),
        ('tz = "UTC"', 'tz = "Mars/Olympus"', "limits.egress.period.tz: unknown time zone"),
        ("anchor_day = 31", "anchor_day = 32", "limits.requests.period.anchor_day: must be less"),
        (
            "anchor_day = 31, ",
            "",
            "limits.requests.period: a billing_cycle period needs anchor_day",
        ),
        ('window = "30d"', 'window = "a month"', "limits.cpu_time.period.window: 'a month' is not"),
        (
            'period = { kind = "calendar_month", tz = "UTC" }',
            'period = "none"',
            "limits.egress.period: a cumulative limit needs a period other than 'none'",
        ),
        (
            'period = { kind = "calendar_month", tz = "UTC" }\n',
            "",
            "limits.egress.period: a cumulative limit needs a period other than 'none'",
        ),
        ('title = "Requests"\n', "", "limits.requests.title: required key is missing"),
        ('title = "Requests"', 'title = "Requests"\nlimt = 5', "limits.requests.limt: unknown key"),
        ("[limits.cpu_time]", "[limits.CPU-time]", "limits.CPU-time: invalid key: 'CPU-time': use"),
        ("[limits.cpu_time]", '[limits."cpu time"]', 'limits."cpu time": invalid key'),
        ('name = "host"', 'name = "Host Machine"', "provider.name: 'Host Machine': use lowercase"),
        ('name = "host"\n', "", "provider.name: required key is missing"),
        ("verified = 2026-11-22", 'verified = "last week"', "provider.verified: must be a valid"),
        (
            "verified = 2026-11-22",
            "verified = 2026-11-22T00:00:00Z",
            "provider.verified: must be a TOML date",
        ),
        ('source = "https://docs', 'source = "docs', "provider.source: 'docs.oracle.com"),
        ('multi_account = "discouraged"', 'multi_account = "yes"', "provider.policy.multi_account"),
        ('commercial_use = "allowed"', 'commercial_use = "sure"', "provider.policy.commercial_use"),
        ("[provider.policy]", "[provider.policy]\nrisk = 1", "provider.policy.risk: unknown key"),
        ("[provider]", "version = 2\n[provider]", "version: unknown key"),
    ],
)
def test_each_bad_field_named_with_its_path(old: str, new: str, expected: str) -> None:
    """Each mistake yields exactly one error, which starts with the TOML path of the field."""
    errors = bad(replace(old, new))
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected), errors[0]


def test_missing_tables() -> None:
    """A document without [provider] or [provider.policy] says so."""
    assert bad("") == ["provider: required key is missing"]
    without_policy = GOOD.split("[provider.policy]")[0]
    assert bad(without_policy) == ["provider.policy: required key is missing"]


def test_every_error_reported_at_once() -> None:
    """Several mistakes in different tables are all reported, in document order."""
    text = (
        replace('cap = "200 GB"', 'cap = "5 parsecs"')
        .replace('multi_account = "discouraged"', 'multi_account = "perhaps"')
        .replace(
            'measure = "cumulative"\nperiod = { kind = "calendar_month"',
            'measure = "cumulative"\nperiod = { kind = "monthly"',
        )
        .replace('cap = "100k"', 'cap = "100 GB"')
        .replace('title = "CPU time"', 'title = "CPU time"\ncolour = "red"')
    )
    errors = bad(text)
    assert [error.split(":")[0] for error in errors] == [
        "provider.policy.multi_account",
        "limits.disk_used.cap",
        "limits.egress.period.kind",
        "limits.requests.cap",
        "limits.cpu_time.colour",
    ]


def test_str_lists_every_error_with_the_file() -> None:
    """str() has one line per error, each prefixed by the file, for grep and for the registry."""
    text = replace('cap = "200 GB"', 'cap = "5 parsecs"').replace('cap = "100k"', "cap = -1")
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text, "collectors/host/limits.toml")
    lines = str(caught.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("collectors/host/limits.toml: limits.disk_used.cap: ")
    assert lines[1].startswith("collectors/host/limits.toml: limits.requests.cap: ")
    assert isinstance(caught.value, ConfigError)  # the CLI reports both the same way


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[provider]\nname = \n", "line 2, column 8: invalid TOML: Invalid value"),
        (
            "[provider]\nname = 'a'\nname = 'b'\n",
            "line 3, column 11: invalid TOML: Cannot overwrite",
        ),
        ("[provider]\n[provider]\n", "line 2, column 10: invalid TOML: Cannot declare"),
        ('[provider]\nname = "host\n', "line 2, column 13: invalid TOML: Illegal character"),
    ],
)
def test_toml_syntax_error_has_line_and_column(text: str, expected: str) -> None:
    """A TOML syntax error is one error naming its line and column."""
    errors = bad(text)
    assert len(errors) == 1
    assert errors[0].startswith(expected), errors[0]


@pytest.mark.parametrize(
    ("cap", "unit", "expected"),
    [
        ('"500 MB"', "bytes", 5e8),
        ('"1 GiB"', "bytes", 2**30),
        ('"10 TB"', "bytes", 1e13),
        ('"1.5 GiB"', "bytes", 1.5 * 2**30),
        ("200000000000", "bytes", 2e11),
        ('"100k"', "count", 1e5),
        ('"3M"', "count", 3e6),
        ("100_000", "count", 1e5),
        ('"10 ms"', "seconds", 0.01),
        ('"90 min"', "seconds", 5400),
        ('"1 h"', "seconds", 3600),
        ("0.5", "seconds", 0.5),
        ('"42"', "count", 42),
    ],
)
def test_cap_quantities(cap: str, unit: str, expected: float) -> None:
    """Caps are numbers in base units or quantity strings of the limit's unit."""
    text = f"""
[provider]
name = "x"
title = "X"
source = "https://example.com/pricing"
verified = 2026-01-01
policy = {{ multi_account = "unknown", commercial_use = "unknown" }}
[limits.thing]
title = "Thing"
unit = "{unit}"
measure = "level"
cap = {cap}
"""
    assert parse_catalogue(text).limits["thing"].cap == pytest.approx(expected, rel=1e-15)
