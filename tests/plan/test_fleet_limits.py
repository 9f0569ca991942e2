"""Random plans' fleets, walked instant by instant: never over a quota or a cap, no run or
pause shorter than the minimum, setup excluded from the work, the cost the fleet's; each
instance's jobs within its GPUs at every instant, gangs whole, every job's work done in its
slots (the layout, ``plan/layout.py``). CI runs a fixed set of examples (the ``ci`` profile,
``tests/conftest.py``); ``scripts/fleet_walk.py`` runs it wider with fresh seeds."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from builders import OFFERS, catalog, offer, server, workload
from fleet_walk import peak, walk_the_layout
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples

from costopt.errors import WorkloadError
from costopt.plan.planfile import to_document
from costopt.plan.planner import make_plan
from costopt.pricing.catalog import ZoneSpotPrice, quota_family

REGIONS = ["us-east-1", "us-west-2"]
ZONES = {"us-east-1": ["use1-az1", "use1-az2"], "us-west-2": ["usw2-az1"]}


@st.composite
def limited_case(draw: st.DrawFn):
    period_hours = draw(st.sampled_from([6, 12, 24]))
    days = draw(st.integers(1, 2))
    periods = days * 24 // period_hours
    offers = []
    for name, gpu, gpus, vcpus in draw(st.lists(st.sampled_from(OFFERS), min_size=1,
                                                max_size=4, unique=True)):
        for region in REGIONS:
            od = draw(st.floats(1.0, 30.0))
            o = offer(name, region, gpu=gpu, gpus=gpus, vcpus=vcpus, on_demand=od,
                      spot=od / 2, rate=draw(st.sampled_from([0.0, 0.05])))
            if draw(st.booleans()):
                o = replace(o, spot_zones=tuple(ZoneSpotPrice(z, od * draw(st.floats(0.2, 0.6)))
                                                for z in ZONES[region]))
            offers.append(o)
    quotas = [{"region": r, "market": m, "family": f,
               "vcpus": draw(st.sampled_from([32, 40, 64, 96, 100, 200]))}
              for r in REGIONS for m in ("on_demand", "spot") for f in ("P", "G")
              if draw(st.integers(0, 2)) == 0]
    caps = [{"instance_type": o.instance_type, "region": o.region,
             "market": draw(st.sampled_from(["on_demand", "spot"])),
             "count": draw(st.integers(1, 3))} for o in offers if draw(st.integers(0, 3)) == 0]
    jobs = []
    for i in range(draw(st.integers(1, 4))):
        first = draw(st.integers(0, periods - 1))
        last = draw(st.integers(first + 1, periods))
        jobs.append({"name": f"j{i}", "gpus": draw(st.sampled_from([1, 1, 2, 4])),
                     "gpu_hours": draw(st.floats(1.0, 200.0)),
                     "interruptible": draw(st.booleans()),
                     "nodes": draw(st.sampled_from([1, 1, 1, 2, 3])),
                     "parallel": draw(st.sampled_from([1, 1, 2, 4])),
                     "start": _at(first * period_hours), "deadline": _at(last * period_hours)})
    cloud = {"quotas": quotas, "max_instances": caps, "regions": REGIONS,
             "setup_minutes": draw(st.sampled_from([0, 10, 25])),
             "min_instance_minutes": draw(st.sampled_from([0, 30, 60]))}
    solver = draw(st.sampled_from(["cbc", "highs"]))
    owned = {"servers": [server(gpus=draw(st.sampled_from([2, 4])))]} \
        if draw(st.integers(0, 3)) == 0 else None  # a job on owned and cloud pools at once
    w = workload(jobs, days=days, period_hours=period_hours, cloud=cloud, owned=owned)
    return w, catalog(*offers), solver


def _at(hours: int) -> str:
    return f"2027-01-{1 + hours // 24:02d}T{hours % 24:02d}:00:00Z"


def gang_beside_two_small_jobs_under_a_cap(setup: int = 0, least: int = 30):
    """Found by the random profile (a cap broken, 4 instances of p3.8xlarge at once against
    ``count: 3``): a 3-node gang of 1 GPU per node and two 1-GPU jobs, 1 GPU-h each, in one
    6-hour period; every offer 1 USD/h on demand; a minimum instance time of 30 minutes (or
    10 minutes of setup); a cap of 3 p3.8xlarge. The gang's three nodes were paid 1.5
    instance-hours for 1 of work, and the model let the one-node jobs count on the gang's
    0.5 h of minimum time (or setup): the fleet then ran them on a fourth p3.8xlarge beside
    the gang's three."""
    offers = [offer(name, region, gpu=gpu, gpus=gpus, vcpus=vcpus, on_demand=1.0, spot=0.5,
                    rate=0.0) for name, gpu, gpus, vcpus in OFFERS for region in REGIONS]
    cloud = {"regions": REGIONS, "setup_minutes": setup, "min_instance_minutes": least,
             "quotas": [{"region": "us-east-1", "market": "on_demand", "family": "P",
                         "vcpus": 200}],
             "max_instances": [{"instance_type": "p3.8xlarge", "region": "us-east-1",
                                "market": "on_demand", "count": 3}]}
    jobs = [{"name": f"j{i}", "gpus": 1, "gpu_hours": 1.0, "nodes": nodes, "start": _at(0),
             "deadline": _at(6)} for i, nodes in enumerate((3, 1, 1))]
    return workload(jobs, days=1, period_hours=6, cloud=cloud), catalog(*offers), "cbc"


def test_a_gangs_minimum_time_is_its_own() -> None:
    """The case above, worked by hand: the gang needs 3 instances and the two small jobs at
    least one more, each paid its 30 minutes at 1 USD/h: 4 x 0.5 = 2.00 USD, the least any
    plan can pay, and no more than 3 instances of p3.8xlarge at once (the plan once paid
    2.50 USD with 4 of them)."""
    w, cat, _solver = gang_beside_two_small_jobs_under_a_cap()
    for solver in ("cbc", "highs"):
        result = make_plan(w, cat, solver=solver)
        assert result.total_usd == pytest.approx(2.0, abs=1e-6)
        eight = [(r.start, r.end, 1) for s in result.fleet for r in s.runs
                 if s.pool == "aws:us-east-1:p3.8xlarge:on_demand"]
        assert peak(eight) <= 3


def a_job_on_a_server_and_the_cloud():
    """``tests/plan/test_model.py``'s wide and narrow jobs on a 2-GPU server: narrow (1 GPU)
    runs on the cloud while wide holds the server. The fleet once ran narrow's cloud work
    from the start of the 2-day run, 24 h on day one beside its 11.25 h owned."""
    window = {"start": _at(0), "deadline": _at(48), "interruptible": False}
    w = workload([{"name": "wide", "gpus": 2, "gpu_hours": 51, **window},
                  {"name": "narrow", "gpus": 1, "gpu_hours": 48, **window}], days=2,
                 owned={"servers": [server(gpus=2)]}, cloud={"markets": ["on_demand"]})
    return w, catalog(offer(on_demand=2.0)), "highs"


def a_gang_split_over_two_pools_in_one_run():
    """Found at ``--hypothesis-seed=4`` (shrunk by hand): ``j0``, a 3-node gang of 2 GPUs
    per node, one gang at a time, 107 GPU-hours from 12:00 on day one to 12:00 on day two,
    on T4s (g4dn.12xlarge, half a V100's speed, 1 USD/h) and V100s (p3.8xlarge, 9.46 USD/h);
    ``j1`` (1 GPU-hour by 24:00) cuts the window into two runs of 12 h. In the first the
    g4dn gang ran 12:00-23:30 and the p3.8xlarge one its minimum 30 minutes at 12:00: two
    gangs of ``j0`` at once, 39 GPU-hours in the 6-hour period 12:00-18:00 where one gang
    of 6 GPUs holds 36. The p3.8xlarge run could not move to 23:30 while its next run
    started at 00:00 (within the minimum instance time), and when that one moved to 00:50,
    a later period of the same pass, the earlier was not looked at again."""
    offers = [offer("g4dn.12xlarge", "us-west-2", gpu="T4", gpus=4, vcpus=48, on_demand=1.0),
              offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=9.46)]
    cloud = {"regions": REGIONS, "markets": ["on_demand"], "min_instance_minutes": 30}
    jobs = [{"name": "j0", "gpus": 2, "nodes": 3, "gpu_hours": 107.0, "interruptible": False,
             "start": _at(12), "deadline": _at(36)},
            {"name": "j1", "gpus": 1, "gpu_hours": 1.0, "interruptible": False,
             "start": _at(0), "deadline": _at(24)}]
    return workload(jobs, days=2, period_hours=6, cloud=cloud), catalog(*offers), "cbc"


def small_jobs_beside_a_gang(jobs: tuple[tuple[float, int, int, int], ...],
                             gang: tuple[float, int, int], *, setup: int,
                             caps: tuple[tuple[str, int], ...], east_usd: float = 1.0):
    """Found by the wide profile: one-node 1-GPU jobs ``j0``, ``j1``, ... (``jobs``: GPU-h,
    window start and end in hours, parallel) and a 2-node gang of 1 GPU per node
    (``gang``: GPU-h, parallel, window end), none interruptible; p3.2xlarge in us-east-1
    (``east_usd`` on demand) and us-west-2 (1 USD/h), spot at half; 6-hour periods of one
    day; 32 vCPUs of on-demand P quota in us-east-1 (4 instances) and ``caps`` (region,
    count) on on-demand p3.2xlarge; ``setup`` minutes."""
    offers = [offer(region="us-east-1", on_demand=east_usd, spot=east_usd / 2, rate=0.0),
              offer(region="us-west-2", on_demand=1.0, spot=0.5, rate=0.0)]
    cloud = {"regions": REGIONS, "setup_minutes": setup, "quotas": [
        {"region": "us-east-1", "market": "on_demand", "family": "P", "vcpus": 32}],
        "max_instances": [{"instance_type": "p3.2xlarge", "region": region,
                           "market": "on_demand", "count": count} for region, count in caps]}
    entries = [{"name": f"j{i}", "gpus": 1, "gpu_hours": h, "interruptible": False,
                "parallel": parallel, "start": _at(start), "deadline": _at(end)}
               for i, (h, start, end, parallel) in enumerate(jobs)]
    gang_hours, parallel, end = gang
    entries.append({"name": f"j{len(jobs)}", "gpus": 1, "nodes": 2, "gpu_hours": gang_hours,
                    "parallel": parallel, "interruptible": False, "start": _at(0),
                    "deadline": _at(end)})
    return workload(entries, days=1, period_hours=6, cloud=cloud), catalog(*offers), "cbc"


def test_one_node_jobs_beside_a_gang_pay_their_own_setups() -> None:
    """j0, j1 (1 GPU-h each) and j2 (4 GPU-h), one GPU each, and j3, a 2-node gang of 1 GPU
    per node and 1 GPU-h, all in 00:00-06:00 on demand (not interruptible), 10 minutes of
    setup; p3.2xlarge at 1 USD/h in us-west-2 (no cap) and us-east-1 (one at once). The
    gang's two nodes work 0.5 h each and pay a setup each: 2 x (0.5 + 1/6) = 1.3333 h. The
    one-node jobs' 6 h of work and a setup do not fit one instance in 6 h, so two, each
    paying its setup: 6 + 2/6 = 6.3333 h. 7.6667 USD, the least. The LP charged the gang's
    work in ``packing`` as if its setups were the one-node jobs' share (``7 / f`` = 7.2
    instance-hours, ``f = 1 - (1/6) / 6``), the fleet gave the one-node jobs one instance of
    6 h and j1 fell 10 minutes short: a plan of 7.33 USD that did not do the work."""
    w, cat, _solver = small_jobs_beside_a_gang(
        ((1.0, 0, 6, 1), (1.0, 0, 6, 1), (4.0, 0, 6, 1)), (1.0, 1, 6), setup=10,
        caps=(("us-east-1", 1),))
    for solver in ("cbc", "highs"):
        result = make_plan(w, cat, solver=solver)
        assert result.status == "optimal", solver
        assert result.total_usd == pytest.approx(6 + 2 / 6 + 2 * (0.5 + 1 / 6), abs=1e-6)
        walk_the_layout(w, to_document(result, "w.yaml", "0" * 64).as_json())


EXAMPLES = int(os.environ.get("FLEET_WALK_EXAMPLES", examples(300, ci=40)))
"""Examples drawn per run: 300 in the suite, 40 in CI (a fixed set, a few seconds);
``scripts/fleet_walk.py`` asks for more."""


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limited_case())
@example(gang_beside_two_small_jobs_under_a_cap())
@example(gang_beside_two_small_jobs_under_a_cap(setup=10, least=0))
@example(a_job_on_a_server_and_the_cloud())
@example(a_gang_split_over_two_pools_in_one_run())
# the wide profile's draws (fixed): a cap of 3 run with 4 (the one-node jobs' instances beside
# a gang's setups), a quota of 32 vCPUs run with 40 (an empty instance for the hours the LP
# charged a gang that carried on without a setup), the work 10 minutes short (the worked case
# above)
@example(small_jobs_beside_a_gang(((1.0, 0, 6, 1), (1.0, 0, 6, 1), (6.0, 0, 6, 1)),
                                  (1.0, 1, 6), setup=10, east_usd=2.0,
                                  caps=(("us-east-1", 1), ("us-west-2", 3))))
@example(small_jobs_beside_a_gang(((4.0, 0, 12, 2), (15.0, 6, 18, 1), (1.0, 6, 12, 1)),
                                  (58.0, 4, 12), setup=25, caps=(("us-west-2", 2),)))
@example(small_jobs_beside_a_gang(((1.0, 0, 6, 1), (1.0, 0, 6, 1), (4.0, 0, 6, 1)),
                                  (1.0, 1, 6), setup=10, caps=(("us-east-1", 1),)))
def test_a_fleet_never_exceeds_a_limit_and_costs_what_the_plan_says(case) -> None:
    w, cat, solver = case
    try:
        result = make_plan(w, cat, solver=solver)
    except WorkloadError:  # a job left with no pool (quotas, gangs): explained, not planned
        event("no pool for some job")
        return
    event(f"planned: {result.status}, {len(result.fleet)} pool(s) in the fleet")
    doc = to_document(result, "w.yaml", "0" * 64).as_json()
    pools = {p["pool"]: p for p in doc["pools"]}
    fleet = {f["pool"]: f for f in doc["fleet"]}
    slots = [(f["pool"], s) for f in doc["fleet"] for s in f["slots"]]

    def intervals(pool_ids: set[str], weight) -> list[tuple[datetime, datetime, float]]:
        return [(datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]),
                 weight(pools[p])) for p, s in slots if p in pool_ids]

    # 1. The workload's quota lines, from the plan file alone: vCPUs at once.
    for q in w.cloud.quotas:
        members = {p for p, r in pools.items() if r["market"] == q.market
                   and r.get("region") == q.region
                   and quota_family(r["instance_type"]) == q.family}
        assert peak(intervals(members, lambda r: r["vcpus"])) <= q.vcpus
    # 2. max_instances: instances of the line's type, region and market at once (over all
    #    zones of a spot line).
    for m in w.cloud.max_instances:
        members = {p for p, r in pools.items() if r["market"] == m.market
                   and r.get("region") == m.region and r["instance_type"] == m.instance_type}
        assert peak(intervals(members, lambda r: 1)) <= m.count
    # 3. The limits the file records hold too.
    for lim in doc["limits"]:
        weights = {m["pool"]: m["weight"] for m in lim["members"]}
        assert peak(intervals(set(weights), lambda r, ws=weights: ws[r["pool"]])) \
            <= lim["bound"]
    # 4. No run and no pause of a slot shorter than the minimum; setup at each run's start.
    least = doc["launch_overhead"]["min_instance_minutes"] * 60
    setup = doc["launch_overhead"]["setup_minutes"] * 60
    by_slot: dict[tuple[str, int], list[tuple[datetime, datetime]]] = {}
    for p, s in slots:
        start, end = datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])
        assert (end - start).total_seconds() >= least - 1e-6
        setup_end = datetime.fromisoformat(s["setup_end"])
        assert (setup_end - start).total_seconds() == min(setup, (end - start).total_seconds())
        by_slot.setdefault((p, s["slot"]), []).append((start, end))
    for runs in by_slot.values():
        runs.sort()
        for (_s1, e1), (s2, _e2) in zip(runs, runs[1:], strict=False):
            assert (s2 - e1).total_seconds() >= least - 1e-6
    # 5. The cloud cost is the fleet's, to the cent.
    fleet_usd = sum((datetime.fromisoformat(s["end"]) - datetime.fromisoformat(s["start"]))
                    .total_seconds() / 3600 * fleet[p]["usd_per_hour"] for p, s in slots)
    cloud_usd = doc["cost"]["by_market"]["on_demand"] + doc["cost"]["by_market"]["spot"]
    assert cloud_usd == pytest.approx(fleet_usd, abs=0.01)
    # 6. The work: each pool's runs, less their setup, hold its jobs' GPU-hours over its
    #    GPUs per node, over each run of periods that the same jobs' windows hold (to the
    #    second): the plan counts setup over such a run, so work may move within it, never
    #    past a deadline.
    length = timedelta(hours=doc["horizon"]["period_hours"])
    origin = datetime.fromisoformat(doc["horizon"]["start"])
    count = round((datetime.fromisoformat(doc["horizon"]["end"]) - origin) / length)
    holding = [frozenset(j.name for j in w.jobs
                         if j.start <= origin + k * length < j.deadline) for k in range(count)]
    first: list[int] = []  # each period's run's first period
    for k in range(count):
        first.append(k if k == 0 or holding[k] != holding[k - 1] else first[-1])
    for p in fleet:
        runs = {first[round((datetime.fromisoformat(a["period_start"]) - origin) / length)]
                for a in doc["assignments"] if a["pool"] == p}
        for r in runs:
            members = [k for k in range(count) if first[k] == r]
            t0, t1 = origin + members[0] * length, origin + (members[-1] + 1) * length
            need = sum(a["gpu_hours"] for a in doc["assignments"] if a["pool"] == p
                       and t0 <= datetime.fromisoformat(a["period_start"]) < t1) \
                / pools[p]["gpus_per_node"]
            work = sum(max(0.0, (min(t1, datetime.fromisoformat(s["end"]))
                                 - max(t0, datetime.fromisoformat(s["setup_end"])))
                           .total_seconds()) for q, s in slots if q == p) / 3600
            assert work >= need - 2 / 3600
    walk_the_layout(w, doc)
