"""Amounts of USD as people read them."""

from __future__ import annotations

from costopt.core.money import usd, usd_whole


def test_usd_rounds_to_the_cent_and_separates_thousands() -> None:
    """1234567.891 -> 1,234,567.89 (the third decimal, 1, rounds down); 0.005 is the float
    0.005000000000000000104..., so it rounds up to 0.01."""
    assert usd(1234567.891) == "1,234,567.89"
    assert usd(0.005) == "0.01"
    assert usd(-12.5) == "-12.50"


def test_no_figure_is_a_dash() -> None:
    assert usd(None) == "-"


def test_an_axis_tick_is_whole_dollars_whatever_its_position() -> None:
    """12345.5 rounds half to even at the dollar: 12,346 (12345.5 is exact in binary, and
    Python's format rounds half to even: 12346 is the even one)."""
    assert usd_whole(12345.5) == "12,346"
    assert usd_whole(999.4, 3) == "999"
