"""The reconcile diff, on small fleets whose answer is read off the slots by hand.

The fleet used by most tests (UTC hours after 2027-01-04T00:00, periods of 12 h):
- OD: on-demand p3.2xlarge in us-east-1 at 3.00 USD/h; slot 0 runs [0, 18), slot 1 [0, 6).
- SPOT: spot p3.8xlarge in us-west-2 at 3.60 USD/h (12.00 on demand); slot 0 runs [0, 8)
  and again [12, 20): it pauses 4 h, less than a period, so its instance is stopped and
  started again.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from fleet_plans import at, plan, pool, seen

from costopt.orchestrate.reconcile import MarketChoice, reconcile, resumes_within, wanted_slots
from costopt.planfile import PlanDocument

OD = "aws:us-east-1:p3.2xlarge:on_demand"
SPOT = "aws:us-west-2:p3.8xlarge:spot"
ELSEWHERE = "aws:eu-west-1:g4dn.xlarge:on_demand"
P16 = "aws:us-east-1:p3.16xlarge:on_demand"


@pytest.fixture
def two_pools():
    return plan(pool(OD, [(0, 0, 18), (1, 0, 6)], usd_per_hour=3.0),
                pool(SPOT, [(0, 0, 8), (0, 12, 20)], usd_per_hour=3.6, on_demand=12.0))


def kinds(recon) -> list[tuple[str, str, int | None, str | None]]:
    return [(a.kind, a.pool, a.slot, a.instance_id) for a in recon.actions]


def test_wanted_slots_hold_the_time(two_pools) -> None:
    od, spot = two_pools.fleet
    assert wanted_slots(od, at(0)) == [0, 1]
    assert wanted_slots(od, at(6)) == [0]  # [0, 6) ends at 6
    assert wanted_slots(spot, at(8)) == []
    assert wanted_slots(spot, at(12)) == [0]
    assert wanted_slots(spot, at(20)) == []


def test_launch_from_zero_in_two_regions(two_pools) -> None:
    recon = reconcile(two_pools, at(0), [])
    assert kinds(recon) == [("launch", OD, 0, None), ("launch", OD, 1, None),
                            ("launch", SPOT, 0, None)]
    assert [a.region for a in recon.actions] == ["us-east-1", "us-east-1", "us-west-2"]
    assert [a.market for a in recon.actions] == ["on_demand", "on_demand", "spot"]
    # 2 x 3.00 + 3.60 = 9.60 USD/h more
    assert sum(a.usd_per_hour_change for a in recon.actions) == pytest.approx(9.6)
    assert recon.summary() == [("launch", OD, 2, pytest.approx(6.0)),
                               ("launch", SPOT, 1, pytest.approx(3.6))]
    assert recon.actions[1].reason == "slot 1 runs until 01-04 06:00"


def test_steady_state_has_no_actions(two_pools) -> None:
    fleet = [seen("i-1", OD, 0), seen("i-2", OD, 1), seen("i-3", SPOT, 0)]
    recon = reconcile(two_pools, at(1), fleet)
    assert recon.actions == ()
    assert [(o.instance_id, k) for o, k in recon.kept] == [("i-1", 0), ("i-2", 1), ("i-3", 0)]


def test_scale_down_terminates_a_slot_not_wanted_again(two_pools) -> None:
    fleet = [seen("i-1", OD, 0), seen("i-2", OD, 1), seen("i-3", SPOT, 0)]
    recon = reconcile(two_pools, at(6), fleet)
    assert kinds(recon) == [("terminate", OD, 1, "i-2")]
    assert recon.actions[0].reason == "not wanted within the next period"
    assert recon.actions[0].usd_per_hour_change == -3.0


def test_surplus_goes_unclaimed_first_then_newest_first() -> None:
    p = plan(pool(OD, [(0, 0, 24)]))
    fleet = [seen("i-old", OD, 0, launched=0.0), seen("i-twin", OD, 0, launched=0.1),
             seen("i-late", OD, None, launched=0.5), seen("i-mid", OD, None, launched=0.2)]
    recon = reconcile(p, at(1), fleet)
    # i-old claims slot 0 (oldest with the tag); the other three go, newest first.
    assert kinds(recon) == [("terminate", OD, None, "i-late"), ("terminate", OD, None, "i-mid"),
                            ("terminate", OD, 0, "i-twin")]
    assert [o.instance_id for o, _k in recon.kept] == ["i-old"]


def test_stop_when_wanted_again_within_a_period(two_pools) -> None:
    fleet = [seen("i-1", OD, 0), seen("i-3", SPOT, 0)]
    recon = reconcile(two_pools, at(8), fleet)
    assert kinds(recon) == [("stop", SPOT, 0, "i-3")]
    assert recon.actions[0].reason == "not wanted until 01-04 12:00"
    assert recon.actions[0].usd_per_hour_change == -3.6


def test_a_one_time_spot_instance_is_terminated_not_stopped(two_pools) -> None:
    fleet = [seen("i-1", OD, 0), seen("i-3", SPOT, 0, stoppable=False)]
    recon = reconcile(two_pools, at(8), fleet)
    assert kinds(recon) == [("terminate", SPOT, 0, "i-3")]


def test_start_stopped_before_launching_new() -> None:
    p = plan(pool(SPOT, [(0, 0, 8), (0, 12, 20), (1, 12, 20)], usd_per_hour=3.6))
    fleet = [seen("i-3", SPOT, 0, "stopped")]
    recon = reconcile(p, at(12), fleet)
    assert kinds(recon) == [("start", SPOT, 0, "i-3"), ("launch", SPOT, 1, None)]
    assert sum(a.usd_per_hour_change for a in recon.actions) == pytest.approx(7.2)


def test_a_stopped_instance_of_another_slot_is_started_for_a_missing_one() -> None:
    p = plan(pool(SPOT, [(0, 12, 20)], usd_per_hour=3.6))
    recon = reconcile(p, at(12), [seen("i-9", SPOT, 4, "stopped")])
    assert kinds(recon) == [("start", SPOT, 0, "i-9")]


def test_interrupted_instance_is_replaced(two_pools) -> None:
    lost = seen("i-3", SPOT, 0, "terminated", reason="Server.SpotInstanceTermination")
    recon = reconcile(two_pools, at(2), [seen("i-1", OD, 0), seen("i-2", OD, 1), lost])
    assert kinds(recon) == [("launch", SPOT, 0, None)]
    assert recon.actions[0].reason == ("slot 0 runs until 01-04 08:00; replaces i-3 "
                                       "interrupted by AWS")


def test_interrupted_and_stopped_is_terminated_and_replaced(two_pools) -> None:
    lost = seen("i-3", SPOT, 0, "stopped", reason="Server.SpotInstanceTermination")
    recon = reconcile(two_pools, at(2), [seen("i-1", OD, 0), seen("i-2", OD, 1), lost])
    assert kinds(recon) == [("terminate", SPOT, 0, "i-3"), ("launch", SPOT, 0, None)]
    assert recon.actions[0].usd_per_hour_change == 0.0  # it costs nothing while stopped
    assert recon.actions[1].usd_per_hour_change == 3.6


def test_plan_ended_terminates_everything(two_pools) -> None:
    fleet = [seen("i-1", OD, 0), seen("i-3", SPOT, 0, "stopped"),
             seen("i-4", ELSEWHERE, 0), seen("i-5", OD, 1, "terminated")]
    recon = reconcile(two_pools, at(48), fleet)
    assert kinds(recon) == [("terminate", OD, 0, "i-1"), ("terminate", SPOT, 0, "i-3"),
                            ("terminate", ELSEWHERE, 0, "i-4")]
    assert recon.actions[0].reason == "the plan's last slot of this pool has ended"
    assert recon.actions[1].reason == "stopped and the plan's last slot of this pool has ended"
    assert recon.actions[2].reason == "pool not in this plan"
    assert [a.usd_per_hour_change for a in recon.actions] == [-3.0, 0.0, 0.0]


def test_stopped_beyond_what_the_next_period_wants_are_terminated(two_pools) -> None:
    fleet = [seen("i-1", OD, 0), seen("i-3", SPOT, 0, "stopped", launched=0.0),
             seen("i-7", SPOT, 1, "stopped", launched=1.0)]
    recon = reconcile(two_pools, at(9), fleet)
    # one instance is wanted at 12:00: the older stopped one waits, the other goes
    assert kinds(recon) == [("terminate", SPOT, 1, "i-7")]


def test_a_fallback_instance_is_priced_on_demand() -> None:
    p = plan(pool(SPOT, [(0, 0, 8)], usd_per_hour=3.6, on_demand=12.0))
    recon = reconcile(p, at(8), [seen("i-3", SPOT, 0, market="on_demand")])
    assert kinds(recon) == [("terminate", SPOT, 0, "i-3")]
    assert recon.actions[0].usd_per_hour_change == -12.0


def test_resumes_within_a_period(two_pools) -> None:
    od, spot = two_pools.fleet
    assert resumes_within(spot, at(12) - at(0))  # pauses 4 h
    assert not resumes_within(od, at(12) - at(0))  # never pauses
    late = plan(pool(SPOT, [(0, 0, 8), (0, 21, 22)])).fleet[0]
    assert not resumes_within(late, at(12) - at(0))  # pauses 13 h


def test_a_chosen_market_launches_missing_slots_there_with_no_fallback(two_pools) -> None:
    # The policy runs the spot pool on-demand now: its missing slot 0 is launched on-demand
    # at the pool's on-demand price (12.00 USD/h), and may not fall back to spot.
    recon = reconcile(two_pools, at(1), [seen("i-1", OD, 0), seen("i-2", OD, 1)],
                      {SPOT: MarketChoice("on_demand")})
    (launch,) = recon.actions
    assert (launch.kind, launch.pool, launch.slot, launch.market) == ("launch", SPOT, 0,
                                                                      "on_demand")
    assert launch.usd_per_hour == 12.0 and not launch.fallback


def test_keep_leaves_a_running_instance_of_the_other_market(two_pools) -> None:
    fleet = [seen("i-1", OD, 0), seen("i-2", OD, 1), seen("i-3", SPOT, 0)]
    recon = reconcile(two_pools, at(1), fleet, {SPOT: MarketChoice("on_demand", "keep")})
    assert recon.actions == ()


def test_swap_launches_first_and_ends_the_other_once_it_runs(two_pools) -> None:
    fleet = [seen("i-1", OD, 0), seen("i-2", OD, 1), seen("i-3", SPOT, 0)]
    recon = reconcile(two_pools, at(1), fleet, {SPOT: MarketChoice("on_demand", "swap")})
    (launch,) = recon.actions  # no terminate on its own: it rides on the launch
    assert (launch.kind, launch.slot, launch.market) == ("launch", 0, "on_demand")
    assert launch.replaces is not None
    assert (launch.replaces.kind, launch.replaces.instance_id) == ("terminate", "i-3")
    assert [o.instance_id for o, _k in recon.kept] == ["i-1", "i-2", "i-3"]


def test_end_terminates_the_other_market_and_launches_on_the_chosen(two_pools) -> None:
    fleet = [seen("i-1", OD, 0), seen("i-2", OD, 1),
             seen("i-3", SPOT, 0, market="on_demand")]
    recon = reconcile(two_pools, at(1), fleet, {SPOT: MarketChoice("spot", "end")})
    assert kinds(recon) == [("terminate", SPOT, 0, "i-3"), ("launch", SPOT, 0, None)]
    assert recon.actions[1].market == "spot" and not recon.actions[1].fallback
    assert "runs this pool on spot now" in recon.actions[0].reason


def test_a_stopped_instance_of_the_other_market_is_not_started(two_pools) -> None:
    # At 12:00 the spot slot resumes; its instance sits stopped on spot, the policy wants
    # on-demand: the stopped one goes and an on-demand instance is launched.
    fleet = [seen("i-1", OD, 0), seen("i-3", SPOT, 0, "stopped")]
    recon = reconcile(two_pools, at(12), fleet, {SPOT: MarketChoice("on_demand")})
    assert kinds(recon) == [("terminate", SPOT, 0, "i-3"), ("launch", SPOT, 0, None)]


# Takeover: "t-0001" is an older plan of the same workload; the plan reconciled is "t-0002".
OLD = "t-0001"


def test_a_newer_plan_claims_what_it_wants_of_the_older_fleet_and_ends_the_rest() -> None:
    # The older plan ran OD slots 0 and 1 and a SPOT instance; the newer one wants one OD
    # instance over [0, 18) and no SPOT at all.
    newer = plan(pool(OD, [(0, 0, 18)], usd_per_hour=3.0), plan_id="t-0002")
    fleet = [seen("i-1", OD, 0, plan_id=OLD), seen("i-2", OD, 1, plan_id=OLD, launched=0.5),
             seen("i-3", SPOT, 0, plan_id=OLD)]
    recon = reconcile(newer, at(1), fleet)
    assert kinds(recon) == [("claim", OD, 0, "i-1"), ("terminate", OD, 1, "i-2"),
                            ("terminate", SPOT, 0, "i-3")]
    claim, surplus, gone = recon.actions
    assert claim.reason == "of the plan t-0001 this one replaces; serves slot 0"
    assert surplus.reason == ("not wanted within the next period (of the plan t-0001 this "
                              "one replaces)")
    assert gone.reason == "pool not in this plan (of the plan t-0001 this one replaces)"
    # nothing launched; the fleet's cost falls by i-2's 3.00 USD/h (i-3's price is not
    # the plan's to know: 0); the claim changes nothing
    assert [a.usd_per_hour_change for a in recon.actions] == [0.0, -3.0, 0.0]
    assert [(o.instance_id, k) for o, k in recon.kept] == [("i-1", 0)]


def test_the_plans_own_instance_keeps_its_slot_and_an_older_one_fills_the_next() -> None:
    newer = plan(pool(OD, [(0, 0, 18), (1, 0, 18)]), plan_id="t-0002")
    fleet = [seen("i-old", OD, 0, plan_id=OLD), seen("i-own", OD, 0, plan_id="t-0002",
                                                     launched=0.5)]
    recon = reconcile(newer, at(1), fleet)
    assert kinds(recon) == [("claim", OD, 1, "i-old")]  # slot 0 stays i-own's
    assert [(o.instance_id, k) for o, k in recon.kept] == [("i-own", 0), ("i-old", 1)]


def test_the_plans_own_stopped_instance_is_started_before_an_older_ones() -> None:
    newer = plan(pool(OD, [(0, 0, 18)]), plan_id="t-0002")
    fleet = [seen("i-old", OD, 0, "stopped", plan_id=OLD),
             seen("i-own", OD, 0, "stopped", plan_id="t-0002", launched=0.5)]
    recon = reconcile(newer, at(1), fleet)
    # i-own starts for slot 0; i-old is not wanted again within the period: it ends
    assert kinds(recon) == [("start", OD, 0, "i-own"), ("terminate", OD, 0, "i-old")]


def _with_jobs(run: str | None) -> object:
    """OD with slot 0 over [0, 6) serving job a and slot 1 over [12, 18) serving job b."""
    doc = plan(pool(OD, [(0, 0, 6), (1, 12, 18)], usd_per_hour=3.0))
    raw = doc.model_dump(mode="json", by_alias=True)
    for slot, job in zip(raw["fleet"][0]["slots"], ("a", "b"), strict=True):
        slot["jobs"] = [job]
    raw["jobs"] = [{"job": name, "gpus": 1, "run": run} for name in ("a", "b")]
    return type(doc).model_validate(raw)


@pytest.mark.parametrize(("run", "expected"), [
    # Without commands any instance of the pool serves: the stopped one starts for slot 1.
    (None, [("start", OD, 1, "i-a")]),
    # With them, i-a's user data runs job a: slot 1 (job b) gets an instance of its own,
    # and i-a, wanted by no slot any more, goes.
    ("python train.py", [("launch", OD, 1, None), ("terminate", OD, 0, "i-a")]),
])
def test_an_instance_serves_only_a_slot_that_runs_what_it_runs(
        run: str | None, expected: list) -> None:
    i_a = replace(seen("i-a", OD, 0, "stopped"), jobs=("a",))  # tagged costopt:jobs=a
    recon = reconcile(_with_jobs(run), at(12), [i_a])
    assert kinds(recon) == expected


def test_an_older_plans_gang_ranks_are_ended_not_left_stopped() -> None:
    """The issue's case: a re-plan left one rank of the older plan's 2-node gang stopped (9
    instances where 7 were wanted). A gang's instance of another plan can serve no slot of
    this one (its ranks find rank 0 by that plan's tags), so it is neither stopped for later
    nor kept stopped: at 00:00 the new plan runs its gang on slots 0 and 1 over [00:00,
    06:00) and slot 2 from 03:00 (one more within the period: room to keep one stopped
    instance). The older gang's running rank 0 and stopped rank 1 are both terminated; the
    new gang's two ranks launch."""
    raw = pool("aws:us-east-1:p3.16xlarge:on_demand", [(0, 0, 6), (1, 0, 6), (2, 3, 9)],
               usd_per_hour=24.0)
    for s in raw["slots"][:2]:
        s.update({"gang": 0, "node_rank": s["slot"], "nodes": 2})
    p = plan(raw)
    old = [replace(seen("i-r0", raw["pool"], 0, plan_id="old"), gang=0, node_rank=0),
           replace(seen("i-r1", raw["pool"], 1, "stopped", plan_id="old"), gang=0,
                   node_rank=1)]
    recon = reconcile(p, at(0), old)
    assert sorted((a.kind, a.instance_id or a.slot) for a in recon.actions) == [
        ("launch", 0), ("launch", 1), ("terminate", "i-r0"), ("terminate", "i-r1")]
    assert [a.reason for a in recon.actions if a.instance_id == "i-r1"] == [
        "stopped, and it runs no slot of this plan (of the plan old this one replaces)"]


def _gang_plan(nodes: int = 2, gang_from: float = 0) -> object:
    """P16 (24.00 USD/h) over [0, 12): slot 0 a one-node job ``solo``; slots 1.. the ranks
    0.. of gang 1, ``nodes`` nodes of job ``pair``, from ``gang_from``; both jobs have
    commands."""
    raw = pool(P16, [(0, 0, 12)] + [(1 + r, gang_from, 12) for r in range(nodes)],
               usd_per_hour=24.0)
    raw["slots"][0]["jobs"] = ["solo"]
    for rank, s in enumerate(raw["slots"][1:]):
        s.update({"jobs": ["pair"], "gang": 1, "node_rank": rank, "nodes": nodes})
    doc = plan(raw, plan_id="new").model_dump(mode="json", by_alias=True)
    doc["jobs"] = [{"job": "solo", "gpus": 1, "run": "s"},
                   {"job": "pair", "gpus": 8, "nodes": nodes, "run": "p"}]
    return PlanDocument.model_validate(doc)


def _older_gang(rank1_state: str = "stopped", nodes: int = 2) -> list:
    """The older plan's 2-node gang of ``pair`` (its gang 0, on slots 0 and 1; gang id
    ``old.g0``): rank 0 running, rank 1 ``rank1_state``; and its ``solo`` on slot 2."""
    return [replace(seen("i-r0", P16, 0, plan_id="old"), jobs=("pair",), gang=0, node_rank=0,
                    gang_id="old.g0", nodes=nodes),
            replace(seen("i-r1", P16, 1, rank1_state, plan_id="old"), jobs=("pair",), gang=0,
                    node_rank=1, gang_id="old.g0", nodes=nodes),
            replace(seen("i-solo", P16, 2, plan_id="old"), jobs=("solo",))]


def test_a_newer_plan_takes_an_older_gang_over_whole_ranks_and_all() -> None:
    """The issue's case: a re-plan with the same fleet terminated the older plan's 2-node gang
    and launched it again, leaving a rank stopped. Here the newer plan numbers the gang 1
    (slots 1 and 2) where the older one numbered it 0 (slots 0 and 1): its ranks are known as
    one gang by their gang id, whatever the numbers. Rank 0 is claimed for slot 1, stopped
    rank 1 started for slot 2, solo claimed for slot 0: nothing launched or terminated."""
    recon = reconcile(_gang_plan(), at(1), _older_gang())
    assert sorted((a.kind, a.slot, a.instance_id) for a in recon.actions) == [
        ("claim", 0, "i-solo"), ("claim", 1, "i-r0"), ("claim", 2, "i-r1"),
        ("start", 2, "i-r1")]
    assert [(o.instance_id, k) for o, k in recon.kept] == [("i-solo", 0), ("i-r0", 1)]


def test_a_missing_rank_of_a_gang_taken_over_is_launched_into_it() -> None:
    # rank 1 was interrupted by AWS and is gone: rank 0 is claimed, slot 2 launched
    recon = reconcile(_gang_plan(), at(1), _older_gang("terminated"))
    assert sorted((a.kind, a.slot, a.instance_id) for a in recon.actions) == [
        ("claim", 0, "i-solo"), ("claim", 1, "i-r0"), ("launch", 2, None)]


def test_a_gang_of_another_shape_or_without_a_gang_id_is_ended_not_kept() -> None:
    # The newer plan runs pair on 3 nodes: the older 2-node gang's processes were started
    # for 2 (NNODES=2) and cannot serve it; both ranks end and 3 ranks launch.
    recon = reconcile(_gang_plan(nodes=3), at(1), _older_gang())
    assert sorted((a.kind, a.slot, a.instance_id) for a in recon.actions
                  if a.kind != "claim") == [
        ("launch", 1, None), ("launch", 2, None), ("launch", 3, None),
        ("terminate", 0, "i-r0"), ("terminate", 1, "i-r1")]
    # Launched before ranks carried a gang id: not known to be one gang, so ended as well.
    untagged = [replace(o, gang_id=None) for o in _older_gang()]
    recon = reconcile(_gang_plan(), at(1), untagged)
    assert sorted((a.kind, a.slot, a.instance_id) for a in recon.actions
                  if a.kind != "claim") == [
        ("launch", 1, None), ("launch", 2, None),
        ("terminate", 0, "i-r0"), ("terminate", 1, "i-r1")]


def test_a_gang_taken_over_before_its_slots_is_stopped_and_claimed_for_its_ranks() -> None:
    """The newer plan runs the gang from 03:00, within the period (12 h) after 01:00: its two
    running ranks are stopped, not ended, and claimed for the slots of their ranks (1 and 2),
    so that the next run starts them there; solo is claimed for slot 0 as it runs."""
    recon = reconcile(_gang_plan(gang_from=3), at(1), _older_gang("running"))
    assert sorted((a.kind, a.slot, a.instance_id) for a in recon.actions) == [
        ("claim", 0, "i-solo"), ("claim", 1, "i-r0"), ("claim", 2, "i-r1"),
        ("stop", 0, "i-r0"), ("stop", 1, "i-r1")]  # a stop names the slot it was tagged with
    assert {a.reason for a in recon.actions if a.kind == "claim" and a.slot} == {
        "of the plan old this one replaces; kept stopped"}
    # 03:00, as the claims and stops left them (this plan's, gang 1, slots 1 and 2): started
    r0, r1, solo = _older_gang("stopped")
    claimed = [replace(r0, state="stopped", plan_id="new", slot=1, gang=1),
               replace(r1, plan_id="new", slot=2, gang=1), replace(solo, plan_id="new", slot=0)]
    recon = reconcile(_gang_plan(gang_from=3), at(3), claimed)
    assert sorted((a.kind, a.slot, a.instance_id) for a in recon.actions) == [
        ("start", 1, "i-r0"), ("start", 2, "i-r1")]
