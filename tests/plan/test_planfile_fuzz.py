"""Fuzz the plan file's read side: 2,000 damaged copies of a real plan. ``read_plan`` either
refuses one with :class:`PlanFileError` or returns a plan the orchestrator can reconcile and
guard - never any other exception."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_mutations import mutate, real_plan

from costopt.errors import PlanFileError
from costopt.orchestrate.guard import BudgetGuard
from costopt.orchestrate.reconcile import reconcile
from costopt.planfile import PlanDocument, read_plan


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def base(folder: Path) -> dict[str, Any]:
    return real_plan(folder)


def carry_out(plan: PlanDocument) -> None:
    """What apply does with an accepted plan, at the times its slots start and end."""
    pools = {p.pool: p for p in plan.fleet}
    moments = sorted({s.start for p in plan.fleet for s in p.slots}
                     | {s.end for p in plan.fleet for s in p.slots})
    for moment in moments[:20]:
        recon = reconcile(plan, moment, [])
        guard = BudgetGuard(budget_usd=plan.monthly_budget_usd or 0.0, spent_usd=0.0,
                            at=moment, fleet=pools, kept=recon.kept)
        for action in recon.actions:
            guard.judge(action)
        reconcile(plan, moment + timedelta(hours=int(plan.horizon["period_hours"])), [])


def test_the_real_plan_is_read_and_carried_out(folder: Path, base: dict[str, Any]) -> None:
    path = folder / "as-written.json"
    path.write_text(json.dumps(base))
    carry_out(read_plan(path))


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), rounds=st.integers(min_value=1, max_value=4))
def test_a_damaged_plan_is_refused_with_a_plan_file_error_or_carried_out(
        folder: Path, base: dict[str, Any], data: st.DataObject, rounds: int) -> None:
    doc = mutate(base, lambda options: data.draw(st.sampled_from(options)), rounds)
    path = folder / "damaged.json"
    path.write_text(json.dumps(doc))
    try:
        plan = read_plan(path)
    except PlanFileError as exc:
        assert str(exc).startswith(f"plan file {path} has ")
        return
    carry_out(plan)
