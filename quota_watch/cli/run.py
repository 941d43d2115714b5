"""`quota-watch run`: the daemon."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from quota_watch.cli.common import EXIT_CONFIG, ConfigOption, fail, load, run_async, setup_logging

if TYPE_CHECKING:
    from quota_watch.config.settings import Config

app = typer.Typer()


@app.command(
    epilog="Examples:\n\n"
    "  quota-watch run                      # embedded default: host collector, SQLite\n\n"
    "  quota-watch run -c /etc/quota-watch/config.toml\n\n"
    "  kill -HUP $(pidof quota-watch)       # reload the config without a restart"
)
def run(config: ConfigOption = None) -> None:
    """Run the daemon: poll every account on schedule and serve /metrics."""
    cfg = load(config)
    from quota_watch.config.runnable import runnable_problems

    problems = runnable_problems(cfg)
    if problems:
        fail(["configuration error:", *(f"  {p}" for p in problems)], EXIT_CONFIG)
    setup_logging(cfg)
    from quota_watch.daemon.process import Daemon

    def reload() -> Config:
        from quota_watch.config.load import load_config

        return load_config(config)

    code = run_async(lambda: Daemon(cfg, reload=reload).run())
    raise typer.Exit(code)
