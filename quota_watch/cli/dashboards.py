"""`quota-watch dashboards export`: the Grafana dashboards."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quota_watch.cli.common import EXIT_CONFIG, ConfigOption, fail, load_optional

app = typer.Typer(help="Grafana dashboards.", no_args_is_help=True)


@app.command(
    "export",
    epilog="Examples:\n\n"
    "  quota-watch dashboards export\n\n"
    "  quota-watch dashboards export --output /var/lib/grafana/dashboards\n\n"
    "  quota-watch dashboards export --check   # CI: exit 1 on drift",
)
def dashboards_export(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Directory for the JSON files (default: dashboards/ of the source checkout).",
            file_okay=False,
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 naming each file that differs."),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Write the Grafana dashboards (overview, account, pools) generated from the installed
    collectors' catalogues and the rule pack's thresholds. With --config: that config's rule
    pack."""
    from quota_watch.collect.registry import RegistryError
    from quota_watch.config.errors import ConfigError
    from quota_watch.prometheus.dashboards.export import (
        default_output_dir,
        differences,
        load_inputs,
        render,
        write,
    )

    if output == Path("-"):
        fail(
            "--output: dashboards export writes three files; give a directory "
            "(`-` is only for `rules export`)",
            EXIT_CONFIG,
        )
    cfg = load_optional(config)
    try:
        files = render(load_inputs(cfg.settings.alerts.rule_pack if cfg else None))
    except RegistryError as exc:
        fail(["collector errors:", *(f"  {e}" for e in exc.errors)], 1)
    except ConfigError as exc:
        fail(["cannot load the rule pack:", *(f"  {e}" for e in exc.errors)], EXIT_CONFIG)
    directory = output or default_output_dir()
    if directory is None:
        fail("not a source checkout: give the directory with --output", 2)
    if check:
        drift = differences(directory, files)
        if drift:
            fail([*drift, "run `quota-watch dashboards export` to regenerate"], 1)
        typer.echo(f"{directory}: {len(files)} dashboards up to date")
        return
    try:
        paths = write(directory, files)
    except OSError as exc:
        fail(f"{directory}: cannot write: {exc.strerror}", 1)
    for path in paths:
        typer.echo(f"wrote {path}")
