"""A team's ledger end to end, on SQLite and on PostgreSQL: two ``apply`` at once, an apply
against a leading watch, ``status``'s controllers, failover of ``watch`` under SIGKILL, and
``state migrate`` there and back.

The plan is ``test_orchestrate_cli``'s: at 00:00 it holds three slots (two p3.2xlarge
on-demand in us-east-1, one p3.8xlarge spot in us-west-2), so a correct apply launches
three instances, one per slot, and a second apply then has nothing to do.
"""

from __future__ import annotations

import json
import random
import re
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cli.fleet_cli import IMAGE, fleet
from cli.test_orchestrate_cli import at, cli, plan_file  # noqa: F401 (the plan fixture)
from orchestrate.fleet_plans import at as hour
from orchestrate.fleet_plans import plan as a_plan
from orchestrate.fleet_plans import pool
from script_modules import script

from costopt.cli.state import as_of
from costopt.orchestrate.ledger import Ledger, StateLocation
from costopt.orchestrate.ledger.location import parse_state_url
from costopt.orchestrate.ledger.migrate import COPIED, ledger_check


@pytest.mark.slow
@pytest.mark.parametrize("delay_s", [0.0, 0.15, 0.4])
def test_two_applies_at_once_never_launch_a_slot_twice(
        plan_file: Path, location: StateLocation, aws: str, tmp_path: Path,  # noqa: F811
        delay_s: float) -> None:
    """The second apply starts ``delay_s`` after the first, both on one ledger: while the
    first holds the workload the second waits and says so, then sees three instances and
    launches nothing; if the first was done already, it finds no changes. Started together,
    the first to take the lease makes the other wait."""
    out = script("apply_races").race(plan_file, location.url, aws, delay_s, tmp_path,
                                     "--at", at(0))
    assert out.exit_codes == (0, 0), out.logs
    assert out.instances == 3 and sorted(out.live_by_slot.values()) == [1, 1, 1]
    assert sorted(out.launched_by) == [0, 3]
    assert out.said_so, out.idle_log
    assert out.waited or delay_s > 0


def test_apply_refuses_a_workload_a_watch_leads_unless_forced(
        plan_file: Path, location: StateLocation, aws: str) -> None:  # noqa: F811
    now = time.time()
    with Ledger.connect(location) as ledger:
        ledger.take_lease("orch-test", holder="w1", role="watch", host="lab-box", pid=4242,
                          now_epoch_s=now, ttl_s=600)
        ledger.lease_ticked("orch-test", "w1", now - 0.1)
    refused = cli("apply", str(plan_file), "--at", at(0), "--state", location.url,
                  "--image-id", IMAGE, "--yes", "--policy", "plan")
    assert refused.exit_code == 1
    # the message counts from the last tick and to the lease's end, in whole seconds (the
    # figures exactly: test_lease.py, on a fake clock)
    assert re.search(r"workload 'orch-test' is in the hands of the watch of pid 4242 on "
                     r"lab-box \(last reconcile \d+ s ago; its lease runs \d+ s more unless "
                     r"renewed\)\. Nothing was changed\.", refused.output), refused.output
    assert "or pass --force" in refused.output
    assert fleet("us-east-1") == []
    status = cli("status", "--state", location.url, "--at", at(0), "--format", "json")
    assert status.exit_code == 0, status.output
    [leader] = json.loads(status.output)["controllers"]
    assert leader == {"workload": "orch-test", "role": "watch", "host": "lab-box", "pid": 4242,
                      "last_tick": as_of(now - 0.1), "lease_until": as_of(now + 600),
                      "live": True}
    forced = cli("apply", str(plan_file), "--at", at(0), "--state", location.url,
                 "--image-id", IMAGE, "--yes", "--policy", "plan", "--force")
    assert forced.exit_code == 0, forced.output
    assert "the watch of pid 4242 on lab-box is in charge of workload 'orch-test'; --force: " \
        "this apply acts anyway" in forced.output
    assert len(fleet("us-east-1")) == 2 and len(fleet("us-west-2")) == 1


def two_urls(location: StateLocation) -> tuple[str, str]:
    """Two URLs of one ledger: the same SQLite file, or the same PostgreSQL database reached
    as 127.0.0.1 and as localhost."""
    if location.engine == "sqlite":
        return location.url, location.url
    return location.url, location.url.replace("@127.0.0.1", "@localhost")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [7])
def test_killing_the_leading_watch_twice_the_standby_takes_over(
        location: StateLocation, aws: str, tmp_path: Path, seed: int) -> None:
    """Two SIGKILLs of the leader at random moments (interval 2 s), the watches
    re-planning: each time the standby takes charge within two intervals; after, one
    instance per slot and no other, each billed once from its launch. No standby, given the
    first plan's file, refuses it as replaced. The plan starts yesterday with nothing done,
    so a leader re-plans, but only in the first 15 minutes of an hour (the controller's
    rule): when it did, the takeovers after it carried out the re-plan (``following``).
    The follow itself is tested whatever the clock in test_in_force.py and, for apply, in
    test_takeover_cli.py.
    ``scripts/failover_kills.py`` runs the same with 20 kills."""
    failover = script("failover_kills")
    out = failover.run_kills(tmp_path, two_urls(location), aws, kills=2,
                             rng=random.Random(seed), slots=3, interval_s=2.0)
    assert len(out.takeovers_s) == 2 and max(out.takeovers_s) <= 2 * 2.0
    assert out.launched == 3 and out.live_by_slot == {0: 1, 1: 1, 2: 1}
    assert out.spend_usd == pytest.approx(out.expected_spend_usd, abs=0.005)
    assert out.refused == 0
    if out.plans_in_force >= 2:
        assert out.followed >= 1


def month_with_interruptions(ledger: Ledger) -> None:
    """January 2027 on a spot pool at 3.60 and an on-demand pool at 12.00 USD/h: i-1 runs
    [00:00 day 1, 10:00 day 3) and is interrupted; i-2 replaces it from 10:30 day 3 to
    00:00 day 31 and is interrupted too; i-3 (on demand) runs [06:00 day 3, 06:00 day 4),
    stops, and runs again from 12:00 day 30, still running at the month's end. Spend:
    58 h x 3.60 + (27 d 13.5 h = 661.5 h) x 3.60 + 24 h x 12.00 + (1 d 12 h = 36 h) x 12.00
    (clipped at Feb 1st) = 208.80 + 2,381.40 + 288.00 + 432.00 = 3,310.20 USD."""
    spot, od = "aws:us-east-1:p3.2xlarge:spot", "aws:us-east-1:p3.8xlarge:on_demand"
    doc = a_plan(pool(spot, [(0, 0, 24)], usd_per_hour=3.6, on_demand=12.0),
                 pool(od, [(0, 0, 24)], usd_per_hour=12.0))
    ledger.record_plan(doc.model_dump(mode="json", by_alias=True), "p.json", hour(0))
    ledger.put_in_force("t", "t-0001", hour(0))

    def run(instance_id: str, pool_id: str, price: float, start_h: float) -> None:
        run_id = f"run-{instance_id}-{start_h}"
        action = ledger.intent(run_id=run_id, plan_id="t-0001", at=hour(start_h),
                               kind="launch", pool=pool_id, slot=0, client_token=run_id,
                               usd_per_hour=price)
        ledger.result(action, "ok", instance_id=instance_id)
        ledger.instance_running(instance_id=instance_id, plan_id="t-0001", pool=pool_id,
                                region="us-east-1", instance_type=pool_id.split(":")[2],
                                market=pool_id.split(":")[3], slot=0, az="us-east-1a",
                                usd_per_hour=price, at=hour(start_h))

    day = 24.0
    jan1 = -3 * day  # hour() counts from 2027-01-04
    run("i-1", spot, 3.6, jan1)
    ledger.instance_halted("i-1", hour(jan1 + 2 * day + 10), ended=True)
    ledger.record_interruption(instance_id="i-1", plan_id="t-0001", pool=spot,
                               at=hour(jan1 + 2 * day + 10), reason="Server.SpotInstance")
    run("i-2", spot, 3.6, jan1 + 2 * day + 10.5)
    ledger.instance_halted("i-2", hour(jan1 + 30 * day), ended=True)
    ledger.record_interruption(instance_id="i-2", plan_id="t-0001", pool=spot,
                               at=hour(jan1 + 30 * day), reason="Server.SpotInstance")
    run("i-3", od, 12.0, jan1 + 2 * day + 6)
    ledger.instance_halted("i-3", hour(jan1 + 3 * day + 6), ended=False)
    ledger.instance_running(instance_id="i-3", plan_id="t-0001", pool=od, region="us-east-1",
                            instance_type="p3.8xlarge", market="on_demand", slot=0,
                            az="us-east-1a", usd_per_hour=12.0, at=hour(jan1 + 29 * day + 12))
    ledger.report_progress(plan_id="t-0001", job="a", at=hour(1), done_gpu_hours=2.5,
                           source="cli")


def dump(ledger: Ledger) -> dict[str, list[tuple[object, ...]]]:
    """Every row of a SQLite ledger, table by table."""
    return {t: [tuple(r) for r in ledger.engine.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()]
            for t in COPIED}


def test_state_migrate_round_trips_a_month_to_the_cent(location: StateLocation,
                                                       tmp_path: Path) -> None:
    source = StateLocation.sqlite_in(tmp_path / "from")
    back = parse_state_url(f"sqlite:///{tmp_path / 'back' / 'ledger.db'}")
    with Ledger.connect(source) as ledger:
        month_with_interruptions(ledger)
    there = cli("state", "migrate", "--from", source.url, "--to", location.url,
                "--at", "2027-02-01T00:00:00Z")
    assert there.exit_code == 0, there.output
    assert "2027-01 3,310.20 USD" in there.output
    again = cli("state", "migrate", "--from", location.url, "--to", back.url)  # now: 2026
    assert again.exit_code == 0, again.output
    end = datetime(2027, 2, 1, tzinfo=timezone.utc)
    with Ledger.connect(source) as first, Ledger.connect(back) as last, \
            Ledger.connect(location) as middle:
        assert dump(last) == dump(first)
        assert ledger_check(middle, end) == ledger_check(first, end)
        check = ledger_check(last, end)
        assert round(check.spend_usd["2027-01"], 2) == 3310.20
        assert check.rows["interruptions"] == 2 and check.rows["runtimes"] == 4
        # ids go on from the copied ones: a new action is numbered after them
        new = middle.intent(run_id="r", plan_id="t-0001", at=hour(0), kind="stop",
                            pool="x", instance_id="i-3")
        assert new == max(a.id for a in first.actions()) + 1
    # the monthly report reads the same month from either engine
    reports = [cli("report", "--month", "2027-01", "--state", where.url, "--format", "json",
                   "--at", "2027-02-01T00:00:00Z") for where in (source, location)]
    assert [r.exit_code for r in reports] == [0, 0], reports[1].output
    sqlite_report, copy_report = (json.loads(r.output) for r in reports)
    for report in (sqlite_report, copy_report):
        report.pop("now")  # the wall clock when each ran
    assert copy_report == sqlite_report
    assert copy_report["savings"]["cloud_usd"] == 3310.20
    refused = cli("state", "migrate", "--from", source.url, "--to", location.url)
    assert refused.exit_code == 1
    assert "is not empty (" in refused.output and "nothing was copied" in refused.output
