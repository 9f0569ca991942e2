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


def _solve_highs(lp: LinearProgram, time_limit_s: float | None) -> Solution:
    import highspy

    inf = highspy.kHighsInf
    model = highspy.HighsLp()
    model.num_col_ = lp.num_cols
    model.num_row_ = lp.num_rows
    model.col_cost_ = lp.cost
    model.col_lower_ = np.zeros(lp.num_cols)
    model.col_upper_ = np.where(np.isinf(lp.col_upper), inf, lp.col_upper)
    model.row_lower_ = np.where(np.isinf(lp.row_lower), -inf, lp.row_lower)
    model.row_upper_ = np.where(np.isinf(lp.row_upper), inf, lp.row_upper)
    order = np.lexsort((lp.a_row, lp.a_col))
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_ = np.searchsorted(lp.a_col[order], np.arange(lp.num_cols + 1))
    model.a_matrix_.index_ = lp.a_row[order]
    model.a_matrix_.value_ = lp.a_val[order]
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
    status = highs.getModelStatus()
    x = np.array(highs.getSolution().col_value, dtype=float)
    if x.size != lp.num_cols:
        x = np.zeros(lp.num_cols)
    ms = highspy.HighsModelStatus
    if status == ms.kOptimal:
        x = np.maximum(x, 0.0)
        x[lp.integer] = np.round(x[lp.integer])
        return Solution(SolveStatus.OPTIMAL, x, "highs")
    if status == ms.kInfeasible:
        return Solution(SolveStatus.INFEASIBLE, x, "highs")
    if status in (ms.kUnbounded, ms.kUnboundedOrInfeasible):
        return Solution(SolveStatus.UNBOUNDED, x, "highs")
    return Solution(SolveStatus.NOT_SOLVED, x, "highs", highs.modelStatusToString(status))
