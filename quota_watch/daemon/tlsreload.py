"""Serve a renewed TLS certificate without a restart: re-read cert and key on change or SIGHUP.

The new pair is checked in a scratch SSLContext first and only then loaded into the live one
(uvicorn's), so a half-written renewal (new certificate, old key) keeps the old pair serving;
the next check after the key lands picks it up. New handshakes get the new certificate; open
connections keep theirs.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from quota_watch.daemon.auth import check_tls_pair

log = logging.getLogger("quota_watch.daemon.tls")

Stamp = tuple[tuple[int, int, int], ...]


def _stamp(*paths: Path) -> Stamp | None:
    """(inode, size, mtime) of each file, or None while one is missing."""
    try:
        stats = [p.stat() for p in paths]
    except OSError:
        return None
    return tuple((s.st_ino, s.st_size, s.st_mtime_ns) for s in stats)


class TlsReloader:
    """Keeps the live SSLContext's certificate and key in step with their files."""

    def __init__(self, context: Callable[[], ssl.SSLContext | None], cert: Path, key: Path) -> None:
        """`context` returns the server's live SSLContext (None before the server loaded it)."""
        self._context = context
        self.cert = cert
        self.key = key
        self._loaded = _stamp(cert, key)
        self._refused: Stamp | None = None

    def use(self, cert: Path, key: Path) -> None:
        """Serve the pair at these paths from the next reload on."""
        if (cert, key) != (self.cert, self.key):
            self.cert, self.key = cert, key
            self._loaded = None

    def reload(self, *, force: bool = False) -> bool:
        """Load the files into the live context when they changed (or always with `force`)."""
        context = self._context()
        stamp = _stamp(self.cert, self.key)
        if context is None or stamp is None or (not force and stamp == self._loaded):
            return False
        if not force and stamp == self._refused:
            return False  # said once already; wait for the files to change again
        try:
            check_tls_pair(self.cert, self.key)
            context.load_cert_chain(self.cert, self.key)
        except (ValueError, OSError, ssl.SSLError) as exc:
            self._refused = stamp
            log.error(
                "TLS files %s / %s not reloaded, still serving the previous pair: %s",
                self.cert,
                self.key,
                exc,
                extra={"tls_cert_file": str(self.cert)},
            )
            return False
        self._loaded, self._refused = stamp, None
        log.info(
            "TLS certificate reloaded from %s", self.cert, extra={"tls_cert_file": str(self.cert)}
        )
        return True

    async def watch(self, every: timedelta, stop: asyncio.Event) -> None:
        """Check the files every `every` until `stop` is set."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), every.total_seconds())
            except TimeoutError:
                self.reload()
