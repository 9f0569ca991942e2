"""What ``costopt validate`` checks and says, without Typer or Rich, so that the console script
can answer the common case before importing either.

The command (``cli/plan.py``) and the console script's fast path
(:func:`fast_validate`) use the same functions: reading a workload with
the warnings it is due (:func:`load_for_planning`), the checks (:func:`checked_pools`) and
the line that says a file passed (:func:`valid_line`). The fast path answers only
``costopt validate FILE`` - nothing else on the command line - for a file that passes with no
warning to show; anything else (an error, a warning, an option) is left to the application,
which says it as it always has. Importing Typer (and through it Click and pydantic's
adapters) and building the application cost about a third of ``validate``'s time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from costopt.errors import CostoptError, WorkloadError

if TYPE_CHECKING:
    from costopt.plan.pools import Pools
    from costopt.pricing.catalog import PriceCatalog
    from costopt.workload import Workload


@dataclass(frozen=True)
class LoadedWorkload:
    """A workload, the price catalog it asks for, and the warnings reading them raised
    (``None``: none): prices older than the staleness limit, a horizon already begun."""

    workload: Workload
    catalog: PriceCatalog
    stale_prices: str | None
    horizon_started: str | None


def load_for_planning(workload_file: Path, now: datetime) -> LoadedWorkload:
    """Read ``workload_file`` and its price catalog; the warnings are returned, not shown."""
    from costopt.workload_checks import catalog_for, horizon_started, load_workload, offers_of

    workload = load_workload(workload_file)
    catalog = catalog_for(workload)
    stale = catalog.staleness_warning(now.date(), offers_of(workload, catalog),
                                      "this workload may use")
    return LoadedWorkload(workload, catalog, stale, horizon_started(workload, now))


def checked_pools(workload_file: Path, workload: Workload, catalog: PriceCatalog) -> Pools:
    """The pools of a workload that passes every check ``validate`` makes: against the price
    data, then whether each job has somewhere to run and fits its window. A
    :class:`~costopt.errors.WorkloadError` naming the file otherwise."""
    from costopt.plan.pools import build_pools, eligibility, unplaceable_jobs
    from costopt.plan.size import size_issues
    from costopt.workload_checks import check_against_catalog

    issues = check_against_catalog(workload, catalog)
    if issues:
        raise WorkloadError(str(workload_file), issues)
    pools = build_pools(workload, catalog)  # needs a workload the catalog knows all of
    pairs = eligibility(workload, pools, catalog)
    issues = unplaceable_jobs(workload, pools, pairs) + size_issues(workload, pools, pairs)
    if issues:
        raise WorkloadError(str(workload_file), issues)
    return pools


def valid_line(workload_file: Path, workload: Workload, pools: Pools) -> str:
    """``FILE is valid: 7 job(s), 3 owned server pool(s), ...``: what ``validate`` prints."""
    return (f"{workload_file} is valid: {len(workload.jobs)} job(s), {len(pools.owned)} owned "
            f"server pool(s), {len(pools.cloud)} cloud pool(s), {workload.horizon.periods} "
            f"period(s): {workload.horizon.runs_text}.")


def fast_validate(args: Sequence[str], now: datetime) -> str | None:
    """What ``costopt validate FILE`` prints, worked out without the application, when
    ``args`` (the command line after ``costopt``) is exactly that and the file passes with
    no warning due (the stale-price warning is due once a day per price file). ``None`` when
    the application has to answer: any other command line, an error, a warning."""
    if len(args) != 2 or args[0] != "validate" or args[1].startswith("-"):
        return None
    from costopt.core.places import stale_prices_marker

    workload_file = Path(args[1])
    try:
        loaded = load_for_planning(workload_file, now)
        pools = checked_pools(workload_file, loaded.workload, loaded.catalog)
    except CostoptError:
        return None
    stale_due = loaded.stale_prices is not None and not stale_prices_marker(
        loaded.catalog.source, now.date()).exists()
    if stale_due or loaded.horizon_started:
        return None
    return valid_line(workload_file, loaded.workload, pools)
