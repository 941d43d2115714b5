"""One naming of option values across every command's help: `--account ACCOUNT`, `--for DURATION`.

typer derives a value's placeholder from its Python type (`<str>`, `<list[str]>`, `<file>`),
so the same option read differently from one command to the next. `conform` renames them after
typer built the command tree, from one table; a choice keeps its choices, listed in its help.
"""

from __future__ import annotations

from typing import Any

#: Placeholder by the option's long name (without "--"); anything else: its name upper-cased.
METAVARS: dict[str, str] = {
    "config": "PATH",
    "account": "ACCOUNT",
    "provider": "PROVIDER",
    "limit": "LIMIT",
    "resource": "RESOURCE",
    "group": "POOL",
    "status": "STATUS",
    "format": "FORMAT",
    "days": "DAYS",
    "for": "DURATION",
    "match": "MATCHER",
    "reason": "TEXT",
    "output": "DIR",
    "runbook-url-base": "URL",
    "severity": "SEVERITY",
    "fail-on": "SEVERITY",
    "unit": "UNIT",
    "measure": "MEASURE",
    "period": "PERIOD",
    "cap": "QUANTITY",
    "cost": "N",
    "log-level": "LEVEL",
    "log-format": "FORMAT",
}


#: Placeholder of a positional argument by its parameter name; anything else: upper-cased.
ARGUMENT_METAVARS: dict[str, str] = {"path": "PATH", "backup": "PATH", "silence_id": "ID"}


def metavar_for(option: str) -> str:
    """The placeholder of the option called `option` (e.g. "--account")."""
    name = option.lstrip("-")
    return METAVARS.get(name) or name.upper().replace("-", "_")


def _choices(param: Any) -> list[str]:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or not getattr(descriptor, "is_choice", False):
        return []
    return [str(getattr(choice, "value", choice)) for choice in descriptor.choices or ()]


def conform(command: Any) -> None:
    """Give every value-taking option of `command` and its subcommands its table placeholder."""
    for sub in getattr(command, "commands", {}).values():
        conform(sub)
    for param in getattr(command, "params", ()):
        kind = getattr(param, "param_type_name", "")
        if kind == "argument" and param.metavar is None and param.name:
            param.metavar = ARGUMENT_METAVARS.get(param.name) or param.name.upper()
            continue
        if kind != "option" or getattr(param, "is_flag", False):
            continue
        if getattr(param, "hidden", False) or getattr(param, "_conformed", False):
            continue
        long_names = [o for o in param.opts if o.startswith("--")]
        if not long_names or param.metavar is not None:
            continue
        param.metavar = metavar_for(long_names[0])
        choices = _choices(param)
        help_text = param.help or ""
        if choices and not all(choice in help_text for choice in choices):
            listed = ", ".join(choices)
            param.help = (
                f"{help_text.rstrip('.')}: {listed}." if help_text else f"One of: {listed}."
            )
        param._conformed = True
