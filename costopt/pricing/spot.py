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
from collections.abc import Iterable, Mapping

BAND_MIDPOINTS: dict[str, float] = {
    "<5%": 0.025,
    "5-10%": 0.075,
    "10-15%": 0.125,
    "15-20%": 0.175,
    ">20%": 0.25,
}
"""Spot Advisor interruption-frequency bands and the share of instances each stands for."""

HOURS_PER_DAY = 24.0

UNKNOWN_BAND = ">20%"
"""The band assumed for a type no advisor data lists: the worst, so spot is not flattered."""


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


def band_for(bands: Mapping[tuple[str, str], str], instance_type: str,
             region: str) -> tuple[str, str]:
    """The interruption band of a type in a region from ``bands`` ((type, region) -> band),
    and how it was found: ``""`` listed; else the type's median band over the regions that
    list it; else :data:`UNKNOWN_BAND`. The second item says which, for the source column."""
    listed = bands.get((instance_type, region))
    if listed:
        return listed, ""
    order = list(BAND_MIDPOINTS)
    seen = sorted(order.index(b) for (t, _r), b in bands.items()
                  if t == instance_type and b in BAND_MIDPOINTS)
    if seen:
        return (order[int(statistics.median_low(seen))],
                "band not listed for the region, the type's median")
    return UNKNOWN_BAND, "band not listed for the type, the worst assumed"
