"""`include = ["conf.d/*.toml"]`: config files that add [[accounts]], [[notifiers]] and [[rules]].

Patterns are relative to the including file; each pattern's matches are read in file-name
order, patterns in the order given, after the main file's own entries; a file matched twice is
read once. An included file holds only those arrays. Errors name the file and the line of the
entry's `[[...]]` header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quota_watch.config.errors import ConfigError
from quota_watch.config.files import read_toml_text

#: The arrays an included file may add to.
ARRAYS = ("accounts", "notifiers", "rules")
_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*(accounts|notifiers|rules)[ \t]*\]\]", re.MULTILINE)
_REFERENCE = re.compile(r"\b(accounts|notifiers|rules)\[(\d+)\]")


@dataclass(frozen=True)
class Origin:
    """Where one merged array entry was written: file, index in that file, header line."""

    file: Path
    index: int
    line: int | None

    def where(self, kind: str) -> str:
        """The entry as `file:line: kind[index]` (no line when unknown: an inline array)."""
        line = f":{self.line}" if self.line is not None else ""
        return f"{self.file}{line}: {kind}[{self.index}]"


Origins = dict[tuple[str, int], Origin]


def _header_lines(text: str) -> dict[str, list[int]]:
    """Line numbers of each `[[accounts]]`-style header, by array, in file order."""
    lines: dict[str, list[int]] = {kind: [] for kind in ARRAYS}
    for match in _HEADER.finditer(text):
        lines[match.group(1)].append(text.count("\n", 0, match.start()) + 1)
    return lines


def _patterns(value: Any, source: Path) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise ConfigError([f"{source}: include: expected an array of file patterns"])
    return list(value)


def included_files(patterns: Sequence[str], base: Path) -> list[Path]:
    """The files `patterns` match under `base`, in the documented order, each once."""
    seen: set[Path] = set()
    files: list[Path] = []
    for pattern in patterns:
        full = Path(pattern) if Path(pattern).is_absolute() else base / pattern
        root = Path(full.anchor)
        matches = root.glob(str(full.relative_to(root))) if full.anchor else base.glob(pattern)
        for path in sorted(matches, key=lambda p: (p.name, str(p))):
            key = path.resolve()
            if path.is_file() and key not in seen:
                seen.add(key)
                files.append(path)
    return files


def _read(path: Path) -> tuple[dict[str, Any], str]:
    # The same guards as the main file: size, UTF-8, TOML, depth.
    return read_toml_text(path)


def expand(
    data: Mapping[str, Any], text: str, source: Path
) -> tuple[dict[str, Any], Origins, list[Path]]:
    """`data` (parsed from `text`, read from `source`) with its includes merged in.

    Returns the merged data; when the file includes others, where each array entry came from
    (empty otherwise: errors then keep their plain TOML paths); and the files included.
    """
    merged = dict(data)
    if "include" not in merged:
        return merged, {}, []
    patterns = _patterns(merged["include"], source)
    origins: Origins = {}
    problems: list[str] = []
    main_lines = _header_lines(text)
    for kind in ARRAYS:
        entries = merged.get(kind, [])
        if isinstance(entries, list):
            for index in range(len(entries)):
                line = _line(main_lines[kind], index)
                origins[(kind, index)] = Origin(source, index, line)
    files = included_files(patterns, source.parent)
    for path in files:
        extra, extra_text = _read(path)
        lines = _header_lines(extra_text)
        for key in extra:
            if key not in ARRAYS:
                allowed = ", ".join(f"[[{k}]]" for k in ARRAYS)
                problems.append(f"{path}: {key}: an included file holds only {allowed}")
        for kind in ARRAYS:
            entries = extra.get(kind)
            if entries is None:
                continue
            if not isinstance(entries, list):
                problems.append(f"{path}: {kind}: must be an array of tables ([[{kind}]])")
                continue
            target = merged.setdefault(kind, [])
            if not isinstance(target, list):
                continue  # the main file's own type error is reported by validation
            for index, entry in enumerate(entries):
                origins[(kind, len(target))] = Origin(path, index, _line(lines[kind], index))
                target.append(entry)
    if problems:
        raise ConfigError(problems)
    return merged, origins, files


def _line(lines: list[int], index: int) -> int | None:
    return lines[index] if index < len(lines) else None


def locate(errors: Sequence[str], source: Path, origins: Origins) -> list[str]:
    """Rewrite `errors` ("<source>: accounts[7].x: ...") to name the entry's file and line."""
    if not origins:
        return list(errors)
    prefix = f"{source}: "
    out: list[str] = []
    for error in errors:
        body = error.removeprefix(prefix)
        head = _REFERENCE.match(body)
        origin = None if head is None else origins.get((head.group(1), int(head.group(2))))
        if head is None or origin is None:
            out.append(_inner(error, origins))
            continue
        rest = _inner(body[head.end() :], origins)
        out.append(f"{origin.where(head.group(1))}{rest}")
    return out


def _inner(text: str, origins: Origins) -> str:
    """References to other entries inside a message, e.g. "already used by accounts[2]"."""

    def name(match: re.Match[str]) -> str:
        origin = origins.get((match.group(1), int(match.group(2))))
        return match.group(0) if origin is None else f"{origin.where(match.group(1))}"

    return _REFERENCE.sub(name, text)
