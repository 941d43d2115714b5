"""The one terminal renderer of every human table and paragraph: report, plan, history,
collect and `collectors list`. It fits the terminal's width (rich's detection: `COLUMNS`, else
the terminal's, else 80): columns that do not fit are dropped in their stated order, and once
nothing else can go, columns of several words wrap between words (never inside one);
paragraphs wrap with a hanging indent. Without colour (a pipe, NO_COLOR, TERM=dumb) the output
is plain text with no ANSI escapes.

rich measures the cells (wide characters), styles them and writes the colour; the columns are
laid out here, once, from the fitted widths: rich's own Table re-measures and pads every cell
(about 1 ms a row, a third of a second for a 400-row report against its 0.5 s budget). Plain
text (a pipe, NO_COLOR) never goes through rich's console: importing it costs more than the
whole table, so it is only imported for colour, a line wider than the screen, or a width that
only it can detect."""

from __future__ import annotations

import io
import os
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Column", "Screen", "TableRow", "cell_width", "fit_columns", "terminal_width"]

GAP = 2
"""Spaces between two columns."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its key in a row's cells, header, alignment, whether its cells may wrap
    between words, and its drop rank (0: always kept; otherwise the highest goes first when
    the table does not fit)."""

    key: str
    header: str
    right: bool = False
    wrap: bool = False
    drop: int = 0


@dataclass(frozen=True, slots=True)
class TableRow:
    """One row: text per column key, an optional rich style per column key, and whether a
    blank line (a new section) follows it."""

    cells: Mapping[str, str]
    styles: Mapping[str, str] = field(default_factory=dict)
    end_section: bool = False


def terminal_width() -> int:
    """The width rich detects: `COLUMNS`, else the terminal's, else 80."""
    term = os.environ.get("TERM", "").lower()
    if term in ("dumb", "unknown") or sys.platform == "win32":
        from rich.console import Console

        return Console().width
    # What rich answers here, without importing its console: COLUMNS when it is a number,
    # else the size of the first of stdin, stdout and stderr that is a terminal, else 80.
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        return int(columns)
    for descriptor in (0, 1, 2):
        try:
            return os.get_terminal_size(descriptor).columns or 80
        except (AttributeError, ValueError, OSError):
            continue
    return 80


def cell_width(text: str) -> int:
    """The cells `text` takes on a terminal (a wide character takes two)."""
    if text.isascii() and text.isprintable():
        return len(text)  # one cell a character, as rich counts them
    from rich.cells import cell_len

    return cell_len(text)


class _Measured:
    """Each column's cell widths in a table, measured once."""

    def __init__(self, rows: Sequence[TableRow]) -> None:
        self.rows = rows
        self._full: dict[str, int] = {}
        self._least: dict[str, int] = {}

    def full(self, column: Column) -> int:
        """The width of the column's widest cell (its header included)."""
        if column.key not in self._full:
            lines = [column.header, *(row.cells.get(column.key, "") for row in self.rows)]
            self._full[column.key] = max(cell_width(line) for line in lines)
        return self._full[column.key]

    def least(self, column: Column) -> int:
        """The narrowest the column can be: its widest cell, or longest word if it wraps."""
        if not column.wrap:
            return self.full(column)
        if column.key not in self._least:
            texts = [column.header, *(row.cells.get(column.key, "") for row in self.rows)]
            words = (word for text in set(texts) for word in text.split())
            self._least[column.key] = max((cell_width(word) for word in words), default=0)
        return self._least[column.key]


def fit_columns(
    columns: Sequence[Column], rows: Sequence[TableRow], width: int
) -> list[tuple[Column, int]]:
    """The columns kept at `width` and the width of each: drop by rank until the table fits
    unwrapped; when only kept columns remain, narrow the widest wrapping column a cell at a
    time (never below its longest word) until it fits."""
    kept = list(columns)
    measured = _Measured(rows)

    def total(widths: Sequence[int]) -> int:
        return sum(widths) + GAP * (len(widths) - 1)

    while total([measured.full(c) for c in kept]) > width:
        droppable = [c for c in kept if c.drop > 0]
        if not droppable:
            break
        kept.remove(max(droppable, key=lambda c: c.drop))
    widths = [measured.full(c) for c in kept]
    least = [measured.least(c) for c in kept]
    while total(widths) > width:
        room = [i for i, c in enumerate(kept) if c.wrap and widths[i] > least[i]]
        if not room:
            break
        widest = max(room, key=lambda i: widths[i])
        widths[widest] -= 1
    return list(zip(kept, widths, strict=True))


def _row_lines(fitted: Sequence[tuple[Column, int]], row: TableRow) -> list[list[str]]:
    """The row's lines, one text per column: a cell wider than its column wraps between words
    (a column that may not wrap was fitted to its widest cell)."""
    cells = []
    for column, width in fitted:
        text = row.cells.get(column.key, "")
        if column.wrap and cell_width(text) > width:
            cells.append(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False))
        else:
            cells.append([text])
    height = max(len(lines) for lines in cells)
    return [[lines[i] if i < len(lines) else "" for lines in cells] for i in range(height)]


class Screen:
    """Text for the terminal, built in order (lines, tables, paragraphs) and returned whole."""

    def __init__(self, *, width: int | None = None, colour: bool = False) -> None:
        self.width = width if width is not None else terminal_width()
        self.colour = colour
        self._buffer = io.StringIO()
        self._rich: Console | None = None

    @property
    def _console(self) -> Console:
        """rich's console writing into the buffer: made on first use (colour, or a long line)."""
        if self._rich is None:
            from rich.console import Console

            self._rich = Console(
                file=self._buffer,
                width=self.width,
                force_terminal=self.colour,
                no_color=not self.colour,
                color_system="standard" if self.colour else None,
                highlight=False,
                markup=False,
                emoji=False,
                soft_wrap=False,
            )
        return self._rich

    def line(self, text: str = "", style: str = "") -> None:
        """One line as given (the caller keeps it short: a heading, a note); cut at the width."""
        if not self.colour and text.isprintable() and cell_width(text) <= self.width:
            self._buffer.write(text + "\n")  # what rich writes for it, without rich
            return
        from rich.text import Text

        self._console.print(Text(text, style=style, no_wrap=True, overflow="ignore"))

    def paragraph(self, text: str, *, first: str = "", rest: str = "", style: str = "") -> None:
        """`text` wrapped to the width between words, `first` before its first line and
        `rest` before the others (a hanging indent); a word longer than a line stays whole."""
        lines = textwrap.wrap(
            text,
            width=self.width,
            initial_indent=first,
            subsequent_indent=rest,
            break_long_words=False,
            break_on_hyphens=False,
        )
        for line in lines or [first.rstrip()]:
            self.line(line, style)

    def table(
        self, columns: Sequence[Column], rows: Sequence[TableRow], *, indent: int = 0
    ) -> None:
        """A table without borders fitted to the width (less `indent`): bold headers, cells
        styled as given, wrapping cells over several lines, a blank line after a section."""
        fitted = fit_columns(columns, rows, self.width - indent)
        header = TableRow({c.key: c.header for c, _ in fitted}, {c.key: "bold" for c, _ in fitted})
        parts: list[str] = []
        spans: list[tuple[int, int, str]] = []
        size = 0  # characters in `parts` so far: where the next span starts
        used: dict[str, int] = {}  # cells of each distinct text (statuses, "-", bars repeat)
        for number, row in enumerate([header, *rows]):
            for line in _row_lines(fitted, row):
                pieces = [" " * indent] if indent else []
                at = size + indent
                for index, (column, width) in enumerate(fitted):
                    text = line[index]
                    cells = used.get(text)
                    if cells is None:
                        cells = used[text] = cell_width(text)
                    pad = " " * (width - cells)
                    if index:
                        pieces.append(" " * GAP)
                        at += GAP
                    style = row.styles.get(column.key, "") if self.colour else ""
                    if style and text:
                        start = at + (len(pad) if column.right else 0)
                        spans.append((start, start + len(text), style))
                    cell = pad + text if column.right else text + pad
                    pieces.append(cell)
                    at += len(cell)
                joined = "".join(pieces).rstrip() + "\n"
                parts.append(joined)
                size += len(joined)
            if row.end_section and number < len(rows):
                parts.append("\n")  # a blank line between sections
                size += 1
        plain = "".join(parts)
        if not self.colour:  # nothing to style: the text as it is
            self._buffer.write(plain)
            return
        from rich.text import Span, Text

        styled = Text(plain, spans=[Span(*span) for span in spans], no_wrap=True)
        self._console.print(styled, end="", crop=False)

    def text(self) -> str:
        """Everything written so far, trailing spaces and the last newline removed."""
        return "\n".join(line.rstrip() for line in self._buffer.getvalue().splitlines())
