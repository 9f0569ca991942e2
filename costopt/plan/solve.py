"""Solving the model: CBC through PuLP (the default) or HiGHS through highspy.

With servers to buy the model is a MILP (integer purchase counts); both solvers take it.

Both read the same :class:`~costopt.plan.model.LinearProgram` arrays. A solve is trusted
only when the solver proved optimality: PuLP reports a time-limited stop as "Optimal", so
the CBC path checks ``sol_status`` as well (``facts.md``).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from enum import Enum

import numpy as np

from costopt.errors import SolverError
from costopt.plan.model import LinearProgram

SOLVERS = ("cbc", "highs")
LAZY_TOLERANCE = 1e-7  # a lazy row is violated when A x exceeds its bound by more (relative)


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


def solve(lp: LinearProgram, solver: str = "cbc", time_limit_s: float | None = None) -> Solution:
    """Solve ``lp`` with ``solver`` (``cbc`` or ``highs``)."""
    if solver == "cbc":
        return _solve_cbc(lp, time_limit_s)
    if solver == "highs":
        return _solve_highs(lp, time_limit_s)
    raise SolverError(f"unknown solver {solver!r}; valid: {', '.join(SOLVERS)}")


def _rows_by_index(lp: LinearProgram) -> list[tuple[np.ndarray, np.ndarray]]:
    order = np.argsort(lp.a_row, kind="stable")
    rows, cols, vals = lp.a_row[order], lp.a_col[order], lp.a_val[order]
    bounds = np.searchsorted(rows, np.arange(lp.num_rows + 1))
    return [(cols[bounds[r]:bounds[r + 1]], vals[bounds[r]:bounds[r + 1]])
            for r in range(lp.num_rows)]


def _solve_cbc(lp: LinearProgram, time_limit_s: float | None) -> Solution:
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
        cmd = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, keepFiles=False)
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


def _solve_highs(lp: LinearProgram, time_limit_s: float | None) -> Solution:
    """HiGHS through highspy. Lazy rows (the wall-time rows) start out of the model; after
    each solve the ones the solution violates are added and HiGHS re-solves from its last
    basis, until none is violated: the optimum of the whole model, at a fraction of its
    rows."""
    import highspy

    inf = highspy.kHighsInf
    base = ~lp.lazy
    new_row = np.full(lp.num_rows, -1, dtype=np.int64)
    new_row[base] = np.arange(int(base.sum()))
    in_base = base[lp.a_row]
    model = highspy.HighsLp()
    model.num_col_ = lp.num_cols
    model.num_row_ = int(base.sum())
    model.col_cost_ = lp.cost
    model.col_lower_ = np.zeros(lp.num_cols)
    model.col_upper_ = np.where(np.isinf(lp.col_upper), inf, lp.col_upper)
    model.row_lower_ = np.where(np.isinf(lp.row_lower[base]), -inf, lp.row_lower[base])
    model.row_upper_ = np.where(np.isinf(lp.row_upper[base]), inf, lp.row_upper[base])
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    (model.a_matrix_.start_, model.a_matrix_.index_,
     model.a_matrix_.value_) = _csc(lp.num_cols, new_row[lp.a_row[in_base]],
                                    lp.a_col[in_base], lp.a_val[in_base])
    if lp.integer.any():
        kinds = highspy.HighsVarType
        model.integrality_ = [kinds.kInteger if whole else kinds.kContinuous
                              for whole in lp.integer]
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("random_seed", 0)
    if time_limit_s is not None:
        highs.setOptionValue("time_limit", float(time_limit_s))
    highs.passModel(model)
    highs.run()
    added = _add_violated_rows(highs, lp)
    status = highs.getModelStatus()
    x = np.array(highs.getSolution().col_value, dtype=float)
    if x.size != lp.num_cols:
        x = np.zeros(lp.num_cols)
    ms = highspy.HighsModelStatus
    detail = f"{added} lazy row(s) added"
    if status == ms.kOptimal:
        x = np.maximum(x, 0.0)
        x[lp.integer] = np.round(x[lp.integer])
        return Solution(SolveStatus.OPTIMAL, x, "highs", detail)
    if status == ms.kInfeasible:
        return Solution(SolveStatus.INFEASIBLE, x, "highs", detail)
    if status in (ms.kUnbounded, ms.kUnboundedOrInfeasible):
        return Solution(SolveStatus.UNBOUNDED, x, "highs", detail)
    return Solution(SolveStatus.NOT_SOLVED, x, "highs", highs.modelStatusToString(status))


def _add_violated_rows(highs: object, lp: LinearProgram) -> int:
    """Add the lazy rows the current solution violates and re-solve, until none is."""
    import highspy

    in_lazy = lp.lazy[lp.a_row]
    rows, cols, vals = lp.a_row[in_lazy], lp.a_col[in_lazy], lp.a_val[in_lazy]
    order = np.argsort(rows, kind="stable")
    rows, cols, vals = rows[order], cols[order], vals[order]
    added = np.zeros(lp.num_rows, dtype=bool)
    while rows.size and highs.getModelStatus() == highspy.HighsModelStatus.kOptimal:
        x = np.asarray(highs.getSolution().col_value, dtype=float)
        act = np.zeros(lp.num_rows)
        np.add.at(act, rows, vals * x[cols])
        slack = LAZY_TOLERANCE * np.maximum(1.0, np.abs(lp.row_upper))
        violated = lp.lazy & ~added & (act > lp.row_upper + slack)
        if not violated.any():
            break
        pick = violated[rows]
        r, c, v = rows[pick], cols[pick], vals[pick]
        new = np.flatnonzero(violated)
        starts = np.searchsorted(r, new).astype(np.int32)
        highs.addRows(len(new), np.where(np.isinf(lp.row_lower[new]), -highspy.kHighsInf,
                                         lp.row_lower[new]),
                      lp.row_upper[new], len(c), starts, c.astype(np.int32), v)
        added |= violated
        highs.run()
    return int(added.sum())
