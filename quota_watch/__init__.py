"""quota-watch: a free-tier usage monitor and alerting daemon."""

from __future__ import annotations

from functools import cache


@cache
def _version() -> str:
    # importlib.metadata costs ~10 ms of imports (email, zipfile): only where it is asked for
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("quota-watch")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


def __getattr__(name: str) -> str:
    """`__version__`, read from the installed package's metadata on first use."""
    if name == "__version__":
        return _version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
