"""Each job's progress across the plans a simulation had in force, worked by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from costopt.orchestrate.progress import JobNeeds, PlanMix, ProgressModel, Run, SlotWork
from costopt.simulate.ec2 import Served
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
