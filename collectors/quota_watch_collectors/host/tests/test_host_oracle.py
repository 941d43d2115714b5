"""The host collector applies Oracle Always Free caps only on an Oracle Cloud instance (or when
the config says so); elsewhere its capped limits carry no cap."""

from __future__ import annotations

import tomllib
from pathlib import Path

import httpx
import pytest
from quota_watch_collectors.host.collector import is_oracle_instance
from quota_watch_collectors.host.tests.support import Tree, host

from quota_watch.sdk import LimitSpec

CATALOGUE = Path(__file__).parents[1] / "limits.toml"


def _catalogue() -> dict[str, LimitSpec]:
    data = tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))
    return {name: LimitSpec.model_validate(spec) for name, spec in data["limits"].items()}


def _caps(tree: Tree, client: httpx.AsyncClient, **options: object) -> dict[str, float | None]:
    """The caps the account is polled with: the declared limits', else the catalogue's."""
    declared = host(tree, client, **options).declared_limits()
    limits = _catalogue() if declared is None else declared
    return {name: spec.cap for name, spec in limits.items()}


@pytest.mark.parametrize(
    ("tag", "oracle"),
    [
        ("OracleCloud.com", True),
        ("OracleCloud.com   ", True),
        ("", False),
        ("Amazon EC2", False),
        ("No Asset Tag", False),
    ],
)
def test_the_dmi_asset_tag_says_oracle(tree: Tree, tag: str, oracle: bool) -> None:
    tree.set_asset_tag(tag)
    assert is_oracle_instance(tree.sys) is oracle


def test_no_dmi_is_not_oracle(tree: Tree) -> None:
    assert not (tree.sys / "class").exists()
    assert is_oracle_instance(tree.sys) is False


async def test_auto_applies_the_oracle_caps_only_on_oracle(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    assert _caps(tree, client) == {
        "disk_used": None,
        "network_egress": None,
        "block_storage": None,
    }
    tree.set_asset_tag("OracleCloud.com")
    assert _caps(tree, client) == {
        "disk_used": None,
        "network_egress": 10e12,
        "block_storage": 200e9,
    }


async def test_the_oracle_option_overrides_detection(tree: Tree, client: httpx.AsyncClient) -> None:
    assert _caps(tree, client, oracle=True)["block_storage"] == 200e9
    tree.set_asset_tag("OracleCloud.com")
    assert _caps(tree, client, oracle=False)["block_storage"] is None


def test_off_oracle_the_limits_are_the_catalogue_s_but_the_caps(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    declared = host(tree, client).declared_limits()
    assert declared is not None
    assert declared.keys() == _catalogue().keys()
    for name, spec in _catalogue().items():
        assert declared[name].model_dump(exclude={"cap"}) == spec.model_dump(exclude={"cap"})
