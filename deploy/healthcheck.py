"""Container health check: GET /healthz on the daemon's port (stdlib only); exit 0 when it answers.

The port comes from QUOTA_WATCH_SERVER__LISTEN (the image sets it); a wildcard host (0.0.0.0,
::) is reached through loopback.
"""

from __future__ import annotations

import os
import sys
import urllib.request

DEFAULT_LISTEN = "127.0.0.1:9877"


def healthz_url(listen: str) -> str:
    """The /healthz URL for a `host:port` listen address."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def main() -> int:
    """Exit status 0 when /healthz answers 200, else 1 with the reason on stderr."""
    url = healthz_url(os.environ.get("QUOTA_WATCH_SERVER__LISTEN") or DEFAULT_LISTEN)
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            if response.status == 200:
                return 0
            print(f"{url}: HTTP {response.status}", file=sys.stderr)
    except OSError as exc:
        print(f"{url}: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
