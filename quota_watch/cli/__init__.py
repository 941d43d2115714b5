"""The command line: one module per command group, composed in `quota_watch.cli.app`."""

import gc
import sys

# httpx imports its own command line (rich, pygments, click) when they are installed; nothing
# here uses it, and it costs the daemon ~3 MB of RSS. A None entry makes that import fail the
# way httpx expects when they are absent (it then defines a stub `httpx.main`).
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

__all__ = ["main"]


def main() -> None:
    """Console-script entry point."""
    # Start-up allocates tens of thousands of objects that live until exit (modules, classes,
    # pydantic validators); the cyclic collector would scan them again and again for nothing.
    # The root command turns it back on unless the command is a short read (see app.root).
    gc.disable()
    from quota_watch.cli.app import main as run

    try:
        run()
    finally:
        if not gc.isenabled():
            # A short read ends with every object still tracked: frozen, they are skipped by
            # the collection the interpreter runs at exit (~55 M instructions for a report).
            gc.freeze()
