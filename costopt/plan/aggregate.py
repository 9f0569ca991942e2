"""Runs of identical periods merged into one, and the solution split back (exact).

Hour after hour of the same prices gives the simplex a plateau of equal optima: the hourly
example (672 periods) holds the same 4 periods 168 times over. Consecutive periods whose
data per hour is the same - the same jobs' windows hold them; prices, owned capacity,
quotas and ``max_instances`` are the same every hour in this model - are merged into one
period of their summed hours, whose bounds scale with its length; caps on ``u`` per period
(``u_upper``, the hindsight planner's) merge where they are the same per hour. The merged
model is
solved, and each merged period's columns are split back into its parts (``split``).
``docs/model.md`` ("Solving at scale") proves that the split solution is an optimum of the
model of the original periods.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import groupby

import numpy as np

from costopt.plan.model import (
    CUMULATIVE_ROWS,
    NAME_PARTS,
    LinearProgram,
    first_periods,
    identical_runs,
    period_hours,
)
from costopt.workload import Horizon, PeriodRun, Workload

SLACK_KEPT = 1e-9
"""Share of a row's room a compressed block leaves unused (against rounding)."""


@dataclass(frozen=True)
class Aggregation:
    """The workload with merged periods, and where each original period went: ``group[t]``
    is the merged period holding period ``t``, which starts ``offset[t]`` hours into it and
    lasts ``hours[t]``; ``merged[g]`` is merged period ``g``'s length in hours; ``u_upper``
    the caps on ``u`` per (pool id, merged period), in instance-hours."""

    coarse: Workload
    group: np.ndarray
    offset: np.ndarray
    hours: np.ndarray
    merged: np.ndarray
    u_upper: dict[tuple[str, int], float] = field(default_factory=dict)

    @property
    def merges(self) -> bool:
        """Whether any periods were merged (else the coarse model is the original)."""
        return len(self.merged) < len(self.group)


def aggregate(w: Workload,
              u_upper: Mapping[tuple[str, int], float] | None = None) -> Aggregation:
    """Merge each run of consecutive periods with the same signature into one period."""
    group = identical_runs(w, u_upper)
    hours = period_hours(w)
    merged = np.bincount(group, weights=hours)
    begins = np.asarray(w.horizon.period_offsets[:-1], dtype=float)
    offset = begins - begins[first_periods(group)]
    h = w.horizon
    # Built without validation: a merged period may be longer than a workload's may be.
    runs = [PeriodRun.model_construct(hours=int(length), count=1) for length in merged]
    coarse_horizon = Horizon.model_construct(start=h.start, days=h.days,
                                             period_hours=h.period_hours, period_runs=runs)
    coarse = w.model_copy(update={"horizon": coarse_horizon})
    caps: dict[tuple[str, int], float] = {}
    for (pool, t), cap in (u_upper or {}).items():  # equal per hour across a merged period
        caps[(pool, int(group[t]))] = caps.get((pool, int(group[t])), 0.0) + cap
    return Aggregation(coarse, group, offset, hours, merged, caps)


def mergeable(lp: LinearProgram) -> bool:
    """Whether merging is exact for ``lp``, as ``docs/model.md`` proves it: every column is
    an ``h`` or ``u`` of one period or has no period (shortfalls, servers bought) or holds
    for a whole run of identical periods (instances at once, gangs at once), no integer
    column has a period, and every row of a period holds only that period's columns and
    run columns. (An integer count per period would not merge exactly: one count for a
    merged period must serve all its parts, where the original model may alternate them;
    a row tying two periods together would see a merged period as one.)"""
    col_period = np.full(lp.num_cols, -2, dtype=np.int64)  # -2: a column split cannot map
    for index, place in ((lp.h, 2), (lp.u, 1)):
        col_period[list(index.values())] = [key[place] for key in index]
    col_period[list(lp.z.values()) + list(lp.unreserved.values()) + list(lp.n.values())
               + list(lp.n_run.values())
               + list(lp.lanes.values()) + list(lp.started.values())] = -1
    if (col_period == -2).any() or (lp.integer & (col_period >= 0)).any():
        return False
    row_period = _row_periods(lp.row_family, lp.row_key)
    if row_period is None:
        return False
    rows, cols = row_period[lp.a_row], col_period[lp.a_col]
    return not ((rows >= 0) & (cols >= 0) & (rows != cols)).any()


def _row_periods(families: list[str], keys: list[tuple]) -> np.ndarray | None:
    """The period each row belongs to; -1 for a row over all periods (or all before one:
    work done by then, which a split that runs work from its merged period's start only
    adds to). None where some row's family is unknown. A family's rows come one after
    another (one builder each): their period is read block by block."""
    out = np.full(len(families), -1, dtype=np.int64)
    start = 0
    for family, block in groupby(families):
        end = start + len(list(block))
        parts = NAME_PARTS.get(family)
        if parts is None:
            return None
        if family not in CUMULATIVE_ROWS and "t" in parts:
            at = parts.index("t")
            out[start:end] = [key[at] for key in keys[start:end]]
        start = end
    return out


def split(agg: Aggregation, coarse: LinearProgram, fine: LinearProgram,
          x: np.ndarray) -> np.ndarray:
    """The coarse solution ``x`` as a solution of the model of the original periods.

    Each block of a merged period's columns (``compression``) runs at ``c`` times its
    average rate from the merged period's start until its work is done, ``1/c`` of the way
    through; each part gets what falls inside it (``c = 1``: in proportion to its hours).
    Columns without a period (shortfalls, servers bought) are the same."""
    rate = compression(coarse, x)
    out = np.zeros(fine.num_cols)
    for index, coarse_index in ((fine.h, coarse.h), (fine.u, coarse.u)):
        keys = list(index)
        if not keys:
            continue
        parts = list(zip(*keys, strict=True))  # the keys' fields, the period last
        t = np.array(parts[-1], dtype=np.int64)
        g = agg.group[t]
        cols = np.fromiter(map(coarse_index.__getitem__, zip(*parts[:-1], g.tolist(), strict=True)),
                           dtype=np.int64, count=len(keys))
        busy = agg.merged[g] / rate[cols]  # hours from the merged period's start
        inside = np.clip(np.minimum(agg.offset[t] + agg.hours[t], busy) - agg.offset[t],
                         0.0, None)
        out[np.array(list(index.values()), dtype=np.int64)] = x[cols] * inside / busy
    for fine_index, coarse_index in ((fine.z, coarse.z), (fine.unreserved, coarse.unreserved),
                                     (fine.n, coarse.n)):
        for key, col in fine_index.items():  # a reserve only inner boundaries need: 0
            out[col] = x[coarse_index[key]] if key in coarse_index else 0.0
    for fine_index, coarse_index in ((fine.n_run, coarse.n_run), (fine.lanes, coarse.lanes),
                                     (fine.started, coarse.started)):
        for key, col in fine_index.items():  # keyed by their run's first period
            out[col] = x[coarse_index[(*key[:-1], int(agg.group[key[-1]]))]]
    return out


def compression(lp: LinearProgram, x: np.ndarray) -> np.ndarray:
    """Per column of ``lp``, how many times its period's average rate it may run at from
    the period's start, so that every row of the period still holds at every instant.

    Blocks: a cloud pool's ``u`` and ``h`` in a period (its packing and wall-time rows tie
    them) and each owned ``h``. A block run at ``c`` times its average rate adds ``c`` times
    its part of a row's activity while it runs and nothing after, so a row whose blocks all
    add non-negative amounts is at its highest at the start: there ``Σ c·part <= upper``
    suffices. A block that adds a negative amount to a row others share (or to a row that
    would not hold without it) is held at ``c = 1``: it then adds the same at every
    instant; so is a block in a row with a lower bound. Blocks are compressed one after
    another (cloud pools first), each as far as its rows and column bounds allow."""
    block = _blocks(lp)
    n_blocks = int(block.max()) + 1 if block.size else 0
    rate = np.ones(lp.num_cols)
    if n_blocks == 0:
        return rate
    per_period = np.array([("t" in NAME_PARTS[f]) and f not in CUMULATIVE_ROWS
                           for f in lp.row_family], dtype=bool)
    entry = per_period[lp.a_row]
    rows, cols, terms = lp.a_row[entry], lp.a_col[entry], (lp.a_val * x[lp.a_col])[entry]
    owner = block[cols]
    fixed = np.bincount(rows[owner < 0], weights=terms[owner < 0], minlength=lp.num_rows)
    keys, inverse = np.unique(rows[owner >= 0] * n_blocks + owner[owner >= 0],
                              return_inverse=True)
    part = np.bincount(inverse, weights=terms[owner >= 0], minlength=keys.size)
    key_row, key_block = keys // n_blocks, keys % n_blocks
    room = lp.row_upper - fixed
    held = np.zeros(n_blocks, dtype=bool)
    shared = np.bincount(key_row, minlength=lp.num_rows) > 1
    negative = part < 0
    held[key_block[negative & (shared[key_row] | (room[key_row] < 0))]] = True
    held[key_block[np.isfinite(lp.row_lower[key_row])]] = True
    used = np.bincount(key_row, weights=part, minlength=lp.num_rows)  # at c = 1
    c = np.ones(n_blocks)
    col_room = _column_room(lp, x, block, n_blocks)
    order = np.argsort(key_block, kind="stable")
    bounds = np.searchsorted(key_block[order], np.arange(n_blocks + 1))
    for b in range(n_blocks):  # cloud pool-periods first
        if held[b]:
            continue
        mine = order[bounds[b]:bounds[b + 1]]
        grows = part[mine] > 0
        if not grows.any():
            continue
        r, p = key_row[mine][grows], part[mine][grows]
        slack = np.maximum(lp.row_upper[r] - fixed[r] - used[r], 0.0) * (1.0 - SLACK_KEPT)
        limit = min(float(np.min(1.0 + slack / p)), col_room[b])
        if not math.isfinite(limit) or limit <= 1.0:  # no finite bound: leave it even
            continue
        c[b] = limit
        used[r] += p * (limit - 1.0)
    has = block >= 0
    rate[has] = c[block[has]]
    return rate


def _blocks(lp: LinearProgram) -> np.ndarray:
    """Per column, its block (-1 for columns without a period): cloud pool-periods first,
    then each owned ``h``."""
    block = np.full(lp.num_cols, -1, dtype=np.int64)
    cloud = {key: i for i, key in enumerate(sorted(lp.u))}
    for key, col in lp.u.items():
        block[col] = cloud[key]
    owned = len(cloud)
    for (_j, p, t), col in sorted(lp.h.items()):
        if (p, t) in cloud:
            block[col] = cloud[(p, t)]
        else:
            block[col] = owned
            owned += 1
    return block


def _column_room(lp: LinearProgram, x: np.ndarray, block: np.ndarray,
                 n_blocks: int) -> np.ndarray:
    """Per block, the most ``c`` its columns' upper bounds allow (``upper / value``)."""
    room = np.full(n_blocks, np.inf)
    bounded = (block >= 0) & np.isfinite(lp.col_upper) & (x > 0)
    np.minimum.at(room, block[bounded], lp.col_upper[bounded] / x[bounded])
    return room
