"""A job's rate on a pool (``markets.pool_rate``): the gangs it runs there at once, worked by
hand - and the floor, the pace's restart and the behind rule that use it (issues 20/21: the
floor rated a sweep of 1-GPU trials as one trial, and put it on-demand days early)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from builders import catalog, offer, workload
from simulate.sim_cases import planned

from costopt.orchestrate.controller import behind_jobs, floor_jobs
from costopt.orchestrate.markets import cloud_rate, pool_rate
from costopt.orchestrate.progress import JobProgress, PlanMix, SlotWork, no_progress
from costopt.orchestrate.steer import progress_model
from costopt.planfile import PlanDocument

T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)
POOL = "aws:us-east-1:p3.16xlarge:spot"
REVIEW = timedelta(minutes=15)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def job(gpus: float, parallel: int = 1, nodes: int = 1) -> JobProgress:
    """A job of ``gpus`` GPUs a gang, 1.25 reference GPU-hours per GPU-hour on ``POOL``."""
    return JobProgress("j", 100.0, at(24), at(0), speed={POOL: 1.25}, gpus=gpus,
                       parallel=parallel, nodes=nodes)


def mix(instance_gpus: dict[str, int], uses: dict[tuple[str, int], tuple[SlotWork, ...]]
        | None = None) -> PlanMix:
    return PlanMix((at(0),), at(24), {}, (), uses=uses or {}, instance_gpus=instance_gpus)


@pytest.mark.parametrize(("gpus", "parallel", "nodes", "rate"), [
    (1, 8, 1, 8 * 1.25),  # 8 trials of 1 GPU fit the 8 GPUs at once
    (1, 3, 1, 3 * 1.25),  # only 3 trials at once: 3 GPUs busy
    (3, 8, 1, 2 * 3 * 1.25),  # floor(8 / 3) = 2 trials of 3 GPUs
    (8, 4, 1, 8 * 1.25),  # one trial fills the instance
    (2, 4, 2, 2 * 2 * 1.25),  # a gang of 2 nodes x 2 GPUs, its nodes its own: one gang
])
def test_one_instance_runs_the_gangs_that_fit_it(gpus: float, parallel: int, nodes: int,
                                                 rate: float) -> None:
    """No plan's uses for the job: one 8-GPU instance's gangs, ``min(parallel, floor(8 /
    gpus))`` of a one-node job, one of a multi-node job on its ``nodes`` instances."""
    assert pool_rate(job(gpus, parallel, nodes), mix({POOL: 8}), POOL) == pytest.approx(rate)


def test_a_pool_whose_gpus_are_not_known_holds_one_gang() -> None:
    assert pool_rate(job(1, 8), mix({}), POOL) == pytest.approx(1.25)


def test_the_plans_uses_on_all_of_the_pools_slots_at_once_count() -> None:
    """Slot 0 runs 4 GPUs of ``j`` 00:00-10:00, slot 1 4 more 02:00-06:00 and slot 2 4 more
    10:00-12:00 (after slot 0's end): at most 8 at once, 10 reference GPU-hours an hour
    (one 8-GPU instance would give the 1-GPU trials 8 too; on 4-GPU instances, 4)."""
    uses = {(POOL, 0): (SlotWork("j", 4.0, at(0), at(10)),),
            (POOL, 1): (SlotWork("j", 4.0, at(2), at(6)),),
            (POOL, 2): (SlotWork("j", 4.0, at(10), at(12)),
                        SlotWork("other", 4.0, at(0), at(12)))}
    assert pool_rate(job(1, 8), mix({POOL: 4}, uses), POOL) == pytest.approx(8 * 1.25)
    assert pool_rate(job(1, 8), mix({POOL: 4}), POOL) == pytest.approx(4 * 1.25)


def sixteen_hours(offered: tuple[str, int], job_fields: dict[str, Any]) -> tuple[
        PlanDocument, JobProgress, Any]:
    """The plan ``costopt plan`` makes for one job due at 16:00 (4-hour periods, 10 minutes
    of setup, a checkpoint every 60 minutes: a restart 10 / 60 + 30 / 60 = 0.6667 h) on
    spot instances of ``offered`` (type, GPUs) of V100s (speed 1), and the job's progress
    with nothing done."""
    instance_type, gpus = offered
    cat = catalog(offer(instance_type, "us-east-1", gpus=gpus, vcpus=8 * gpus,
                        on_demand=3.0 * gpus, spot=1.0 * gpus, rate=0.0))
    w = workload([{**job_fields, "interruptible": True, "checkpoint_minutes": 60,
                   "deadline": "2027-01-01T16:00:00Z"}],
                 period_hours=4, cloud={"regions": ["us-east-1"], "setup_minutes": 10})
    plan = planned(w, cat)
    model = progress_model(plan, w, cat)
    return plan, no_progress(model)[job_fields["name"]], model


SWEEP = {"name": "sweep", "gpus": 1, "parallel": 8, "gpu_hours": 80}
GANG = {"name": "gang", "gpus": 8, "nodes": 2, "gpu_hours": 160}


@pytest.mark.parametrize(("offered", "fields"), [
    (("p3.16xlarge", 8), SWEEP),  # 8 trials on one 8-GPU instance
    (("p3.16xlarge", 8), GANG),  # one gang on its 2 nodes of 8 GPUs
    (("p3.8xlarge", 4), SWEEP),  # 4 trials on each of the plan's two 4-GPU instances
])
def test_the_floor_rates_a_job_by_its_gangs_at_once(offered: tuple[str, int],
                                                    fields: dict[str, Any]) -> None:
    """Each case runs 8 (sweep) or 16 (gang) V100 GPU-hours an hour: the sweep's 80 GPU-h, or
    the gang's 160, take 10 h, plus a restart's 0.6667 h. Due at 16:00, looked at every 15
    minutes, the job goes on the floor once ``10.6667 >= 16 - t - 0.25``: ``t >= 05:05``.
    At 05:00, 10.75 h are left after the next look: not yet; at 05:15, 10.5: on the floor.
    (Rated as one trial, or one node, the floor had them on-demand from midnight: 80 h or
    20 h of work in 16.)"""
    plan, p, model = sixteen_hours(offered, fields)
    name = fields["name"]
    cloud = frozenset(f.pool for f in plan.fleet)
    assert cloud_rate(p, model.mix, cloud) == pytest.approx(fields["gpu_hours"] / 10)
    assert floor_jobs(plan, model, {name: p}, at(5), REVIEW) == []
    assert floor_jobs(plan, model, {name: p}, at(5.25), REVIEW) == [name]


def test_without_the_plans_uses_the_floor_rates_one_instance() -> None:
    """The sweep's plan on 4-GPU instances, its slots' uses left out (as a v2 plan): one
    instance's 4 trials, 4 GPU-h an hour: 80 GPU-h need 20 h, more than the 16 left at
    midnight - on the floor at once; with the uses, two instances' 8 at once (above)."""
    plan, p, _model = sixteen_hours(("p3.8xlarge", 4), SWEEP)
    bare = plan.model_copy(update={"fleet": [f.model_copy(update={"slots": [
        s.model_copy(update={"uses": []}) for s in f.slots]}) for f in plan.fleet]})
    model = replace(_model, mix=PlanMix.of(bare, {"sweep": 1.0}))
    assert cloud_rate(p, model.mix, frozenset(f.pool for f in bare.fleet)) == 4.0
    assert floor_jobs(bare, model, {"sweep": p}, at(0), REVIEW) == ["sweep"]


def _second_instance_at(plan: PlanDocument, start: datetime) -> PlanDocument:
    """``plan`` with its pool's slot 1 (and its uses) moved to start at ``start``, kept as
    long (the same work)."""
    [pool] = plan.fleet
    [one] = [s for s in pool.slots if s.slot == 1]
    shift = start - one.start
    moved = one.model_copy(update={
        "start": one.start + shift, "setup_end": one.setup_end + shift,
        "end": one.end + shift, "uses": [u.model_copy(update={
            "start": u.start + shift, "end": u.end + shift}) for u in one.uses]})
    slots = [moved if s.slot == 1 else s for s in pool.slots]
    return plan.model_copy(update={"fleet": [pool.model_copy(update={"slots": slots})]})


@pytest.mark.parametrize("second_at", [0.0, 11 + 40 / 60])
def test_the_floor_rates_a_pool_by_the_most_instances_the_plan_ever_gives_it(
        second_at: float) -> None:
    """The sweep's plan on 4-GPU p3.8xlarge runs its 8 trials on two instances 00:10-04:20
    (slot 1: 4 x 4.1667 = 16.67 GPU-h) and 4 on one to 16:00 (slot 0: 4 x 15.8333 = 63.33;
    80 in all). The floor rates it at the most GPUs the plan ever holds for it at once on the
    pool, 8 an hour, whatever the moment: with nothing done, not on the floor at 05:00
    (80 / 8 + 0.6667 = 10.67 < 16 - 5 - 0.25 = 10.75 h), on it at 05:15 (10.67 >= 10.5) - as
    if both instances ran on, though the plan holds one from 04:20. Rated by that one (4 an
    hour), it had been on the floor since midnight (80 / 4 + 0.6667 = 20.67 >= 15.75). With
    slot 1 moved to 11:40-16:00 (the second instance comes last), the same 8, the same
    answers."""
    plan, p, model = sixteen_hours(("p3.8xlarge", 4), SWEEP)
    plan = _second_instance_at(plan, at(second_at))
    model = replace(model, mix=PlanMix.of(plan, {"sweep": 1.0}))
    [pool] = plan.fleet
    spans = sorted((s.start, s.end) for s in pool.slots)
    assert spans == ([(at(0), at(4 + 1 / 3)), (at(0), at(16))] if second_at == 0
                     else [(at(0), at(16)), (at(second_at), at(16))])
    assert model.mix.held_at_once == {("sweep", pool.pool): 8.0}
    assert cloud_rate(p, model.mix, frozenset({pool.pool})) == pytest.approx(8.0)
    assert floor_jobs(plan, model, {"sweep": p}, at(5), REVIEW) == []
    assert floor_jobs(plan, model, {"sweep": p}, at(5.25), REVIEW) == ["sweep"]


@pytest.mark.parametrize(("done", "behind"), [(6.6, True), (6.7, False)])
def test_behind_its_plan_by_more_than_a_restart_of_all_of_its_trials(done: float,
                                                                     behind: bool) -> None:
    """The sweep on one 8-GPU instance: the plan has its 8 trials work from 00:10, 8 GPU-h an
    hour, so 16 GPU-h by 02:10. A restart stops all 8: 8 x 0.6667 = 5.3333 GPU-h; with 5 %
    of its 80 GPU-h (4), it is behind once it lags by more than 9.3333: done 6.6 (lag 9.4)
    is, 6.7 (lag 9.3) is not (one trial's restart, 0.6667, had both behind)."""
    plan, p, model = sixteen_hours(("p3.16xlarge", 8), SWEEP)
    lag = behind_jobs(plan, model, {"sweep": replace(p, done_gpu_hours=done)},
                      at(2 + 1 / 6), 0.05)
    assert lag == ({"sweep": pytest.approx(16 - done)} if behind else {})
