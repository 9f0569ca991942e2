"""Each job's progress across the plans a simulation had in force, worked by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from builders import workload
from sim_cases import hourly, planned

from costopt.orchestrate.progress import JobNeeds, PlanMix, ProgressModel, Run, SlotWork
from costopt.simulate.ec2 import Served
from costopt.simulate.run import simulate
from costopt.simulate.whole import InForce, whole_progress

T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)
POOL = "aws:us-east-1:p3.2xlarge:spot"


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def slotted(jobs: tuple[JobNeeds, ...], start: datetime, slot: int,
            span: tuple[datetime, datetime], works: tuple[SlotWork, ...]) -> ProgressModel:
    """A model whose plan has one slot of ``POOL`` over ``span`` with ``works``, speed 1,
    10 minutes of setup, one period from ``start`` to 24:00 and no mix."""
    mix = PlanMix((start,), at(24), {}, (), uses={(POOL, slot): works},
                  spans={(POOL, slot): (span,)})
    return ProgressModel(jobs, {(j.name, POOL): 1.0 for j in jobs}, mix, 10.0)


def test_a_job_a_replan_left_out_as_done_is_scored_with_the_moment_it_finished() -> None:
    """Plan 1 (from 00:00) runs slot 0: "a" 00:10-02:10, then "b" 02:10-12:00, 1 GPU each.
    At 03:00 a re-plan leaves "a" out (done) and takes the instance over as its slot 4,
    "b" alone 03:00-12:00 (no new setup: it runs on). One spot instance 00:00-12:00 at
    1 USD/h. By hand:
    - 00:00-03:00 under plan 1: a works 00:10-02:10 = 2 GPU-h, all it needs: done at 02:10;
      b works 02:10-03:00 = 0.8333. The 3 h go by GPU-hours of use then, a 2 : b 0.8333:
      a 3 x 2 / 2.8333 = 2.1176 h, b 0.8824 h;
    - 03:00-12:00 under plan 2: all of it b's (9 h); b reaches its 9 GPU-h when
      0.8333 + (t - 3) = 9, at 11:10.
    Hours and USD add up to the run's 12 (nothing unattributed)."""
    jobs = (JobNeeds("a", 2.0, 60, at(4)), JobNeeds("b", 9.0, 60, at(12)))
    first = slotted(jobs, T0, 0, (at(0), at(12)), (SlotWork("a", 1, at(1 / 6), at(2 + 1 / 6)),
                                                   SlotWork("b", 1, at(2 + 1 / 6), at(12))))
    second = slotted((JobNeeds("b", 9 - 5 / 6, 60, at(12), at(3)),), at(3), 4,
                     (at(3), at(12)), (SlotWork("b", 1, at(3), at(12)),))
    run = Run("i-1", POOL, "spot", at(0), at(12), 1.0)
    served = {"i-1": [Served(at(0), "p1", 0), Served(at(3), "p2", 4)]}
    out = whole_progress(first, [InForce(at(0), "p1", first), InForce(at(3), "p2", second)],
                         [run], served, at(12))
    a, b = out["a"], out["b"]
    assert (a.finished_at, a.done_gpu_hours, a.met_deadline) == (at(2 + 1 / 6), 2.0, True)
    assert b.finished_at == at(11 + 1 / 6) and b.met_deadline
    assert a.spot_hours == pytest.approx(3 * 2 / (2 + 5 / 6))
    assert b.spot_hours == pytest.approx(3 * (5 / 6) / (2 + 5 / 6) + 9)
    assert a.cloud_usd + b.cloud_usd == pytest.approx(12.0)


def test_a_run_of_an_instance_with_no_tags_known_is_credited_to_no_job() -> None:
    jobs = (JobNeeds("a", 2.0, 60, at(4)),)
    first = slotted(jobs, T0, 0, (at(0), at(12)), (SlotWork("a", 1, at(0), at(12)),))
    out = whole_progress(first, [InForce(at(0), "p1", first)],
                         [Run("i-9", POOL, "spot", at(0), at(5), 1.0)], {}, at(12))
    assert out["a"].done_gpu_hours == 0.0 and out["a"].cloud_usd == 0.0


def test_two_jobs_laid_out_one_after_the_other_are_scored_by_their_slots_uses() -> None:
    """The zone-outage case of the controller's tests with a second job: "train" (10 GPU-h)
    and "short" (2 GPU-h), both 1 GPU, due 16:00. The plan lays them out on one use1-az1
    spot instance: train first, short after. The zone's spot goes at 03:00: train has done
    2.8333 - 0.5 lost = 2.3333, and is ahead, so it waits for use1-az1 until it is behind
    (04:15), then its slot walks to use1-az2's spot (1.20 USD/h); a re-plan at 05:00 (train
    behind its plan) keeps that instance; train is done at 12:05 (setup to 04:25 + 7.6667
    h) and a re-plan at 12:10 (done early) puts short on use1-az2's own pool: a new
    instance, setup, short 12:20-14:20, ended at the tick of 14:30. By hand:
    - use1-az1's instance, 00:00-03:00 (3 USD): all train's (its only use then);
    - use1-az1's slot in use1-az2, 04:15-12:10 (7.9167 h, 9.50 USD): train's (its use
      from the slot's start: the setup is the run's);
    - use1-az2's instance, 12:10-14:30 (2.3333 h, 2.80 USD): short's;
    - 3 + 9.50 + 2.80 = 15.30 USD, all of it the two jobs', none on-demand."""
    from orchestrate.test_controller import AZ1, AZ2, two_zones

    _w, cat = two_zones()
    w = workload([{"name": name, "gpus": 1, "gpu_hours": gpu_hours, "interruptible": True,
                   "checkpoint_minutes": 60, "deadline": "2027-01-01T16:00:00Z"}
                  for name, gpu_hours in (("short", 2), ("train", 10))],
                 period_hours=4, cloud={"regions": ["us-east-1"], "setup_minutes": 10})
    traces = [hourly([1, 1, 1] + [0] * 21, AZ1), hourly([1] * 24, AZ2)]
    sim = simulate(planned(w, cat), workload=w, catalog=cat, traces=traces,
                   hold=timedelta(hours=24))
    assert sim.replans == 2 and all(r.market == "spot" for r in sim.runs)
    train, short = sim.jobs["train"], sim.jobs["short"]
    assert (train.finished_at, short.finished_at) == (at(12 + 5 / 60), at(14 + 20 / 60))
    assert train.spot_hours == pytest.approx(3 + 7 + 55 / 60)
    assert short.spot_hours == pytest.approx(2 + 20 / 60)
    assert train.on_demand_hours == short.on_demand_hours == 0.0
    assert sim.cloud_usd == pytest.approx(3 + (7 + 55 / 60) * 1.2 + (2 + 20 / 60) * 1.2)
    assert sim.unattributed_usd == pytest.approx(0.0, abs=1e-9)
