"""The packages that export their names lazily resolve every name they list, from the module
that defines it."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["quota_watch.engine", "quota_watch.notify"])
def test_every_exported_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        defined_in = getattr(value, "__module__", None)
        if defined_in is not None and not isinstance(value, (dict, tuple, str)):
            assert defined_in.startswith(package + "."), (name, defined_in)


@pytest.mark.parametrize("package", ["quota_watch.engine", "quota_watch.notify"])
def test_an_unknown_name_is_an_attribute_error(package: str) -> None:
    module = importlib.import_module(package)
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018
