"""`quota-watch run`: the daemon."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from quota_watch.cli.common import (
    EXIT_CONFIG,
    ConfigOption,
    LogFormatOption,
    LogLevelOption,
    fail,
    load,
    run_async,
    setup_logging,
)

if TYPE_CHECKING:
    from quota_watch.config.settings import Config

app = typer.Typer()


@app.command(
    epilog="Examples:\n\n"
    "  quota-watch run                      # embedded default: host collector, SQLite\n\n"
    "  quota-watch run -c /etc/quota-watch/config.toml --log-format json\n\n"
    "  kill -HUP $(pidof -x quota-watch)    # reload config and TLS files"
)
def run(
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    log_format: LogFormatOption = None,
) -> None:
    """Run the daemon: poll every account on schedule and serve /metrics."""
    from quota_watch.notify import deliver

    deliver.VALIDATE_OUT_OF_PROCESS = True  # apprise loads on the first send, not at start
    cfg = load(config)
    from quota_watch.config.runnable import runnable_problems

    problems = runnable_problems(cfg)
    if problems:
        fail(["configuration error:", *(f"  {p}" for p in problems)], EXIT_CONFIG)
    setup_logging(
        cfg,
        None if log_level is None else log_level.value,
        None if log_format is None else log_format.value,
    )
    from quota_watch.daemon.process import Daemon

    def reload() -> Config:
        from quota_watch.config.load import load_config

        return load_config(config)

    code = run_async(lambda: Daemon(cfg, reload=reload).run())
    raise typer.Exit(code)
