"""The buy-or-rent chart: a PNG of two panels drawn from a :class:`BuyOrRent`.

Left: monthly cost against utilisation (owned, on-demand, spot), each break-even marked.
Right: cumulative cost over the owned server's lifetime at the compared utilisation (owning
pays the purchase up front, then its running cost), each payback month marked.

Every line and marker carries a ``gid`` (``owned``, ``rent:spot``, ``breakeven:on_demand``,
``cumulative:owned``, ``payback:spot`` ...) so tests can read back what was drawn. Uses
matplotlib's object API (no pyplot, no global state); import this module only where a chart
is wanted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from costopt.buy.breakeven import BuyOrRent, rent_usd_per_month
from costopt.core.money import usd_whole
from costopt.core.pool_ids import market_label
from costopt.files import write_atomically
from costopt.workload import Market

WIDTH_PX = 1400
HEIGHT_PX = 560
DPI = 100
"""The PNG is ``WIDTH_PX`` x ``HEIGHT_PX`` pixels."""

_SAMPLES = 101
_COLOURS = {"owned": "#1f3b73", "on_demand": "#d9822b", "spot": "#2e8b57"}


def breakeven_figure(result: BuyOrRent, market: Market = "on_demand") -> Figure:
    """The two-panel figure; ``market`` is the headline market, drawn thicker."""
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    monthly, cumulative = fig.subplots(1, 2)
    _monthly_panel(monthly, result, market)
    _cumulative_panel(cumulative, result, market)
    owned = result.owned
    first = next(iter(result.markets.values()), None)
    vs = (f" vs {first.rented.instance_type} in {first.rented.region}" if first else "")
    fig.suptitle(f"Buy or rent: {owned.server.name} ({owned.gpus} x {owned.gpu_model}, "
                 f"USD {owned.purchase_usd:,.0f}){vs}", fontsize=12)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.86, wspace=0.22)
    return fig


def write_chart(result: BuyOrRent, path: Path, market: Market = "on_demand") -> Path:
    """Draw and save the PNG (``WIDTH_PX`` x ``HEIGHT_PX``); returns ``path``."""
    figure = breakeven_figure(result, market)
    write_atomically(path, lambda partial: figure.savefig(partial, dpi=DPI, format="png"))
    return path


def _label(ax: Axes, text: str, point: tuple[float, float], market: Market) -> None:
    """A boxed label above the marked point, markets staggered so they do not collide."""
    rise = 28 if market == "on_demand" else 56
    ax.annotate(text, point, xytext=(6, rise), textcoords="offset points", fontsize=9,
                color=_COLOURS[market], arrowprops={"arrowstyle": "-", "color": _COLOURS[market]},
                bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": _COLOURS[market]})


def _monthly_panel(ax: Axes, result: BuyOrRent, headline: Market) -> None:
    owned = result.owned
    u = np.linspace(0.0, owned.max_utilization, _SAMPLES)
    ax.plot(u, [owned.total_usd(x) for x in u], color=_COLOURS["owned"], lw=2.5,
            label="owned: amortisation + idle + ops + active energy", gid="owned")
    for market, verdict in result.markets.items():
        thick = 2.5 if market == headline else 1.5
        ax.plot(u, [rent_usd_per_month(owned, verdict.rented, x) for x in u],
                color=_COLOURS[market], lw=thick,
                label=f"rent {verdict.rented.instance_type} {market_label(market)}",
                gid=f"rent:{market}")
        crossing = verdict.breakeven_utilization
        if crossing is not None:
            y = owned.total_usd(crossing)
            ax.plot([crossing], [y], "o", ms=9, color=_COLOURS[market], mec="black",
                    gid=f"breakeven:{market}")
            _label(ax, f"break-even {crossing:.1%}", (crossing, y), market)
    ax.axvline(result.utilization, color="grey", ls=":", lw=1.2, gid="utilization",
               label=f"compared: {result.utilization:.0%}")
    ax.set_title("Monthly cost against utilisation (same work)", fontsize=11)
    ax.set_xlabel("utilisation (share of the 730 hours of a month)")
    ax.set_ylabel("USD per month")
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.yaxis.set_major_formatter(FuncFormatter(usd_whole))
    ax.set_xlim(0, owned.max_utilization)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")


def _cumulative_panel(ax: Axes, result: BuyOrRent, headline: Market) -> None:
    owned, u = result.owned, result.utilization
    months = np.linspace(0.0, owned.lifetime_months, _SAMPLES)
    running = owned.running_usd(u)
    ax.plot(months, owned.purchase_usd + running * months, color=_COLOURS["owned"], lw=2.5,
            label="owned: purchase + running cost", gid="cumulative:owned")
    notes = []
    for market, verdict in result.markets.items():
        thick = 2.5 if market == headline else 1.5
        ax.plot(months, verdict.rent_usd_per_month * months, color=_COLOURS[market], lw=thick,
                label=f"rent {market_label(market)}", gid=f"cumulative:{market}")
        payback = verdict.payback_months
        if payback is not None and payback <= owned.lifetime_months:
            y = owned.purchase_usd + running * payback
            ax.plot([payback], [y], "o", ms=9, color=_COLOURS[market], mec="black",
                    gid=f"payback:{market}")
            _label(ax, f"pays back in {payback:.1f} months", (payback, y), market)
        else:
            after = "never" if payback is None else f"only after {payback:.1f} months"
            notes.append(f"{market_label(market)}: does not pay back in its life ({after})")
    if notes:
        ax.text(0.98, 0.03, "\n".join(notes), transform=ax.transAxes, ha="right",
                va="bottom", fontsize=9, gid="no-payback",
                bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "grey"})
    ax.set_title(f"Cumulative cost over the {owned.lifetime_months:g}-month lifetime at "
                 f"{u:.0%} utilisation", fontsize=11)
    ax.set_xlabel("months after purchase")
    ax.set_ylabel("USD")
    ax.yaxis.set_major_formatter(FuncFormatter(usd_whole))
    ax.set_xlim(0, owned.lifetime_months)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
