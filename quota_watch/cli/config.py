"""`quota-watch config`: check, show, example, schema, hash-password."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from quota_watch.cli.common import EXIT_CONFIG, ConfigOption, fail, load, run_async

app = typer.Typer(help="Check or show the configuration.", no_args_is_help=True)


@app.command(
    "check",
    epilog="Examples:\n\n  quota-watch config check\n\n"
    "  quota-watch config check -c ./quota-watch.toml --probe",
)
def config_check(
    config: ConfigOption = None,
    probe: Annotated[
        bool, typer.Option("--probe", help="Also check each account's credentials.")
    ] = False,
) -> None:
    """Validate the configuration (every error at once, with its TOML path)."""
    cfg = load(config)
    from quota_watch.config.runnable import runnable_problems

    unrunnable = runnable_problems(cfg)
    if unrunnable:
        fail(["configuration error:", *(f"  {p}" for p in unrunnable)], EXIT_CONFIG)
    where = cfg.source or "embedded default"
    if cfg.source is not None and not cfg.accounts:
        typer.echo(f"warning: {where} configures no accounts: nothing will be polled", err=True)
    included = f" (with {', '.join(map(str, cfg.includes))})" if cfg.includes else ""
    typer.echo(f"{where}: OK, {len(cfg.accounts)} accounts{included}")
    if not probe:
        return
    from quota_watch.collect.once import probe_all

    problems = run_async(lambda: probe_all(cfg))
    for name, problem in problems.items():
        typer.echo(f"  {name}: {'ok' if problem is None else problem}")
    if any(problems.values()):
        raise typer.Exit(1)


@app.command(
    "show", epilog="Examples:\n\n  quota-watch config show\n\n  quota-watch config show -f json"
)
def config_show(
    config: ConfigOption = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="toml or json")] = "toml",
) -> None:
    """Print the effective configuration with secrets redacted."""
    cfg = load(config)
    from quota_watch.config.load import redacted

    data = redacted(cfg)
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2))
    elif fmt == "toml":
        from quota_watch.config.tomlout import dumps

        typer.echo(f"# source: {cfg.source or 'embedded default'}")
        for path in cfg.includes:
            typer.echo(f"# included: {path}")
        typer.echo(dumps(data))
    else:
        fail(f"--format: expected toml or json, got {fmt!r}", 2)


@app.command("example", epilog="Examples:\n\n  quota-watch config example > config.example.toml")
def config_example() -> None:
    """Print a config file documenting every option (the source of config.example.toml)."""
    from quota_watch.config.example import render_example

    typer.echo(render_example(), nl=False)


@app.command(
    "schema",
    epilog="Examples:\n\n  quota-watch config schema > quota-watch.schema.json\n\n"
    "  # then, first line of the TOML file (Taplo / Even Better TOML):\n\n"
    "  #:schema ./quota-watch.schema.json",
)
def config_schema() -> None:
    """Print the JSON Schema of the config file (docs/config.schema.json), for editors."""
    from quota_watch.collect.registry import RegistryError
    from quota_watch.config.schema import render_schema

    try:
        typer.echo(render_schema(), nl=False)
    except RegistryError as exc:
        fail(["cannot load the collectors:", *(f"  {e}" for e in exc.errors)], 1)


@app.command(
    "hash-password",
    epilog="Examples:\n\n  quota-watch config hash-password\n\n"
    "  printf '%s' \"$PASSWORD\" | quota-watch config hash-password --cost 10",
)
def config_hash_password(
    cost: Annotated[
        int, typer.Option("--cost", min=10, max=16, help="bcrypt cost (each +1 doubles it).")
    ] = 12,
) -> None:
    """Print the bcrypt hash of a password for [server.basic_auth_users].

    Asks twice without echo on a terminal; otherwise reads the password from the first line of
    standard input.
    """
    import getpass

    from quota_watch.daemon.auth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            fail("the passwords differ", 1)
    else:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    try:
        typer.echo(hash_password(password, cost))
    except ValueError as exc:
        fail(f"error: {exc}", 1)
