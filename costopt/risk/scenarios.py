"""Scenarios of spot capacity: one trace for every spot pool a plan may use, drawn from a seed.

Pure: a plan and a source of capacity in, the traces of scenario ``k`` out. Two sources:

- :class:`SyntheticSource`: each spot pool's trace is drawn by ``costopt traces synth``'s
  generator (:func:`costopt.traces.synth`) from that pool's statistics
  (:class:`ZoneStats`: availability, mean outage, extra interruptions per hour), holding the
  pool's instances (:func:`pool_capacity`) while up;
- :class:`WindowSource`: windows of recorded traces, the plan's horizon long. From a
  manifest (pools named) every traced pool's window is the *same stretch of time* (their
  ``start``\\ s align them), so pools that moved together in the recording move together in
  a scenario; from a folder of traces (no pools named) each spot pool draws a file and a
  window of its own, and a tick with capacity holds the pool's instances.

Seeds: the master seed is spread over the scenarios by ``numpy.random.SeedSequence.spawn``
(:func:`scenario_seeds`); scenario ``k``'s traces depend on its own seed only, so they are
the same whichever process, machine or order runs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from costopt.core.pool_ids import parse_pool_id
from costopt.core.times import parse_ts, ts
from costopt.errors import FieldIssue
from costopt.planfile import PlanDocument
from costopt.traces import PoolTrace, SynthSpec, Trace, TraceError, synth, traces_by_pool

DEFAULT_AVAILABILITY = 0.59
"""Share of the time spot could be had, the median of the 21 public AWS GPU traces
(facts.md), for a pool whose plan assumed availability rather than knowing it."""
DEFAULT_PREEMPTIONS_PER_SPOT_HOUR = 0.44
"""Preemptions per hour of spot, the same traces' median (facts.md)."""
TICK_SECONDS = 300.0
"""Tick of the synthetic traces (5 minutes, as ``costopt traces synth``)."""


@dataclass(frozen=True)
class ZoneStats:
    """A spot pool's capacity statistics: ``availability`` (share of the time, (0, 1]),
    ``mean_outage_hours`` (mean length of a spell without capacity, hours) and
    ``interruptions_per_hour`` (one-tick drops per up hour on top of the ends of up spells;
    0 by default) - what :class:`~costopt.traces.SynthSpec` takes."""

    availability: float
    mean_outage_hours: float
    interruptions_per_hour: float = 0.0

    @classmethod
    def from_preemptions(cls, availability: float,
                         preemptions_per_spot_hour: float) -> ZoneStats:
        """The stats whose up spells end ``r`` times per spot-hour: outages come ``r A``
        times per wall hour and fill ``1 - A`` of it, so they last ``(1 - A) / (r A)`` hours
        on average (0.59 and 0.44 give 1.58 h), at least one tick. Always up when ``A`` is
        1; an ``A`` out of (0, 1] is kept for :meth:`SynthSpec.problems` to refuse."""
        if availability == 1 or not 0 < availability < 1:
            return cls(availability, TICK_SECONDS / 3600)
        return cls(availability, max(TICK_SECONDS / 3600, (1 - availability) / (
            preemptions_per_spot_hour * availability)))


DEFAULT_STATS = ZoneStats.from_preemptions(DEFAULT_AVAILABILITY, DEFAULT_PREEMPTIONS_PER_SPOT_HOUR)
"""Availability 0.59, outages of 1.58 h on average, no extra drops."""


def spot_pools(plan: PlanDocument) -> list[str]:
    """The spot pools of the plan's fleet, in its order."""
    return [p.pool for p in plan.fleet if p.market == "spot"]


def pool_capacity(plan: PlanDocument, pool: str) -> int:
    """Instances a pool's trace holds while up: the slots the plan gives the pool (at least
    1); for a pool outside the plan's fleet (one a re-plan may move jobs to) the slots of the
    whole fleet, so that it could take every instance of the plan."""
    fleet = [p for p in plan.fleet if p.pool == pool] or plan.fleet
    return max(1, sum(len({s.slot for s in p.slots}) for p in fleet))


def plan_zone_stats(plan: PlanDocument) -> dict[str, ZoneStats]:
    """Each spot pool's statistics as the plan assumed them: its record's
    ``spot_availability`` (given, traced, or the workload's default), except that a plan
    which took spot as always there (1.0, assumed: made before availability was assumed)
    gets :data:`DEFAULT_AVAILABILITY`; its ``interruptions_per_hour`` (per spot-hour) where
    traced, else :data:`DEFAULT_PREEMPTIONS_PER_SPOT_HOUR` (a price table's rate says how
    often an instance is reclaimed, not how long capacity stays away)."""
    records = {r.pool: r for r in plan.pools}
    out = {}
    for pool in spot_pools(plan):
        record = records.get(pool)
        given = getattr(record, "spot_availability", None)
        source = getattr(record, "spot_availability_source", None)
        availability = DEFAULT_AVAILABILITY if given is None or (
            source == "assumed" and given >= 1) else float(given)
        rate = record.interruptions_per_hour if record and source == "traces" else None
        out[pool] = ZoneStats.from_preemptions(
            availability, rate if rate else DEFAULT_PREEMPTIONS_PER_SPOT_HOUR)
    return out


def synthetic_source(plan: PlanDocument, *, availability: float | None = None,
                     mean_outage_hours: float | None = None,
                     interruptions_per_hour: float = 0.0) -> SyntheticSource:
    """The plan's own statistics (:func:`plan_zone_stats`; :data:`DEFAULT_STATS` for a spot
    pool outside the plan), with what is given put in their place for every spot pool (an
    ``availability`` alone: outages from :data:`DEFAULT_PREEMPTIONS_PER_SPOT_HOUR`).
    :class:`ValueError` naming the pool and the option when the generator cannot reach them
    (:meth:`SynthSpec.problems`)."""
    stats = {}
    for pool, planned in [*plan_zone_stats(plan).items(), ("(pools outside the plan)",
                                                           DEFAULT_STATS)]:
        s = planned if availability is None else ZoneStats.from_preemptions(
            availability, DEFAULT_PREEMPTIONS_PER_SPOT_HOUR)
        s = ZoneStats(s.availability, s.mean_outage_hours if mean_outage_hours is None
                      else mean_outage_hours, interruptions_per_hour)
        problems = SynthSpec(s.availability, s.mean_outage_hours, s.interruptions_per_hour,
                             hours=24.0, seed=0, gap_seconds=TICK_SECONDS).problems()
        if problems:
            raise ValueError(f"synthetic traces for {pool}: " + "; ".join(
                f"{i.path} = {i.value}: {i.message}" for i in problems))
        stats[pool] = s
    default = stats.pop("(pools outside the plan)")
    return SyntheticSource(stats, default)


def scenario_seeds(seed: int, count: int) -> list[int]:
    """One seed per scenario, spawned from the master ``seed`` (the same for any runner)."""
    return [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(count)]


def _horizon(plan: PlanDocument) -> tuple[datetime, datetime]:
    return parse_ts(plan.horizon["start"]), parse_ts(plan.horizon["end"])


def _aligned(pool: str, start: datetime, label: str, trace: Trace) -> PoolTrace:
    return PoolTrace(parse_pool_id(pool), label, start, trace)


@dataclass(frozen=True)
class SyntheticSource:
    """Synthetic traces from each spot pool's :class:`ZoneStats` (``default`` for a pool it
    does not name, such as one a re-plan may bring in)."""

    stats: dict[str, ZoneStats]
    default: ZoneStats = DEFAULT_STATS

    def describe(self) -> str:
        return "synthetic traces from each spot pool's statistics"

    def traces(self, plan: PlanDocument, seed: int,
               pools: list[str] | None = None) -> list[PoolTrace]:
        """A trace per pool of ``pools`` (default: the plan's spot pools). Pool ``i``'s
        trace is drawn from the ``i``-th seed spawned from ``seed``, so pools added after
        the plan's leave the plan's own traces as they were."""
        start, end = _horizon(plan)
        hours = math.ceil((end - start).total_seconds() / TICK_SECONDS) * TICK_SECONDS / 3600
        pools = pools or spot_pools(plan)
        out = []
        for pool, child in zip(pools, np.random.SeedSequence(seed).spawn(len(pools)), strict=True):
            s = self.stats.get(pool, self.default)
            trace = synth(SynthSpec(
                availability=s.availability, mean_outage_hours=s.mean_outage_hours,
                interruptions_per_hour=s.interruptions_per_hour, hours=hours,
                seed=int(child.generate_state(1)[0]), gap_seconds=TICK_SECONDS,
                capacity=pool_capacity(plan, pool)))
            out.append(_aligned(pool, start, f"synthetic/{seed}/{pool}", trace))
        return out


def _window(trace: Trace, first: int, hours: float) -> Trace:
    ticks = math.ceil(hours * 3600 / trace.gap_seconds - 1e-9)
    return Trace(trace.gap_seconds, trace.counts[first:first + ticks])


@dataclass(frozen=True)
class WindowSource:
    """Windows of recorded traces: ``manifest`` (pools named, aligned by their starts) or
    ``library`` (files without pools, any of which may stand for any spot pool)."""

    manifest: tuple[PoolTrace, ...] = ()
    library: tuple[tuple[str, Trace], ...] = ()

    def describe(self) -> str:
        if self.manifest:
            return f"windows of the {len(self.manifest)} trace(s) of a manifest, one stretch " \
                   "of time for all"
        return f"windows of {len(self.library)} trace file(s), drawn per spot pool"

    def check(self, plan: PlanDocument) -> None:
        """:class:`TraceError` unless every window the plan's horizon needs can be drawn."""
        start, end = _horizon(plan)
        hours = (end - start).total_seconds() / 3600
        if self.manifest:
            used = self._used(plan)
            if used:
                lo, hi = max(t.start for t in used), min(t.end for t in used)
                if (hi - lo).total_seconds() / 3600 < hours:
                    raise TraceError(used[0].file, [FieldIssue(
                        "start", f"the manifest's traces of the plan's pools overlap from "
                        f"{ts(lo)} to {ts(hi)}",
                        f"must share at least the plan's horizon ({hours:g} h) to draw "
                        "windows from. To fix: give longer traces, or starts that align them")])
            return
        for file, trace in self.library:
            if trace.hours < hours:
                raise TraceError(file, [FieldIssue(
                    "data", f"{len(trace.counts)} ticks of {trace.gap_seconds:g} s",
                    f"must cover at least the plan's horizon ({hours:g} h). To fix: leave "
                    "the file out of the folder, or give a longer trace")])

    def _used(self, plan: PlanDocument, pools: list[str] | None = None) -> list[PoolTrace]:
        sources = traces_by_pool(pools or spot_pools(plan), list(self.manifest))
        return [t for pool_traces in sources.values() for t in pool_traces]

    def traces(self, plan: PlanDocument, seed: int,
               pools: list[str] | None = None) -> list[PoolTrace]:
        """A window for each pool of ``pools`` (default: the plan's spot pools) that the
        manifest traces, or, from a folder, for each of them, drawn in their order."""
        start, end = _horizon(plan)
        hours = (end - start).total_seconds() / 3600
        rng = np.random.default_rng(seed)
        if self.manifest:
            used = self._used(plan, pools)
            if not used:
                return []
            lo, hi = max(t.start for t in used), min(t.end for t in used)
            step = timedelta(seconds=min(t.trace.gap_seconds for t in used))
            at = lo + step * int(rng.integers(0, int((hi - lo - (end - start)) / step) + 1))
            return [_aligned(t.pool.text, start, f"{t.file}@{ts(at)}", _window(
                t.trace, t.tick_of(at), hours)) for t in used]
        out = []
        for pool in pools or spot_pools(plan):
            file, trace = self.library[int(rng.integers(0, len(self.library)))]
            ticks = math.ceil(hours * 3600 / trace.gap_seconds - 1e-9)
            first = int(rng.integers(0, len(trace.counts) - ticks + 1))
            window = _window(trace, first, hours)
            up = np.where(window.counts > 0, pool_capacity(plan, pool), 0).astype(np.int64)
            out.append(_aligned(pool, start, f"{file}@tick{first}", Trace(trace.gap_seconds, up)))
        return out


Source = SyntheticSource | WindowSource
