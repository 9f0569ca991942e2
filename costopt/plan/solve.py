"""Solving the model: HiGHS through highspy (the default) or CBC through PuLP.

With servers to buy the model is a MILP (integer purchase counts); both solvers take it.

Both read the same :class:`~costopt.plan.model.LinearProgram` arrays. A solve is trusted
only when the solver proved optimality: PuLP reports a time-limited stop as "Optimal", so
the CBC path checks ``sol_status`` as well (``facts.md``).
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum

import numpy as np

from costopt.errors import SolverError
from costopt.plan.model import LinearProgram

SOLVERS = ("cbc", "highs")
DEFAULT_SOLVER = "highs"
"""The fast one on every model measured (README, "Performance"): HiGHS reads the model's
arrays in-process; CBC gets it through PuLP, which builds Python objects and writes an MPS
file first (25-40x the time of building the arrays, ``facts.md``). With identical periods
merged, both take well under a second on the examples; CBC stays for ``--solver cbc``."""
LAZY_TOLERANCE = 1e-7  # a lazy row is violated when A x exceeds its bound by more (relative)
SIMPLEX_DUAL, SIMPLEX_PRIMAL = 1, 4  # HiGHS option simplex_strategy
PRICING_TOLERANCE = 1e-7  # USD: a column joins when its reduced cost is below minus this
MIP_REL_GAP = 1e-6
"""Both solvers stop a MILP (integer instance counts, servers to buy) within this relative
gap of the proven bound, so that CBC and HiGHS agree on its optimum (by default: a re-plan
accepts a wider gap, ``orchestrate/replan.py``)."""


class SolveStatus(str, Enum):
    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    NOT_SOLVED = "not_solved"  # time limit, interrupted, numerical trouble


@dataclass(frozen=True)
class Solution:
    """A solver's answer: ``x`` holds a value per column when ``status`` is optimal."""

    status: SolveStatus
    x: np.ndarray
    solver: str
    detail: str = ""

    @property
    def is_ok(self) -> bool:
        return self.status is SolveStatus.OPTIMAL


def solve(lp: LinearProgram, solver: str = DEFAULT_SOLVER,
          time_limit_s: float | None = None, mip_rel_gap: float = MIP_REL_GAP) -> Solution:
    """Solve ``lp`` with ``solver`` (``cbc`` or ``highs``); a MILP to ``mip_rel_gap``
    (relative) of its proven bound."""
    if solver == "cbc":
        return _solve_cbc(lp, time_limit_s, mip_rel_gap)
    if solver == "highs":
        return _solve_highs(lp, time_limit_s, mip_rel_gap)
    raise SolverError(f"unknown solver {solver!r}; valid: {', '.join(SOLVERS)}")


def _rows_by_index(lp: LinearProgram) -> list[tuple[np.ndarray, np.ndarray]]:
    order = np.argsort(lp.a_row, kind="stable")
    rows, cols, vals = lp.a_row[order], lp.a_col[order], lp.a_val[order]
    bounds = np.searchsorted(rows, np.arange(lp.num_rows + 1))
    return [(cols[bounds[r]:bounds[r + 1]], vals[bounds[r]:bounds[r + 1]])
            for r in range(lp.num_rows)]


def _solve_cbc(lp: LinearProgram, time_limit_s: float | None, mip_rel_gap: float) -> Solution:
    import pulp

    prob = pulp.LpProblem("costopt", pulp.LpMinimize)
    xs = [
        prob.add_variable(f"x{i}", lowBound=0, upBound=None if math.isinf(ub) else float(ub),
                          cat=pulp.LpInteger if whole else pulp.LpContinuous)
        for i, (ub, whole) in enumerate(zip(lp.col_upper, lp.integer, strict=True))
    ]
    prob.setObjective(pulp.LpAffineExpression(
        [(xs[i], float(c)) for i, c in enumerate(lp.cost) if c]))
    for r, (cols, vals) in enumerate(_rows_by_index(lp)):
        expr = pulp.LpAffineExpression([(xs[c], float(v)) for c, v in zip(cols, vals, strict=True)])
        lo, hi = lp.row_lower[r], lp.row_upper[r]
        if lo == hi:
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintEQ, f"r{r}", float(lo)))
            continue
        if not math.isinf(lo):
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintGE, f"r{r}", float(lo)))
        if not math.isinf(hi):
            name = f"r{r}" if math.isinf(lo) else f"r{r}u"
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintLE, name, float(hi)))
    with tempfile.TemporaryDirectory(prefix="costopt-cbc-") as tmp:
        cmd = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, keepFiles=False,
                                gapRel=mip_rel_gap if lp.integer.any() else None)
        cmd.tmpDir = tmp
        prob.solve(cmd)
    x = np.array([v.varValue or 0.0 for v in xs], dtype=float)
    x[lp.integer] = np.round(x[lp.integer])
    if prob.status == pulp.LpStatusOptimal and prob.sol_status == pulp.LpSolutionOptimal:
        return Solution(SolveStatus.OPTIMAL, x, "cbc")
    if prob.status == pulp.LpStatusInfeasible:
        return Solution(SolveStatus.INFEASIBLE, x, "cbc")
    if prob.status == pulp.LpStatusUnbounded:
        return Solution(SolveStatus.UNBOUNDED, x, "cbc")
    detail = f"{pulp.LpStatus[prob.status]}, solution status {prob.sol_status}"
    return Solution(SolveStatus.NOT_SOLVED, x, "cbc", detail)


def _csc(n_cols: int, rows: np.ndarray, cols: np.ndarray,
         vals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.lexsort((rows, cols))
    starts = np.searchsorted(cols[order], np.arange(n_cols + 1))
    return starts.astype(np.int32), rows[order].astype(np.int32), vals[order]


def _solve_highs(lp: LinearProgram, time_limit_s: float | None,
                 mip_rel_gap: float) -> Solution:
    """HiGHS through highspy, with rows and columns generated as they are needed.

    Lazy rows (the wall-time rows) start out of the model, and so do the columns that are
    not in ``lp.seed``. After each solve the lazy rows the solution violates are added; when
    none is, the absent columns are priced with the solve's duals (reduced cost
    ``c - A^T y``, absent rows at dual 0) and those that would lower the cost are added.
    HiGHS re-solves from its last basis each time. When neither is left, the solution
    satisfies every row and no column can improve it: the optimum of the whole model.

    A model with integer columns (servers to buy, instance counts) is solved whole from the
    start, its lazy rows included: HiGHS solves a MILP from scratch after rows are added,
    and adding them as its solutions violated them took 4-30 MILP runs per model in a
    re-plan, each slower than the one MILP with every row (``scripts/bench_replan.py``)."""
    import highspy

    master = _HighsMaster(lp, time_limit_s, mip_rel_gap)
    ms = highspy.HighsModelStatus
    while True:
        master.run()
        status = master.highs.getModelStatus()
        if status in (ms.kInfeasible, ms.kModelEmpty) and not master.complete:
            master.add_cols(np.flatnonzero(master.col_pos < 0))  # the seed was too narrow
            continue
        if status != ms.kOptimal:
            break
        x = master.x_full()
        act = np.bincount(lp.a_row, weights=lp.a_val * x[lp.a_col], minlength=lp.num_rows)
        slack = LAZY_TOLERANCE * np.maximum(1.0, np.abs(lp.row_upper))
        violated = lp.lazy & (master.row_pos < 0) & (act > lp.row_upper + slack)
        if violated.any():
            master.add_rows(np.flatnonzero(violated))
            continue
        if master.complete:
            break
        y = master.y_full()
        reduced = lp.cost - np.bincount(lp.a_col, weights=lp.a_val * y[lp.a_row],
                                        minlength=lp.num_cols)
        better = (master.col_pos < 0) & (reduced < -PRICING_TOLERANCE)
        if not better.any():
            break
        master.add_cols(np.flatnonzero(better))
    x = master.x_full()
    detail = (f"{master.rows_added} lazy row(s) added, {master.cols_added} column(s) priced "
              f"in, {master.runs} solve(s)")
    if status == ms.kOptimal:
        x = np.maximum(x, 0.0)
        x[lp.integer] = np.round(x[lp.integer])
        return Solution(SolveStatus.OPTIMAL, x, "highs", detail)
    if status == ms.kInfeasible:
        return Solution(SolveStatus.INFEASIBLE, x, "highs", detail)
    if status in (ms.kUnbounded, ms.kUnboundedOrInfeasible):
        return Solution(SolveStatus.UNBOUNDED, x, "highs", detail)
    return Solution(SolveStatus.NOT_SOLVED, x, "highs",
                    master.highs.modelStatusToString(status))


@contextmanager
def _solver_output_off() -> Iterator[None]:
    """File descriptor 1 points at the null device meanwhile: what a solver's C code prints
    there never reaches our stdout (``--format json`` must parse)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class _HighsMaster:
    """The part of ``lp`` HiGHS holds: some columns and rows, in the order they joined.

    ``col_pos``/``row_pos`` map a column/row of ``lp`` to its position in HiGHS (-1: not
    there yet)."""

    def __init__(self, lp: LinearProgram, time_limit_s: float | None,
                 mip_rel_gap: float) -> None:
        import highspy

        self.lp = lp
        self.inf = highspy.kHighsInf
        mip = bool(lp.integer.any())
        cols = np.arange(lp.num_cols) if mip else np.flatnonzero(lp.seed)
        rows = np.arange(lp.num_rows) if mip else np.flatnonzero(~lp.lazy)
        self.col_pos = np.full(lp.num_cols, -1, dtype=np.int64)
        self.col_pos[cols] = np.arange(cols.size)
        self.row_pos = np.full(lp.num_rows, -1, dtype=np.int64)
        self.row_pos[rows] = np.arange(rows.size)
        self.cols, self.rows = cols, rows
        self.rows_added = self.cols_added = self.runs = 0
        model = highspy.HighsLp()
        model.num_col_ = int(cols.size)
        model.num_row_ = int(rows.size)
        model.col_cost_ = lp.cost[cols]
        model.col_lower_ = np.zeros(cols.size)
        model.col_upper_ = self._finite(lp.col_upper[cols])
        model.row_lower_ = self._finite(lp.row_lower[rows])
        model.row_upper_ = self._finite(lp.row_upper[rows])
        keep = (self.row_pos[lp.a_row] >= 0) & (self.col_pos[lp.a_col] >= 0)
        model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        (model.a_matrix_.start_, model.a_matrix_.index_,
         model.a_matrix_.value_) = _csc(int(cols.size), self.row_pos[lp.a_row[keep]],
                                        self.col_pos[lp.a_col[keep]], lp.a_val[keep])
        if mip:
            kinds = highspy.HighsVarType
            model.integrality_ = [kinds.kInteger if whole else kinds.kContinuous
                                  for whole in lp.integer]
        with _solver_output_off():  # HiGHS prints its banner on fd 1 when first made
            self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("log_to_console", False)
        self.highs.setOptionValue("random_seed", 0)
        self.highs.setOptionValue("threads", 1)  # more cost CPU time, not less: a re-plan's
        # MILP took 1.5 CPU-s on one thread, 2.25 on HiGHS's default, to the same optimum
        if time_limit_s is not None:
            self.highs.setOptionValue("time_limit", float(time_limit_s))
        if mip:
            self.highs.setOptionValue("mip_rel_gap", mip_rel_gap)
        self.highs.passModel(model)

    @property
    def complete(self) -> bool:
        return self.cols.size == self.lp.num_cols

    def _finite(self, values: np.ndarray) -> np.ndarray:
        return np.where(np.isposinf(values), self.inf,
                        np.where(np.isneginf(values), -self.inf, values))

    def run(self) -> None:
        self.runs += 1
        self.highs.run()

    def x_full(self) -> np.ndarray:
        x = np.zeros(self.lp.num_cols)
        values = np.asarray(self.highs.getSolution().col_value, dtype=float)
        if values.size == self.cols.size:
            x[self.cols] = values
        return x

    def y_full(self) -> np.ndarray:
        y = np.zeros(self.lp.num_rows)
        y[self.rows] = np.asarray(self.highs.getSolution().row_dual, dtype=float)
        return y

    def _entries(self, new: np.ndarray, major: np.ndarray, minor: np.ndarray,
                 minor_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The matrix entries of the rows (or columns) ``new`` in the columns (rows) HiGHS
        holds, grouped by ``new``'s order as HiGHS takes them: each one's start, the
        entries' positions in HiGHS (``minor_pos``) and values. ``major``/``minor``: the
        entries' row and column indices (or column and row)."""
        pick = np.isin(major, new) & (minor_pos[minor] >= 0)
        order = np.argsort(major[pick], kind="stable")
        starts = np.searchsorted(major[pick][order], new).astype(np.int32)
        return starts, minor_pos[minor[pick][order]].astype(np.int32), self.lp.a_val[pick][order]

    def add_rows(self, new: np.ndarray) -> None:
        """Add rows of ``lp`` with their entries in the columns HiGHS holds. The last
        basis stays dual feasible: the dual simplex goes on from it."""
        lp = self.lp
        starts, c, v = self._entries(new, lp.a_row, lp.a_col, self.col_pos)
        self.highs.addRows(int(new.size), self._finite(lp.row_lower[new]),
                           self._finite(lp.row_upper[new]), int(c.size), starts, c, v)
        self.highs.setOptionValue("simplex_strategy", SIMPLEX_DUAL)
        self.row_pos[new] = self.rows.size + np.arange(new.size)
        self.rows = np.concatenate([self.rows, new])
        self.rows_added += int(new.size)

    def add_cols(self, new: np.ndarray) -> None:
        """Add columns of ``lp`` with their entries in the rows HiGHS holds. The last
        basis stays primal feasible: the primal simplex goes on from it."""
        lp = self.lp
        starts, r, v = self._entries(new, lp.a_col, lp.a_row, self.row_pos)
        self.highs.addCols(int(new.size), lp.cost[new], np.zeros(new.size),
                           self._finite(lp.col_upper[new]), int(r.size), starts, r, v)
        self.highs.setOptionValue("simplex_strategy", SIMPLEX_PRIMAL)
        self.col_pos[new] = self.cols.size + np.arange(new.size)
        self.cols = np.concatenate([self.cols, new])
        self.cols_added += int(new.size)
