"""The cost model as a linear program held in arrays (``workload.md``, "The model").

Sets
  J jobs; P pools (owned ``S`` and cloud ``C``); T periods, period t of ``P_h(t)`` hours
  (equal or mixed lengths: ``Horizon.period_lengths``).
Variables
  h[j,p,t] >= 0  GPU-hours job j runs on pool p in period t (only eligible pairs, only the
                 periods inside the job's window)
  u[p,t]   >= 0  instance-hours of cloud pool p in period t (<= max_instances * P_h)
  n[c]     in {0..max_count}  servers of candidate c bought (integer; only with candidates)
  running[p,t] in {0..}  instances of pool p at once in period t (integer; only pools under
                 a concurrency limit shared with another pool)
  z[j]     >= 0  shortfall of job j in reference GPU-hours (elastic re-solve only)
Objective (the variable cost, USD)
  sum_{p in C,t} price(p) u[p,t] + sum_{s in S,j,t} energy(s) h[j,s,t]
  + sum_c fixed(c) n[c]   (a candidate's fixed cost over the horizon)
  (+ a tie-break of at most 1e-5 USD per GPU-hour preferring earlier periods: 1e-5 times
   the period's midpoint as a share of the horizon,
   + penalty * z in the elastic re-solve)
Constraints, one builder each, named so an infeasibility report reads plainly:
  1. work[j]          sum s e h + z >= gpu_hours
  2. gang[j,t]        sum_p h <= parallel_j * nodes_j * gpus_j * P_h
  3. capacity[s,t]    sum_j b h <= count * gpus * P_h * availability   (x n[c] for a candidate)
  4. packing[p,t]     sum_j b h - G_p u <= 0
  5. walltime[j,p,t]  h / (gpus_j * c_jp) (+ sum of multi-node gangs' h / gpus on p, t for
                     a one-node job) - u + setup * starts <= 0   (c: the job's gangs one
                     node holds; an N-node gang holds N instances of its own: h / gpus
                     instance-hours)
  6. quota_hours[q,t] sum vcpus u <= vcpus_q * P_h   (a relaxation, where a limit spans 2+
                                                        pools; where it binds, at once:)
     quota[q,t]       sum vcpus running <= vcpus_q      count[p,t]: u <= P_h running
     instances[q,t]   sum running <= count             (running integer)
  7. budget           variable cost <= budget_usd

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

from costopt.plan.pools import CloudPool, Eligible, OwnedPool, Pools
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
    n_run: dict[tuple[int, int], int]  # (cloud pool, period) -> instances-at-once column
    starts: dict[tuple[int, int], int]  # (cloud pool, period) -> instance starts column
    row_family: list[str]  # row -> family ("work", "gang", "capacity", ...)
    row_key: list[tuple]  # row -> its index tuple within the family
    naming: Naming

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
        keys.update((col, ("starts", key)) for key, col in self.starts.items())
        keys.update((col, ("shortfall", (j,))) for j, col in self.z.items())
        return keys


NAME_PARTS: dict[str, str] = {
    "h": "jpt", "u": "pt", "n": "p", "running": "pt", "starts": "pt", "shortfall": "j",
    "started": "pt", "packing_setup": "pt", "walltime_setup": "jpt",
    "work": "j", "gang": "jt", "capacity": "pt", "packing": "pt", "walltime": "jpt",
    "quota": "qt", "instances": "qt", "quota_hours": "qt", "instances_hours": "qt",
    "count": "pt", "budget": "",
}
"""What each index of a column or row family stands for: job, pool, period, quota line."""


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
        usd_a = np.broadcast_to(np.asarray(usd, dtype=float), (count,))
        for key, values in (("cost", usd_a + np.asarray(extra, dtype=float)),
                            ("variable_cost", usd_a), ("col_upper", upper),
                            ("integer", integer), ("seed", seed)):
            dtype = bool if key in ("integer", "seed") else float
            self.col_chunks[key].append(np.broadcast_to(np.asarray(values, dtype=dtype),
                                                        (count,)))
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
            self.row_chunks[key].append(np.broadcast_to(np.asarray(values, dtype=dtype),
                                                        (count,)))
        offsets = np.asarray(offsets, dtype=np.int64)
        self.entry_chunks["a_row"].append(first + offsets)
        self.entry_chunks["a_col"].append(np.asarray(cols, dtype=np.int64))
        self.entry_chunks["a_val"].append(np.broadcast_to(np.asarray(vals, dtype=float),
                                                          offsets.shape))
        return first

    def row(self, family: str, key: tuple, terms: list[tuple[int, float]],
            lower: float = -INF, upper: float = INF) -> int:
        cols = [c for c, _v in terms]
        return self.rows(family, [key], np.zeros(len(terms), dtype=np.int64), cols,
                         [v for _c, v in terms], lower=lower, upper=upper)

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
    merges into one period, and what launch overhead is counted over (``_start_columns``)."""
    signature = period_signature(w, u_upper)
    new = np.ones(len(signature), dtype=bool)
    new[1:] = (signature[1:] != signature[:-1]).any(axis=1)
    return np.cumsum(new) - 1


def first_periods(runs: np.ndarray) -> np.ndarray:
    """Per period, the first period of its run (``runs`` numbers each period's run)."""
    new = np.ones(len(runs), dtype=bool)
    new[1:] = runs[1:] != runs[:-1]
    return np.flatnonzero(new)[runs]


def period_label(workload: Workload, t: int) -> str:
    """``2027-01-05`` for daily periods starting at midnight, else ``2027-01-05T06:00``."""
    start = workload.horizon.period_start(t)
    if workload.horizon.period_lengths[t] % 24 == 0 and start.hour == 0 and start.minute == 0:
        return start.strftime("%Y-%m-%d")
    return start.strftime("%Y-%m-%dT%H:%M")


def naming(workload: Workload, pools: Pools) -> Naming:
    """The names of a workload's jobs, pools, periods and quota lines."""
    return Naming(
        jobs=tuple(job.name for job in workload.jobs),
        pools=tuple(pool.id for pool in pools.all),
        periods=tuple(period_label(workload, t) for t in range(workload.horizon.periods)),
        quotas=tuple(lim.name.replace(" ", ",") for lim in pools.limits),
    )


def build_model(
    workload: Workload, pools: Pools, pairs: list[Eligible], *, elastic: bool = False,
    u_upper: Mapping[tuple[str, int], float] | None = None,
    counted: frozenset[tuple[int, int]] = frozenset(), blocks: np.ndarray | None = None,
) -> LinearProgram:
    """The LP of the cost model; with ``elastic`` every job may fall short at a penalty.
    ``u_upper`` caps ``u[p,t]`` further, in instance-hours per (pool id, period index): what
    a clairvoyant planner knows of spot capacity (``costopt simulate``'s hindsight).
    ``counted`` (limit, period) pairs get integer instance counts (``_concurrency_rows``).
    ``blocks`` numbers each period's run of periods that launch overhead is counted over
    (:func:`identical_runs` unless given; ``np.arange(periods)``: every period its own)."""
    b = _Builder()
    hc, h, u = _variables(b, workload, pools, pairs, u_upper or {})
    runs = identical_runs(workload, u_upper) if blocks is None else np.asarray(blocks)
    starts = _start_columns(b, workload, u, runs)
    n = _purchases(b, pools)
    z = _shortfalls(b, workload, pools, pairs) if elastic else {}
    _work_rows(b, workload, hc, z)
    _gang_rows(b, workload, hc)
    _capacity_rows(b, workload, pools, hc, n)
    _packing_rows(b, workload, pools, hc, u, starts, runs)
    _walltime_rows(b, workload, hc, starts, runs)
    n_run = _concurrency_rows(b, workload, pools, u, counted)
    _budget_row(b, workload)
    col, row, entry = b.col_chunks, b.row_chunks, b.entry_chunks
    return LinearProgram(
        cost=b.joined(col, "cost", float),
        variable_cost=b.joined(col, "variable_cost", float),
        col_upper=b.joined(col, "col_upper", float),
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
        n=n,
        n_run=n_run,
        starts=starts,
        row_family=b.row_family,
        row_key=b.row_key,
        naming=naming(workload, pools),
    )


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


def _gang_rows(b: _Builder, w: Workload, hc: _HColumns) -> None:
    """2. gang[j,t]: a job runs on at most its gangs' GPUs at once (``parallel`` gangs of
    ``nodes * gpus``)."""
    periods = w.horizon.periods
    keys, group = _grouped(hc.job * periods + hc.period, periods)
    gang = np.array([w.jobs[j].most_gpus for j, _t in keys], dtype=float)
    hours = period_hours(w)[np.array([t for _j, t in keys], dtype=np.int64)]
    b.rows("gang", keys, group, hc.col, 1.0, upper=gang * hours)


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


def _start_columns(b: _Builder, w: Workload, u: dict[tuple[int, int], int],
                   runs: np.ndarray) -> dict[tuple[int, int], int]:
    """starts[p,r] >= 0: instances of cloud pool p started in run r of periods (keyed by the
    run's first period), each paying ``setup_hours`` without work.

    Within a run of identical periods (``identical_runs``) every hour offers the same, so a
    fleet holds its instances at one rate there and starts some only where its rate rises
    above the run before's: ``started[p,r]: U_r / L_r - U_(r-1) / L_(r-1) - starts <= 0``
    (``U`` a run's instance-hours of the pool, ``L`` its hours). Counted over runs rather
    than periods, these rows hold for any split of a run's hours among its periods, so
    merging a run into one period (``aggregate.py``) leaves the model as it is. A lower
    bound of the starts the fleet schedule pays (it starts whole instances; ``fleet.py``
    runs longer for the setups the bound leaves out). None without setup time."""
    if setup_hours(w) <= 0 or not u:
        return {}
    periods = len(runs)
    first = first_periods(runs)
    length = np.bincount(runs, weights=period_hours(w))
    following = np.full(len(length), -1, dtype=np.int64)  # each run's next run's first period
    following[:-1] = np.flatnonzero(np.diff(runs)) + 1
    keys = np.array(list(u), dtype=np.int64).reshape(-1, 2)
    ucols = np.fromiter(u.values(), dtype=np.int64, count=len(u))
    pool, period = keys[:, 0], keys[:, 1]
    run = runs[period]
    own = pool * periods + first[period]
    distinct = np.unique(own)
    col0 = b.cols(len(distinct), 0.0)
    starts = {(int(c // periods), int(c % periods)): col0 + i
              for i, c in enumerate(distinct.tolist())}
    after = pool * periods + following[run]
    nxt = (following[run] >= 0) & np.isin(after, distinct)
    b.rows("started", list(starts),
           np.concatenate([np.searchsorted(distinct, own), np.searchsorted(distinct, after[nxt]),
                           np.arange(len(distinct), dtype=np.int64)]),
           np.concatenate([ucols, ucols[nxt], col0 + np.arange(len(distinct), dtype=np.int64)]),
           np.concatenate([1.0 / length[run], -1.0 / length[run[nxt]],
                           -np.ones(len(distinct))]), upper=0.0)
    return starts


SPANNING = frozenset({"started", "packing_setup", "walltime_setup"})
"""Row families over whole runs of identical periods (sums of their periods' columns): a
merged run keeps them as they are, whatever the split of its hours (``aggregate.py``)."""


def _with_setup(b: _Builder, family: str, keys: list[tuple], prefix: np.ndarray,
                entries: tuple[np.ndarray, np.ndarray, np.ndarray], setup: np.ndarray,
                runs: np.ndarray, starts: dict[tuple[int, int], int], *,
                lazy: bool = False) -> None:
    """Rows ``sum entries <= 0`` of ``family``, one per key ``(..., pool, period)`` (``prefix``
    numbers each key's part before the period), with the launch overhead of the pool's
    starts: in a period that is a run of its own, ``setup * starts`` joins its row; the
    periods of a longer run keep their rows as they are, and get one more row together,
    ``<family>_setup``: the sum of their rows plus ``setup * starts`` of the run."""
    offsets, cols, vals = entries
    if not starts:
        b.rows(family, keys, offsets, cols, vals, upper=0.0, lazy=lazy)
        return
    periods = len(runs)
    first = first_periods(runs)
    size = np.bincount(runs)
    kt = np.array([k[-1] for k in keys], dtype=np.int64)
    kp = np.array([k[-2] for k in keys], dtype=np.int64)
    scol = np.array([starts[(p, f)] for p, f in zip(kp.tolist(), first[kt].tolist(),
                                                     strict=True)], dtype=np.int64)
    single = np.flatnonzero(size[runs[kt]] == 1)
    b.rows(family, keys, np.concatenate([offsets, single]), np.concatenate([cols, scol[single]]),
           np.concatenate([vals, setup[single]]), upper=0.0, lazy=lazy)
    multi = size[runs[kt]] > 1
    if not multi.any():
        return
    code = prefix * periods + first[kt]
    distinct, row = np.unique(code[multi], return_inverse=True)
    of_key = np.full(len(keys), -1, dtype=np.int64)
    of_key[multi] = row
    member = np.flatnonzero(multi)[np.unique(row, return_index=True)[1]]
    e = multi[offsets]
    b.rows(f"{family}_setup", [(*keys[i][:-1], int(first[kt[i]])) for i in member.tolist()],
           np.concatenate([of_key[offsets[e]], np.arange(len(distinct), dtype=np.int64)]),
           np.concatenate([cols[e], scol[member]]),
           np.concatenate([vals[e], setup[member]]), upper=0.0, lazy=lazy)


def _packing_rows(b: _Builder, w: Workload, pools: Pools, hc: _HColumns, u: dict,
                  starts: dict, runs: np.ndarray) -> None:
    """4. packing[p,t]: jobs' GPU-hours, blocking included, fit the instances' GPU-hours
    of work: ``sum_j b h <= G (u - setup * starts)`` (setup over runs: ``_with_setup``)."""
    periods, cloud = w.horizon.periods, hc.cloud
    keys, group = _grouped(hc.pool[cloud] * periods + hc.period[cloud], periods)
    nodes = np.array([float(pools.all[p].gpus_per_node) for p, _t in keys])
    count = np.arange(len(keys), dtype=np.int64)
    entries = (np.concatenate([group, count]),
               np.concatenate([hc.col[cloud], np.array([u[k] for k in keys], dtype=np.int64)]),
               np.concatenate([hc.block[cloud], -nodes]))
    _with_setup(b, "packing", keys, np.array([p for p, _t in keys], dtype=np.int64), entries,
                nodes * setup_hours(w), runs, starts)


def _walltime_rows(b: _Builder, w: Workload, hc: _HColumns, starts: dict,
                   runs: np.ndarray) -> None:
    """5. walltime[j,p,t]: an instance works at least as long as any job on it
    (``u - setup * starts`` of work; setup over runs: ``_with_setup``); one node holds at
    most ``c`` of the job's gangs at once, and an N-node gang holds N instances.

    One row per job, pool and period, but they bind only where a pool is under-filled:
    marked lazy, so that a solver may add just the ones a solution violates."""
    cloud = hc.cloud
    count = int(cloud.sum())
    keys = list(zip(hc.job[cloud].tolist(), hc.pool[cloud].tolist(), hc.period[cloud].tolist(),
                    strict=True))
    rows = np.arange(count, dtype=np.int64)
    gang_rows, gang_cols, gang_vals = _gang_instance_hours(w, hc, keys)
    entries = (np.concatenate([rows, rows, gang_rows]),
               np.concatenate([hc.col[cloud], hc.ucol[cloud], gang_cols]),
               np.concatenate([hc.wall[cloud], -np.ones(count), gang_vals]))
    prefix = hc.job[cloud] * (int(hc.pool.max(initial=0)) + 1) + hc.pool[cloud]
    _with_setup(b, "walltime", keys, prefix, entries, np.full(count, setup_hours(w)), runs,
                starts, lazy=True)


def _gang_instance_hours(w: Workload, hc: _HColumns, keys: list[tuple[int, int, int]]
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entries that take the instance-hours of multi-node gangs (``h / gpus``; their nodes
    are their own) out of the ``u`` a one-node job's walltime row may count on."""
    empty = np.zeros(0, dtype=np.int64)
    multi = np.array([job.nodes > 1 for job in w.jobs])[hc.job] & hc.cloud
    if not multi.any():
        return empty, empty, np.zeros(0)
    gangs: dict[tuple[int, int], list[tuple[int, float]]] = {}
    for j, p, t, col in zip(hc.job[multi].tolist(), hc.pool[multi].tolist(),
                            hc.period[multi].tolist(), hc.col[multi].tolist(), strict=True):
        gangs.setdefault((p, t), []).append((col, 1.0 / w.jobs[j].gpus))
    entries = [(r, col, val) for r, (j, p, t) in enumerate(keys)
               if w.jobs[j].nodes == 1 for col, val in gangs.get((p, t), [])]
    if not entries:
        return empty, empty, np.zeros(0)
    r, c, v = zip(*entries, strict=True)
    return np.array(r, dtype=np.int64), np.array(c, dtype=np.int64), np.array(v)


def _concurrency_rows(b: _Builder, w: Workload, pools: Pools, u: dict[tuple[int, int], int],
                      counted: frozenset[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """6. quota[q,t] / instances[q,t]: what runs at once under a concurrency limit.

    AWS's quotas bound the vCPUs of instances running at the same instant, so instance-hours
    cannot stand for them: where a limit binds, a pool under it gets an integer count
    ``running[p,t]`` of instances at once in the period, with ``count[p,t]: u - P_h *
    running <= 0``, and the limit's row is ``sum weight * running <= bound``. A limit over
    one pool is the bound ``floor(bound / weight)`` on that pool's ``u`` already
    (``Pools.instance_bound``). Every limit over two or more pools with hours in a period
    gets its relaxation ``quota_hours[q,t]: sum weight * u <= bound * P_h`` (implied by the
    counts); the counted rows only for the (limit, period) pairs in ``counted`` - the
    planner adds those a solution exceeds (:func:`concurrency_excess`) and solves again, so
    integer counts exist only where a limit binds. The fleet schedule runs ``ceil(u / P_h)
    <= running`` instances at any instant of the period. Returns the ``running`` columns."""
    hours = period_hours(w)
    rows = limit_terms(pools, u)
    for (g, t), terms in rows.items():
        family = "quota_hours" if pools.limits[g].kind == "quota" else "instances_hours"
        b.row(family, (g, t), [(u[(p, t)], weight) for p, weight in terms],
              upper=pools.limits[g].bound * hours[t])
    running: dict[tuple[int, int], int] = {}
    for g, t in sorted(counted & rows.keys()):
        for p, _weight in rows[(g, t)]:
            if (p, t) in running:
                continue
            pool = pools.all[p]
            assert isinstance(pool, CloudPool)
            bound = pools.instance_bound(pool)
            running[(p, t)] = b.col(0.0, upper=INF if bound is None else float(bound),
                                    integer=True)
            b.row("count", (p, t), [(u[(p, t)], 1.0), (running[(p, t)], -float(hours[t]))],
                  upper=0.0)
        family = "quota" if pools.limits[g].kind == "quota" else "instances"
        b.row(family, (g, t), [(running[(p, t)], weight) for p, weight in rows[(g, t)]],
              upper=pools.limits[g].bound)
    return running


def limit_terms(pools: Pools, u: dict[tuple[int, int], int]
                ) -> dict[tuple[int, int], list[tuple[int, float]]]:
    """(limit, period) -> its (pool, weight) terms, where a limit spans two or more pools
    with hours in the period."""
    index = {pool.id: i for i, pool in enumerate(pools.all)}
    out: dict[tuple[int, int], list[tuple[int, float]]] = {}
    for g, limit in enumerate(pools.limits):
        members = {index[pid]: weight for pid, weight in limit.members if pid in index}
        by_t: dict[int, list[tuple[int, float]]] = {}
        for (p, t) in u:
            if p in members:
                by_t.setdefault(t, []).append((p, members[p]))
        out.update({(g, t): terms for t, terms in sorted(by_t.items()) if len(terms) > 1})
    return out


RUNNING_TOL = 1e-6
"""Instance-hours per period hour below which a fraction is solver noise, not an instance."""


def running_at_once(instance_hours: float, period_hours: float) -> int:
    """Instances the fleet schedule runs at once for ``instance_hours`` in a period:
    ``ceil(u / P)`` (solver noise ignored)."""
    if instance_hours <= RUNNING_TOL:
        return 0
    return math.ceil(instance_hours / period_hours - RUNNING_TOL)


def concurrency_excess(w: Workload, pools: Pools, lp: LinearProgram,
                       x: np.ndarray) -> set[tuple[int, int]]:
    """(limit, period) pairs whose pools would run more at once than the limit allows in
    the fleet schedule of ``x`` (``sum weight * ceil(u / P) > bound``)."""
    hours = period_hours(w)
    out = set()
    for (g, t), terms in limit_terms(pools, lp.u).items():
        used = sum(weight * running_at_once(float(x[lp.u[(p, t)]]), float(hours[t]))
                   for p, weight in terms)
        if used > pools.limits[g].bound + 1e-9:
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
