"""`quota-watch account resume`: ask the running daemon to poll a paused account now."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from quota_watch.cli.common import ConfigOption, fail, load

if TYPE_CHECKING:
    from quota_watch.config.settings import ServerSettings

app = typer.Typer(help="Act on one account of the running daemon.", no_args_is_help=True)

PASSWORD_ENV = "QUOTA_WATCH_PASSWORD"


def daemon_url(server: ServerSettings) -> str:
    """The base URL the daemon of `server` answers on, from this machine."""
    host, port = server.host_port()
    # A wildcard listen address is reachable on loopback.
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    scheme = "https" if server.tls_cert_file else "http"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


@app.command(
    "resume",
    epilog="Examples:\n\n"
    "  quota-watch account resume cf-main\n\n"
    "  QUOTA_WATCH_PASSWORD=... quota-watch account resume cf-main --user ops\n\n"
    "  quota-watch account resume cf-main --url https://vm:9877 --cacert ca.pem",
)
def account_resume(
    name: Annotated[str, typer.Argument(metavar="ACCOUNT", help="The account to poll now.")],
    url: Annotated[
        str | None,
        typer.Option(
            metavar="URL", help="The daemon's address (default: [server] listen of the config)."
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(
            metavar="USER",
            help=f"Basic-auth user; the password comes from ${PASSWORD_ENV} or a prompt.",
        ),
    ] = None,
    cacert: Annotated[
        Path | None,
        typer.Option(metavar="PATH", help="CA bundle to check the daemon's TLS certificate."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Poll an account now, also one paused because its credentials were rejected (after the
    token was renewed at the provider). A paused account is otherwise re-tried every
    polling.auth_retry, and at every reload (SIGHUP)."""
    import httpx

    base = (url or daemon_url(load(config).settings.server)).rstrip("/")
    auth: tuple[str, str] | None = None
    if user is not None:
        password = os.environ.get(PASSWORD_ENV)
        if password is None:
            if not sys.stdin.isatty():
                fail(f"--user: set ${PASSWORD_ENV} (no terminal to ask the password on)", 2)
            password = typer.prompt(f"password for {user}", hide_input=True)
        auth = (user, password)
    target = f"{base}/api/v1/accounts/{name}/resume"
    try:
        response = httpx.post(
            target, auth=auth, timeout=10.0, verify=str(cacert) if cacert else True
        )
    except httpx.HTTPError as exc:
        fail(
            f"cannot reach the daemon at {base}: {exc} (is it running? `pidof -x quota-watch`)",
            1,
        )
    if response.status_code == 401:
        fail(f"the daemon at {base} wants credentials: --user USER (password: ${PASSWORD_ENV})", 1)
    if response.status_code == 404:
        fail(f"the daemon at {base} polls no account {name!r} (removed, or disabled?)", 1)
    if response.status_code != 200:
        fail(f"the daemon at {base} answered HTTP {response.status_code}", 1)
    typer.echo(f"account {name}: polling it now (see `quota-watch report` in a moment)")
