"""Every installed catalogue's caps read as their limits.toml writes them (the provider's
pricing-page wording): "2000 min" shows as "2,000 minutes", "500 MiB" as "500 MiB", never as
"1.39 d" or "524 MB"."""

from __future__ import annotations

import re
import tomllib

import pytest

from quota_watch.collect.registry import discover
from quota_watch.sdk import display_factor
from quota_watch.units import human

_NUMBER = re.compile(r"^\s*([0-9][0-9_,]*(?:\.[0-9]+)?)\s*([kMG](?![A-Za-z]))?")
_SCALE = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}


def _figure(text: str) -> float:
    """The leading figure of a quantity, with its k/M/G multiplier ("2,000 minutes": 2000)."""
    match = _NUMBER.match(text)
    assert match is not None, f"no figure at the start of {text!r}"
    number, scale = match.groups()
    return float(number.replace(",", "").replace("_", "")) * _SCALE[scale or ""]


def _written_caps() -> list[tuple[str, str, object]]:
    found = []
    for name, info in sorted(discover().items()):
        data = tomllib.loads((info.folder / "limits.toml").read_text(encoding="utf-8"))
        for limit, spec in data.get("limits", {}).items():
            if "cap" in spec:
                found.append((name, limit, spec["cap"]))
    return found


@pytest.mark.parametrize(("collector", "limit", "written"), _written_caps())
def test_each_cap_shows_as_its_catalogue_writes_it(
    collector: str, limit: str, written: object
) -> None:
    spec = discover({collector})[collector].catalogue.limits[limit]
    assert spec.cap is not None
    shown = human(spec.cap, spec.unit.value, spec.display_unit)
    if isinstance(written, int | float):  # a plain number is in the base unit
        factor = display_factor(spec.display_unit, spec.unit) if spec.display_unit else 1.0
        expected = float(written) / factor
    else:
        expected = _figure(str(written))
    assert _figure(shown) == pytest.approx(expected), (written, shown)


@pytest.mark.parametrize(
    ("collector", "limit", "shown"),
    [
        ("github", "actions_minutes", "2,000 minutes"),
        ("github", "codespaces_core_hours", "120 core-hours"),
        ("github", "shared_storage", "500 MiB"),
        ("netlify", "bandwidth", "100 GiB"),
        ("cloudflare", "workers_cpu_p99", "10 ms"),
        ("cloudflare", "do_duration", "13k GB-s"),
        ("vercel", "provisioned_memory", "360 GB-hours"),
    ],
)
def test_the_issue_s_examples(collector: str, limit: str, shown: str) -> None:
    spec = discover({collector})[collector].catalogue.limits[limit]
    assert human(spec.cap, spec.unit.value, spec.display_unit) == shown
