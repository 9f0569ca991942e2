"""Tables as data: what a report of the core hands the CLI to draw (``cli/tables.py`` makes
Rich tables of them), so that what a table holds is decided where its figures are."""

from __future__ import annotations

from dataclasses import dataclass, field

WHOLE = ("name", "id", "number", "stamp", "word")
"""Kinds of cell that are never split."""


@dataclass(frozen=True)
class Col:
    """A column: its header (a newline puts the unit on a line of its own), its kind (one
    of :data:`WHOLE`, or ``text``: wraps at spaces) and whether it may be left out when the
    table does not fit."""

    header: str
    kind: str = "text"
    optional: bool = False


@dataclass
class TableData:
    """A table's title, columns and rows of text (Rich markup allowed), and a caption under
    it."""

    title: str
    columns: list[Col]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    caption: str | None = None

    def add_row(self, *cells: str) -> None:
        self.rows.append(cells)
