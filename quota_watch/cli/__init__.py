"""The command line: one module per command group, composed in `quota_watch.cli.app`."""

from quota_watch.cli.app import main

__all__ = ["main"]
