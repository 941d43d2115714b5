"""What `run` would reject beyond the config's own validation: an unusable store URL, a listen
address that cannot be bound here. `config check` and `run` both ask, so both exit 2."""

from __future__ import annotations

import socket

from quota_watch.config.settings import Config


def runnable_problems(config: Config) -> list[str]:
    """One line per problem that would stop the daemon at start-up."""
    from quota_watch.store.models import StoreError
    from quota_watch.store.urls import parse_database_url

    problems: list[str] = []
    try:
        parse_database_url(config.store_url())
    except StoreError as exc:
        problems.append(f"store.url: {exc}")
    listen = config.settings.server.listen
    host, _ = config.settings.server.host_port()
    problem = _bindable(host)
    if problem is not None:
        problems.append(f"server.listen: {listen!r}: {problem}")
    return problems


def _bindable(host: str) -> str | None:
    """Why no socket can be bound to `host` on this machine (tried on port 0), or None."""
    try:
        infos = socket.getaddrinfo(
            host or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        return f"cannot resolve the host ({exc})"
    family, kind, proto, _, address = infos[0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.bind(address)
    except OSError as exc:
        return f"cannot listen on this host here ({exc.strerror or exc})"
    return None
