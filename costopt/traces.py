"""Spot-capacity traces: the public format, the ``traces.yaml`` manifest, statistics, and a
seeded synthetic generator. Below ``plan/`` and ``simulate/``: the planner reads a zone's
availability from here, the simulator its capacity.

A trace (the format of the public spot-traces data set of "Can't Be Late", NSDI'24) is
``{"metadata": {"gap_seconds": G}, "data": [n0, n1, ...]}``: per tick of ``G`` seconds, how
many spot instances of one (zone, instance type) could be had (0 = none). A manifest maps
pools to traces and says when tick 0 is::

    - {pool: aws:us-west-2:p3.2xlarge:spot:usw2-az1, file: us-west-2a_v100_1.json,
       start: 2027-03-01T00:00:00Z}

Pure except :func:`read_trace`, :func:`write_trace` and :func:`load_manifest`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from costopt.core.pool_ids import PoolId, parse_pool_id
from costopt.core.times import parse_ts, ts
from costopt.errors import FieldIssue, InputFileError
from costopt.files import read_input, write_atomically


class TraceError(InputFileError):
    """A trace file or a ``traces.yaml`` manifest is wrong."""

    kind = "trace file"


@dataclass(frozen=True)
class Trace:
    """Spot instances that could be had, per tick of ``gap_seconds`` seconds."""

    gap_seconds: float
    counts: np.ndarray  # int, one per tick, >= 0

    @property
    def tick_hours(self) -> float:
        return self.gap_seconds / 3600

    @property
    def hours(self) -> float:
        return len(self.counts) * self.tick_hours


def read_trace(path: Path, *, preempted: bool = False) -> Trace:
    """Read a trace in the public format; :class:`TraceError` naming the field otherwise.
    With ``preempted`` the data say per tick whether the probe was preempted (1 or true: no
    spot; 0 or false: one instance), as the published "Can't Be Late" traces do."""
    raw = read_input(path, json.loads, TraceError, "a JSON trace")
    return parse_trace(raw, str(path), preempted=preempted)


def parse_trace(raw: Any, file: str, *, preempted: bool = False) -> Trace:
    """A trace from parsed JSON (see the module docstring and :func:`read_trace`)."""
    gap = raw.get("metadata", {}).get("gap_seconds") if isinstance(raw, dict) and isinstance(
        raw.get("metadata"), dict) else None
    if isinstance(gap, bool) or not isinstance(gap, (int, float)) or not (
            math.isfinite(gap) and gap > 0):
        raise TraceError(file, [FieldIssue("metadata.gap_seconds", gap, "must be a number of "
                                           "seconds > 0, e.g. {\"metadata\": {\"gap_seconds\": "
                                           "600}, \"data\": [1, 0, 1]}")])
    data = raw.get("data")
    if not isinstance(data, list) or not data:
        raise TraceError(file, [FieldIssue("data", type(data).__name__, "must be a non-empty "
                                           "list of instance counts (integers >= 0)")])
    if preempted:
        bad = next((i for i, n in enumerate(data) if n not in (0, 1)), None)
        valid = "must be 1 (or true: preempted, no spot) or 0 (or false: one instance)"
    else:
        bad = next((i for i, n in enumerate(data)
                    if isinstance(n, bool) or not isinstance(n, int) or n < 0), None)
        valid = "must be an integer >= 0: how many spot instances could be had"
    if bad is not None:
        raise TraceError(file, [FieldIssue(f"data[{bad}]", data[bad], valid)])
    counts = np.asarray(data, dtype=np.int64)
    return Trace(float(gap), 1 - counts if preempted else counts)


def write_trace(trace: Trace, path: Path) -> None:
    """Write ``trace`` in the public format, atomically."""
    gap: float | int = int(trace.gap_seconds) if trace.gap_seconds.is_integer() \
        else trace.gap_seconds
    text = json.dumps({"metadata": {"gap_seconds": gap},
                       "data": [int(n) for n in trace.counts]}, separators=(",", ":")) + "\n"
    write_atomically(path, lambda partial: partial.write_text(text, encoding="utf-8"))


# -- statistics --------------------------------------------------------------------------

@dataclass(frozen=True)
class TraceStats:
    """What a trace says about spot capacity. A *preemption* is a fall from some capacity
    to none (what one instance running on the trace sees); an *outage* a run of ticks with
    none (those at either end of the trace included, though they may be cut short)."""

    ticks: int
    hours: float
    availability: float  # share of ticks with at least one instance to be had
    spot_hours: float  # hours with at least one instance to be had
    preemptions: int
    preemptions_per_spot_hour: float
    preemptions_per_hour: float  # per wall hour
    outages: int
    outage_hours_mean: float
    outage_hours_median: float
    outage_hours_max: float


def trace_stats(trace: Trace) -> TraceStats:
    up = trace.counts > 0
    g = trace.tick_hours
    preemptions = int(np.count_nonzero(up[:-1] & ~up[1:]))
    edges = np.diff(np.concatenate(([0], (~up).astype(np.int8), [0])))
    lengths = (np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)) * g
    spot_hours = float(np.count_nonzero(up)) * g
    return TraceStats(
        ticks=len(up), hours=trace.hours, availability=float(up.mean()),
        spot_hours=spot_hours, preemptions=preemptions,
        preemptions_per_spot_hour=preemptions / spot_hours if spot_hours else 0.0,
        preemptions_per_hour=preemptions / trace.hours,
        outages=len(lengths),
        outage_hours_mean=float(lengths.mean()) if len(lengths) else 0.0,
        outage_hours_median=float(np.median(lengths)) if len(lengths) else 0.0,
        outage_hours_max=float(lengths.max()) if len(lengths) else 0.0)


# -- synthetic traces --------------------------------------------------------------------

@dataclass(frozen=True)
class SynthSpec:
    """A seeded two-state model of spot capacity (see :func:`synth`)."""

    availability: float  # long-run share of ticks with capacity, (0, 1]
    mean_outage_hours: float  # mean length of a down spell
    interruptions_per_hour: float  # one-tick drops per hour of up time
    hours: float
    seed: int
    gap_seconds: float = 300.0
    capacity: int = 1  # instances to be had while up

    def drop_probability(self) -> float:
        """Chance that an up tick is an interruption drop: ``1 - exp(-R g)``."""
        return 1.0 - math.exp(-self.interruptions_per_hour * self.gap_seconds / 3600)

    def up_share(self) -> float:
        """Share of ticks in the up state: ``A / (1 - d)``, so that with the drops the share
        of ticks with capacity is ``A``."""
        return self.availability / (1.0 - self.drop_probability())

    def mean_up_hours(self) -> float:
        """Mean up spell ``U = H pi / (1 - pi)`` (``pi`` the up share); inf when always up."""
        pi = self.up_share()
        return math.inf if pi >= 1.0 else self.mean_outage_hours * pi / (1.0 - pi)

    def problems(self) -> list[FieldIssue]:
        issues = []
        g = self.gap_seconds / 3600
        if not 0 < self.availability <= 1:
            issues.append(FieldIssue("--availability", self.availability, "must be in (0, 1]"))
        elif self.up_share() > 1 + 1e-12:
            limit = 1 - self.drop_probability()
            issues.append(FieldIssue("--availability", self.availability,
                                     f"cannot be reached with {self.interruptions_per_hour} "
                                     f"interruptions per hour (each a tick without capacity): "
                                     f"at most {limit:.6f}"))
        elif self.availability < 1 and self.mean_up_hours() < g:
            issues.append(FieldIssue("--availability", self.availability, "gives up spells "
                                     "shorter than one tick; raise --mean-outage-hours"))
        if self.availability < 1 and not self.mean_outage_hours >= g:
            issues.append(FieldIssue("--mean-outage-hours", self.mean_outage_hours,
                                     f"must be at least one tick ({g:g} h)"))
        if not self.interruptions_per_hour >= 0:
            issues.append(FieldIssue("--interruptions-per-hour", self.interruptions_per_hour,
                                     "must be >= 0"))
        if not self.hours >= g:
            issues.append(FieldIssue("--hours", self.hours, f"must be at least one tick ({g:g} h)"))
        if self.capacity < 1:
            issues.append(FieldIssue("--capacity", self.capacity, "must be >= 1"))
        return issues


def synth(spec: SynthSpec) -> Trace:
    """A trace from a seeded two-state (up/down) Markov chain, one step per tick.

    Down spells last ``H`` hours on average (geometric in ticks: leave with probability
    ``g/H`` per tick), up spells ``U`` (leave with probability ``g/U``), with ``U`` chosen
    by :meth:`SynthSpec.mean_up_hours` so that the long-run share of ticks with capacity is
    ``A``. While up the trace holds ``capacity``, except that each up tick is, with
    probability ``1 - exp(-R g)``, an *interruption drop*: 0 for that one tick, then back
    (so an instance running there is interrupted about ``R`` times per hour of up time, on
    top of the ends of up spells). The first tick is up with probability ``A / (1 - d)``.
    Raises :class:`ValueError` for a spec with :meth:`SynthSpec.problems`.
    """
    issues = spec.problems()
    if issues:
        raise ValueError("; ".join(f"{i.path} = {i.value}: {i.message}" for i in issues))
    g = spec.gap_seconds / 3600
    n = max(1, round(spec.hours / g))
    rng = np.random.default_rng(spec.seed)
    pi = min(1.0, spec.up_share())
    up = np.ones(n, dtype=bool)
    if pi < 1.0:
        leave_up, leave_down = g / spec.mean_up_hours(), g / spec.mean_outage_hours
        state, filled = bool(rng.random() < pi), 0
        while filled < n:
            spell = int(rng.geometric(leave_up if state else leave_down))
            up[filled:filled + spell] = state
            filled += spell
            state = not state
    drops = rng.random(n) < spec.drop_probability()
    counts = np.where(up & ~drops, spec.capacity, 0).astype(np.int64)
    return Trace(spec.gap_seconds, counts)


# -- the manifest ------------------------------------------------------------------------

@dataclass(frozen=True)
class PoolTrace:
    """A trace aligned in time: tick 0 starts at ``start`` (UTC)."""

    pool: PoolId
    file: str
    start: datetime
    trace: Trace

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.trace.gap_seconds * len(self.trace.counts))

    def tick_of(self, moment: datetime) -> int:
        """The tick holding ``moment``."""
        return math.floor((moment - self.start).total_seconds() / self.trace.gap_seconds)

    def tick_start(self, tick: int) -> datetime:
        return self.start + timedelta(seconds=self.trace.gap_seconds * tick)

    def count_at(self, moment: datetime) -> int:
        return int(self.trace.counts[self.tick_of(moment)])

    def changes(self, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
        """``(moment, count)`` at ``start`` and at every tick in ``(start, end)`` where the
        count changes."""
        first, last = self.tick_of(start), self.tick_of(end - timedelta(microseconds=1))
        window = self.trace.counts[first:last + 1]
        changed = np.flatnonzero(np.diff(window)) + 1
        return [(start, int(window[0]))] + [(self.tick_start(first + int(i)), int(window[i]))
                                            for i in changed]

    def capacity_hours(self, start: datetime, end: datetime, most: float) -> float:
        """Instance-hours the trace allows in ``[start, end)``: the sum over its ticks of
        ``min(count, most)`` times the part of the tick inside the window, in hours."""
        g = self.trace.gap_seconds
        first, last = self.tick_of(start), self.tick_of(end - timedelta(microseconds=1))
        counts = np.minimum(self.trace.counts[first:last + 1].astype(float), most)
        seconds = np.full(len(counts), g)
        seconds[0] -= (start - self.tick_start(first)).total_seconds()
        seconds[-1] -= (self.tick_start(last + 1) - end).total_seconds()
        return float(np.dot(counts, seconds)) / 3600

    def covers(self, start: datetime, end: datetime) -> bool:
        return self.start <= start and end <= self.end

    def stats_for(self, start: datetime, end: datetime) -> TraceStats:
        """The trace's statistics over ``[start, end)`` (a plan's horizon) where it covers
        it, else over its last :data:`RECENT_WEEKS` weeks (the whole trace if shorter): a
        trace that ends before the horizon says most about it through its latest weeks."""
        if self.covers(start, end):
            first, last = self.tick_of(start), self.tick_of(end - timedelta(microseconds=1))
        else:
            last = len(self.trace.counts) - 1
            ticks = math.ceil(RECENT_WEEKS * 7 * 86400 / self.trace.gap_seconds)
            first = max(0, last + 1 - ticks)
        return trace_stats(Trace(self.trace.gap_seconds, self.trace.counts[first:last + 1]))


RECENT_WEEKS = 4
"""Weeks at the end of a trace that stand for a horizon the trace does not cover."""


ENCODINGS = ("available", "preempted")
"""What a trace's data say: instances that could be had, or (the published Can't Be Late
traces) whether the probe instance was preempted."""


def load_manifest(path: Path) -> list[PoolTrace]:
    """Read ``traces.yaml`` and the traces it names (paths relative to the manifest)."""
    raw = read_input(path, _yaml, TraceError, "a YAML manifest")
    example = ("a list such as [{pool: aws:us-west-2:p3.2xlarge:spot:usw2-az1, file: "
               "trace.json, start: 2027-03-01T00:00:00Z}]")
    if not isinstance(raw, list) or not raw:
        raise TraceError(str(path), [FieldIssue("(top level)", type(raw).__name__,
                                                f"must be {example}")])
    issues: list[FieldIssue] = []
    entries = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            issues.append(FieldIssue(f"[{i}]", item, f"must be a mapping; valid: {example}"))
            continue
        extra = sorted(set(item) - {"pool", "file", "start", "encoding"})
        if extra:
            issues.append(FieldIssue(f"[{i}].{extra[0]}", item[extra[0]],
                                     "is not a field; valid: pool, file, start, encoding"))
        encoding = item.get("encoding", "available")
        if encoding not in ENCODINGS:
            issues.append(FieldIssue(f"[{i}].encoding", encoding, "must be available (how many "
                                     "instances could be had, the default) or preempted (1 = "
                                     "preempted, as the Can't Be Late traces)"))
            continue
        try:
            pool = parse_pool_id(item.get("pool"))  # type: ignore[arg-type]
            if pool.kind != "aws" or pool.market != "spot":
                raise ValueError("a trace belongs to a spot pool: aws:REGION:TYPE:spot or "
                                 "aws:REGION:TYPE:spot:ZONE_ID")
        except ValueError as exc:
            issues.append(FieldIssue(f"[{i}].pool", item.get("pool"), str(exc)))
            continue
        start = _utc(item.get("start"))
        if start is None:
            issues.append(FieldIssue(f"[{i}].start", item.get("start"), "must be the time of "
                                     "tick 0, e.g. 2027-03-01T00:00:00Z (UTC when no offset)"))
            continue
        file = item.get("file")
        if not isinstance(file, str) or not file:
            issues.append(FieldIssue(f"[{i}].file", file, "must be the path of a trace file "
                                     "(relative to the manifest)"))
            continue
        entries.append((i, pool, path.parent / file, start, encoding == "preempted"))
    pools = [e[1].text for e in entries]
    for i, pool, *_rest in entries:
        if pools.count(pool.text) > 1:
            issues.append(FieldIssue(f"[{i}].pool", pool.text, "has more than one trace; give "
                                     "each pool one"))
            break
    if issues:
        raise TraceError(str(path), issues)
    return [PoolTrace(pool, str(file), start, read_trace(file, preempted=preempted))
            for _i, pool, file, start, preempted in entries]


def _yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None


def _utc(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            value = parse_ts(value.strip())
        except ValueError:
            return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        return None
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(
        tzinfo=timezone.utc)


def traces_by_pool(pool_ids: list[str], traces: list[PoolTrace]) -> dict[str, list[PoolTrace]]:
    """The traces that give each spot pool its capacity: the pool's own trace, else the
    traces of its zones (``aws:R:T:spot:ZONE`` traces a regional ``aws:R:T:spot`` pool; the
    zones' counts add up). Pools with none are left out: spot is always there for them."""
    out: dict[str, list[PoolTrace]] = {}
    for pool_id in pool_ids:
        exact = [t for t in traces if t.pool.text == pool_id]
        zoned = [t for t in traces if t.pool.zone_id and t.pool.regional.text == pool_id]
        if exact or zoned:
            out[pool_id] = exact or zoned
    return out


def check_coverage(sources: dict[str, list[PoolTrace]], start: datetime,
                   end: datetime) -> None:
    """:class:`TraceError` unless every trace covers ``[start, end)``."""
    for pool_traces in sources.values():
        for t in pool_traces:
            if not t.covers(start, end):
                raise TraceError(t.file, [FieldIssue(
                    "data", f"{len(t.trace.counts)} ticks of {t.trace.gap_seconds:g} s from "
                    f"{ts(t.start)} to {ts(t.end)}",
                    f"does not cover the plan's horizon {ts(start)} to "
                    f"{ts(end)} for {t.pool.text}. To fix: give a longer "
                    "trace, or a manifest start that aligns it with the plan")])
