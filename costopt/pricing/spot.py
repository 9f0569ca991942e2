"""Spot arithmetic shared by the shipped snapshot and ``costopt pricing refresh``.

Two things a price file says about spot, computed one way wherever the file is written:

- a region's spot price from its per-AZ prices: the *median* over the zones with an offer
  (what a fleet spread over the zones pays) and the *cheapest* zone;
- the estimated spot interruptions per instance-hour ``r`` from AWS's Spot Instance Advisor
  band (the share of spot instances reclaimed over the trailing month).

The rate assumes interruptions arrive as a Poisson process over a 24-hour instance day and
that the band's midpoint ``f`` is the share of instances interrupted in a day:
``r = -ln(1 - f) / 24`` per instance-hour (``<5%`` -> f = 0.025 -> r = 0.001055).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable

BAND_MIDPOINTS: dict[str, float] = {
    "<5%": 0.025,
    "5-10%": 0.075,
    "10-15%": 0.125,
    "15-20%": 0.175,
    ">20%": 0.25,
}
"""Spot Advisor interruption-frequency bands and the share of instances each stands for."""

HOURS_PER_DAY = 24.0


def interruptions_per_hour(band: str) -> float:
    """Spot interruptions per instance-hour for an advisor band (see the module docstring)."""
    try:
        share = BAND_MIDPOINTS[band]
    except KeyError:
        raise ValueError(
            f"unknown interruption band {band!r}; one of {', '.join(BAND_MIDPOINTS)}"
        ) from None
    return -math.log(1.0 - share) / HOURS_PER_DAY


def zone_summary(prices: Iterable[float]) -> tuple[float, float, int] | None:
    """(median, cheapest, number of zones) of per-AZ spot prices in USD per instance-hour;
    ``None`` when no zone has a price."""
    values = sorted(p for p in prices if p is not None and p > 0)
    if not values:
        return None
    return statistics.median(values), values[0], len(values)
