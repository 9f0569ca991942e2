"""The buy-or-rent chart: a real PNG of the right size, whose crossings are the computed ones.

The hand-worked case (conftest.py): break-even at 9.863% on demand and 28.341% on spot;
payback after 2.087 months on demand and 6.343 on spot.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from builders import catalog, offer
from buy import hand_case as hand
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

from costopt.buy.breakeven import BuyOrRent, OwnedSide, compare, rentals
from costopt.buy.chart import HEIGHT_PX, WIDTH_PX, breakeven_figure, write_chart


def _line(fig: Figure, gid: str) -> Line2D:
    found = [line for ax in fig.axes for line in ax.get_lines() if line.get_gid() == gid]
    assert len(found) == 1, gid
    return found[0]


def _crossing(a: Line2D, b: Line2D) -> float:
    """Where two drawn polylines cross, by linear interpolation between samples."""
    x = np.asarray(a.get_xdata(), dtype=float)
    assert np.array_equal(x, np.asarray(b.get_xdata(), dtype=float))
    diff = np.asarray(a.get_ydata(), dtype=float) - np.asarray(b.get_ydata(), dtype=float)
    i = int(np.flatnonzero(np.sign(diff[:-1]) != np.sign(diff[1:]))[0])
    return float(x[i] - diff[i] * (x[i + 1] - x[i]) / (diff[i + 1] - diff[i]))


def test_png_is_the_right_size_and_not_blank(hand_result: BuyOrRent, tmp_path: Path) -> None:
    path = write_chart(hand_result, tmp_path / "charts" / "buy.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert (width, height) == (WIDTH_PX, HEIGHT_PX) == (1400, 560)
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("L"))
    # Lines, text and markers: many dark pixels, many grey levels, on a white page.
    assert (pixels < 128).mean() > 0.01
    assert len(np.unique(pixels)) > 50
    assert pixels.max() == 255


def test_break_even_drawn_where_computed(hand_result: BuyOrRent) -> None:
    fig = breakeven_figure(hand_result)
    owned = _line(fig, "owned")
    for market, expected in (("on_demand", hand.ON_DEMAND["breakeven"]),
                             ("spot", hand.SPOT["breakeven"])):
        computed = hand_result.markets[market].breakeven_utilization
        assert computed == pytest.approx(expected)
        drawn = _crossing(owned, _line(fig, f"rent:{market}"))
        assert drawn == pytest.approx(computed, rel=1e-9)  # straight lines: exact
        marker = _line(fig, f"breakeven:{market}")
        assert marker.get_xdata()[0] == pytest.approx(computed)
        assert marker.get_ydata()[0] == pytest.approx(hand_result.owned.total_usd(computed))


def test_payback_drawn_where_computed(hand_result: BuyOrRent) -> None:
    fig = breakeven_figure(hand_result)
    owned = _line(fig, "cumulative:owned")
    assert owned.get_ydata()[0] == pytest.approx(hand.PURCHASE_USD)  # up front
    for market, expected in (("on_demand", hand.ON_DEMAND["payback_months"]),
                             ("spot", hand.SPOT["payback_months"])):
        computed = hand_result.markets[market].payback_months
        assert computed == pytest.approx(expected)
        drawn = _crossing(owned, _line(fig, f"cumulative:{market}"))
        assert drawn == pytest.approx(computed, rel=1e-9)
        assert _line(fig, f"payback:{market}").get_xdata()[0] == pytest.approx(computed)


def test_compared_utilisation_is_marked(hand_result: BuyOrRent) -> None:
    line = _line(breakeven_figure(hand_result), "utilization")
    assert list(line.get_xdata()) == [0.5, 0.5]


def test_no_marks_where_owning_never_wins(hand_owned: OwnedSide, tmp_path: Path) -> None:
    cheap = catalog(offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=0.02))
    result = compare(hand_owned, rentals(cheap, "p3.8xlarge", "us-east-1"), 0.5)
    fig = breakeven_figure(result)
    gids = {line.get_gid() for ax in fig.axes for line in ax.get_lines()}
    assert "rent:on_demand" in gids
    assert not {"breakeven:on_demand", "payback:on_demand"} & gids
    notes = [t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == "no-payback"]
    assert notes == ["on-demand: does not pay back in its life (never)"]
    assert write_chart(result, tmp_path / "never.png").stat().st_size > 10_000
