"""Fuzz the plan file's read side: 2,000 damaged copies of a real plan (200 in CI, the same
ones every run; ``scripts/property_tests_wide.sh`` draws the 2,000 with fresh seeds).
``read_plan`` either refuses one with :class:`PlanFileError` naming the file, or returns a
plan the orchestrator carries out as written: from an empty fleet, each reconcile launches
exactly the slots that hold at that moment, every launch guarded - never any other
exception."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples
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


def carry_out(plan: PlanDocument) -> list[int]:
    """What apply does with an accepted plan, at the times its slots start and end (the first
    20): the launches each reconcile asks for, from an empty fleet, every one guarded."""
    pools = {p.pool: p for p in plan.fleet}
    launches = []
    for moment in moments_of(plan):
        recon = reconcile(plan, moment, [])
        guard = BudgetGuard(budget_usd=plan.monthly_budget_usd or 0.0, spent_usd=0.0,
                            at=moment, fleet=pools, kept=recon.kept)
        for action in recon.actions:
            guard.judge(action)
        reconcile(plan, moment + timedelta(hours=int(plan.horizon["period_hours"])), [])
        launches.append(recon.count("launch"))
    return launches


def moments_of(plan: PlanDocument) -> list[datetime]:
    return sorted({s.start for p in plan.fleet for s in p.slots}
                  | {s.end for p in plan.fleet for s in p.slots})[:20]


def live_slots(plan: PlanDocument) -> list[int]:
    """The slots that hold at each of :func:`moments_of` (``start <= moment < end``)."""
    return [sum(1 for p in plan.fleet for s in p.slots if s.start <= moment < s.end)
            for moment in moments_of(plan)]


def test_the_real_plan_is_read_and_carried_out(folder: Path, base: dict[str, Any]) -> None:
    """The plan as ``plan`` wrote it reads back to the same document, and from an empty
    fleet each reconcile launches exactly the slots that hold at that moment
    (``start <= moment < end``)."""
    path = folder / "as-written.json"
    path.write_text(json.dumps(base))
    plan = read_plan(path)
    assert plan.as_json() == base
    live = live_slots(plan)
    assert sum(live) > 0  # the real plan has cloud slots: the check below is not vacuous
    assert carry_out(plan) == live


@settings(max_examples=examples(2000, ci=200), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
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
    assert carry_out(plan) == live_slots(plan)
