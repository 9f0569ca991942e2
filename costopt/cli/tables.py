"""Tables for people that survive an 80-column terminal and a pipe.

Rich's ``overflow="fold"`` splits any token to fit (``runnin``/``g``, an instance id over two
lines). Here every cell of an id, a name, a number, a time or a one-word state is kept whole
(``no_wrap``); only free text wraps, at spaces, and a word too long for it ends in an
ellipsis. Units go in the header, on a line of their own (``done`` / ``GPU-h``), so a column
is no wider than its figures. A table still wider than the terminal leaves out its optional
columns, last first, and says which (``--format json`` has them all). Piped with no
``COLUMNS``, the console is as wide as the longest line (see ``common.make_console``): no
wrapping at all.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from costopt.core.tables import WHOLE, Col, TableData

STATE_STYLES = {"finished": "green", "on-pace": "green", "waiting": "dim", "behind": "yellow",
                "critical": "bold red", "late": "bold red", "met": "green",
                "not done": "bold red", "spot": "cyan", "on-demand": "magenta"}
"""Colour per state or market word (Rich leaves it out when piped or under NO_COLOR)."""


class FitTable(Table):
    """A Rich table that knows which of its columns may be left out (:func:`show`)."""

    optional: list[str]
    kept_whole: list[str]  # headers of columns never narrower than their cells (WHOLE)


def table_of(title: str, columns: list[Col], caption: str | None = None) -> FitTable:
    """An empty table of these columns, headed ``title``."""
    table = FitTable(title=title, title_justify="left", caption=caption, caption_justify="left",
                  box=box.SIMPLE_HEAD)
    for col in columns:
        right = col.kind == "number"
        table.add_column(col.header, justify="right" if right else "left",
                         no_wrap=col.kind in WHOLE, overflow="ellipsis")
    table.optional = [c.header for c in columns if c.optional]
    table.kept_whole = [c.header for c in columns if c.kind in WHOLE]
    return table


def show_data(console: Console, data: TableData) -> None:
    """Print a table the core described (:class:`TableData`), as :func:`show` does."""
    table = table_of(data.title, data.columns, data.caption)
    for row in data.rows:
        table.add_row(*row)
    show(console, table)


def show(console: Console, table: Table) -> None:
    """Print ``table``, first leaving out optional columns (the last first) while it is
    wider than the console; a line under it names those left out."""
    dropped = []
    optional = list(table.optional) if isinstance(table, FitTable) else []
    while optional and _natural_width(console, table) > console.width:
        header = optional.pop()
        index = next(i for i, c in enumerate(table.columns) if c.header == header)
        table.columns.pop(index)
        dropped.append(header.replace("-\n", "").replace("\n", " "))
    for column in table.columns:  # ids, names, figures stay whole, even past the edge
        if isinstance(table, FitTable) and column.header in table.kept_whole:
            lines = [Text.from_markup(str(c)).cell_len for c in column.cells]
            lines += [len(line) for line in str(column.header).splitlines()]
            column.min_width = max(lines, default=0) or None
    console.print(table, crop=False)
    if dropped:
        console.print(f"(left out at {console.width} columns: {', '.join(reversed(dropped))}; "
                      "a wider terminal or --format json shows them)", highlight=False)


def _natural_width(console: Console, table: Table) -> int:
    """Columns the table takes with room to spare."""
    return Measurement.get(console, console.options.update_width(10**5), table).maximum


def styled(word: str) -> str:
    """A state or market word in its colour (markup)."""
    style = STATE_STYLES.get(word)
    return f"[{style}]{word}[/]" if style else word
