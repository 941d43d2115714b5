"""Connection limits of the HTTP server: a cap on open connections, a deadline for a request's
headers, and a file-descriptor budget that leaves room for polling and the store."""

from __future__ import annotations

import asyncio
import logging
import resource

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("quota_watch.daemon.connections")

#: A connection that has not sent a whole request head this long after connecting is closed
#: (slowloris, idle floods); Prometheus sends its request at once.
HEADER_TIMEOUT = 10.0
#: Idle keep-alive connections are closed after this (Prometheus reconnects cheaply).
KEEP_ALIVE_TIMEOUT = 5
#: Largest request head accepted (h11 answers 431 beyond it).
MAX_REQUEST_HEAD = 16 * 1024
#: File descriptors wanted (the systemd unit's LimitNOFILE) and kept back from connections for
#: the store, the HTTP client and logging.
WANTED_FDS = 8192
RESERVED_FDS = 256
MAX_CONNECTIONS_CEILING = 4096


def raise_fd_limit(wanted: int = WANTED_FDS) -> int:
    """Raise the soft RLIMIT_NOFILE towards `wanted` (never above the hard limit); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d: %s", soft, exc)
    return int(soft if soft != resource.RLIM_INFINITY else wanted)


def max_connections(fd_limit: int) -> int:
    """How many HTTP connections may be open at once within `fd_limit` descriptors."""
    return max(32, min(MAX_CONNECTIONS_CEILING, fd_limit - RESERVED_FDS))


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol closing connections beyond the cap at once (the descriptor is
    freed instead of held) and connections that send no request head within HEADER_TIMEOUT."""

    max_open = MAX_CONNECTIONS_CEILING

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Accept, or close at once when the server already holds `max_open` connections."""
        if len(self.server_state.connections) >= self.max_open:
            transport.abort()
            return
        super().connection_made(transport)
        self._head_deadline: asyncio.TimerHandle | None = self.loop.call_later(
            HEADER_TIMEOUT, self._head_too_slow
        )

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection (and its header deadline)."""
        if not hasattr(self, "transport"):
            return  # refused in connection_made: never registered
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        """uvicorn's event handling; a request head having arrived ends the header deadline."""
        super().handle_events()
        if self.cycle is not None:
            self._cancel_head_deadline()

    def _cancel_head_deadline(self) -> None:
        handle = getattr(self, "_head_deadline", None)
        if handle is not None:
            handle.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.cycle is None and not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(max_open: int) -> type[GuardedH11Protocol]:
    """The protocol class for a server holding at most `max_open` connections."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"max_open": max_open})
