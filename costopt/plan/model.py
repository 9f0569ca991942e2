"""The cost model as a linear program held in arrays (``workload.md``, "The model").

Sets
  J jobs; P pools (owned ``S`` and cloud ``C``); T periods, period t of ``P_h(t)`` hours
  (equal or mixed lengths: ``Horizon.period_lengths``).
Variables
  h[j,p,t] >= 0  GPU-hours job j runs on pool p in period t (only eligible pairs, only the
                 periods inside the job's window)
  u[p,t]   >= 0  instance-hours of cloud pool p in period t (<= max_instances * P_h)
  n[c]     in {0..max_count}  servers of candidate c bought (integer; only with candidates)
  running[p,r] in {0..}  instances of pool p at once in run r of periods (integer; only
                 where a concurrency limit binds), lanes[j,p,r] a multi-node job's gangs
  z[j]     >= 0  shortfall of job j in reference GPU-hours (elastic re-solve only)
  unreserved[j] >= 0  deadline reserve job j does not keep, reference GPU-hours (penalised)
  started[j,p,r] in {0,1}  multi-node job j runs on cloud pool p in run r at all (only with
                 setup or a minimum instance time; for a one-node job where learned, 5e)
Runs: consecutive periods whose every hour offers the same (``identical_runs``), r(t) the
run of period t and L(t) its hours. Launch overhead is counted per run: every instance-hour
of a run does work for ``f(t) = 1 - setup / L(t)`` of it (each instance of the run starts in
it and pays ``setup`` hours once).
Objective (the variable cost, USD)
  sum_{p in C,t} price(p) u[p,t] + sum_{s in S,j,t} energy(s) h[j,s,t]
  + sum_c fixed(c) n[c]   (a candidate's fixed cost over the horizon)
  (+ a tie-break of at most 1e-5 USD per GPU-hour preferring earlier periods: 1e-5 times
   the period's midpoint as a share of the horizon,
   + penalty * z in the elastic re-solve, + penalty / 10 * unreserved)
Constraints, one builder each, named so an infeasibility report reads plainly:
  1. work[j]          sum s e h + z >= gpu_hours
  2. gang[j,t]        sum_p h <= parallel_j * nodes_j * gpus_j * P_h
     cloud_gang[j,t]  sum_(cloud p) h <= parallel_j * nodes_j * gpus_j * P_h * f(t)
  3. capacity[s,t]    sum_j b h <= count * gpus * P_h * availability   (x n[c] for a candidate)
  4. packing[p,t]     sum_j b h / F_j - G_p f u <= 0   (F_j: the share of p's GPUs its
                     jobs fill at once, where the layout learned one, ``filled``; 1 for a
                     job whose gang holds a node alone, which fills it whatever else runs;
                     a multi-node job's b h is G_p f c h, its nodes' own instance-hours:
                     c = max(1 / (gpus f), launch), ``gang_charge``)
  5. walltime[j,p,t]  h / (gpus_j * c_jp) (+ sum of multi-node gangs' h / gpus on p, t for
                     a one-node job, with their share of setup and minimum instance time:
                     ``launch``) - f u <= 0   (c: the job's gangs one node holds; an N-node gang
                     holds N instances of its own: h / gpus instance-hours)
  6. quota_hours[q,t] sum vcpus u <= vcpus_q * P_h   (a relaxation, where a limit spans 2+
                                                        pools; where it binds, at once:)
     quota[q,r]       sum vcpus (running + N lanes) <= vcpus_q
     instances[q,r]   sum (running + N lanes) <= count
       count[p,t]: u - sum_gangs c h <= P_h running;  gang_lanes[j,p,t]:
       h / (gpus N) <= P_h f lanes
  7. budget           variable cost <= budget_usd
  8. layout[k,p,t]    sum_(i in S(k,p)) h[i,p,t] / gpus_i - f u <= 0, learned (``layout.py``):
                     S(k,p) is job k and every job on p that cannot share one of p's
                     instances with k at once (gpus_i + gpus_k > G, or a multi-node gang's
                     node): at any instant an instance runs at most one of them;
     layout[k,s,t]    on an owned pool, always: sum_(i in S(k,s)) h[i,s,t] / gpus_i
                     <= servers * P_h * availability (x n[c] for a candidate)
  5d. gang_start[j,p,t]  h <= H started (H: the job's gangs' GPU-hours in the period)
     gang_setup[p,r]      sum_(gangs j) (sum_(t in r) h_j / gpus_j + N_j s started_j)
                          - sum_(t in r) u <= 0, and
     gang_least[p,r]      sum_(gangs j) N_j m started_j - sum_(t in r) u <= 0: a
                          multi-node gang on p at all starts N instances of its own, each
                          paying setup and at least the minimum instance time
  5e. whole_start, whole_setup, whole_least: the same for a one-node job (N = 1, h / (gpus c)),
                          learned where it spills over to a pool from another in a run and
                          the fleet paid the whole setup its launch rows charged a share of
  9. reserve[j,k]     sum_{t<k} sum_p s e h + unreserved (+ z) >= gpu_hours - C_j(k)
                     (a job with a deadline that may use spot, at each boundary k of its
                     window where it binds: the work left after k fits on capacity that does
                     not vanish, ``C_j(k)`` = the most its best on-demand or owned pool could
                     do from k to the deadline; ``reserve_capacity``)
Spot availability ``a`` (``pools.py``) derates spot work per instance-hour: ``e`` carries it.

The model is one source of truth held as sparse arrays (COO) with named index maps; the
solvers (``solve.py``) read the same arrays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from costopt.plan.pools import CloudPool, ConcurrencyLimit, Eligible, OwnedPool, Pools
from costopt.workload import Workload

INF = math.inf
TIE_BREAK_USD_PER_GPU_HOUR = 1e-5
"""The most the tie-break adds per GPU-hour (the last period); it only orders equal plans."""


def period_hours(w: Workload) -> np.ndarray:
    """Each period's length in hours (``P_h(t)``)."""
    return np.asarray(w.horizon.period_lengths, dtype=float)


def tie_break_weights(w: Workload) -> np.ndarray:
    """Each period's tie-break per GPU-hour, in units of the most: its midpoint as a share of
    the horizon. The mean of a linear function of time over the period, so that periods
    merged into one (``aggregate.py``) get the mean of their parts' weights, by hours."""
    offsets = np.asarray(w.horizon.period_offsets, dtype=float)
    return (offsets[:-1] + offsets[1:]) / 2.0 / offsets[-1]


@dataclass
class LinearProgram:
    """``min cost·x`` subject to ``row_lower <= A x <= row_upper``, ``0 <= x <= col_upper``.

    ``variable_cost`` is the true USD cost of each column (without tie-break or penalty);
    ``cost`` is what the solver minimises.
    """

    cost: np.ndarray
    variable_cost: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray  # bool per column: whole numbers only (candidate purchases)
    row_lower: np.ndarray
    row_upper: np.ndarray
    lazy: np.ndarray  # bool per row: a solver may add it only once a solution violates it
    seed: np.ndarray  # bool per column: where a column-generating solver starts (any is exact)
    a_row: np.ndarray
    a_col: np.ndarray
    a_val: np.ndarray
    h: dict[tuple[int, int, int], int]  # (job, pool, period) -> column
    u: dict[tuple[int, int], int]  # (cloud pool index in Pools.all, period) -> column
    z: dict[int, int]  # job -> shortfall column (elastic only)
    n: dict[int, int]  # candidate pool index in Pools.all -> servers-bought column
    n_run: dict[tuple[int, int], int]  # (cloud pool, run's first period) -> at once column
    lanes: dict[tuple[int, int, int], int]  # (multi-node job, pool, run) -> gangs at once
    limits: tuple[ConcurrencyLimit, ...]  # what the fleet is held to at once (fleet_limits)
    gang_pools: frozenset[int]  # cloud pools a multi-node job may use
    runs: np.ndarray  # per period, its run of periods launch overhead is counted over
    row_family: list[str]  # row -> family ("work", "gang", "capacity", ...)
    row_key: list[tuple]  # row -> its index tuple within the family
    naming: Naming
    unreserved: dict[int, int] = field(default_factory=dict)  # job -> reserve not kept
    started: dict[tuple[int, int, int], int] = field(default_factory=dict)
    """(multi-node job, cloud pool, run's first period) -> 1 where the gang runs there."""
    gang_hours: dict[int, float] = field(default_factory=dict)
    """A multi-node job's cloud ``h`` column -> the instance-hours of its gang's own nodes
    per GPU-hour (:func:`gang_charge`): the pool's hours less these are the one-node jobs'."""

    @property
    def num_cols(self) -> int:
        return len(self.cost)

    @property
    def num_rows(self) -> int:
        return len(self.row_family)

    def activity(self, x: np.ndarray) -> np.ndarray:
        """``A x`` for a solution ``x``."""
        out = np.zeros(self.num_rows)
        np.add.at(out, self.a_row, self.a_val * x[self.a_col])
        return out

    def row_name(self, r: int) -> str:
        """``work[vit-pretrain]``, ``capacity[owned:v100-node,2027-01-05]``, ..."""
        return self.naming.name(self.row_family[r], self.row_key[r])

    def col_name(self, c: int) -> str:
        """``h[vit-pretrain,aws:us-east-1:p3.8xlarge:spot,2027-01-05]``, ``u[...]``, ..."""
        family, key = self._col_keys[c]
        return self.naming.name(family, key)

    @cached_property
    def _col_keys(self) -> dict[int, tuple[str, tuple]]:
        keys: dict[int, tuple[str, tuple]] = {}
        for family, index in (("h", self.h), ("u", self.u)):
            keys.update((col, (family, key)) for key, col in index.items())
        keys.update((col, ("n", (p,))) for p, col in self.n.items())
        keys.update((col, ("running", key)) for key, col in self.n_run.items())
        keys.update((col, ("lanes", key)) for key, col in self.lanes.items())
        keys.update((col, ("started", key)) for key, col in self.started.items())
        keys.update((col, ("shortfall", (j,))) for j, col in self.z.items())
        keys.update((col, ("unreserved", (j,))) for j, col in self.unreserved.items())
        return keys


NAME_PARTS: dict[str, str] = {
    "h": "jpt", "u": "pt", "n": "p", "running": "pt", "shortfall": "j", "lanes": "jpt",
    "unreserved": "j",
    "gang_lanes": "jpt", "cloud_gang": "jt",
    "work": "j", "gang": "jt", "capacity": "pt", "packing": "pt", "walltime": "jpt",
    "launch": "jpt", "beside": "jjpt", "beside_wide": "jpt", "started": "jpt",
    "gang_start": "jpt", "gang_setup": "pt", "gang_least": "pt",
    "whole_start": "jpt", "whole_setup": "jpt", "whole_least": "jpt",
    "quota": "qt", "instances": "qt", "quota_hours": "qt", "instances_hours": "qt",
    "count": "pt", "budget": "", "layout": "jpt", "reserve": "jt",
}
"""What each index of a column or row family stands for: job, pool, period, quota line."""

CUMULATIVE_ROWS = frozenset({"reserve", "gang_setup", "gang_least", "whole_setup",
                             "whole_least"})
"""Row families over more than their key's period: every period before it (``reserve``:
work done by then) or its whole run (``gang_setup``, ``gang_least``: sums over the run,
which a split of a merged run into its periods keeps)."""


@dataclass(frozen=True)
class Naming:
    """The readable names of the model's indices, to name any row or column on demand
    (a large model has millions; only reports and exports need their names)."""

    jobs: tuple[str, ...]
    pools: tuple[str, ...]
    periods: tuple[str, ...]
    quotas: tuple[str, ...]

    def name(self, family: str, key: tuple) -> str:
        parts = NAME_PARTS[family]
        if not parts:
            return family
        lookup = {"j": self.jobs, "p": self.pools, "t": self.periods, "q": self.quotas}
        return f"{family}[{','.join(lookup[k][i] for k, i in zip(parts, key, strict=True))}]"


@dataclass(frozen=True)
class _Segment:
    """Columns ``first_col`` to ``end_col``, rows and entries one builder made (its chunks,
    its rows numbered from 0), to be added to other models (``_Builder.add``)."""

    first_col: int
    end_col: int
    col_chunks: dict[str, list[np.ndarray]]
    row_chunks: dict[str, list[np.ndarray]]
    entry_chunks: dict[str, list[np.ndarray]]
    row_family: list[str]
    row_key: list[tuple]


def _spread(values: ArrayLike, dtype: type, count: int) -> np.ndarray:
    """``values`` as ``count`` values of ``dtype``: a scalar repeated, or an array of
    ``count`` as it is (``np.broadcast_to``, without its cost on the model's many one-row
    calls)."""
    array = np.asarray(values, dtype=dtype)
    if array.shape == (count,):
        return array
    if array.ndim == 0:
        return np.full(count, array, dtype=dtype)
    return np.broadcast_to(array, (count,))


@dataclass
class _Builder:
    """Columns, rows and matrix entries as they are added, in chunks of arrays joined once
    at the end: a model of millions of entries is built without a Python object each."""

    num_cols: int = 0
    col_chunks: dict[str, list[np.ndarray]] = field(default_factory=lambda: {
        k: [] for k in ("cost", "variable_cost", "col_upper", "integer", "seed")})
    row_chunks: dict[str, list[np.ndarray]] = field(default_factory=lambda: {
        k: [] for k in ("row_lower", "row_upper", "lazy")})
    entry_chunks: dict[str, list[np.ndarray]] = field(default_factory=lambda: {
        k: [] for k in ("a_row", "a_col", "a_val")})
    row_family: list[str] = field(default_factory=list)
    row_key: list[tuple] = field(default_factory=list)

    def cols(self, count: int, usd: ArrayLike, *, extra: ArrayLike = 0.0,
             upper: ArrayLike = INF, integer: bool = False, seed: ArrayLike = True) -> int:
        """``count`` columns at ``usd`` (variable cost) + ``extra`` (solver-only cost);
        scalars or arrays of ``count``. Returns the first column's index."""
        first = self.num_cols
        usd_a = _spread(usd, float, count)
        for key, values in (("cost", usd_a + np.asarray(extra, dtype=float)),
                            ("variable_cost", usd_a), ("col_upper", upper),
                            ("integer", integer), ("seed", seed)):
            dtype = bool if key in ("integer", "seed") else float
            self.col_chunks[key].append(_spread(values, dtype, count))
        self.num_cols += count
        return first

    def col(self, usd: float, upper: float = INF, extra: float = 0.0,
            integer: bool = False) -> int:
        return self.cols(1, usd, extra=extra, upper=upper, integer=integer)

    def rows(self, family: str, keys: list[tuple], offsets: np.ndarray, cols: np.ndarray,
             vals: ArrayLike, *, lower: ArrayLike = -INF, upper: ArrayLike = INF,
             lazy: bool = False) -> int:
        """Rows of one family: ``keys`` name them, entry ``i`` puts ``vals[i]`` at row
        ``offsets[i]`` (from the first new row) and column ``cols[i]``. Bounds are scalars
        or one per row. Returns the first row's index."""
        first, count = len(self.row_family), len(keys)
        self.row_family.extend([family] * count)
        self.row_key.extend(keys)
        for key, values in (("row_lower", lower), ("row_upper", upper), ("lazy", lazy)):
            dtype = bool if key == "lazy" else float
            self.row_chunks[key].append(_spread(values, dtype, count))
        offsets = np.asarray(offsets, dtype=np.int64)
        self.entry_chunks["a_row"].append(first + offsets)
        self.entry_chunks["a_col"].append(np.asarray(cols, dtype=np.int64))
        self.entry_chunks["a_val"].append(_spread(vals, float, len(offsets)))
        return first

    def row(self, family: str, key: tuple, terms: list[tuple[int, float]],
            lower: float = -INF, upper: float = INF) -> int:
        cols = [c for c, _v in terms]
        return self.rows(family, [key], np.zeros(len(terms), dtype=np.int64), cols,
                         [v for _c, v in terms], lower=lower, upper=upper)

    def segment(self) -> _Segment:
        """What was added to this builder, to add to others (:meth:`add`)."""
        return _Segment(self.num_cols - sum(len(c) for c in self.col_chunks["cost"]),
                        self.num_cols, self.col_chunks, self.row_chunks, self.entry_chunks,
                        self.row_family, self.row_key)

    def add(self, segment: _Segment) -> None:
        """Add the columns, rows and entries of ``segment``, made by a builder whose
        columns began where this one's end now; its rows follow this one's."""
        if segment.first_col != self.num_cols:
            raise ValueError(f"a segment of columns from {segment.first_col} added to a "
                             f"model of {self.num_cols} columns")
        rows = len(self.row_family)
        for mine, theirs in ((self.col_chunks, segment.col_chunks),
                             (self.row_chunks, segment.row_chunks),
                             (self.entry_chunks, segment.entry_chunks)):
            for key, chunks in theirs.items():
                mine[key].extend([c + rows for c in chunks] if key == "a_row" else chunks)
        self.row_family.extend(segment.row_family)
        self.row_key.extend(segment.row_key)
        self.num_cols = segment.end_col

    def joined(self, chunks: dict[str, list[np.ndarray]], key: str, dtype: type) -> np.ndarray:
        parts = chunks[key]
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


@dataclass(frozen=True)
class _HColumns:
    """The ``h`` columns as arrays, one entry per column in column order: job, pool,
    period, column index, work per GPU-hour, blocking, and for cloud pools the ``u``
    column of the same pool and period (-1 for owned pools); ``wall`` the instance-hours
    per GPU-hour at the least (``1 / (gpus * gangs_per_node)``)."""

    job: np.ndarray
    pool: np.ndarray
    period: np.ndarray
    col: np.ndarray
    rate: np.ndarray
    block: np.ndarray
    ucol: np.ndarray
    wall: np.ndarray

    @property
    def cloud(self) -> np.ndarray:
        return self.ucol >= 0

    @cached_property
    def cloud_keys(self) -> list[tuple[int, int, int]]:
        """(job, pool, period) of each cloud column, in column order: the keys of the
        ``walltime`` and ``launch`` rows, made once."""
        cloud = self.cloud
        return list(zip(self.job[cloud].tolist(), self.pool[cloud].tolist(),
                        self.period[cloud].tolist(), strict=True))


def period_signature(w: Workload,
                     u_upper: Mapping[tuple[str, int], float] | None = None) -> np.ndarray:
    """Per period, what the model's rows and columns depend on besides the period's length:
    which jobs' windows hold it (1 or 0 per job) and each capped pool's cap per hour (inf
    where it has none), a row per period."""
    capped = sorted({pool for pool, _t in u_upper or {}})
    out = np.zeros((w.horizon.periods, len(w.jobs) + len(capped)))
    for j, job in enumerate(w.jobs):
        window = w.job_periods(job)
        out[window.start:window.stop, j] = 1.0
    out[:, len(w.jobs):] = np.inf
    column = {pool: len(w.jobs) + i for i, pool in enumerate(capped)}
    for (pool, t), cap in (u_upper or {}).items():
        out[t, column[pool]] = cap / w.horizon.period_lengths[t]
    return out


def identical_runs(w: Workload,
                   u_upper: Mapping[tuple[str, int], float] | None = None) -> np.ndarray:
    """Per period, the number of its run of consecutive periods with the same signature
    (``0, 0, 1, 1, 1, 2, ...``): every hour of a run offers the same. What ``aggregate.py``
    merges into one period, and what launch overhead is counted over (``work_factor``)."""
    signature = period_signature(w, u_upper)
    new = np.ones(len(signature), dtype=bool)
    new[1:] = (signature[1:] != signature[:-1]).any(axis=1)
    return np.cumsum(new) - 1


def first_periods(runs: np.ndarray) -> np.ndarray:
    """Per period, the first period of its run (``runs`` numbers each period's run)."""
    new = np.ones(len(runs), dtype=bool)
    new[1:] = runs[1:] != runs[:-1]
    return np.flatnonzero(new)[runs]


def run_periods(runs: np.ndarray) -> dict[int, list[int]]:
    """Each run's first period -> the periods of the run, in order."""
    out: dict[int, list[int]] = {}
    for t, f in enumerate(first_periods(runs).tolist()):
        out.setdefault(f, []).append(t)
    return out


def run_hours(w: Workload, runs: np.ndarray) -> np.ndarray:
    """Per period, the hours of its whole run (``L``)."""
    return np.bincount(runs, weights=period_hours(w))[runs]


def period_label(workload: Workload, t: int) -> str:
    """``2027-01-05`` for daily periods starting at midnight, else ``2027-01-05T06:00``."""
    start = workload.horizon.period_start(t)
    if workload.horizon.period_lengths[t] % 24 == 0 and start.hour == 0 and start.minute == 0:
        return start.strftime("%Y-%m-%d")
    return start.strftime("%Y-%m-%dT%H:%M")


def naming(workload: Workload, pools: Pools,
           limits: tuple[ConcurrencyLimit, ...]) -> Naming:
    """The names of a workload's jobs, pools, periods and concurrency limits."""
    return Naming(
        jobs=tuple(job.name for job in workload.jobs),
        pools=tuple(pool.id for pool in pools.all),
        periods=tuple(period_label(workload, t) for t in range(workload.horizon.periods)),
        quotas=tuple(lim.name.replace(" ", ",") for lim in limits),
    )


def gang_pools(w: Workload, pools: Pools, pairs: list[Eligible]) -> frozenset[int]:
    """Cloud pools (indices) a multi-node job may use."""
    return frozenset(e.pool for e in pairs
                     if w.jobs[e.job].nodes > 1 and isinstance(pools.all[e.pool], CloudPool))


def fleet_limits(pools: Pools, gangs: frozenset[int]) -> tuple[ConcurrencyLimit, ...]:
    """The limits the fleet schedule is held to at every instant: the pools' own (quotas,
    spot ``max_instances`` over zones), and for each pool a multi-node job may use, its
    bound of instances at once alone (``Pools.instance_bound``): a gang's N instances run
    together, so a bound on the pool's instance-hours no longer bounds them."""
    own = []
    for p in sorted(gangs):
        pool = pools.all[p]
        assert isinstance(pool, CloudPool)
        bound = pools.instance_bound(pool)
        if bound is not None:
            own.append(ConcurrencyLimit("max_instances", f"{pool.id} at once", ((pool.id, 1.0),),
                                        float(bound), "instance(s)"))
    return (*pools.limits, *own)


def build_model(
    workload: Workload, pools: Pools, pairs: list[Eligible], *, elastic: bool = False,
    u_upper: Mapping[tuple[str, int], float] | None = None,
    counted: frozenset[tuple[int, int]] = frozenset(),
    layout: frozenset[tuple[int, int]] = frozenset(),
    kept: frozenset[tuple[int, int, int]] = frozenset(),
    filled: Mapping[tuple[int, int], float] | None = None,
    base: ModelBase | None = None,
    setups: frozenset[tuple[int, int, int]] = frozenset(),
) -> LinearProgram:
    """The LP of the cost model; with ``elastic`` every job may fall short at a penalty.
    ``u_upper`` caps ``u[p,t]`` further, in instance-hours per (pool id, period index): what
    a clairvoyant planner knows of spot capacity (``costopt simulate``'s hindsight).
    ``counted`` (limit, run's first period) pairs get integer instance counts
    (``_concurrency_rows``). ``layout`` (job, cloud pool) pairs get the rows that keep apart
    the jobs that cannot share an instance with the job (``_layout_rows``). ``kept``
    (job, pool, period): the job runs on no other pool in that period (the planner keeps a
    job the fleet cannot lay out on two pools one after the other to one of them).
    ``filled`` ((cloud pool, period) -> a share, at most 1): the share of the pool's
    GPU-hours of work the jobs that share its instances can fill at once there, learned
    where its layout came up short (``packing``). ``base``: the rows and columns that
    depend on none of these four, made by :func:`model_base` of the same workload, pools,
    pairs, ``elastic`` and ``u_upper`` (the planner's re-solves share one; made here when
    not given). ``setups`` (one-node job, cloud pool, run's first period): the job pays a
    whole setup there where it runs at all (``_whole_setup_rows``), learned like
    ``layout``."""
    if base is None:
        base = model_base(workload, pools, pairs, elastic=elastic, u_upper=u_upper)
    elif base.elastic != elastic:
        raise ValueError("build_model: a base made with elastic="
                         f"{base.elastic} for a model with elastic={elastic}")
    hc, h, u, z, factor = base.hc, base.h, base.u, base.z, base.factor
    b = _Builder()
    b.add(base.head)
    _packing_rows(b, workload, pools, hc, u, factor, filled or {}, base.charge)
    b.add(base.tail)
    n_run, lanes = _concurrency_rows(b, workload, pools, h, u, counted, base.limits,
                                     base.gangs, base.limit_terms, base.runs, factor,
                                     base.charge)
    _budget_row(b, workload)
    _layout_rows(b, workload, pools, hc, factor, layout)
    whole = _whole_setup_rows(b, workload, hc, base.runs, setups, base.started)
    unreserved = _reserve_rows(b, workload, pools, pairs, hc, z, base.reserve)
    col, row, entry = b.col_chunks, b.row_chunks, b.entry_chunks
    return LinearProgram(
        cost=b.joined(col, "cost", float),
        variable_cost=b.joined(col, "variable_cost", float),
        col_upper=_kept_to(b.joined(col, "col_upper", float), h, kept),
        integer=b.joined(col, "integer", bool),
        row_lower=b.joined(row, "row_lower", float),
        row_upper=b.joined(row, "row_upper", float),
        lazy=b.joined(row, "lazy", bool),
        seed=b.joined(col, "seed", bool),
        a_row=b.joined(entry, "a_row", np.int64),
        a_col=b.joined(entry, "a_col", np.int64),
        a_val=b.joined(entry, "a_val", float),
        h=h,
        u=u,
        z=z,
        n=base.n,
        n_run=n_run,
        lanes=lanes,
        limits=base.limits,
        gang_pools=base.gangs,
        runs=base.runs,
        row_family=b.row_family,
        row_key=b.row_key,
        naming=naming(workload, pools, base.limits),
        unreserved=unreserved,
        started={**base.started, **whole},
        gang_hours=base.charge,
    )


@dataclass(frozen=True)
class ModelBase:
    """The part of the cost model of one workload, pools, pairs, ``elastic`` and
    ``u_upper`` that does not depend on ``build_model``'s ``counted``, ``layout``, ``kept``
    and ``filled`` (what the planner's layout loop learns between solves): the columns and
    the rows before the ``packing`` rows (``head``) and those between them and the
    counted concurrency rows (``tail``), and the column maps. Made once per loop, then put into
    each model it solves; read-only."""

    elastic: bool
    head: _Segment  # h, u, n (, z) and the work, gang, capacity and owned layout rows
    tail: _Segment  # the walltime, launch, gang setup, beside and quota_hours rows
    hc: _HColumns
    h: dict[tuple[int, int, int], int]
    u: dict[tuple[int, int], int]
    z: dict[int, int]
    n: dict[int, int]
    runs: np.ndarray
    factor: np.ndarray
    charge: dict[int, float]  # a multi-node job's h column -> its gang's hours (gang_charge)
    started: dict[tuple[int, int, int], int]
    gangs: frozenset[int]
    limits: tuple[ConcurrencyLimit, ...]
    limit_terms: dict[tuple[int, int], list[tuple[int, float]]]
    reserve: dict[int, np.ndarray]  # the jobs' capacity that does not vanish (reserve_capacity)


def model_base(workload: Workload, pools: Pools, pairs: list[Eligible], *,
               elastic: bool = False,
               u_upper: Mapping[tuple[str, int], float] | None = None,
               held: bool = False) -> ModelBase:
    """The :class:`ModelBase` of ``build_model`` for these arguments. ``held``: ``u_upper``
    holds pools out for a while (a re-plan's, ``replan.held_caps``), so setup is counted
    per run of the capped periods (``work_factor``), as the fleet pays it: a fleet that
    starts in the run before a hold ends pays its setup there, however long the run
    after."""
    b = _Builder()
    hc, h, u = _variables(b, workload, pools, pairs, u_upper or {})
    runs = identical_runs(workload, u_upper)
    factor = work_factor(workload, runs if held else identical_runs(workload))
    n = _purchases(b, pools)
    z = _shortfalls(b, workload, pools, pairs) if elastic else {}
    _work_rows(b, workload, hc, z)
    _gang_rows(b, workload, hc, factor)
    _capacity_rows(b, workload, pools, hc, n)
    _owned_layout_rows(b, workload, pools, hc, n)
    head = b.segment()
    b = _Builder(num_cols=b.num_cols)  # the packing rows come between: no columns
    _walltime_rows(b, workload, hc, factor)
    launch = _launch_rows(b, workload, hc)
    started = _gang_setup_rows(b, workload, hc, runs)
    _beside_rows(b, workload, pools, hc, factor)
    gangs = gang_pools(workload, pools, pairs)
    limits = fleet_limits(pools, gangs)
    terms = _quota_hours_rows(b, workload, pools, u, limits, gangs)
    reserve = reserve_capacity(workload, pools, pairs, factor)
    return ModelBase(elastic, head, b.segment(), hc, h, u, z, n, runs, factor,
                     gang_charge(workload, hc, factor, launch), started, gangs, limits, terms,
                     reserve)


def _kept_to(upper: np.ndarray, h: dict[tuple[int, int, int], int],
             kept: frozenset[tuple[int, int, int]]) -> np.ndarray:
    """Column bounds with each job of ``kept`` (job, pool, period) off its other pools in
    that period."""
    if not kept:
        return upper
    on = {(j, t): p for j, p, t in kept}
    out = upper.copy()
    for (j, p, t), col in h.items():
        if on.get((j, t), p) != p:
            out[col] = 0.0
    return out


def _variables(b: _Builder, w: Workload, pools: Pools, pairs: list[Eligible],
               u_upper: Mapping[tuple[str, int], float]) -> tuple[_HColumns, dict, dict]:
    """h for every eligible pair and period of the job's window; u for every cloud pool and
    period some job could use it in."""
    periods, all_pools = w.horizon.periods, pools.all
    seeded = seed_pairs(pools, pairs)
    windows = [w.job_periods(w.jobs[e.job]) for e in pairs]
    lengths = np.array([len(r) for r in windows], dtype=np.int64)
    total = int(lengths.sum())
    first_period = np.array([r.start for r in windows], dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    period = np.arange(total, dtype=np.int64) + np.repeat(first_period - starts, lengths)

    def per_pair(values: list) -> np.ndarray:
        return np.repeat(np.asarray(values), lengths)

    job = per_pair([e.job for e in pairs]).astype(np.int64)
    pool = per_pair([e.pool for e in pairs]).astype(np.int64)
    is_cloud = np.array([isinstance(p, CloudPool) for p in all_pools], dtype=bool)
    energy = [0.0 if isinstance(p, CloudPool) else p.energy_usd_per_gpu_hour for p in all_pools]
    first = b.cols(total, np.asarray(energy, dtype=float)[pool] if total else 0.0,
                   extra=TIE_BREAK_USD_PER_GPU_HOUR * tie_break_weights(w)[period],
                   seed=per_pair([(e.job, e.pool) in seeded for e in pairs]))
    col = first + np.arange(total, dtype=np.int64)
    h = dict(zip(zip(job.tolist(), pool.tolist(), period.tolist(), strict=True), col.tolist(),
                 strict=True))

    cloud = is_cloud[pool] if total else np.zeros(0, dtype=bool)
    u_keys = np.unique(pool[cloud] * periods + period[cloud])
    u_pool, u_period = u_keys // periods, u_keys % periods
    price = np.array([p.usd_per_hour if isinstance(p, CloudPool) else 0.0 for p in all_pools])
    bounds = [pools.instance_bound(p) if isinstance(p, CloudPool) else None for p in all_pools]
    cap = np.array([INF if n is None else float(n) for n in bounds])
    upper = np.minimum(cap[u_pool] * period_hours(w)[u_period],
                       [u_upper.get((all_pools[p].id, t), INF) for p, t in
                        zip(u_pool.tolist(), u_period.tolist(), strict=True)])
    u_first = b.cols(len(u_keys), price[u_pool], upper=upper)
    u_cols = u_first + np.arange(len(u_keys), dtype=np.int64)
    u = dict(zip(zip(u_pool.tolist(), u_period.tolist(), strict=True), u_cols.tolist(),
                 strict=True))
    ucol = np.full(total, -1, dtype=np.int64)
    ucol[cloud] = u_cols[np.searchsorted(u_keys, pool[cloud] * periods + period[cloud])]
    hc = _HColumns(job=job, pool=pool, period=period, col=col,
                   rate=per_pair([e.work_per_gpu_hour for e in pairs]).astype(float),
                   block=per_pair([e.blocking for e in pairs]).astype(float), ucol=ucol,
                   wall=per_pair([1.0 / (w.jobs[e.job].gpus * e.gangs_per_node)
                                  for e in pairs]).astype(float))
    return hc, h, u


SEED_CLOUD_POOLS = 3
"""Cloud pools per job a column-generating solver starts with (the cheapest per unit of
work); the others join only when their reduced cost says they would lower the cost."""


def seed_pairs(pools: Pools, pairs: list[Eligible]) -> set[tuple[int, int]]:
    """(job, pool) pairs to start from: every owned pool (their capacity binds, so the
    alternatives matter) and each job's cheapest cloud pools per reference GPU-hour."""
    cloud: dict[int, list[tuple[float, int]]] = {}
    seeded = set()
    for e in pairs:
        pool = pools.all[e.pool]
        if isinstance(pool, CloudPool):
            usd = pool.usd_per_hour * e.blocking / (pool.gpus_per_node * e.work_per_gpu_hour)
            cloud.setdefault(e.job, []).append((usd, e.pool))
        else:
            seeded.add((e.job, e.pool))
    for j, options in cloud.items():
        seeded.update((j, p) for _usd, p in sorted(options)[:SEED_CLOUD_POOLS])
    return seeded


def _purchases(b: _Builder, pools: Pools) -> dict[int, int]:
    """n[c]: how many servers of each candidate to buy, at its fixed cost per server."""
    return {p: b.col(pool.fixed_usd, upper=float(pool.buy_max), integer=True)
            for p, pool in enumerate(pools.all)
            if isinstance(pool, OwnedPool) and pool.buy_max is not None}


def shortfall_penalty(w: Workload, pools: Pools, pairs: list[Eligible]) -> float:
    """USD per reference GPU-hour of shortfall: far above the dearest way to do the work."""
    dearest = 1.0
    for e in pairs:
        pool, job = pools.all[e.pool], w.jobs[e.job]
        if isinstance(pool, CloudPool):
            per_work = pool.usd_per_hour / (job.gpus * e.work_per_gpu_hour)
        else:
            per_work = pool.energy_usd_per_gpu_hour / e.work_per_gpu_hour
        dearest = max(dearest, per_work)
    return 1000.0 * dearest


def _shortfalls(b: _Builder, w: Workload, pools: Pools, pairs: list[Eligible]) -> dict[int, int]:
    penalty = shortfall_penalty(w, pools, pairs)
    return {j: b.col(0.0, extra=penalty) for j in range(len(w.jobs))}


def _work_rows(b: _Builder, w: Workload, hc: _HColumns, z: dict) -> None:
    """1. work[j]: the work done, in reference GPU-hours, covers the job."""
    jobs = np.arange(len(w.jobs), dtype=np.int64)
    z_jobs = np.array(sorted(z), dtype=np.int64)
    b.rows("work", [(j,) for j in range(len(w.jobs))],
           np.concatenate([hc.job, z_jobs]),
           np.concatenate([hc.col, np.array([z[j] for j in z_jobs.tolist()], dtype=np.int64)]),
           np.concatenate([hc.rate, np.ones(len(z_jobs))]),
           lower=np.array([w.jobs[j].gpu_hours for j in jobs.tolist()], dtype=float))


def _grouped(keys: np.ndarray, width: int) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Sorted distinct ``a * width + b`` keys as (a, b) pairs, and each entry's group."""
    distinct, group = np.unique(keys, return_inverse=True)
    pairs = list(zip((distinct // width).tolist(), (distinct % width).tolist(), strict=True))
    return pairs, group


def _gang_rows(b: _Builder, w: Workload, hc: _HColumns, factor: np.ndarray) -> None:
    """2. gang[j,t]: a job runs on at most its gangs' GPUs at once (``parallel`` gangs of
    ``nodes * gpus``); cloud_gang[j,t]: on cloud pools, less the setup each of its gangs pays
    once in the run (``f``). Only with launch overhead, and lazy: they bind only where a job
    needs nearly all of its window."""
    periods = w.horizon.periods
    keys, group = _grouped(hc.job * periods + hc.period, periods)
    gang = np.array([w.jobs[j].most_gpus for j, _t in keys], dtype=float)
    hours = period_hours(w)[np.array([t for _j, t in keys], dtype=np.int64)]
    b.rows("gang", keys, group, hc.col, 1.0, upper=gang * hours)
    cloud = hc.cloud
    if (factor >= 1.0).all() or not cloud.any():
        return
    keys, group = _grouped(hc.job[cloud] * periods + hc.period[cloud], periods)
    t = np.array([t for _j, t in keys], dtype=np.int64)
    gang = np.array([w.jobs[j].most_gpus for j, _t in keys], dtype=float)
    b.rows("cloud_gang", keys, group, hc.col[cloud], 1.0,
           upper=gang * period_hours(w)[t] * factor[t], lazy=True)


def _capacity_rows(b: _Builder, w: Workload, pools: Pools, hc: _HColumns,
                   n: dict[int, int]) -> None:
    """3. capacity[s,t]: owned GPU-hours, blocking included, within the available hours
    (for a candidate: the available hours of the servers bought)."""
    periods, owned = w.horizon.periods, ~hc.cloud
    keys, group = _grouped(hc.pool[owned] * periods + hc.period[owned], periods)
    caps, hours = [], period_hours(w)
    for p, t in keys:
        pool = pools.all[p]
        assert isinstance(pool, OwnedPool)
        caps.append(pool.capacity_gpu_hours(hours[t]))
    bought = [i for i, (p, _t) in enumerate(keys) if p in n]
    upper = np.array(caps, dtype=float)
    upper[bought] = 0.0
    b.rows("capacity", keys, np.concatenate([group, np.array(bought, dtype=np.int64)]),
           np.concatenate([hc.col[owned],
                           np.array([n[keys[i][0]] for i in bought], dtype=np.int64)]),
           np.concatenate([hc.block[owned], -np.array([caps[i] for i in bought])]),
           upper=upper)


def setup_hours(w: Workload) -> float:
    """Hours every launch and start is paid without doing work (``cloud.setup_minutes``)."""
    return w.cloud.setup_minutes / 60 if w.cloud else 0.0


def work_factor(w: Workload, runs: np.ndarray) -> np.ndarray:
    """Per period, the share of an instance-hour that does work: ``1 - setup / L`` with
    ``L`` the hours of the period's run (``identical_runs``). Every hour of a run offers the
    same, so a fleet runs its instances through a run at one rate, each starting once in it
    and paying ``setup_hours`` there: counted per run rather than per instance start, the
    model stays linear, and merging a run into one period (``aggregate.py``) leaves it as it
    is. An instance that carries on from the run before pays no second setup (the model
    reserves one it may not need: its fleet's cost is what the plan reports); a partial
    instance pays a whole setup where the model reserved its share (``fleet.py`` runs it
    longer). 0 where a run is no longer than the setup. ``runs`` are the workload's own
    (jobs' windows): caps on ``u`` (the hindsight planner's) split the model's runs further,
    not an instance's, so a clairvoyant plan is not charged a setup per capped period."""
    setup = setup_hours(w)
    if setup <= 0:
        return np.ones(len(runs))
    return np.clip(1.0 - setup / run_hours(w, runs), 0.0, 1.0)


def holds_node_alone(blocking: float | np.ndarray, gpus: float | np.ndarray,
                     gpus_per_node: float | np.ndarray) -> bool | np.ndarray:
    """Whether a job's gang holds a node alone (``blocking * gpus >= G``; numbers or
    arrays): it fills the node whatever runs beside it, so ``packing`` charges its ``b h``
    whole, never over the pool's ``filled``."""
    return blocking * gpus >= gpus_per_node - 1e-9


def _packing_rows(b: _Builder, w: Workload, pools: Pools, hc: _HColumns, u: dict,
                  factor: np.ndarray, filled: Mapping[tuple[int, int], float],
                  charge: Mapping[int, float]) -> None:
    """4. packing[p,t]: jobs' GPU-hours, blocking included, fit the instances' GPU-hours
    of work: ``sum_j b h <= G f u`` (``work_factor``), each job's ``b h`` over the share
    ``filled`` learned for the pool where its jobs' gangs could not fill its GPUs at once -
    but a job whose gang holds a node alone: it fills the node whatever its neighbours do.
    A multi-node job's gang holds nodes of its own, setups and minimum time included: its
    ``b h`` is ``G f`` times its ``charge`` (:func:`gang_charge`; ``G h / gpus`` where that
    is ``h / (gpus f)``). Charged ``G h / gpus`` where its ``launch`` hours were more, the
    one-node jobs counted on the gang's setups: a 2-node gang of 1 GPU-h paying two 10-minute
    setups beside 6 h of one-node work in a 6-hour period, the LP bought 7.2 instance-hours
    (``7 / f``) where the gang alone takes 1.33 and the rest 6 h and a setup, and the fleet's
    one instance for the rest left a job 10 minutes short
    (``tests/plan/test_fleet_limits.py``)."""
    periods, cloud = w.horizon.periods, hc.cloud
    keys, group = _grouped(hc.pool[cloud] * periods + hc.period[cloud], periods)
    nodes = np.array([pools.all[p].gpus_per_node for p, _t in keys], dtype=float)
    share = np.array([filled.get(k, 1.0) for k in keys])[group]
    gpus = np.array([job.gpus for job in w.jobs], dtype=float)[hc.job[cloud]]
    alone = holds_node_alone(hc.block[cloud], gpus, nodes[group])
    count = np.arange(len(keys), dtype=np.int64)
    f = factor[np.array([t for _p, t in keys], dtype=np.int64)]
    cols = hc.col[cloud]
    gang = np.full(len(cols), np.nan)  # a multi-node job's charge (the rest: none)
    multi = np.isin(cols, np.fromiter(charge, dtype=np.int64, count=len(charge)))
    gang[multi] = [charge[col] for col in cols[multi].tolist()]
    per_gpu_hour = np.where(np.isnan(gang), hc.block[cloud] / np.where(alone, 1.0, share),
                            nodes[group] * f[group] * np.nan_to_num(gang))
    b.rows("packing", keys, np.concatenate([group, count]),
           np.concatenate([cols, np.array([u[k] for k in keys], dtype=np.int64)]),
           np.concatenate([per_gpu_hour, -nodes * f]), upper=0.0)


def _walltime_rows(b: _Builder, w: Workload, hc: _HColumns, factor: np.ndarray) -> None:
    """5. walltime[j,p,t]: an instance works at least as long as any job on it (``f u`` of
    work: ``work_factor``); one node holds at most ``c`` of the job's gangs at once, and an
    N-node gang holds N instances.

    One row per job, pool and period, but they bind only where a pool is under-filled:
    marked lazy, so that a solver may add just the ones a solution violates."""
    cloud = hc.cloud
    count = int(cloud.sum())
    keys = hc.cloud_keys
    rows = np.arange(count, dtype=np.int64)
    gang_rows, gang_cols, gang_vals = _gang_instance_hours(w, hc, keys)
    # a gang's instance-hours hold their setup already: ``f`` of them on the side of ``f u``
    gang_vals = gang_vals * factor[hc.period[cloud][gang_rows]]
    b.rows("walltime", keys, np.concatenate([rows, rows, gang_rows]),
           np.concatenate([hc.col[cloud], hc.ucol[cloud], gang_cols]),
           np.concatenate([hc.wall[cloud], -factor[hc.period[cloud]], gang_vals]),
           upper=0.0, lazy=True)


def launch_hours_per_gpu_hour(w: Workload, hc: _HColumns) -> np.ndarray:
    """Per cloud ``h`` column, the instance-hours (``launch`` rows) one GPU-hour of it
    takes at the least: its wall time ``wall``, plus the share of the job's work it does
    (``rate / gpu_hours``) of the setup (``s``) and of the minimum instance time (``m``)
    that each of the gang's ``nodes`` instances pays once: ``max(wall + s n e / W,
    m n e / W)``. Valid: whatever part of a job runs on a pool starts at least one gang's
    ``n`` instances there, each paying ``s`` besides its work and at least ``m``; a share
    ``e h / W <= 1`` of that is a lower bound of it, linear in ``h``."""
    cloud = hc.cloud
    setup = setup_hours(w)
    least = w.cloud.min_instance_minutes / 60 if w.cloud else 0.0
    per_job = np.array([job.nodes / job.gpu_hours if job.gpu_hours > 0 else 0.0
                        for job in w.jobs])[hc.job[cloud]] * hc.rate[cloud]
    return np.maximum(hc.wall[cloud] + setup * per_job, least * per_job)


def gang_charge(w: Workload, hc: _HColumns, factor: np.ndarray,
                launch: Mapping[int, float]) -> dict[int, float]:
    """Per cloud ``h`` column of a multi-node job, the instance-hours of the gang's own
    nodes one GPU-hour of it is charged: ``1 / (gpus f)`` (``h / gpus`` of work with its
    share of setup, ``work_factor``), or its ``launch`` rows' where more (``launch``: per
    column, ``_launch_rows``). The ``count`` rows take these hours out of what ``running``
    counts, and ``packing`` out of what the one-node jobs may work on; the fleet's one-node
    instances get the pool's hours less these (``fleet.schedule_pool_jobs``)."""
    multi = np.array([job.nodes > 1 for job in w.jobs])[hc.job] & hc.cloud
    gpus = np.array([job.gpus for job in w.jobs], dtype=float)[hc.job[multi]]
    f = factor[hc.period[multi]]
    wall = 1.0 / (gpus * np.where(f > 0, f, 1.0))
    return {col: max(hours, launch.get(col, 0.0))
            for col, hours in zip(hc.col[multi].tolist(), wall.tolist(), strict=True)}


def _launch_rows(b: _Builder, w: Workload, hc: _HColumns) -> dict[int, float]:
    """5b. launch[j,p,t]: ``h * launch_hours_per_gpu_hour - u <= 0``. The ``f u`` of the
    ``walltime`` rows counts setup per instance-hour (``work_factor``), so a job far
    shorter than its run pays a sliver of it there: a fast, dear instance then looks as
    cheap as a slow, cheap one while its setup costs more (1 GPU-hour with 10 minutes of
    setup in a day: p4d at 6 USD/h, 0.5 h, and p3.2xlarge at 3 USD/h, 1 h, both 3.02 USD
    to the LP; 4.00 and 3.50 USD as the fleet runs them). These rows charge each job's
    share of the setup and minimum instance time its pool pays at least once. None without
    setup or minimum instance time. Lazy, like ``walltime``. Returns each cloud ``h``
    column's instance-hours per GPU-hour in them (``count`` rows take a gang's out)."""
    if setup_hours(w) <= 0 and not (w.cloud and w.cloud.min_instance_minutes > 0):
        return {}
    cloud = hc.cloud
    count = int(cloud.sum())
    keys = hc.cloud_keys
    rows = np.arange(count, dtype=np.int64)
    per_gpu_hour = launch_hours_per_gpu_hour(w, hc)
    b.rows("launch", keys, np.concatenate([rows, rows]),
           np.concatenate([hc.col[cloud], hc.ucol[cloud]]),
           np.concatenate([per_gpu_hour, -np.ones(count)]), upper=0.0, lazy=True)
    return dict(zip(hc.col[cloud].tolist(), per_gpu_hour.tolist(), strict=True))


def _gang_setup_rows(b: _Builder, w: Workload, hc: _HColumns,
                     runs: np.ndarray) -> dict[tuple[int, int, int], int]:
    """5d. A multi-node gang that runs on a cloud pool at all in a run of periods starts
    its ``N`` instances there, each paying the setup ``s`` and at least the minimum instance
    time ``m``, however little work it does: ``started[j,p,r]`` in {0, 1} (integer),
    ``gang_start[j,p,t]: h <= H started`` (``H`` the job's gangs' GPU-hours in the period)
    and, per pool and run over all its multi-node gangs (each on instances of its own),
    ``gang_setup[p,r]: sum_j (sum_(t in r) h_j / gpus_j + N_j s started_j) - sum_(t in r)
    u <= 0`` (``h / gpus`` a gang's instance-hours of work; one-node jobs' hours only add to
    ``u``), ``gang_least[p,r]: sum_j N_j m started_j - sum_(t in r) u <= 0``. One row per
    gang, each met by the same ``u``, let a 2-node job's sliver ride on the instance-hours
    a 3-node job's row asked for (``tests/plan/test_baselines.py``).
    The ``launch`` rows charge a share ``e h / W`` of it, exact where a job runs whole on
    one pool and a sliver where it spills over: a 2-node job with a few minutes on a second
    pool was planned at that sliver and paid two whole setups there. Whole-number charges
    make the model a MILP, but only for multi-node jobs, and only with setup or a minimum
    instance time. Returns the ``started`` columns."""
    multi = np.array([job.nodes > 1 for job in w.jobs])[hc.job] & hc.cloud
    return _started_rows(b, w, hc, runs, multi, "gang", per_pool=True)


def _whole_setup_rows(b: _Builder, w: Workload, hc: _HColumns, runs: np.ndarray,
                      setups: frozenset[tuple[int, int, int]],
                      gangs: Mapping[tuple[int, int, int], int]
                      ) -> dict[tuple[int, int, int], int]:
    """5e. whole_start[j,p,t], whole_setup[j,p,r], whole_least[j,p,r]: the rows of 5d for
    a one-node job (``N = 1``, ``h / (gpus c)`` its instance-hours of work), learned for
    the (job, cloud pool, run's first period) of ``setups``: where the job spills over to
    the pool from another one in the run, its ``launch`` rows charge a share of the setup
    its instance pays whole (``planner.setup_cuts``). The multi-node gangs on the pool in
    the run (``gangs``: their ``started`` columns) run on instances of their own, so their
    instance-hours (work ``h / gpus``, ``N`` setups, ``N`` minimum times) are not the
    job's: a job of 0.12 GPU-hours once rode free on the share of a gang's setup the
    ``launch`` rows left out of its ``u``. Returns the new ``started`` columns."""
    if not setups:
        return {}
    first = first_periods(runs)
    at = hc.cloud & np.isin(hc.job, sorted({j for j, _p, _r in setups}))
    at[at] = [(j, p, int(first[t])) in setups for j, p, t in zip(
        hc.job[at].tolist(), hc.pool[at].tolist(), hc.period[at].tolist(), strict=True)]
    setup = setup_hours(w)
    least = w.cloud.min_instance_minutes / 60 if w.cloud else 0.0
    beside: dict[tuple[int, int], tuple[list[tuple[int, float]], list[tuple[int, float]]]] = {}
    for (j, p, r), col in gangs.items():
        own = beside.setdefault((p, r), ([], []))
        own[0].append((col, w.jobs[j].nodes * setup))
        own[1].append((col, w.jobs[j].nodes * least))
    multi = np.array([job.nodes > 1 for job in w.jobs])[hc.job] & hc.cloud
    for p, t, col, wall in zip(hc.pool[multi].tolist(), hc.period[multi].tolist(),
                               hc.col[multi].tolist(), hc.wall[multi].tolist(), strict=True):
        if (p, int(first[t])) in beside:
            beside[(p, int(first[t]))][0].append((col, wall))
    return _started_rows(b, w, hc, runs, at, "whole", beside)


def _started_rows(b: _Builder, w: Workload, hc: _HColumns, runs: np.ndarray,
                  chosen: np.ndarray, family: str,
                  beside: Mapping[tuple[int, int], tuple[list[tuple[int, float]],
                                                         list[tuple[int, float]]]] | None = None,
                  *, per_pool: bool = False) -> dict[tuple[int, int, int], int]:
    """The ``started`` columns and ``{family}_start``, ``{family}_setup`` and
    ``{family}_least`` rows (5d) of the cloud ``h`` columns ``chosen`` (a mask); ``beside``
    (pool, run's first period) -> the terms of other instance time on the pool that the
    setup and least rows add (those of :func:`_whole_setup_rows`). ``per_pool``: one
    setup and one least row per (pool, run) over all the chosen jobs there, each job's
    work, setups and minimum times added up (multi-node gangs: each on instances of its
    own); else one per (job, pool, run)."""
    setup = setup_hours(w)
    least = w.cloud.min_instance_minutes / 60 if w.cloud else 0.0
    if max(setup, least) <= 0 or not chosen.any():
        return {}
    hours, first = period_hours(w), first_periods(runs)
    started: dict[tuple[int, int, int], int] = {}
    begun: dict[tuple, list[tuple[int, int]]] = {}  # row key -> (started column, nodes)
    work: dict[tuple, list[tuple[int, float]]] = {}  # row key -> its h columns' terms
    paid: dict[tuple, dict[int, float]] = {}  # row key -> its u columns, each once
    for j, p, t, col, ucol, wall in zip(hc.job[chosen].tolist(), hc.pool[chosen].tolist(),
                                        hc.period[chosen].tolist(), hc.col[chosen].tolist(),
                                        hc.ucol[chosen].tolist(), hc.wall[chosen].tolist(),
                                        strict=True):
        job, key = w.jobs[j], (j, p, int(first[t]))
        row = key[1:] if per_pool else key
        if key not in started:
            started[key] = b.col(0.0, upper=1.0, integer=True)
            begun.setdefault(row, []).append((started[key], job.nodes))
        b.row(f"{family}_start", (j, p, t), [(col, 1.0), (started[key], -float(
            job.parallel * job.nodes * job.gpus * hours[t]))], upper=0.0)
        work.setdefault(row, []).append((col, wall))
        paid.setdefault(row, {})[ucol] = -1.0
    for row, starts in begun.items():
        other_setup, other_least = (beside or {}).get(row[-2:], ([], []))
        if setup > 0:
            b.row(f"{family}_setup", row, [*((c, n * setup) for c, n in starts), *work[row],
                                           *paid[row].items(), *other_setup], upper=0.0)
        if least > 0:
            b.row(f"{family}_least", row, [*((c, n * least) for c, n in starts),
                                           *paid[row].items(), *other_least], upper=0.0)
    return started


def _beside_rows(b: _Builder, w: Workload, pools: Pools, hc: _HColumns,
                 factor: np.ndarray) -> None:
    """5c. beside[i,k,p,t]: a sweep ``i`` whose ``c_i >= 2`` gangs share one instance of
    ``p`` runs only ``m = floor((G - gpus_k) / gpus_i) < c_i`` of them while a gang of job
    ``k`` is on it. On each instance ``c_i T >= g_i + (c_i - m) w_k`` (``T`` its working
    hours, ``g_i`` i's gang-hours on it, ``w_k`` the hours some gang of k runs there), so
    over the pool: ``h_i / (gpus_i c_i) + (1 - m / c_i) h_k / (gpus_k c_k) <= f u``. Without
    it the GPU-hour packing prices ``k`` at its GPUs' share of instances ``i`` fills whole
    (two 4-GPU trials of 0.4375 h and a 1-GPU job of 0.5 h on one 8-GPU instance: 0.5 h to
    the packing, 0.6875 h laid out: ``(0.875 + 0.5) / 2``). The one-node jobs ``K`` wider
    than half the instance that leave neither ``i`` nor ``k`` room (``gpus_K > G -
    min(gpus_i, gpus_k)``) run apart from both and from each other, so their hours
    ``sum_K h_K / gpus_K`` join the left side: without them a 4-GPU job's 0.25 h, a 1-GPU
    job's 1/3 h and a sweep of two 2-GPU trials of 0.5 GPU-h each on one 4-GPU instance were
    bought 0.5833 h, laid out 0.6667 (``tests/plan/test_baselines.py``).

    beside_wide[i,p,t]: the jobs ``K`` wider than half the instance that leave ``i`` no
    GPUs (``m = 0``) never run beside each other either, so their hours add up:
    ``h_i / (gpus_i c_i) + sum_K h_k / gpus_k <= f u`` (in place of their ``beside`` rows).
    One-node jobs only; the ``layout`` rows keep jobs apart that never share an instance
    (``c_i = 1``). Lazy."""
    gpus = np.array([job.gpus for job in w.jobs], dtype=np.int64)
    one_node = np.array([job.nodes == 1 for job in w.jobs], dtype=bool)
    room = np.array([pool.gpus_per_node for pool in pools.all], dtype=np.int64)
    at = np.flatnonzero(hc.cloud & one_node[hc.job])
    at = at[np.lexsort((hc.period[at], hc.pool[at]))]  # by (pool, period), stable
    # every (i, k) of one (pool, period), i then k in column order
    key = hc.pool[at] * (int(hc.period.max(initial=0)) + 1) + hc.period[at]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    size = np.diff(np.r_[starts, len(at)])
    group_size = np.repeat(size, size)
    i = np.repeat(np.arange(len(at)), group_size)
    k = np.repeat(np.repeat(starts, size), group_size) + (
        np.arange(len(i)) - np.repeat(np.cumsum(group_size) - group_size, group_size))
    ai, ak = at[i], at[k]
    job_i, job_k, p, t = hc.job[ai], hc.job[ak], hc.pool[ai], hc.period[ai]
    gpus_i, gpus_k = gpus[job_i], gpus[job_k]
    c_i = np.round(1.0 / (hc.wall[ai] * gpus_i)).astype(np.int64)
    m = np.minimum(c_i, (room[p] - gpus_k) // gpus_i)
    apart = (c_i >= 2) & (job_k != job_i) & (m < c_i)
    wide = apart & (m == 0) & (2 * gpus_k > room[p])
    beside = np.flatnonzero(apart & ~wide)
    if len(beside):
        s = beside
        keys = list(zip(job_i[s].tolist(), job_k[s].tolist(), p[s].tolist(), t[s].tolist(),
                        strict=True))
        cols = np.stack([hc.col[ai[s]], hc.col[ak[s]], hc.ucol[ai[s]]], axis=1).ravel()
        vals = np.stack([hc.wall[ai[s]], (1 - m[s] / c_i[s]) * hc.wall[ak[s]],
                         -factor[t[s]]], axis=1).ravel()
        offsets = np.repeat(np.arange(len(s), dtype=np.int64), 3)
        # the wide jobs that leave neither i nor k room run apart from both (and from each
        # other), in instance time of their own
        rows_k, wide_cols = _wide_beside(hc, at, key, i[s], job_i[s], job_k[s], p[s], gpus,
                                         room)
        if len(rows_k):
            offsets = np.concatenate([offsets, rows_k])
            cols = np.concatenate([cols, hc.col[wide_cols]])
            vals = np.concatenate([vals, hc.wall[wide_cols]])
        b.rows("beside", keys, offsets, cols, vals, upper=0.0, lazy=True)
    if wide.any():
        rows_i, count = np.unique(i[wide], return_counts=True)  # i in order
        a = at[rows_i]
        keys = list(zip(hc.job[a].tolist(), hc.pool[a].tolist(), hc.period[a].tolist(),
                        strict=True))
        row_of = np.repeat(np.arange(len(rows_i), dtype=np.int64), count)
        offsets = np.concatenate([np.arange(len(rows_i)), row_of, np.arange(len(rows_i))])
        place = np.concatenate([np.zeros(len(rows_i)), np.ones(len(row_of)),
                                np.full(len(rows_i), 2.0)])
        cols = np.concatenate([hc.col[a], hc.col[ak[wide]], hc.ucol[a]])
        vals = np.concatenate([hc.wall[a], hc.wall[ak[wide]], -factor[hc.period[a]]])
        order = np.lexsort((place, offsets))  # stable: the wide ks keep their order
        b.rows("beside_wide", keys, offsets[order], cols[order], vals[order], upper=0.0,
               lazy=True)


def _wide_beside(hc: _HColumns, at: np.ndarray, key: np.ndarray, where: np.ndarray,
                 job_i: np.ndarray, job_k: np.ndarray, pool: np.ndarray, gpus: np.ndarray,
                 room: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``beside`` rows' entries of the wide one-node jobs. Row ``r`` keeps jobs
    ``job_i[r]`` and ``job_k[r]`` apart on ``pool[r]``, in the pool and period of the
    column ``at[where[r]]`` (``at``: one-node cloud columns sorted by their (pool, period)
    ``key``). Its entries, rows in order and each row's in ``at``'s order: the columns of
    ``at`` in its pool and period of a job wider than half the instance, neither of the two,
    that leaves neither of them room (``gpus > G - min(gpus_i, gpus_k)``). Returns (row,
    column) per entry."""
    wide = np.flatnonzero(2 * gpus[hc.job[at]] > room[hc.pool[at]])  # into ``at``, in order
    lo = np.searchsorted(key[wide], key[where], side="left")
    count = np.searchsorted(key[wide], key[where], side="right") - lo
    row = np.repeat(np.arange(len(where), dtype=np.int64), count)
    a = at[wide[np.repeat(lo, count) + np.arange(int(count.sum()), dtype=np.int64)
                - np.repeat(np.cumsum(count) - count, count)]]
    ji, jk, ja = job_i[row], job_k[row], hc.job[a]
    keep = (ja != ji) & (ja != jk) & (
        gpus[ja] > room[pool[row]] - np.minimum(gpus[ji], gpus[jk]))
    return row[keep], a[keep]


def _gang_instance_hours(w: Workload, hc: _HColumns, keys: list[tuple[int, int, int]]
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entries that take the instance-hours of multi-node gangs out of the ``u`` a one-node
    job's walltime row may count on: their nodes are their own, ``h / gpus`` of work, and
    their share of the setup and minimum instance time each of the ``N`` nodes pays
    (``launch_hours_per_gpu_hour``). Without it, a gang of three 1-GPU nodes doing 1 GPU-h
    with 30 minutes at least (1.5 instance-hours paid, 1 of work), or with 10 minutes of
    setup each, left the rest of its paid time to two one-node jobs: the fleet ran them on
    a fourth instance beside the gang's three, over a cap of 3. They are counted at ``f`` of
    their value (``_walltime_rows``): ``f u`` counts setup per instance-hour of the one-node
    jobs' instances, and the gang's hold its own setups (once counted in both, a 3-node
    gang of 0.8 h per node, setup included, was bought 2.4 / f = 2.4168 instance-hours,
    and the fleet ran the spare minute as an empty fourth instance)."""
    empty = np.zeros(0, dtype=np.int64)
    multi = np.array([job.nodes > 1 for job in w.jobs])[hc.job] & hc.cloud
    if not multi.any():
        return empty, empty, np.zeros(0)
    hours = launch_hours_per_gpu_hour(w, hc)[multi[hc.cloud]]
    gangs: dict[tuple[int, int], list[tuple[int, float]]] = {}
    for j, p, t, col, value in zip(hc.job[multi].tolist(), hc.pool[multi].tolist(),
                                   hc.period[multi].tolist(), hc.col[multi].tolist(),
                                   hours.tolist(), strict=True):
        gangs.setdefault((p, t), []).append((col, max(1.0 / w.jobs[j].gpus, value)))
    entries = [(r, col, val) for r, (j, p, t) in enumerate(keys)
               if w.jobs[j].nodes == 1 for col, val in gangs.get((p, t), [])]
    if not entries:
        return empty, empty, np.zeros(0)
    r, c, v = zip(*entries, strict=True)
    return np.array(r, dtype=np.int64), np.array(c, dtype=np.int64), np.array(v)


def _quota_hours_rows(b: _Builder, w: Workload, pools: Pools, u: dict[tuple[int, int], int],
                      limits: tuple[ConcurrencyLimit, ...], gangs: frozenset[int]
                      ) -> dict[tuple[int, int], list[tuple[int, float]]]:
    """6. quota_hours[q,t] / instances_hours[q,t]: each limit's relaxation to hours
    (:func:`_concurrency_rows`). Returns the limits' terms (:func:`limit_terms`)."""
    hours = period_hours(w)
    rows = limit_terms(limits, pools, u, gangs)
    for (g, t), terms in rows.items():
        family = "quota_hours" if limits[g].kind == "quota" else "instances_hours"
        b.row(family, (g, t), [(u[(p, t)], weight) for p, weight in terms],
              upper=limits[g].bound * hours[t])
    return rows


def _concurrency_rows(b: _Builder, w: Workload, pools: Pools, h: dict[tuple[int, int, int], int],
                      u: dict[tuple[int, int], int], counted: frozenset[tuple[int, int]],
                      limits: tuple[ConcurrencyLimit, ...], gangs: frozenset[int],
                      rows: dict[tuple[int, int], list[tuple[int, float]]],
                      runs: np.ndarray, factor: np.ndarray, charge: Mapping[int, float]
                      ) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int, int], int]]:
    """6. quota[q,r] / instances[q,r]: what runs at once under a concurrency limit.

    AWS's quotas bound the vCPUs of instances running at the same instant, so instance-hours
    cannot stand for them: where a limit binds, a pool under it gets an integer count
    ``running[p,r]`` of instances at once through run ``r`` of periods (the fleet holds a
    run's instances at one rate, ``fleet.py``), with ``count[p,t]: u - P_h * running <= 0``
    in each of its periods, and the limit's row is ``sum weight * running <= bound``. A
    multi-node job's gangs count apart: ``lanes[j,p,r]`` of its gangs at once (integer, at
    most ``parallel``), each holding its gang-hours after setup (``gang_lanes[j,p,t]: h /
    (gpus N) <= P_h f lanes``) and weighing ``N`` instances; ``running`` counts the rest (``u``
    less the gangs' hours, ``charge``: :func:`gang_charge`). A limit over one pool
    without gangs is the bound ``floor(bound / weight)`` on that pool's ``u`` already
    (``Pools.instance_bound``). Every other limit
    with hours in a period gets its relaxation ``quota_hours[q,t]: sum weight * u <= bound
    * P_h`` (implied by the counts); the counted rows only for the (limit, run) pairs in
    ``counted`` (keyed by the run's first period) - the planner adds those a solution
    exceeds (:func:`concurrency_excess`) and solves again, so integer counts exist only
    where a limit binds. Counts per run keep merging a run into one period exact. The fleet
    schedule runs at most :func:`instances_at_once` instances of a pool at any instant of
    a run. ``rows``: the limits' terms (:func:`limit_terms`), whose relaxations
    :func:`_quota_hours_rows` added. Returns the ``running`` and ``lanes`` columns."""
    first = first_periods(runs)
    multi: dict[tuple[int, int], list[tuple[int, int]]] = {}  # (pool, period) -> (job, h col)
    for (j, p, t), col in h.items():
        if p in gangs and w.jobs[j].nodes > 1:
            multi.setdefault((p, t), []).append((j, col))
    periods_of = run_periods(runs)
    running: dict[tuple[int, int], int] = {}
    lanes: dict[tuple[int, int, int], int] = {}
    for g, r in sorted(key for key in counted & rows.keys() if first[key[1]] == key[1]):
        for p, _weight in rows[(g, r)]:
            if (p, r) not in running:
                _run_counts(b, w, pools, p, r, periods_of[r], u, multi, factor, charge,
                            running, lanes)
        family = "quota" if limits[g].kind == "quota" else "instances"
        b.row(family, (g, r), [(running[(p, r)], weight) for p, weight in rows[(g, r)]]
              + [(col, weight * w.jobs[j].nodes) for p, weight in rows[(g, r)]
                 for (j, q, f), col in lanes.items() if (q, f) == (p, r)],
              upper=limits[g].bound)
    return running, lanes


def _run_counts(b: _Builder, w: Workload, pools: Pools, p: int, r: int, periods: list[int],
                u: dict[tuple[int, int], int], multi: dict[tuple[int, int], list[tuple[int, int]]],
                factor: np.ndarray, charge: Mapping[int, float],
                running: dict[tuple[int, int], int],
                lanes: dict[tuple[int, int, int], int]) -> None:
    """``running[p,r]`` and each multi-node job's ``lanes[j,p,r]`` with their ``count`` and
    ``gang_lanes`` rows in every period of run ``r`` (``_concurrency_rows``)."""
    hours = period_hours(w)
    pool = pools.all[p]
    assert isinstance(pool, CloudPool)
    bound = pools.instance_bound(pool)
    running[(p, r)] = b.col(0.0, upper=INF if bound is None else float(bound), integer=True)
    for t in periods:
        gang_terms = []
        for j, col in multi.get((p, t), []):
            job = w.jobs[j]
            if (j, p, r) not in lanes:
                lanes[(j, p, r)] = b.col(0.0, upper=float(job.parallel), integer=True)
            b.row("gang_lanes", (j, p, t), [(col, 1.0 / (job.gpus * job.nodes)),
                                            (lanes[(j, p, r)], -hours[t] * factor[t])],
                  upper=0.0)
            # the gang's instance-hours, its setup's share included: only the rest of u
            # is ``running``'s
            gang_terms.append((col, -charge[col]))
        b.row("count", (p, t), [(u[(p, t)], 1.0), *gang_terms,
                                (running[(p, r)], -float(hours[t]))], upper=0.0)


def limit_terms(limits: tuple[ConcurrencyLimit, ...], pools: Pools,
                u: dict[tuple[int, int], int], gangs: frozenset[int]
                ) -> dict[tuple[int, int], list[tuple[int, float]]]:
    """(limit, period) -> its (pool, weight) terms, where a limit spans two or more pools
    with hours in the period, or a pool a multi-node job may use (``gangs``)."""
    index = {pool.id: i for i, pool in enumerate(pools.all)}
    out: dict[tuple[int, int], list[tuple[int, float]]] = {}
    for g, limit in enumerate(limits):
        members = {index[pid]: weight for pid, weight in limit.members if pid in index}
        by_t: dict[int, list[tuple[int, float]]] = {}
        for (p, t) in u:
            if p in members:
                by_t.setdefault(t, []).append((p, members[p]))
        out.update({(g, t): terms for t, terms in sorted(by_t.items())
                    if len(terms) > 1 or terms[0][0] in gangs})
    return out


RUNNING_TOL = 1e-6
"""Instance-hours per period hour below which a fraction is solver noise, not an instance."""


def running_at_once(instance_hours: float, period_hours: float) -> int:
    """Instances the fleet schedule runs at once for ``instance_hours`` in a period:
    ``ceil(u / P)`` (solver noise ignored)."""
    if instance_hours <= RUNNING_TOL:
        return 0
    return math.ceil(instance_hours / period_hours - RUNNING_TOL)


def gang_lanes(gang_hours: float, period_hours: float, setup: float, through: int = 0) -> int:
    """Gangs of a multi-node job at once for ``gang_hours`` of work in a period: the least
    ``n`` whose ``n * period_hours`` hold the work and a ``setup`` for each gang beyond the
    ``through`` that carry on from the period before (at least 1; solver noise ignored).
    Each gang pays its own setup, so ``ceil((d + s) / L)`` was one short where the work
    fills the gangs: 23.34 gang-hours in 12 h with 25 minutes of setup need 3 gangs, not 2
    (``2 x 11.58 = 23.17``)."""
    lanes = max(1, running_at_once(gang_hours, period_hours))
    while gang_hours + setup * max(0, lanes - through) > lanes * period_hours + LANE_TOL \
            and setup < period_hours:
        lanes += 1
    return lanes


LANE_TOL = 2 / 3600
"""Hours (2 s) by which a gang's work and setup may exceed its period and still be one gang:
a solver's rounding, not work (the layout's ``SHORT_TOL``)."""


def instances_at_once(w: Workload, lp: LinearProgram, x: np.ndarray
                      ) -> dict[tuple[int, int], int]:
    """(cloud pool, run's first period) -> the most instances the fleet schedule of ``x``
    runs at once in the run (``fleet.py`` lays a run out as one): each multi-node job's
    gangs at once (:func:`gang_lanes` of its gang-hours ``d = sum h / (gpus N)`` over the
    run's ``L`` hours, each gang paying its setup) times its ``N`` nodes, and the rest of
    the pool's hours as whole instances (``ceil((U - sum h / gpus) / L)``)."""
    first = first_periods(lp.runs)
    length = run_hours(w, lp.runs)
    setup = setup_hours(w)
    rest: dict[tuple[int, int], float] = {}
    for (p, t), col in lp.u.items():
        key = (p, int(first[t]))
        rest[key] = rest.get(key, 0.0) + float(x[col])
    gang: dict[tuple[int, int, int], float] = {}
    for (j, p, t), col in lp.h.items():
        job = w.jobs[j]
        if p in lp.gang_pools and job.nodes > 1 and x[col] > RUNNING_TOL:
            key = (p, int(first[t]))
            gang[(j, *key)] = gang.get((j, *key), 0.0) + float(x[col]) / (job.gpus * job.nodes)
            rest[key] -= float(x[col]) / job.gpus
    out = {(p, f): running_at_once(max(0.0, r), float(length[f])) for (p, f), r in rest.items()}
    for (j, p, f), d in gang.items():
        out[(p, f)] += w.jobs[j].nodes * gang_lanes(d, float(length[f]), setup)
    return out


def concurrency_excess(w: Workload, pools: Pools, lp: LinearProgram,
                       x: np.ndarray) -> set[tuple[int, int]]:
    """(limit, run's first period) pairs whose pools would run more at once than the limit
    allows in the fleet schedule of ``x`` (:func:`instances_at_once`)."""
    at_once = instances_at_once(w, lp, x)
    first = first_periods(lp.runs)
    out = set()
    for (g, t), terms in limit_terms(lp.limits, pools, lp.u, lp.gang_pools).items():
        if first[t] != t:
            continue
        used = sum(weight * at_once[(p, t)] for p, weight in terms)
        if used > lp.limits[g].bound + 1e-9:
            out.add((g, t))
    return out


def _budget_row(b: _Builder, w: Workload) -> None:
    """7. budget: the variable cost within ``budget_usd``."""
    if w.budget_usd is None:
        return
    usd = b.joined(b.col_chunks, "variable_cost", float)
    cols = np.flatnonzero(usd)
    b.rows("budget", [()], np.zeros(cols.size, dtype=np.int64), cols, usd[cols],
           upper=w.budget_usd)


def apart_from(w: Workload, pools: Pools, k: int, p: int) -> frozenset[int]:
    """Jobs that never run on one instance of cloud pool ``p`` at once with job ``k`` or
    with each other, ``k`` among them (``k``'s gangs never share an instance: one per node):
    ``k``, the multi-node jobs (their nodes are their own) and the one-node jobs wider than
    half the instance and than what ``k`` leaves of it."""
    room = pools.all[p].gpus_per_node
    wide = room - w.jobs[k].gpus
    return frozenset({k} | {i for i, job in enumerate(w.jobs) if i != k and (
        job.nodes > 1 or (2 * job.gpus > room and job.gpus > wide))})


def _layout_rows(b: _Builder, w: Workload, pools: Pools, hc: _HColumns, factor: np.ndarray,
                 layout: frozenset[tuple[int, int]]) -> None:
    """8. layout[k,p,t]: the jobs of ``apart_from(k, p)`` run one at a time on each
    instance, so their gang-hours (``h / gpus``; a multi-node gang's instance-hours) take
    instance time of their own: ``sum h / gpus <= f u``. Learned: the planner adds a pair
    ``(k, p)`` where the layout of a solution finds job ``k`` short on pool ``p``."""
    cloud = np.flatnonzero(hc.cloud)
    by_pool: dict[int, np.ndarray] = {}
    for k, p in sorted(layout):
        if p not in by_pool:
            by_pool[p] = cloud[hc.pool[cloud] == p]
        mine = by_pool[p]
        members = np.array(sorted(apart_from(w, pools, k, p)), dtype=np.int64)
        periods = np.unique(hc.period[mine][hc.job[mine] == k])  # where k may run on p
        entries = mine[np.isin(hc.job[mine], members) & np.isin(hc.period[mine], periods)]
        keys = [(k, p, int(t)) for t in periods.tolist()]
        offset = np.searchsorted(periods, hc.period[entries])
        gpus = np.array([float(job.gpus) for job in w.jobs])[hc.job[entries]]
        ucols = hc.ucol[mine][np.isin(hc.period[mine], periods)][
            np.unique(hc.period[mine][np.isin(hc.period[mine], periods)], return_index=True)[1]]
        b.rows("layout", keys,
               np.concatenate([offset, np.arange(len(keys), dtype=np.int64)]),
               np.concatenate([hc.col[entries], ucols]),
               np.concatenate([1.0 / gpus, -factor[periods]]), upper=0.0)


def _owned_layout_rows(b: _Builder, w: Workload, pools: Pools, hc: _HColumns,
                       n: dict[int, int]) -> None:
    """8. layout[k,s,t] on an owned pool: the jobs of ``apart_from(k, s)`` run one at a time
    on each server, so their gang-hours (``h / gpus``) take server time of their own:
    ``sum h / gpus <= servers * P_h * availability`` (one candidate's per ``n[c]``). The
    ``capacity`` row alone packs GPU-hours: a 2-GPU job and a 1-GPU job of a day each fill
    a 2-GPU server's 48 GPU-hours, but never run on it at once (36 h of it, not 24).
    Always there (an owned pool has no fleet layout to learn them from), one row per
    period and distinct set of two or more jobs with hours there."""
    owned = np.flatnonzero(~hc.cloud)
    hours = period_hours(w)
    gpus = np.array([float(job.gpus) for job in w.jobs])
    keys: list[tuple] = []
    offsets: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    upper: list[float] = []
    for p in np.unique(hc.pool[owned]).tolist():
        pool = pools.all[p]
        assert isinstance(pool, OwnedPool)
        mine = owned[hc.pool[owned] == p]
        on = frozenset(hc.job[mine].tolist())
        sets: dict[frozenset[int], int] = {}
        for k in sorted(on):
            members = apart_from(w, pools, k, p) & on
            if len(members) > 1:
                sets.setdefault(members, k)
        for members, k in sorted(sets.items(), key=lambda item: item[1]):
            entries = mine[np.isin(hc.job[mine], sorted(members))]
            periods, counts = np.unique(hc.period[entries], return_counts=True)
            for t in periods[counts > 1].tolist():
                row, at = len(keys), entries[hc.period[entries] == t]
                keys.append((k, p, t))
                server_hours = pool.capacity_gpu_hours(hours[t]) / pool.gpus_per_node
                offsets += [row] * len(at)
                cols += hc.col[at].tolist()
                vals += (1.0 / gpus[hc.job[at]]).tolist()
                if p in n:  # a candidate: the hours of the servers bought
                    offsets.append(row)
                    cols.append(n[p])
                    vals.append(-server_hours)
                upper.append(0.0 if p in n else server_hours)
    if keys:
        b.rows("layout", keys, np.array(offsets, dtype=np.int64),
               np.array(cols, dtype=np.int64), np.array(vals), upper=np.array(upper))


def reserve_capacity(w: Workload, pools: Pools, pairs: list[Eligible],
                     factor: np.ndarray) -> dict[int, np.ndarray]:
    """Job -> per period, the most work (reference GPU-hours) it could do there on capacity
    that does not vanish, for each job with a deadline that may use spot: its best single
    pool of on-demand (all its gangs, as many as the pool's bound of instances at once
    holds, after setup ``f``) or owned servers (its gangs' GPUs, at most the servers'
    available GPUs). Owned capacity is counted whole, as if no other job used it (the
    reserve is a promise per job, as ``protection.py`` checks it). None at all with
    ``cloud.deadline_reserve: false`` (or no cloud section): nothing to reserve for."""
    if w.cloud is None or not w.cloud.deadline_reserve:
        return {}
    hours = period_hours(w)
    best: dict[int, np.ndarray] = {}
    spot_jobs = {e.job for e in pairs if pools.all[e.pool].market == "spot"}
    for e in pairs:
        job, pool = w.jobs[e.job], pools.all[e.pool]
        if e.job not in spot_jobs or job.deadline is None or pool.market == "spot" or (
                isinstance(pool, OwnedPool) and pool.buy_max is not None):
            continue
        if isinstance(pool, CloudPool):
            bound = pools.instance_bound(pool)
            gangs = job.parallel if bound is None else min(
                job.parallel, bound * e.gangs_per_node // job.nodes)
            per_hour = gangs * job.gang_gpus * e.work_per_gpu_hour * factor
        else:
            gpus = min(job.most_gpus, pool.capacity_gpu_hours(1) / e.blocking)
            per_hour = np.full(len(hours), gpus * e.work_per_gpu_hour)
        best[e.job] = np.maximum(best.get(e.job, 0.0), per_hour * hours)
    return best


def _reserve_rows(b: _Builder, w: Workload, pools: Pools, pairs: list[Eligible],
                  hc: _HColumns, z: dict[int, int], capacity: dict[int, np.ndarray]
                  ) -> dict[int, int]:
    """9. reserve[j,k]: at each boundary ``k`` inside the window of a job with a deadline
    that may use spot, the work done before ``k`` (any pool; spot work done is kept, from
    its checkpoints) leaves no more than the job could still do from ``k`` to the deadline
    on capacity that does not vanish (:func:`reserve_capacity`): ``sum_{t<k} s e h +
    unreserved_j >= gpu_hours - C_j(k)``. Only where that bound is positive. ``unreserved`` is
    what the job cannot keep where jobs share that capacity (owned servers, a quota), at a
    tenth of the shortfall penalty: the reserve is kept wherever it can be, never at the
    cost of work, and a plan that cannot keep it is not called infeasible
    (``protection.py`` says the job is not protected). A job whose whole work does not fit
    that capacity from its start gets no rows, for the same reason. ``capacity``:
    :func:`reserve_capacity`'s, made once per :class:`ModelBase` (empty, so no rows, with
    ``cloud.deadline_reserve: false``). Returns the ``r`` columns."""
    order = np.argsort(hc.job, kind="stable")
    bounds = np.searchsorted(hc.job[order], np.arange(len(w.jobs) + 1))
    penalty = shortfall_penalty(w, pools, pairs) / 10
    keys: list[tuple] = []
    offsets, cols, vals, lower = [], [], [], []
    unreserved: dict[int, int] = {}
    for j, per_period in sorted(capacity.items()):
        job, window = w.jobs[j], w.job_periods(w.jobs[j])
        need = job.gpu_hours - np.cumsum(per_period[window.start:window.stop][::-1])[::-1]
        if need[0] > 1e-9 or not (need[1:] > 1e-9).any():
            continue
        mine = order[bounds[j]:bounds[j + 1]]
        unreserved[j] = b.col(0.0, extra=penalty)
        extra = [unreserved[j]] + ([z[j]] if j in z else [])
        for i, k in enumerate(window):
            if i == 0 or need[i] <= 1e-9:
                continue
            before = mine[hc.period[mine] < k]
            keys.append((j, k))
            cols.append(np.concatenate([hc.col[before], extra]))
            vals.append(np.concatenate([hc.rate[before], np.ones(len(extra))]))
            offsets.append(np.full(len(cols[-1]), len(keys) - 1, dtype=np.int64))
            lower.append(need[i])
    if keys:
        b.rows("reserve", keys, np.concatenate(offsets), np.concatenate(cols).astype(np.int64),
               np.concatenate(vals), lower=np.array(lower))
    return unreserved
