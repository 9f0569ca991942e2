"""Progress read from a ledger that others write too: what a controller keeps from tick to
tick (:mod:`costopt.orchestrate.steer`, :mod:`costopt.orchestrate.progress`) follows every
run another process adds or ends, as a read from nothing kept would."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from simulate.sim_cases import planned
from zone_cases import two_zones

from costopt.orchestrate.ledger import Ledger, StateLocation
from costopt.orchestrate.progress import JobProgress
from costopt.orchestrate.steer import ledger_progress, progress_model

T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)
FIELDS = ("done_gpu_hours", "finished_at", "spot_hours", "on_demand_hours", "interruptions",
          "cloud_usd", "owned_usd")


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def figures(progress: dict[str, JobProgress] | None) -> dict[str, list[object]]:
    assert progress is not None
    return {j: [getattr(p, f) for f in FIELDS] for j, p in progress.items()}


def test_runs_another_process_adds_or_ends_change_the_progress_kept_as_afresh(
        location: StateLocation) -> None:
    """10 GPU-h of a 1-GPU job, 1 GPU-h an hour on use1-az1's spot pool (the plan's slot
    from 00:00), 10 minutes of setup a run, a checkpoint every 60 minutes. This controller
    asks on one handle and one model, tick after tick (both keep what they read and worked
    out); another process writes on its own handle. At every tick the figures equal those
    of a fresh handle and model, to the bit, and the hand-worked work:

    - 01:00, i-1 (spot at 1.00 USD/h) running since 00:00: 1 h - 10 min = 0.8333 GPU-h;
    - 02:00, still running: 1.8333;
    - the other process stops i-1 at 01:30, before the last tick (a late record), and
      starts it again at 02:30: at 03:00, 1.5 h - 10 min + 0.5 h - 10 min = 1.6667 (not
      2.8333, what the run kept open at 02:00 would have done), 2 spot-hours, 2.00 USD;
    - the other process ends i-1 at 03:30: at 03:45, 1.3333 from the first run + 1 h -
      10 min from the second = 2.1667, no interruption; then it records that AWS
      interrupted it then: at 04:00, half a checkpoint interval (0.5 GPU-h) is lost,
      1.6667, 2.5 spot-hours, 1 interruption;
    - it starts i-2 at 04:00 for the slot, at 1.20 USD/h (a dearer zone's), and ends it at
      05:00 between two ticks: at 05:30, 1.6667 + 1 h - 10 min = 2.5 GPU-h, and
      2.5 x 1.00 + 1 x 1.20 = 3.70 USD."""
    w, cat = two_zones(home_usd=1.0, away_usd=1.2, on_demand_usd=3.0,
                       deadline="2027-01-01T16:00:00Z", period_hours=4)
    plan = planned(w, cat)
    (pool,) = (p.pool for p in plan.fleet)
    model = progress_model(plan, w, cat)

    def afresh(moment: datetime) -> dict[str, list[object]]:
        with Ledger.connect(location) as fresh:
            return figures(ledger_progress(progress_model(plan, w, cat), fresh, plan, moment))

    with Ledger.connect(location) as mine, Ledger.connect(location) as theirs:
        def tick(moment: datetime) -> JobProgress:
            kept = ledger_progress(model, mine, plan, moment)
            assert figures(kept) == afresh(moment)
            return kept["train"]

        def runs(instance_id: str, usd: float, hours: float) -> None:
            theirs.instance_running(instance_id=instance_id, plan_id=plan.plan_id, pool=pool,
                                    region="us-east-1", instance_type="p3.2xlarge",
                                    market="spot", slot=0, az=None, usd_per_hour=usd,
                                    at=at(hours))

        runs("i-1", 1.0, 0)
        assert tick(at(1)).done_gpu_hours == pytest.approx(5 / 6)
        assert tick(at(2)).done_gpu_hours == pytest.approx(1 + 5 / 6)
        theirs.instance_halted("i-1", at(1.5), ended=False)
        runs("i-1", 1.0, 2.5)
        train = tick(at(3))
        assert train.done_gpu_hours == pytest.approx(1.5 - 1 / 6 + 0.5 - 1 / 6)
        assert (train.spot_hours, train.cloud_usd) == pytest.approx((2.0, 2.0))
        theirs.instance_halted("i-1", at(3.5), ended=True)
        train = tick(at(3.75))
        assert (train.done_gpu_hours, train.interruptions) == (pytest.approx(4 / 3 + 5 / 6), 0)
        theirs.record_interruption(instance_id="i-1", plan_id=plan.plan_id, pool=pool,
                                   at=at(3.5), reason="Server.SpotInstanceTermination")
        train = tick(at(4))
        assert train.done_gpu_hours == pytest.approx(4 / 3 + 5 / 6 - 0.5)
        assert (train.spot_hours, train.interruptions) == (pytest.approx(2.5), 1)
        runs("i-2", 1.2, 4)
        tick(at(4.5))
        theirs.instance_halted("i-2", at(5), ended=True)
        train = tick(at(5.5))
        assert train.done_gpu_hours == pytest.approx(5 / 3 + 5 / 6)
        assert train.cloud_usd == pytest.approx(2.5 * 1.0 + 1.2)

