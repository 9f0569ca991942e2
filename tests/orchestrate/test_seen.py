"""Each spot pool's availability and interruption rate as the fleet has seen them
(orchestrate/seen.py), worked by hand, and a re-plan that uses them (issue 21).

Prior weight W = 24 h (``PRIOR_HOURS``); a failure counts its pool down until the pool's
next event, at most 1 h (``LOOKED_HOURS``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from simulate.sim_cases import planned
from zone_cases import AZ1, AZ2, two_zones

from costopt.orchestrate.ledger import Ledger
from costopt.orchestrate.ledger.store import Action, Interruption, Runtime
from costopt.orchestrate.replan import replan
from costopt.orchestrate.seen import (
    PoolSeen,
    SpotPrior,
    refusals_of,
    seen_estimates,
    seen_pools,
    with_seen,
    zone_pool,
)
from costopt.plan.pools import build_pools

T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)
AZ3 = "aws:us-east-1:p3.2xlarge:spot:use1-az3"
AZ4 = "aws:us-east-1:p3.2xlarge:spot:use1-az4"
ON_DEMAND = "aws:us-east-1:p3.2xlarge:on_demand"


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def run(instance: str, pool: str, market: str, start: float, end: float | None) -> Runtime:
    return Runtime(instance, "p", pool, "us-east-1", "p3.2xlarge", market, at(start),
                   None if end is None else at(end), 2.0)


def refusal(pool: str, hours: float, detail: str = "capacity: InsufficientInstanceCapacity"
            ) -> Action:
    return Action(0, "r", "p", at(hours), "launch", pool, 0, "us-east-1", None, None, 2.0,
                  "failed", detail)


def test_what_the_fleet_saw_of_each_pool() -> None:
    """By 14:00, in use1-az1: spot ran 00:00-10:00 (i-1; i-2 also ran 05:00-06:00, the same
    hours of time), was interrupted at 10:00, refused at 10:30 and 11:00, and runs again from
    11:30 (i-3): up 10 + 2.5 = 12.5 h; down from each failure to the next event, 10:00-10:30,
    10:30-11:00, 11:00-11:30: 1.5 h. An on-demand fallback in the pool's
    slot (10:30-11:30), a launch failed for another reason and an on-demand launch refused
    at 12:30 are no evidence (the last would have counted use1-az1 down 12:30-13:30).
    i-4, a launch of use1-az1's slot that walked to use1-az2, ran there 03:00-05:00; use1-az2
    was refused at 02:30 (the next event its start at 03:00: 0.5 h down). use1-az3 was
    refused once at 06:00, by a launch of use1-az1's slot walking the zones (its detail says
    where), and never tried again: down 1 h (the most a failure counts)."""
    runtimes = [run("i-1", AZ1, "spot", 0, 10), run("i-2", AZ1, "spot", 5, 6),
                run("i-od", AZ1, "on_demand", 10.5, 11.5), run("i-3", AZ1, "spot", 11.5, None),
                run("i-4", AZ1, "spot", 3, 5)]
    zones = {"i-1": "use1-az1", "i-2": "use1-az1", "i-3": "use1-az1", "i-4": "use1-az2"}
    interruptions = [Interruption("i-1", "p", AZ1, at(10), "spot")]
    walked = "capacity: InsufficientInstanceCapacity (spot in use1-az3)"
    refusals = [refusal(AZ1, 10.5), refusal(AZ1, 11), refusal(AZ2, 2.5), refusal(AZ1, 6, walked)]
    others = [refusal(AZ1, 12, "quota: vCPU limit"),
              refusal(AZ1, 12.5, "capacity: InsufficientInstanceCapacity (on-demand)")]
    seen = seen_pools(runtimes, interruptions, refusals_of(refusals + others),
                      at(14), zones)
    assert seen == {AZ1: PoolSeen(pytest.approx(12.5), pytest.approx(1.5)),
                    AZ2: PoolSeen(pytest.approx(2.0), pytest.approx(0.5)),
                    AZ3: PoolSeen(0.0, pytest.approx(1.0))}


def test_estimates_derate_toward_what_was_seen() -> None:
    """Prior 0.59 everywhere. use1-az3 (down 1 h): (0.59 x 24 + 0) / (24 + 1) = 14.16 / 25 =
    0.5664 is within 5 % of the prior (4 % below); use1-az1 (up 12.5, down 1.5): (14.16 +
    12.5) / 38 = 0.70158, better than the prior; a pool never seen (use1-az4): no pool seen
    failing, so every prior stands."""
    priors = {pool: SpotPrior("p3.2xlarge", "us-east-1", pool[-8:], 0.59, 0.1)
              for pool in (AZ1, AZ3, AZ4)}
    seen = {AZ1: PoolSeen(12.5, 1.5), AZ3: PoolSeen(0.0, 1.0)}
    assert seen_estimates(priors, seen) == {AZ1: 0.59, AZ3: 0.59, AZ4: 0.59}
    assert seen[AZ1].availability(0.59) == pytest.approx(26.66 / 38)


def test_a_failing_zone_has_the_others_of_its_type_credited_optimistically() -> None:
    """As above, with use1-az2 down 2 h: (0.59 x 24 + 0) / (24 + 2) = 14.16 / 26 = 0.54462,
    7.7 % below the prior: seen failing, planned at 0.54462. The other p3.2xlarge zones of
    us-east-1 are then estimated toward 0.9, not 0.59: use1-az1 (0.9 x 24 + 12.5) / 38 =
    34.1 / 38 = 0.89737; use1-az3 21.6 / 25 = 0.864; use1-az4, never tried, 0.9. A pool of
    another type (g4dn.xlarge, never tried) keeps its prior 0.59."""
    g4dn = "aws:us-east-1:g4dn.xlarge:spot:use1-az1"
    priors = {pool: SpotPrior("p3.2xlarge", "us-east-1", pool[-8:], 0.59, 0.1)
              for pool in (AZ1, AZ2, AZ3, AZ4)}
    priors[g4dn] = SpotPrior("g4dn.xlarge", "us-east-1", "use1-az1", 0.59, 0.1)
    seen = {AZ1: PoolSeen(12.5, 1.5), AZ2: PoolSeen(0.0, 2.0), AZ3: PoolSeen(0.0, 1.0)}
    assert seen_estimates(priors, seen) == {
        AZ1: pytest.approx(34.1 / 38), AZ2: pytest.approx(14.16 / 26),
        AZ3: pytest.approx(0.864), AZ4: pytest.approx(0.9), g4dn: 0.59}


def test_an_instance_counts_in_the_zone_it_ran_in() -> None:
    assert zone_pool(AZ1, "use1-az2") == AZ2
    assert zone_pool(AZ1, None) == AZ1
    assert zone_pool("aws:us-east-1:p3.2xlarge:spot", "use1-az2") == \
        "aws:us-east-1:p3.2xlarge:spot"


def test_the_estimates_are_what_the_resumed_workload_plans_with() -> None:
    w, cat = two_zones(home_usd=2.0, away_usd=2.2, on_demand_usd=32.0,
                       deadline="2027-01-02T00:00:00Z", period_hours=24)
    priors = {AZ1: SpotPrior("p3.2xlarge", "us-east-1", "use1-az1", 0.59, 0.0),
              AZ2: SpotPrior("p3.2xlarge", "us-east-1", "use1-az2", 0.59, 0.25)}
    pools = {p.id: p for p in build_pools(with_seen(w, priors, {AZ1: 0.3, AZ2: 0.59}),
                                          cat).cloud}
    assert (pools[AZ1].availability, pools[AZ1].interruptions_per_hour) == (0.3, 0.0)
    assert (pools[AZ2].availability, pools[AZ2].interruptions_per_hour) == (0.59, 0.25)
    assert pools[AZ1].availability_source == "given"


def test_a_replan_after_a_long_outage_moves_the_job_to_the_other_zone() -> None:
    """One 1-GPU job of 10 GPU-h due at 24:00; p3.2xlarge spot at 2.00 USD/h in use1-az1 and
    2.20 in use1-az2, both planned as always there (the test workloads' default availability
    1.0, the prior): the plan runs it in use1-az1. The fleet ran it there 00:00-02:00, then
    use1-az1 interrupted it and refused every quarter hour to 08:00: up 2 h, down 6 h, so the
    re-plan at 08:00 assumes (1.0 x 24 + 2) / (24 + 2 + 6) = 0.8125 there (2.00 / 0.8125 =
    2.46 USD per hour of work) and 1.0 in use1-az2 (never tried: 2.20): it moves the job to
    use1-az2's spot. Had the instance just been stopped at 02:00 (no interruption, no
    refusal), use1-az1 would have shown (24 + 2) / 26 = 1.0: it stays."""
    w, cat = two_zones(home_usd=2.0, away_usd=2.2, on_demand_usd=32.0,
                       deadline="2027-01-02T00:00:00Z", period_hours=24)
    plan = planned(w, cat)
    assert [p.pool for p in plan.fleet] == [AZ1]

    def replanned(outage: bool) -> tuple[list[str], float | None]:
        ledger = Ledger.in_memory()
        ledger.instance_running(instance_id="i-1", plan_id=plan.plan_id, pool=AZ1,
                                region="us-east-1", instance_type="p3.2xlarge",
                                market="spot", slot=0, az="use1-az1", usd_per_hour=2.0,
                                at=at(0))
        ledger.instance_halted("i-1", at(2), ended=True)
        if outage:
            ledger.record_interruption(instance_id="i-1", plan_id=plan.plan_id, pool=AZ1,
                                       at=at(2), reason="spot")
            for k in range(1, 24):  # 02:15 ... 07:45
                action = ledger.intent(run_id="r", plan_id=plan.plan_id, at=at(2 + k / 4),
                                       kind="launch", pool=AZ1, slot=0, region="us-east-1")
                ledger.result(action, "failed",
                              detail="capacity: InsufficientInstanceCapacity")
        doc = replan(w, cat, plan, ledger, at(8), workload_file="w.yaml",
                     workload_sha256="0" * 64)
        ledger.close()
        assumed = {p.pool: p.spot_availability for p in doc.pools}
        return [p.pool for p in doc.fleet if p.slots], assumed.get(AZ1)

    assert replanned(outage=True)[0] == [AZ2]
    assert replanned(outage=False) == ([AZ1], 1.0)
