"""The command line: one module per command group, composed in `quota_watch.cli.app`."""

import sys

# httpx imports its own command line (rich, pygments, click) when they are installed; nothing
# here uses it, and it costs the daemon ~3 MB of RSS. A None entry makes that import fail the
# way httpx expects when they are absent (it then defines a stub `httpx.main`).
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from quota_watch.cli.app import main

__all__ = ["main"]
