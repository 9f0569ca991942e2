"""The cost model as a linear program held in arrays (``workload.md``, "The model").

Sets
  J jobs; P pools (owned ``S`` and cloud ``C``); T periods of ``P_h`` hours each.
Variables
  h[j,p,t] >= 0  GPU-hours job j runs on pool p in period t (only eligible pairs, only the
                 periods inside the job's window)
  u[p,t]   >= 0  instance-hours of cloud pool p in period t (<= max_instances * P_h)
  n[c]     in {0..max_count}  servers of candidate c bought (integer; only with candidates)
  z[j]     >= 0  shortfall of job j in reference GPU-hours (elastic re-solve only)
Objective (the variable cost, USD)
  sum_{p in C,t} price(p) u[p,t] + sum_{s in S,j,t} energy(s) h[j,s,t]
  + sum_c fixed(c) n[c]   (a candidate's fixed cost over the horizon)
  (+ a tie-break of at most 1e-5 USD per GPU-hour preferring earlier periods,
   + penalty * z in the elastic re-solve)
Constraints, one builder each, named so an infeasibility report reads plainly:
  1. work[j]          sum s e h + z >= gpu_hours
  2. gang[j,t]        sum_p h <= gpus_j * P_h
  3. capacity[s,t]    sum_j b h <= count * gpus * P_h * availability   (x n[c] for a candidate)
  4. packing[p,t]     sum_j b h - G_p u <= 0
  5. walltime[j,p,t]  h / gpus_j - u <= 0
  6. quota[r,m,f,t]   sum vcpus u <= vcpus_q * P_h
  7. budget           variable cost <= budget_usd

The model is one source of truth held as sparse arrays (COO) with named index maps; the
solvers (``solve.py``) read the same arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from costopt.plan.pools import CloudPool, Eligible, OwnedPool, Pools
from costopt.workload import Workload

INF = math.inf
TIE_BREAK_USD_PER_GPU_HOUR = 1e-5
"""The most the tie-break adds per GPU-hour (the last period); it only orders equal plans."""


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
        keys.update((col, ("shortfall", (j,))) for j, col in self.z.items())
        return keys


NAME_PARTS: dict[str, str] = {
    "h": "jpt", "u": "pt", "n": "p", "shortfall": "j",
    "work": "j", "gang": "jt", "capacity": "pt", "packing": "pt", "walltime": "jpt",
    "quota": "qt", "budget": "",
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
    cost: list[float] = field(default_factory=list)
    variable_cost: list[float] = field(default_factory=list)
    col_upper: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    seed: list[bool] = field(default_factory=list)
    row_lower: list[float] = field(default_factory=list)
    row_upper: list[float] = field(default_factory=list)
    lazy: list[bool] = field(default_factory=list)
    row_family: list[str] = field(default_factory=list)
    row_key: list[tuple] = field(default_factory=list)
    a_row: list[int] = field(default_factory=list)
    a_col: list[int] = field(default_factory=list)
    a_val: list[float] = field(default_factory=list)

    def col(self, usd: float, upper: float = INF, extra: float = 0.0, integer: bool = False,
            seed: bool = True) -> int:
        self.seed.append(seed)
        self.variable_cost.append(usd)
        self.cost.append(usd + extra)
        self.col_upper.append(upper)
        self.integer.append(integer)
        return len(self.cost) - 1

    def row(self, family: str, key: tuple, terms: list[tuple[int, float]],
            lower: float = -INF, upper: float = INF, lazy: bool = False) -> int:
        r = len(self.row_family)
        self.lazy.append(lazy)
        self.row_family.append(family)
        self.row_key.append(key)
        self.row_lower.append(lower)
        self.row_upper.append(upper)
        for c, v in terms:
            self.a_row.append(r)
            self.a_col.append(c)
            self.a_val.append(v)
        return r

    def two_term_rows(self, family: str, keys: list[tuple],
                      first: tuple[list[int], list[float]], second: tuple[list[int], list[float]],
                      upper: float, lazy: bool) -> None:
        """Many rows ``a·x + b·y <= upper`` of one family at once (the wall-time rows are
        most of a large model): row ``i`` has ``first[1][i]`` at column ``first[0][i]`` and
        ``second[1][i]`` at ``second[0][i]``."""
        start, count = len(self.row_family), len(keys)
        self.row_family.extend([family] * count)
        self.row_key.extend(keys)
        self.row_lower.extend([-INF] * count)
        self.row_upper.extend([upper] * count)
        self.lazy.extend([lazy] * count)
        rows = range(start, start + count)
        for cols, vals in (first, second):
            self.a_row.extend(rows)
            self.a_col.extend(cols)
            self.a_val.extend(vals)


def period_label(workload: Workload, t: int) -> str:
    """``2027-01-05`` for daily periods starting at midnight, else ``2027-01-05T06:00``."""
    start = workload.horizon.period_start(t)
    if workload.horizon.period_hours % 24 == 0 and start.hour == 0 and start.minute == 0:
        return start.strftime("%Y-%m-%d")
    return start.strftime("%Y-%m-%dT%H:%M")


def naming(workload: Workload, pools: Pools) -> Naming:
    """The names of a workload's jobs, pools, periods and quota lines."""
    quotas = workload.cloud.quotas if workload.cloud else []
    return Naming(
        jobs=tuple(job.name for job in workload.jobs),
        pools=tuple(pool.id for pool in pools.all),
        periods=tuple(period_label(workload, t) for t in range(workload.horizon.periods)),
        quotas=tuple(f"{q.region},{q.market},{q.family}" for q in quotas),
    )


def build_model(
    workload: Workload, pools: Pools, pairs: list[Eligible], *, elastic: bool = False
) -> LinearProgram:
    """The LP of the cost model; with ``elastic`` every job may fall short at a penalty."""
    b = _Builder()
    h, u = _variables(b, workload, pools, pairs)
    n = _purchases(b, pools)
    z = _shortfalls(b, workload, pools, pairs) if elastic else {}
    _work_rows(b, workload, pairs, h, z)
    _gang_rows(b, workload, h)
    _capacity_rows(b, workload, pools, pairs, h, n)
    _packing_rows(b, pools, pairs, h, u)
    _walltime_rows(b, workload, h, u)
    _quota_rows(b, workload, pools, u)
    _budget_row(b, workload)
    return LinearProgram(
        cost=np.array(b.cost, dtype=float),
        variable_cost=np.array(b.variable_cost, dtype=float),
        col_upper=np.array(b.col_upper, dtype=float),
        integer=np.array(b.integer, dtype=bool),
        row_lower=np.array(b.row_lower, dtype=float),
        row_upper=np.array(b.row_upper, dtype=float),
        lazy=np.array(b.lazy, dtype=bool),
        seed=np.array(b.seed, dtype=bool),
        a_row=np.array(b.a_row, dtype=np.int64),
        a_col=np.array(b.a_col, dtype=np.int64),
        a_val=np.array(b.a_val, dtype=float),
        h=h,
        u=u,
        z=z,
        n=n,
        row_family=b.row_family,
        row_key=b.row_key,
        naming=naming(workload, pools),
    )


def _variables(b: _Builder, w: Workload, pools: Pools,
               pairs: list[Eligible]) -> tuple[dict, dict]:
    """h for every eligible pair and period of the job's window; u for every cloud pool and
    period some job could use it in."""
    all_pools = pools.all
    periods = w.horizon.periods
    seeded = seed_pairs(pools, pairs)
    h: dict[tuple[int, int, int], int] = {}
    used: dict[int, set[int]] = {}
    for e in pairs:
        job, pool = w.jobs[e.job], all_pools[e.pool]
        usd = pool.energy_usd_per_gpu_hour if isinstance(pool, OwnedPool) else 0.0
        seed = (e.job, e.pool) in seeded
        for t in w.job_periods(job):
            tie = TIE_BREAK_USD_PER_GPU_HOUR * (t + 1) / periods
            h[(e.job, e.pool, t)] = b.col(usd, extra=tie, seed=seed)
            used.setdefault(e.pool, set()).add(t)
    u: dict[tuple[int, int], int] = {}
    for p in sorted(used):
        pool = all_pools[p]
        if not isinstance(pool, CloudPool):
            continue
        cap = INF if pool.max_instances is None else pool.max_instances * w.horizon.period_hours
        for t in sorted(used[p]):
            u[(p, t)] = b.col(pool.usd_per_hour, upper=cap)
    return h, u


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


def _work_rows(b: _Builder, w: Workload, pairs: list[Eligible], h: dict, z: dict) -> None:
    """1. work[j]: the work done, in reference GPU-hours, covers the job."""
    terms: dict[int, list[tuple[int, float]]] = {j: [] for j in range(len(w.jobs))}
    rate = {(e.job, e.pool): e.work_per_gpu_hour for e in pairs}
    for (j, p, _t), col in h.items():
        terms[j].append((col, rate[(j, p)]))
    for j, job in enumerate(w.jobs):
        if j in z:
            terms[j].append((z[j], 1.0))
        b.row("work", (j,), terms[j], lower=job.gpu_hours)


def _gang_rows(b: _Builder, w: Workload, h: dict) -> None:
    """2. gang[j,t]: a job runs on at most its gang of GPUs at once."""
    terms: dict[tuple[int, int], list[tuple[int, float]]] = {}
    for (j, _p, t), col in h.items():
        terms.setdefault((j, t), []).append((col, 1.0))
    for (j, t), row in sorted(terms.items()):
        b.row("gang", (j, t), row, upper=w.jobs[j].gpus * w.horizon.period_hours)


def _capacity_rows(b: _Builder, w: Workload, pools: Pools, pairs: list[Eligible], h: dict,
                   n: dict[int, int]) -> None:
    """3. capacity[s,t]: owned GPU-hours, blocking included, within the available hours
    (for a candidate: the available hours of the servers bought)."""
    block = {(e.job, e.pool): e.blocking for e in pairs}
    terms: dict[tuple[int, int], list[tuple[int, float]]] = {}
    for (j, p, t), col in h.items():
        if isinstance(pools.all[p], OwnedPool):
            terms.setdefault((p, t), []).append((col, block[(j, p)]))
    for (p, t), row in sorted(terms.items()):
        pool = pools.all[p]
        assert isinstance(pool, OwnedPool)
        cap = pool.capacity_gpu_hours(w.horizon.period_hours)
        if p in n:
            b.row("capacity", (p, t), [*row, (n[p], -cap)], upper=0.0)
        else:
            b.row("capacity", (p, t), row, upper=cap)


def _packing_rows(b: _Builder, pools: Pools, pairs: list[Eligible], h: dict, u: dict) -> None:
    """4. packing[p,t]: jobs' GPU-hours, blocking included, fit the instances' GPU-hours."""
    block = {(e.job, e.pool): e.blocking for e in pairs}
    terms: dict[tuple[int, int], list[tuple[int, float]]] = {}
    for (j, p, t), col in h.items():
        if (p, t) in u:
            terms.setdefault((p, t), []).append((col, block[(j, p)]))
    for (p, t), row in sorted(terms.items()):
        pool = pools.all[p]
        b.row("packing", (p, t), [*row, (u[(p, t)], -float(pool.gpus_per_node))], upper=0.0)


def _walltime_rows(b: _Builder, w: Workload, h: dict, u: dict) -> None:
    """5. walltime[j,p,t]: an instance runs at least as long as any job on it.

    One row per job, pool and period, but they bind only where a pool is under-filled:
    marked lazy, so that a solver may add just the ones a solution violates."""
    keys = [key for key in h if key[1:] in u]
    per_gpu = [1.0 / job.gpus for job in w.jobs]
    b.two_term_rows("walltime", keys, ([h[k] for k in keys], [per_gpu[k[0]] for k in keys]),
                    ([u[k[1:]] for k in keys], [-1.0] * len(keys)), upper=0.0, lazy=True)


def _quota_rows(b: _Builder, w: Workload, pools: Pools, u: dict) -> None:
    """6. quota[r,m,f,t]: vCPUs running in a region, market and family within the quota."""
    if w.cloud is None:
        return
    for q_index, q in enumerate(w.cloud.quotas):
        by_t: dict[int, list[tuple[int, float]]] = {}
        for (p, t), col in u.items():
            pool = pools.all[p]
            assert isinstance(pool, CloudPool)
            if (pool.region, pool.market, pool.quota_family) == (q.region, q.market, q.family):
                by_t.setdefault(t, []).append((col, float(pool.vcpus)))
        for t, row in sorted(by_t.items()):
            b.row("quota", (q_index, t), row, upper=q.vcpus * w.horizon.period_hours)


def _budget_row(b: _Builder, w: Workload) -> None:
    """7. budget: the variable cost within ``budget_usd``."""
    if w.budget_usd is None:
        return
    terms = [(c, usd) for c, usd in enumerate(b.variable_cost) if usd]
    b.row("budget", (), terms, upper=w.budget_usd)
