"""The entry-point registry: validation of what it loads, duplicates, lazy loading."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from quota_watch.collect import registry
from quota_watch.collect.registry import RegistryError, available, discover

GROUP = registry.ENTRY_POINT_GROUP


def fake_entry_points(*pairs: tuple[str, str]) -> dict[str, list[EntryPoint]]:
    found: dict[str, list[EntryPoint]] = {}
    for name, value in pairs:
        found.setdefault(name, []).append(EntryPoint(name, value, GROUP))
    return found


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = fake_entry_points(
        ("good", "tests.support.fake_plugins.good.collector:GoodCollector"),
        ("misnamed", "tests.support.fake_plugins.misnamed.collector:MisnamedCollector"),
        (
            "broken_limits",
            "tests.support.fake_plugins.broken_limits.collector:BrokenLimitsCollector",
        ),
        ("missing", "tests.support.fake_plugins.does_not_exist:Nothing"),
        ("twice", "tests.support.fake_plugins.good.collector:GoodCollector"),
        ("twice", "tests.support.fake_plugins.misnamed.collector:MisnamedCollector"),
    )
    monkeypatch.setattr(registry, "_entry_points", lambda: eps)


def test_builtins_register_through_entry_points() -> None:
    infos = discover(["host", "http_json"])
    assert set(infos) == {"host", "http_json"}
    assert infos["host"].catalogue.provider.name == "host"
    assert (infos["host"].folder / "limits.toml").is_file()
    assert {"host", "http_json"} <= set(available())


@pytest.mark.usefixtures("plugins")
def test_loads_only_what_is_asked_for() -> None:
    infos = discover(["good"])  # the broken plugins installed beside it do not matter
    assert list(infos) == ["good"]
    assert infos["good"].catalogue.limits["things"].cap == 10


@pytest.mark.usefixtures("plugins")
def test_every_problem_is_named() -> None:
    with pytest.raises(RegistryError) as exc:
        discover()
    text = str(exc.value)
    assert "collector 'misnamed'" in text and "entry point says 'misnamed'" in text
    assert "has no Options model" in text
    assert "collector 'broken_limits'" in text and "limits.things.cap" in text
    assert "collector 'missing'" in text and "cannot be imported" in text
    assert "'twice' is registered more than once" in text
    assert "collector 'good'" not in text


@pytest.mark.usefixtures("plugins")
def test_unknown_collector_lists_installed_ones() -> None:
    with pytest.raises(RegistryError, match=r"unknown collector 'nope' \(installed: broken"):
        discover(["nope"])
