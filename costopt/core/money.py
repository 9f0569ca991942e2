"""Amounts of USD as people read them: in tables, documents and chart axes."""

from __future__ import annotations


def usd(value: float | None) -> str:
    """An amount in USD to the cent with thousands separated (``12,345.67``); ``-`` for
    ``None`` (no figure)."""
    return "-" if value is None else f"{value:,.2f}"


def usd_whole(value: float, _pos: object = None) -> str:
    """An amount in USD to the dollar (``12,346``): a chart axis's ticks (the signature of
    matplotlib's ``FuncFormatter``, whose second argument is the tick's position)."""
    return f"{value:,.0f}"
