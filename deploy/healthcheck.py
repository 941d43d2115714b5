"""Container health check: GET /healthz on the daemon's port (stdlib only); exit 0 when it answers.

The port comes from QUOTA_WATCH_SERVER__LISTEN (the image sets it); a wildcard host (0.0.0.0,
::) is reached through loopback. A daemon serving TLS ([server] tls_cert_file) is asked over
HTTPS when plain HTTP fails.
"""

from __future__ import annotations

import http.client
import os
import ssl
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


def _get(url: str, context: ssl.SSLContext | None = None) -> int:
    with urllib.request.urlopen(url, timeout=5, context=context) as response:
        return int(response.status)


def main() -> int:
    """Exit status 0 when /healthz answers 200, else 1 with the reason on stderr."""
    url = healthz_url(os.environ.get("QUOTA_WATCH_SERVER__LISTEN") or DEFAULT_LISTEN)
    try:
        status = _get(url)
    except ConnectionRefusedError as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1
    except (OSError, http.client.HTTPException):
        # TLS: the certificate names the public host, not loopback, and this only asks whether
        # the process answers, so it is not verified.
        url = "https" + url.removeprefix("http")
        try:
            status = _get(url, ssl._create_unverified_context())
        except (OSError, http.client.HTTPException) as exc:
            print(f"{url}: {exc}", file=sys.stderr)
            return 1
    if status == 200:
        return 0
    print(f"{url}: HTTP {status}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
