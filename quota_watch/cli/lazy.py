"""The root command's subcommands, each imported and built by typer only when it is used.

typer builds a click command from every registered function's signature (type hints
evaluated, parameters converted) each time the program starts; with every command group
registered up front, `quota-watch report` paid for all thirty of them and imported every
command module. Here the root group knows only the names: a command's module is imported and
its click command built the first time click asks for it (to run it, to list it in --help or
to complete it).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

__all__ = ["COMMANDS", "LazyCommands", "LazyGroup"]

COMMANDS: dict[str, tuple[str, bool]] = {
    "run": ("run", False),
    "collect": ("collect", False),
    "report": ("report", False),
    "history": ("report", False),
    "plan": ("plan", False),
    "set": ("setvalue", False),
    "collectors": ("collectors", True),
    "notify": ("notify", True),
    "silence": ("silence", True),
    "account": ("account", True),
    "rules": ("rules", True),
    "dashboards": ("dashboards", True),
    "config": ("config", True),
    "db": ("db", True),
    "cluster": ("cluster", True),
    "completion": ("completion", False),
}
"""Command name -> (module under quota_watch.cli holding its `app`, whether that app is a
named group such as `db`; else its commands join the top level). The order is --help's."""


def _build(module: str, name: str | None) -> dict[str, Any]:
    """The click commands of `quota_watch.cli.<module>`'s app, as the root would hold them."""
    sub_app = importlib.import_module(f"quota_watch.cli.{module}").app
    # A bare root to build it with the root's settings (no rich help, no pretty exceptions).
    holder = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
    holder.add_typer(sub_app, name=name)
    return dict(typer.main.get_group(holder).commands)


class LazyCommands(MutableMapping[str, Any]):
    """Command name -> click command, built on first access; iterates in `COMMANDS` order."""

    def __init__(self) -> None:
        self._built: dict[str, Any] = {}
        self._extra: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name in self._extra:
            return self._extra[name]
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            from quota_watch.cli.metavars import conform

            module, named = COMMANDS[name]
            for built_name, command in _build(module, name if named else None).items():
                conform(command)
                self._built.setdefault(built_name, command)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._extra[name] = command

    def __delitem__(self, name: str) -> None:
        del self._extra[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._extra if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(1 for name in self._extra if name not in COMMANDS)

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self._extra


class LazyGroup(TyperGroup):
    """The root group: its subcommands are `COMMANDS`, each built when first asked for."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands()
