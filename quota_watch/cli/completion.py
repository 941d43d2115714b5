"""`quota-watch completion SHELL`: print the shell completion script for bash, zsh or fish."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

app = typer.Typer()

PROG_NAME = "quota-watch"
#: The environment variable click's completion protocol reads (`_<PROG>_COMPLETE`).
COMPLETE_VAR = "_QUOTA_WATCH_COMPLETE"


class Shell(StrEnum):
    """The shells whose completion script quota-watch prints."""

    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion_script(shell: Shell) -> str:
    """The completion script for `shell`, to be sourced by it."""
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name=PROG_NAME, complete_var=COMPLETE_VAR, shell=shell.value)


@app.command(
    "completion",
    epilog="Examples:\n\n"
    "  quota-watch completion bash > ~/.local/share/bash-completion/completions/quota-watch\n\n"
    '  quota-watch completion zsh > "${fpath[1]}/_quota-watch"\n\n'
    "  quota-watch completion fish > ~/.config/fish/completions/quota-watch.fish\n\n"
    "  quota-watch --install-completion     # or let it install for the current shell",
)
def completion(
    shell: Annotated[Shell, typer.Argument(metavar="SHELL", help="bash, zsh or fish.")],
) -> None:
    """Print the shell completion script for SHELL."""
    typer.echo(completion_script(shell))
