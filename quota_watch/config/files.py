"""Reading what a config points at without trusting it: the TOML file, secret files, the
environment's QUOTA_WATCH_* overrides; every problem is a one-line message, never a hang."""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from quota_watch.config.errors import ConfigError

#: A secret file (token, password) is small; a larger one is a mistake (or /dev/zero).
MAX_SECRET_BYTES = 64 * 1024
#: The config file itself.
MAX_CONFIG_BYTES = 4 * 2**20
#: Tables and arrays nested deeper than this are not a quota-watch config.
MAX_DEPTH = 32
ENV_PREFIX = "QUOTA_WATCH_"
#: A config text longer than this is parsed with tomli, whose wheels are compiled: 3x faster
#: than the stdlib's tomllib (its pure-Python copy: the same documents, the same messages), a
#: 100-account file in 59 M instructions instead of 180 M, which `report` pays on every run.
#: Below it tomllib costs less than tomli's import, and a daemon with a small config does not
#: map tomli's extension (+0.3 MB of RSS).
COMPILED_TOML_CHARS = 32 * 1024
_NESTS = (dict, list, tuple, Mapping)
_PLAIN = (str, int, float)  # most values: told apart before the slower Mapping ABC check


def read_limited(path: Path, limit: int) -> bytes:
    """The bytes of the regular file `path`, at most `limit`; ValueError (one line) otherwise.

    Opened non-blocking and checked with fstat, so a FIFO, a device or a directory is refused
    without hanging and without reading from it.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path} is not a regular file")
        if info.st_size > limit:
            raise ValueError(f"{path} is larger than {limit} bytes")
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"{path} is larger than {limit} bytes")
    return data


def read_secret_file(path: Path) -> str:
    """A secret from a `*_file` option: a small regular UTF-8 text file without NUL, stripped."""
    data = read_limited(path, MAX_SECRET_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None
    if "\0" in text:
        raise ValueError(f"{path} contains a NUL byte")
    text = text.strip()
    if not text:
        raise ValueError(f"{path} is empty")
    return text


def read_toml(source: Path) -> dict[str, Any]:
    """The parsed config file; ConfigError (one line naming the file) for anything unreadable."""
    return read_toml_text(source)[0]


def read_toml_text(source: Path) -> tuple[dict[str, Any], str]:
    """The parsed config file and its text; ConfigError (one line naming the file) for anything
    unreadable: too large, not UTF-8, not TOML, nested too deeply."""
    try:
        raw = read_limited(source, MAX_CONFIG_BYTES)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            [f"{source}: line {line}: not UTF-8 text (TOML files are UTF-8)"]
        ) from None
    parser = toml_parser(text)
    try:
        return parser.loads(text), text
    except parser.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: {exc}"]) from None
    except RecursionError:
        raise ConfigError([f"{source}: nested too deeply (more than {MAX_DEPTH} levels)"]) from None


def toml_parser(text: str) -> ModuleType:
    """The TOML parser for `text`: tomli's compiled one for a long text, tomllib otherwise."""
    if len(text) > COMPILED_TOML_CHARS:
        import tomli

        return tomli
    return tomllib


def nesting_problem(data: Any, limit: int = MAX_DEPTH) -> str | None:
    """Why `data` is nested too deeply to be a config, or None (iterative: no recursion)."""
    too_deep = f"nested too deeply (more than {limit} levels of tables and arrays)"
    if limit < 0:
        return too_deep
    # Only tables and arrays are stacked (a config holds many more plain values): one at
    # depth `limit` with anything in it holds a value deeper than the limit.
    stack: list[tuple[Any, int]] = [(data, 0)] if isinstance(data, _NESTS) else []
    while stack:
        node, depth = stack.pop()
        values = node.values() if isinstance(node, Mapping) else node
        if depth >= limit and len(values):
            return too_deep
        stack.extend(
            (v, depth + 1) for v in values if not isinstance(v, _PLAIN) and isinstance(v, _NESTS)
        )
    return None


def env_override_problem(exc: Exception, env: Mapping[str, str]) -> str:
    """One line naming the QUOTA_WATCH_* variable pydantic-settings could not read (its value
    is never shown: it may be a secret)."""
    text = str(exc)
    field = text.split('"')[1] if text.count('"') >= 2 else ""
    names = sorted(
        k for k in env if k.upper().startswith(ENV_PREFIX + field.upper()) and field
    ) or sorted(k for k in env if k.upper().startswith(ENV_PREFIX))
    shown = ", ".join(names[:3]) or ENV_PREFIX + "*"
    return f"environment override {shown}: not valid JSON for a table or list (e.g. '{{\"a\": 1}}')"
