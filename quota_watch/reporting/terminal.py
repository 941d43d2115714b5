"""The one terminal renderer of every human table and paragraph: report, plan, history,
collect and `collectors list`. It fits the terminal's width (rich's detection: `COLUMNS`, else
the terminal's, else 80): columns that do not fit are dropped in their stated order, and once
nothing else can go, columns of several words wrap between words (never inside one);
paragraphs wrap with a hanging indent. Without colour (a pipe, NO_COLOR, TERM=dumb) the output
is plain text with no ANSI escapes.

rich measures the cells (wide characters), styles them and writes the colour; the columns are
laid out here, once, from the fitted widths: rich's own Table re-measures and pads every cell
(about 1 ms a row, a third of a second for a 400-row report against its 0.5 s budget)."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Column", "Screen", "TableRow", "fit_columns", "terminal_width"]

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
    from rich.console import Console

    return Console().width


def _longest_word(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(word) for word in text.split()), default=0)


def _full(column: Column, rows: Sequence[TableRow]) -> int:
    from rich.cells import cell_len

    lines = [column.header, *(row.cells.get(column.key, "") for row in rows)]
    return max(cell_len(line) for line in lines)


def _least(column: Column, rows: Sequence[TableRow]) -> int:
    if not column.wrap:
        return _full(column, rows)
    texts = [column.header, *(row.cells.get(column.key, "") for row in rows)]
    return max(_longest_word(text) for text in texts)


def fit_columns(
    columns: Sequence[Column], rows: Sequence[TableRow], width: int
) -> list[tuple[Column, int]]:
    """The columns kept at `width` and the width of each: drop by rank until the table fits
    unwrapped; when only kept columns remain, narrow the widest wrapping column a cell at a
    time (never below its longest word) until it fits."""
    kept = list(columns)

    def total(widths: Sequence[int]) -> int:
        return sum(widths) + GAP * (len(widths) - 1)

    while total([_full(c, rows) for c in kept]) > width:
        droppable = [c for c in kept if c.drop > 0]
        if not droppable:
            break
        kept.remove(max(droppable, key=lambda c: c.drop))
    widths = [_full(c, rows) for c in kept]
    least = [_least(c, rows) for c in kept]
    while total(widths) > width:
        room = [i for i, c in enumerate(kept) if c.wrap and widths[i] > least[i]]
        if not room:
            break
        widest = max(room, key=lambda i: widths[i])
        widths[widest] -= 1
    return list(zip(kept, widths, strict=True))


def _cells(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def _row_lines(fitted: Sequence[tuple[Column, int]], row: TableRow) -> list[list[str]]:
    """The row's lines, one text per column: a cell wider than its column wraps between words
    (a column that may not wrap was fitted to its widest cell)."""
    cells = []
    for column, width in fitted:
        text = row.cells.get(column.key, "")
        if column.wrap and _cells(text) > width:
            cells.append(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False))
        else:
            cells.append([text])
    height = max(len(lines) for lines in cells)
    return [[lines[i] if i < len(lines) else "" for lines in cells] for i in range(height)]


class Screen:
    """Text for the terminal, built in order (lines, tables, paragraphs) and returned whole."""

    def __init__(self, *, width: int | None = None, colour: bool = False) -> None:
        from rich.console import Console

        self.width = width if width is not None else terminal_width()
        self.colour = colour
        self._buffer = io.StringIO()
        self._console: Console = Console(
            file=self._buffer,
            width=self.width,
            force_terminal=colour,
            no_color=not colour,
            color_system="standard" if colour else None,
            highlight=False,
            markup=False,
            emoji=False,
            soft_wrap=False,
        )

    def line(self, text: str = "", style: str = "") -> None:
        """One line as given (the caller keeps it short: a heading, a note)."""
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
        from rich.text import Span, Text

        fitted = fit_columns(columns, rows, self.width - indent)
        header = TableRow({c.key: c.header for c, _ in fitted}, {c.key: "bold" for c, _ in fitted})
        parts: list[str] = []
        spans: list[Span] = []
        size = 0  # characters in `parts` so far: where the next span starts
        for number, row in enumerate([header, *rows]):
            for line in _row_lines(fitted, row):
                pieces = [" " * indent] if indent else []
                at = size + indent
                for index, (column, width) in enumerate(fitted):
                    text = line[index]
                    pad = " " * (width - _cells(text))
                    if index:
                        pieces.append(" " * GAP)
                        at += GAP
                    style = row.styles.get(column.key, "")
                    if style and text:
                        start = at + (len(pad) if column.right else 0)
                        spans.append(Span(start, start + len(text), style))
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
        self._console.print(Text(plain, spans=spans, no_wrap=True), end="", crop=False)

    def text(self) -> str:
        """Everything written so far, trailing spaces and the last newline removed."""
        return "\n".join(line.rstrip() for line in self._buffer.getvalue().splitlines())
