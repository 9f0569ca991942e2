"""The budget guard, with the month's projection worked out by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from fleet_plans import at, plan, pool, seen

from costopt.core.months import Month
from costopt.orchestrate.guard import (
    BudgetGuard,
    far_clock_refusal,
    guarded_price,
    slot_hours,
    unrecorded_spend_usd,
)
from costopt.orchestrate.reconcile import reconcile

OD = "aws:us-east-1:p3.2xlarge:on_demand"
SPOT = "aws:us-west-2:p3.8xlarge:spot"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_the_month_of_a_moment() -> None:
    assert Month.of(utc(2026, 12, 15, 7)) == Month(2026, 12)
    assert (Month.of(utc(2027, 2, 1)).start, Month(2027, 2).end) == (utc(2027, 2, 1),
                                                                     utc(2027, 3, 1))


def test_slot_hours_clipped_to_the_month() -> None:
    # slot 0 runs Jan 31 20:00 -> Feb 1 04:00: 4 h of it are in January
    p = plan(pool(OD, [(0, 27 * 24 + 20, 28 * 24 + 4)]))
    start, end = Month.of(at(0)).start, Month.of(at(0)).end
    assert slot_hours(p.fleet[0], 0, start, end) == pytest.approx(4.0)
    assert slot_hours(p.fleet[0], 1, start, end) == 0.0


def test_launches_judged_in_order_until_the_budget_is_spent() -> None:
    p = plan(pool(OD, [(0, 0, 18), (1, 0, 6)], usd_per_hour=3.0),
             pool(SPOT, [(0, 0, 8), (0, 12, 20)], usd_per_hour=3.6, on_demand=12.0))
    recon = reconcile(p, at(0), [])
    guard = BudgetGuard(budget_usd=200.0, spent_usd=100.0, at=at(0),
                        fleet={f.pool: f for f in p.fleet}, kept=recon.kept)
    verdicts = [guard.judge(a) for a in recon.actions]
    # OD slot 0: 18 h x 3.00 = 54.00 -> 154.00; slot 1: 6 h x 3.00 = 18.00 -> 172.00;
    # SPOT slot 0 at its MaxPrice (AWS may charge up to it), not the 3.60 the plan expects:
    # (8 + 8) h x 12.00 = 192.00 -> 364.00 > 200: refused.
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert [v.action_usd for v in verdicts] == pytest.approx([54.0, 18.0, 192.0])
    assert verdicts[2].projected_usd == pytest.approx(364.0)
    assert guard.committed_usd == pytest.approx(72.0)
    message = verdicts[2].message(recon.actions[2])
    assert "364.00 USD" in message and "200.00 USD" in message and "2027-01" in message
    assert "--allow-over-budget" in message
    # Of the 364.00, the spot bid above the plan's price: 16 h x (12.00 - 3.60) = 134.40.
    assert verdicts[2].bid_margin_usd == pytest.approx(134.4)
    assert ("spot to come is counted at its MaxPrice bid, the most AWS may charge, so this is "
            "a bound on the worst case: 134.40 USD of it is the bids above the plan's spot "
            "prices") in message
    assert "lower cloud.spot_max_price_ratio and plan again" in message


def test_the_bid_margin_of_spot_is_committed_and_withdrawn_with_it() -> None:
    """A spot slot of 10 h at 2.00 USD/h, bid 8.00: 80.00 guarded, (8 - 2) x 10 = 60.00 of it
    the bid's margin. Accepted, it stays in the next verdict's bound (60.00 + OD's 0.00);
    withdrawn, it goes. An on-demand refusal is no bound: the message says nothing of bids."""
    p = plan(pool(SPOT, [(0, 0, 10)], usd_per_hour=2.0, on_demand=8.0),
             pool(OD, [(0, 0, 10)], usd_per_hour=3.0))
    recon = reconcile(p, at(0), [])
    spot_launch, od_launch = sorted(recon.actions, key=lambda a: a.pool != SPOT)
    guard = BudgetGuard(budget_usd=100.0, spent_usd=0.0, at=at(0),
                        fleet={f.pool: f for f in p.fleet}, kept=recon.kept)
    spot = guard.judge(spot_launch)
    assert (spot.allowed, spot.action_usd, spot.action_bid_margin_usd) == (
        True, pytest.approx(80.0), pytest.approx(60.0))
    od = guard.judge(od_launch)  # 80 + 10 x 3.00 = 110.00 > 100: refused
    assert (od.allowed, od.projected_usd, od.bid_margin_usd) == (
        False, pytest.approx(110.0), pytest.approx(60.0))
    assert "a bound on the worst case: 60.00 USD" in od.message(od_launch)
    guard.withdraw(spot)
    alone = guard.judge(od_launch)
    assert (alone.allowed, alone.bid_margin_usd) == (True, 0.0)
    refused = BudgetGuard(budget_usd=10.0, spent_usd=0.0, at=at(0),
                          fleet={f.pool: f for f in p.fleet}, kept=[]).judge(od_launch)
    message = refused.message(od_launch)
    assert "MaxPrice" not in message and "spot_max_price_ratio" not in message
    assert message.endswith("To fix: raise monthly_budget_usd, pass --monthly-budget, or "
                            "--allow-over-budget")


def test_running_instances_are_committed_until_their_slot_ends() -> None:
    p = plan(pool(OD, [(0, 0, 18), (1, 0, 6)], usd_per_hour=3.0))
    recon = reconcile(p, at(2), [seen("i-1", OD, 0)])
    guard = BudgetGuard(budget_usd=60.0, spent_usd=6.0, at=at(2),
                        fleet={f.pool: f for f in p.fleet}, kept=recon.kept)
    # i-1 runs slot 0 until 18:00: 16 h x 3.00 = 48.00 committed; slot 1 from 02:00 to
    # 06:00: 4 h x 3.00 = 12.00 -> 6 + 48 + 12 = 66.00 > 60: refused, and not committed.
    assert guard.committed_usd == pytest.approx(48.0)
    verdict = guard.judge(recon.actions[0])
    assert not verdict.allowed and verdict.projected_usd == pytest.approx(66.0)
    assert guard.committed_usd == pytest.approx(48.0)
    guard.withdraw(verdict)  # a refused verdict takes nothing back
    assert guard.committed_usd == pytest.approx(48.0)


def test_a_change_of_aws_is_judged_within_minutes_of_the_real_clock() -> None:
    """Five minutes either way of the real clock is now; six is not, unless the clock is a
    stand-in's (moto)."""
    now = datetime(2027, 2, 10, 12, 0, tzinfo=timezone.utc)
    assert far_clock_refusal(now + timedelta(minutes=5), now, fake_clock=False) is None
    assert far_clock_refusal(now - timedelta(minutes=5), now, fake_clock=False) is None
    later = far_clock_refusal(now + timedelta(minutes=6), now, fake_clock=False)
    assert later is not None and later.startswith(
        "--at 2027-02-10T12:06:00Z is 0.10 h after the real clock (2027-02-10T12:00:00Z)")
    earlier = far_clock_refusal(datetime(2027, 1, 31, tzinfo=timezone.utc), now,
                                fake_clock=False)
    assert earlier is not None and "h before the real clock" in earlier
    assert far_clock_refusal(now + timedelta(days=19), now, fake_clock=True) is None


def test_spot_is_guarded_at_its_max_price() -> None:
    """The issue's case: spot accounted at the snapshot price (1.421 USD/h) with a MaxPrice
    of 12.24 let the guard be passed by up to 8.6x. A 10 h spot slot, budget 100: at the
    snapshot 14.21 USD would pass; at the bid 122.40 does not. A pool without a bid counts
    at the plan's price."""
    p = plan(pool(SPOT, [(0, 0, 10)], usd_per_hour=1.421, on_demand=12.24))
    recon = reconcile(p, at(0), [])
    guard = BudgetGuard(budget_usd=100.0, spent_usd=0.0, at=at(0),
                        fleet={f.pool: f for f in p.fleet}, kept=recon.kept)
    verdict = guard.judge(recon.actions[0])
    assert not verdict.allowed and verdict.action_usd == pytest.approx(122.4)
    bare = p.fleet[0].model_copy(update={"spot_max_price_usd": None})
    assert guarded_price(bare, "spot") == pytest.approx(1.421)


def test_spend_the_ledger_does_not_know_is_read_from_aws() -> None:
    """A ledger moved away forgot what its instances spent. Instances AWS shows with the
    workload's name that the ledger does not hold count from their launch (or the month's
    start): i-new runs since Jan 1 20:00, 4 h at 3.00 = 12.00 by midnight; i-old ran from Dec
    31 22:00 until it stopped on Jan 1 03:00 (AWS's state reason says when): 3 h of January =
    9.00; i-known is the ledger's (not counted twice); i-gone ended with no time said."""
    p = plan(pool(OD, [(0, 0, 48)], usd_per_hour=3.0))
    month = Month.of(at(0)).start  # 2027-01-01
    pools = {f.pool: f for f in p.fleet}
    observed = [
        replace(seen("i-new", OD, 0), launched_at=utc(2027, 1, 1, 20)),
        replace(seen("i-old", OD, 1, "stopped"), launched_at=utc(2026, 12, 31, 22),
                changed_at=utc(2027, 1, 1, 3)),
        replace(seen("i-known", OD, 0), launched_at=utc(2027, 1, 1)),
        replace(seen("i-gone", OD, 0, "terminated"), launched_at=utc(2027, 1, 1)),
    ]
    assert unrecorded_spend_usd(observed, {"i-known"}, pools, month,
                                utc(2027, 1, 2)) == pytest.approx(12.0 + 9.0)
