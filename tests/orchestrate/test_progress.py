"""Job progress, worked by hand from runs and the plan's mix."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from costopt.orchestrate.ledger import Interruption, Runtime
from costopt.orchestrate.progress import (
    JobNeeds,
    OwnedWork,
    PlanMix,
    ProgressModel,
    Run,
    SlotWork,
    job_progress,
    parse_progress_tag,
    progress_then,
    runs_from_ledger,
)

T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)
POOL = "aws:us-east-1:p3.8xlarge:spot"


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def model(setup_minutes: float = 6.0) -> ProgressModel:
    # Two 12-hour periods. In period 0 the plan puts "a" (2 GPUs per instance-hour) and "b"
    # (1 GPU per instance-hour) on the 4-GPU pool; in period 1 only "a". "b" is 1.5x as fast
    # on it. "a" also gets 24 GPU-h of owned work spread over period 1.
    mix = PlanMix((at(0), at(12)), at(24), {(POOL, 0): {"a": 2.0, "b": 1.0},
                                             (POOL, 1): {"a": 2.0}},
                  (OwnedWork("a", at(12), at(24), 24.0, 6.0),))
    jobs = (JobNeeds("a", 100.0, 30, at(24)), JobNeeds("b", 10.0, 60, at(12)))
    return ProgressModel(jobs, {("a", POOL): 1.0, ("b", POOL): 1.5}, mix, setup_minutes)


def test_work_cost_and_hours_are_shared_by_the_plan_mix() -> None:
    # One spot run 10:00-14:00 at 4 USD/h, interrupted at 14:00.
    # Period 0 (10:00-12:00, 2 h): "a" holds 2/3, "b" 1/3: 1.3333 h and 0.6667 h, USD 5.333
    # and 2.667. Work from 10:06 (setup 6 min): a 2 x 1.0 x 1.9 = 3.8; b 1 x 1.5 x 1.9 = 2.85.
    # Period 1 (12:00-14:00): all "a": 2 h, 8 USD, 2 x 2 = 4 GPU-h.
    # Interruption: "a" loses 30/2 min x 2 GPUs = 0.5; (its mix at 14:00 is period 1's).
    # Owned: "a" gets 24 x 2/12 = 4 GPU-h and 6 x 2/12 = 1 USD by 14:00.
    run = Run("i-1", POOL, "spot", at(10), at(14), 4.0, interrupted=True)
    p = job_progress(model(), [run], at(14))
    a, b = p["a"], p["b"]
    assert a.spot_hours == pytest.approx(4 / 3 + 2) and b.spot_hours == pytest.approx(2 / 3)
    assert a.cloud_usd == pytest.approx(16 / 3 + 8) and b.cloud_usd == pytest.approx(8 / 3)
    assert a.owned_usd == pytest.approx(1.0)
    assert a.done_gpu_hours == pytest.approx(3.8 + 4 - 0.5 + 4)
    assert b.done_gpu_hours == pytest.approx(2.85)
    assert (a.interruptions, b.interruptions) == (1, 0)
    assert not a.finished and a.remaining_gpu_hours == pytest.approx(100 - 11.3)


def test_a_run_serving_a_v3_slot_works_for_the_jobs_its_uses_name_then() -> None:
    """Slot 0 of the pool runs "a" on 4 GPUs 00:00-06:00, then "b" on 2 GPUs 06:00-12:00.
    A spot run of that slot 05:00-08:00 at 4 USD/h, setup 6 min, interrupted at 08:00:
    - a works 4 GPUs x 1.0 from 05:06 to 06:00: 3.6 GPU-h; b 2 x 1.5 x 2 h = 6 GPU-h, less
      half its 60-min checkpoint on 2 GPUs at 1.5 (0.5 x 3 = 1.5) lost at 08:00: 4.5;
    - GPU-hours of use within 05:00-08:00: a 4 x 1 = 4, b 2 x 2 = 4, so of its 3 h and
      12 USD each has 1.5 h and 6 USD (they add up to the run's);
    - only b held GPUs when it was interrupted.
    The plan's mix would have given period 0 to a and b 2:1 (a 2 h and 8 USD); a run whose
    slot the plan does not hold, or whose slot is not known (v2), still goes by it."""
    base = model()
    uses = {(POOL, 0): (SlotWork("a", 4, at(0), at(6)), SlotWork("b", 2, at(6), at(12)))}
    slotted = ProgressModel(base.jobs, base.speed, PlanMix(
        base.mix.period_starts, base.mix.end, base.mix.gpus, base.mix.owned, uses=uses,
        spans={(POOL, 0): ((at(0), at(12)),)}), 6.0)
    run = Run("i-1", POOL, "spot", at(5), at(8), 4.0, interrupted=True, slot=0)
    p = job_progress(slotted, [run], at(9))
    a, b = p["a"], p["b"]
    assert a.done_gpu_hours == pytest.approx(3.6) and b.done_gpu_hours == pytest.approx(4.5)
    assert (a.spot_hours, b.spot_hours) == (pytest.approx(1.5), pytest.approx(1.5))
    assert (a.cloud_usd, b.cloud_usd) == (pytest.approx(6.0), pytest.approx(6.0))
    assert (a.interruptions, b.interruptions) == (0, 1)
    for other in (Run("i-1", POOL, "spot", at(5), at(8), 4.0, slot=7),
                  Run("i-1", POOL, "spot", at(5), at(8), 4.0)):
        assert job_progress(slotted, [other], at(9))["a"].spot_hours == pytest.approx(2.0)


def test_a_job_finishes_when_its_work_is_done() -> None:
    # "b" needs 10 GPU-h at 1 x 1.5 = 1.5 per instance-hour after 6 minutes of setup:
    # 10 / 1.5 = 6.6667 h after 00:06 -> 06:46. An on-demand run; its deadline is 12:00.
    run = Run("i-1", POOL, "on_demand", at(0), at(12), 4.0)
    b = job_progress(model(), [run], at(12))["b"]
    assert b.finished_at == at(0.1 + 10 / 1.5)
    assert b.met_deadline and b.done_gpu_hours == 10.0
    assert b.on_demand_hours == pytest.approx(4.0) and b.spot_hours == 0.0


def test_work_within_a_millionth_of_the_need_is_done_and_less_is_not() -> None:
    """Owned work of "a" (needs 100) spread evenly over period 1 (12:00-24:00). Planned
    99.99995: short by 5e-5, within the tolerance max(1e-4, 1e-6 x 100) = 1e-4 -> finished,
    its done figure the whole 100. Planned 99.9998: short by 2e-4 -> not finished, and its
    figure (rounded to 4 places as the JSON has it) is not 100 either. The old absolute
    1e-9 left 1,999.999995 of 2,000 "not done" at 100.0 %."""
    jobs = (JobNeeds("a", 100.0, 30, at(24)),)
    for planned, finished in ((99.99995, True), (99.9998, False)):
        mix = PlanMix((at(0), at(12)), at(24), {}, (OwnedWork("a", at(12), at(24), planned,
                                                               0.0),))
        a = job_progress(ProgressModel(jobs, {}, mix), [], at(24))["a"]
        assert a.finished is finished
        assert (round(a.done_gpu_hours, 4) == 100.0) is finished
        if finished:  # done by the end of the work (24:00), not 100 / (99.99995 / 12) h
            # after 12:00 (24:00:00.02): the deadline of 24:00 is met
            assert a.finished_at == at(24) and a.met_deadline


def test_a_run_shorter_than_its_setup_does_no_work_and_loses_none() -> None:
    run = Run("i-1", POOL, "spot", at(1), at(1.05), 4.0, interrupted=True)
    p = job_progress(model(setup_minutes=10), [run], at(2))
    assert p["a"].done_gpu_hours == 0.0 and p["a"].interruptions == 1


def test_runs_from_the_ledger_mark_the_interrupted_one() -> None:
    def runtime(start: float, end: float | None) -> Runtime:
        return Runtime("i-1", "p", POOL, "us-east-1", "p3.8xlarge", "spot", at(start),
                       None if end is None else at(end), 4.0)

    runs = runs_from_ledger([runtime(3, 4), runtime(0, 1)],
                            [Interruption("i-1", "p", POOL, at(4), "x")], at(5))
    assert [(r.start, r.end, r.interrupted) for r in runs] == [
        (at(0), at(1), False), (at(3), at(4), True)]
    (still,) = runs_from_ledger([runtime(2, None)], [], at(5))
    assert (still.end, still.interrupted) == (at(5), False)


def test_the_progress_tag_names_jobs_and_their_work() -> None:
    assert parse_progress_tag("train=6.5, eval=0") == ({"train": 6.5, "eval": 0.0}, None)
    said, problem = parse_progress_tag("train=6.5,oops,eval=-1,x=nan")
    assert said == {"train": 6.5}
    assert problem == "not JOB=GPU_HOURS (a number >= 0): oops, eval=-1, x=nan"


def _random_history(rng: random.Random, ticks: list[datetime],
                    late_minutes: int = 50) -> list[list[Run]]:
    """Runs as the ledger gives them at each tick (:func:`runs_from_ledger`: in order of
    instance, one still running ending at the tick): instances start and end (some
    interrupted) up to ``late_minutes`` before the tick they are recorded at (0: at it, as
    the controller records what it does and sees)."""
    closed: list[Run] = []
    open_: dict[str, tuple[datetime, str, float]] = {}
    out = []
    for k, tick in enumerate(ticks):
        for instance_id in list(open_):
            if rng.random() < 0.3:
                start, market, usd = open_.pop(instance_id)
                end = max(start, tick - timedelta(minutes=rng.randrange(0, late_minutes + 1)))
                closed.append(Run(instance_id, POOL, market, start, end, usd,
                                  interrupted=market == "spot" and rng.random() < 0.5))
        if rng.random() < 0.6:
            open_[f"i-{k:03d}"] = (tick - timedelta(minutes=rng.randrange(0, late_minutes + 1)),
                                   rng.choice(["spot", "on_demand"]), rng.choice([3.0, 4.5]))
        out.append(sorted(closed + [Run(i, POOL, m, s, tick, usd)
                                    for i, (s, m, usd) in open_.items()],
                          key=lambda r: (r.instance_id, r.start)))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_progress_kept_from_tick_to_tick_is_the_progress_worked_out_afresh(seed: int) -> None:
    # One model asked tick after tick keeps what each ended run did; a new model each tick
    # works every run out again. Every figure of every job must be the same at every tick,
    # and also for a moment in the past (a report's, as reported_progress asks).
    rng = random.Random(seed)
    ticks = [at(h / 4) for h in range(1, 4 * 26)]  # every 15 minutes, past the horizon
    kept = model()
    fields = ("done_gpu_hours", "finished_at", "spot_hours", "on_demand_hours",
              "interruptions", "cloud_usd", "owned_usd")
    for tick, runs in zip(ticks, _random_history(rng, ticks), strict=True):
        for moment in (tick, tick - timedelta(hours=3)):
            again, afresh = job_progress(kept, runs, moment), job_progress(model(), runs, moment)
            assert {j: [getattr(p, f) for f in fields] for j, p in again.items()} == {
                j: [getattr(p, f) for f in fields] for j, p in afresh.items()}
    assert kept.shares  # it did keep something


@pytest.mark.parametrize("seed", range(5))
def test_progress_then_kept_is_the_progress_then_worked_out_afresh(seed: int) -> None:
    # A moment in the past asked tick after tick (a plan's takeover at 06:00, and 3 h ago):
    # kept on the model for the runs as they were by then. Each figure is job_progress's
    # afresh; a run open at 06:00 that runs on later does the same by then, so a later tick
    # whose runs differ only after 06:00 gets 06:00's figures kept, not worked out again.
    rng = random.Random(seed)
    ticks = [at(h / 4) for h in range(1, 4 * 26)]
    kept = model()
    fields = ("done_gpu_hours", "finished_at", "spot_hours", "on_demand_hours",
              "interruptions", "cloud_usd", "owned_usd")
    for tick, runs in zip(ticks, _random_history(rng, ticks), strict=True):
        for moment in (at(6), tick - timedelta(hours=3)):
            then, afresh = progress_then(kept, runs, moment), job_progress(model(), runs, moment)
            assert {j: [getattr(p, f) for f in fields] for j, p in then.items()} == {
                j: [getattr(p, f) for f in fields] for j, p in afresh.items()}
    later = [Run("i-open", POOL, "spot", at(5), at(7), 4.0),
             Run("i-new", POOL, "on_demand", at(6.5), at(7), 3.0)]
    then = progress_then(kept, later, at(6))
    ran_on = [Run("i-open", POOL, "spot", at(5), at(9), 4.0, interrupted=True),
              Run("i-new", POOL, "on_demand", at(6.5), at(9), 3.0)]
    assert progress_then(kept, ran_on, at(6)) is then
    assert progress_then(kept, ran_on[:1] + [Run("i-0", POOL, "spot", at(5.5), at(9), 4.0)],
                         at(6)) is not then  # a run by 06:00 more: worked out again


@pytest.mark.parametrize("seed", range(5))
def test_a_walk_resumed_from_the_last_tick_gives_the_progress_worked_out_afresh(
        seed: int) -> None:
    """Tick after tick as the ledger has the runs, one model walks each job's work on from
    where its last tick left it (the runs before then as they were), crediting only what
    ran since; every figure equals the one worked out afresh from all the runs, to the
    last bit. A report's moment in the past between ticks is worked out afresh and leaves
    the walk where it was. The first runs, all ended before the last tick, are not
    credited again: their cost and hours are taken as they added up then."""
    rng = random.Random(seed)
    ticks = [at(h / 4) for h in range(1, 4 * 26)]  # every 15 minutes, past the horizon
    kept = model()
    fields = ("done_gpu_hours", "finished_at", "spot_hours", "on_demand_hours",
              "interruptions", "cloud_usd", "owned_usd")
    resumed = closed = 0
    for tick, runs in zip(ticks, _random_history(rng, ticks, 0), strict=True):
        for moment in (tick, tick - timedelta(hours=3)):
            again, afresh = job_progress(kept, runs, moment), job_progress(model(), runs, moment)
            assert {j: [getattr(p, f) for f in fields] for j, p in again.items()} == {
                j: [getattr(p, f) for f in fields] for j, p in afresh.items()}
            resumed += sum(len(p._segments) < len(afresh[j]._segments)
                           for j, p in again.items())
        assert kept.walked[kept.jobs].upto == tick
        closed += len(kept.walked[kept.jobs].closed)
    assert resumed > 50  # it did walk on from the last tick
    assert closed > 50  # and took the first runs, ended before it, as they added up then


def test_a_run_recorded_late_before_the_last_tick_is_walked_afresh() -> None:
    """An instance the ledger learns of late, running 02:00-03:00 (on-demand at 4 USD/h),
    when progress was last asked at 04:00: what happened before 04:00 changed, so "b" (1
    GPU-h at 1.5 per hour of the plan's mix in period 0, after 6 minutes) gets its
    0.9 x 1.5 = 1.35 GPU-h, as afresh."""
    kept = model()
    assert job_progress(kept, [], at(4))["b"].done_gpu_hours == 0.0
    late = [Run("i-1", POOL, "on_demand", at(2), at(3), 4.0)]
    b = job_progress(kept, late, at(5))["b"]
    assert b.done_gpu_hours == pytest.approx(0.9 * 1.5)
    assert b.done_gpu_hours == job_progress(model(), late, at(5))["b"].done_gpu_hours


def test_the_period_of_a_moment_is_the_periods_one_and_none_before_the_horizon() -> None:
    """Two 12-hour periods from 00:00: a moment before the horizon is in none (-1: the
    plan puts no job on the pool then, where Periods counts it in the first); 00:00-11:59
    in period 0, 12:00 on in period 1, the end and later in the last, as Periods has it."""
    mix = model().mix
    assert mix.period_of(at(-0.5)) == -1 and mix.periods.index(at(-0.5)) == 0
    for hours, t in ((0, 0), (11.99, 0), (12, 1), (24, 1), (30, 1)):
        assert mix.period_of(at(hours)) == mix.periods.index(at(hours)) == t
    assert mix.period_end(0) == at(12) and mix.period_end(1) == at(24)
    windows = {"a": (at(-1), at(24)), "b": (at(-1), at(12))}
    assert mix.shares(POOL, mix.period_of(at(-0.5)), windows, at(-0.5)) == {}
    assert mix.shares(POOL, mix.period_of(at(0)), windows, at(0)) == {"a": 2.0, "b": 1.0}


def test_owned_work_out_of_order_kept_from_tick_to_tick_is_the_owned_work_afresh() -> None:
    """"a" has owned work on two servers, listed server by server (out of order of start):
    12:00-18:00 and 18:00-24:00 on one (6 GPU-h and 1.20 USD each), 12:00-15:00 and
    15:00-24:00 on the other (3 GPU-h, 0.90 USD; 9 GPU-h, 2.70 USD): 1 + 1 GPU-h an hour
    from 12:00. Asked every 15 minutes on one model, each tick adds up what the works that
    ended before the last tick cost as it did then; every figure equals a fresh model's,
    to the last bit. By 20:00: 6 + 2 + 3 + 5 = 16 GPU-h (2 x 8 h) and 1.20 + 0.40 + 0.90 +
    1.50 = 4.00 USD."""
    works = (OwnedWork("a", at(12), at(18), 6.0, 1.2), OwnedWork("a", at(18), at(24), 6.0, 1.2),
             OwnedWork("a", at(12), at(15), 3.0, 0.9), OwnedWork("a", at(15), at(24), 9.0, 2.7))

    def owned_model() -> ProgressModel:
        mix = PlanMix((at(0), at(12)), at(24), {}, works)
        return ProgressModel((JobNeeds("a", 100.0, 30, at(24)),), {}, mix, 6.0)

    kept = owned_model()
    assert kept.mix.owned_by_job == {"a": (works, False)}
    for tick in [at(h / 4) for h in range(1, 4 * 26)]:
        again, afresh = (job_progress(m, [], tick)["a"] for m in (kept, owned_model()))
        assert (again.owned_usd, again.done_gpu_hours) == (afresh.owned_usd,
                                                           afresh.done_gpu_hours)
        if tick == at(20):
            assert (again.done_gpu_hours, again.owned_usd) == pytest.approx((16.0, 4.0))
    assert kept.walked[kept.jobs].owned == {"a": (4, afresh.owned_usd)}  # all ended by 26:00
