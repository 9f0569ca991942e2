"""The deadline-aware policy against Uniform Progress and the plan as written, on synthetic
traces (``traces synth``'s generator): availability 0.3-0.9, outages of a quarter of an hour
to a day on average (up to days long), 0.2 interruptions per up hour.

The job is the issue's: 48 GPU-hours on one 1-GPU spot pool (1 USD/h; on-demand 3 USD/h,
no quota) due 60 h after its start, in 12-hour periods; checkpoint every 30 minutes, 10
minutes of setup per launch. All on-demand would cost 48 x 3 = 144 USD.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

import pytest
from sim_cases import SPOT, T0, issue_job, planned, prices

from costopt.core.pool_ids import parse_pool_id
from costopt.orchestrate.policy import POLICIES
from costopt.simulate.run import simulate
from costopt.simulate.uniform_progress import UniformProgress
from costopt.traces import PoolTrace, SynthSpec, synth

pytestmark = pytest.mark.xdist_group("deadline_grid")  # one worker: Uniform Progress's runs, once

CASES = [(a, outage, 1) for a in (0.3, 0.5, 0.7, 0.9) for outage in (0.25, 4.0, 24.0)]
"""One trace (seed 1) per availability and outage length: the whole grid, at a third of the
time three seeds took (about 8 minutes of the suite under load); ``scripts/bench_execution.py``
runs the single-job grid wider."""


@cache
def carried_out(policy: str, a: float, outage: float, seed: int) -> tuple[float, bool]:
    """The issue's job carried out on one synthetic trace by ``policy`` (``plan``: the
    controller, re-planning; ``deadline``; ``uniform-progress``): realised USD, and whether
    it met its deadline."""
    w, cat = issue_job(), prices()
    trace = synth(SynthSpec(a, outage, 0.2, 72, seed=seed))
    traces = [PoolTrace(parse_pool_id(SPOT), f"a{a}-{outage}h-{seed}.json", T0, trace)]
    how = {"plan": None, "deadline": POLICIES["deadline"],
           "uniform-progress": UniformProgress()}[policy]
    sim = simulate(planned(w, cat), workload=w, catalog=cat, traces=traces, policy=how)
    (job,) = sim.jobs.values()
    return sim.realised_usd, job.met_deadline


def test_the_controller_meets_every_deadline_for_less_than_uniform_progress_in_all() -> None:
    # The controller lays Uniform Progress's rule over the plan (spot while ahead of the
    # line, a refusal waited out, on-demand while behind) and starts the line one restart
    # late (its first setup is no lag): on these 12 traces it misses no deadline and pays
    # less than Uniform Progress in all (measured 2026-12-07: 1,244.75 USD against
    # 1,316.75). Not on every trace: with 15-minute outages at availability 0.9 it paid
    # 105.08 against 99.25 - each swap back to spot pays a setup the next interruption
    # may waste, and which of the two is luckier there is the trace's draw.
    ours = [carried_out("plan", *case) for case in CASES]
    up = [carried_out("uniform-progress", *case) for case in CASES]
    assert [case for case, (_usd, met) in zip(CASES, ours, strict=True) if not met] == []
    assert sum(usd for usd, _met in ours) < sum(usd for usd, _met in up)


def test_no_deadline_missed_and_no_dearer_than_uniform_progress_on_any_trace() -> None:
    # The deadline policy takes Uniform Progress's decision wherever its line says on-demand
    # is needed, and leaves spot for on-demand only once spot's interruptions show it clearly
    # dearer per unit of work: so on every trace it pays what Uniform Progress pays, or less
    # where spot is interrupted faster than it works (15-minute outages at availability 0.3
    # and 0.5; measured 2026-12-07 on these 12 traces: 1,305.08 USD in all against Uniform
    # Progress's 1,316.75, i.e. 147.67 vs 153.75 and 149.00 vs 154.58 there, equal
    # elsewhere). Only float noise is allowed for.
    ours_usd, up_usd, dearer = [], [], []
    for case in CASES:
        ours, met = carried_out("deadline", *case)
        assert met, case  # on-demand has no quota: it can finish
        up, up_met = carried_out("uniform-progress", *case)
        assert up_met, case
        if ours > up * (1 + 1e-6):
            dearer.append((*case, ours, up))
        ours_usd.append(ours)
        up_usd.append(up)
    assert dearer == []
    assert sum(ours_usd) < sum(up_usd)


def test_the_plan_as_written_misses_the_deadline_where_spot_fails() -> None:
    # The plan carried out as written (no re-plan) falls back to on-demand when spot fails
    # and goes back to spot once the pool's hold is out, until the slot ends at 48 h: the
    # setup and lost work it never planned for leave the job short; the deadline policy runs
    # on past the plan's slots and finishes (paying more: on-demand while behind its line).
    w, cat = issue_job(), prices()
    plan = planned(w, cat)
    traces = [PoolTrace(parse_pool_id(SPOT), "t.json", T0, synth(SynthSpec(0.5, 4.0, 0.2, 72, 1)))]
    follow = simulate(plan, workload=w, catalog=cat, traces=traces, replan=False)
    ours = simulate(plan, workload=w, catalog=cat, traces=traces, policy=POLICIES["deadline"])
    assert not next(iter(follow.jobs.values())).met_deadline
    assert next(iter(ours.jobs.values())).met_deadline


def test_the_controller_meets_the_deadline_where_spot_fails() -> None:
    # The case above carried out by the controller: it meets the deadline too, without an
    # LP - the workload has one spot pool, so when it is held a re-plan has nowhere to move
    # the job; the pace rule waits for spot while the job is ahead of Uniform Progress's
    # line and runs on-demand while it is behind.
    w, cat = issue_job(), prices()
    plan = planned(w, cat)
    traces = [PoolTrace(parse_pool_id(SPOT), "t.json", T0, synth(SynthSpec(0.5, 4.0, 0.2, 72, 1)))]
    controller = simulate(plan, workload=w, catalog=cat, traces=traces)
    assert controller.replans == 0 and controller.said.get("replanned") is None
    assert next(iter(controller.jobs.values())).met_deadline


@pytest.mark.parametrize("policy", ["deadline", "plan"])
def test_spot_always_there(policy: str) -> None:
    # The plan as written (no re-plan) runs spot in the plan's slot and stops at its end
    # (48 USD), 10 minutes of work short. The deadline policy starts as Uniform Progress
    # does: spot at 0:00, exactly
    # on the line; at the 0:15 review the launch's 10 minutes of setup leave 0.0833 done
    # against the line's 48 x 0.25 / (60 - 25/60) = 0.2014: behind, so on-demand, the spot
    # instance swapped for it. On-demand (working from 0:25) is safely ahead once
    # 0.0833 + (t - 0.4167) >= 0.80559 t + 0.4167, t >= 3.858 h: at the 4:00 review. Spot
    # again from 4:00 with 3.6667 done: 44.333 to go after 10 minutes of setup, finished at
    # 48:30 and ended then. 0.25 + 44.5 = 44.75 spot hours and 3.75 on-demand:
    # 44.75 + 3 x 3.75 = 56 USD - the price of taking Uniform Progress's decision whenever its
    # line says on-demand (keeping the spot instance at 0:15 is what loses when spot is then
    # interrupted before the job catches up).
    # Carried out by the controller instead (re-plans), the job behind its plan by the setup
    # is finished and on time, for less than the deadline policy's 56 USD (48.75 measured:
    # 48 h of spot and a quarter hour on-demand).
    w, cat = issue_job(), prices()
    sim = simulate(planned(w, cat), workload=w, catalog=cat, traces=[],
                   policy=POLICIES[policy], replan=False)
    (job,) = sim.jobs.values()
    if policy == "plan":
        controller = simulate(planned(w, cat), workload=w, catalog=cat, traces=[])
        (done,) = controller.jobs.values()
        assert done.met_deadline and controller.realised_usd < 56.0
    if policy == "deadline":
        assert job.finished_at == T0 + timedelta(hours=48, minutes=30)
        assert (job.spot_hours, job.on_demand_hours) == (pytest.approx(44.75),
                                                         pytest.approx(3.75))
        assert sim.realised_usd == pytest.approx(56.0)
    else:
        assert job.on_demand_hours == 0.0
        assert sim.realised_usd == pytest.approx(48.0) and not job.finished
