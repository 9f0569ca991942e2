"""The apply shell under in-process moto: the ledger follows changes made behind costopt's
back, and the fallback chain carries on from the ledger's history."""

from __future__ import annotations

from datetime import timezone
from pathlib import Path

import boto3
import pytest
from fleet_plans import IMAGE, at, plan, pool
from moto import mock_aws

from costopt.orchestrate.apply import ApplyOptions, ApplyOutcome, QuietRun, apply_plan
from costopt.orchestrate.ec2 import Ec2Fleet, LaunchSettings
from costopt.orchestrate.ledger import Ledger

OD = "aws:us-east-1:p3.2xlarge:on_demand"
YES = ApplyOptions(yes=True, launch=LaunchSettings({"*": IMAGE}))


@pytest.fixture
def moto_ec2():
    with mock_aws():
        yield boto3.client("ec2", region_name="us-east-1")


def run(ledger: Ledger, hour: float, said: list[str]) -> None:
    doc = plan(pool(OD, [(0, 0, 24)], usd_per_hour=3.0))
    apply_plan(doc, at(hour), fleet=Ec2Fleet(boto3.Session()), ledger=ledger, options=YES,
               say=lambda kind, message: said.append(f"{kind}: {message}"))


def test_a_stop_behind_costopts_back_ends_the_runtime_and_is_undone(
        moto_ec2, tmp_path: Path) -> None:
    said: list[str] = []
    with Ledger.open(tmp_path) as ledger:
        run(ledger, 0, said)
        [instance_id] = [i.instance_id for i in ledger.instances()]
        moto_ec2.stop_instances(InstanceIds=[instance_id])
        run(ledger, 2, said)
        runs = ledger.runtimes(at(0), at(24))
        # stopped outside costopt, seen at 02:00; started again at once (slot 0 is wanted)
        assert [(r.start, r.end) for r in runs] == [(at(0), at(2)), (at(2), None)]
    assert said[-1].startswith(f"start: start {instance_id}")
    state = moto_ec2.describe_instances(InstanceIds=[instance_id])
    assert state["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"


def test_an_instance_with_the_plans_tags_is_adopted(moto_ec2, tmp_path: Path) -> None:
    tags = [{"Key": "costopt:plan", "Value": "t-0001"}, {"Key": "costopt:pool", "Value": OD},
            {"Key": "costopt:slot", "Value": "0"}, {"Key": "costopt:workload", "Value": "t"}]
    raw = moto_ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1,
                                 InstanceType="p3.2xlarge",
                                 TagSpecifications=[{"ResourceType": "instance",
                                                     "Tags": tags}])
    instance_id = raw["Instances"][0]["InstanceId"]
    launched = raw["Instances"][0]["LaunchTime"].astimezone(timezone.utc).replace(microsecond=0)
    said: list[str] = []
    with Ledger.open(tmp_path) as ledger:
        run(ledger, 1, said)
        [record] = ledger.instances()
        assert (record.instance_id, record.usd_per_hour) == (instance_id, 3.0)  # the pool's
        # billed from when AWS says it launched, not from when costopt first saw it
        assert ledger.open_runtime_starts("t-0001") == {instance_id: launched}
        assert ledger.actions() == []  # nothing launched: it serves slot 0
    assert said == [f"adopted: {instance_id} carries the tags of workload 't' but was not in "
                    f"the ledger; it is counted from its launch at {launched:%Y-%m-%dT%H:%M:%SZ}"]


def test_a_dry_run_needs_no_ledger_and_writes_none(moto_ec2, tmp_path: Path) -> None:
    doc = plan(pool(OD, [(0, 0, 24)], usd_per_hour=3.0), monthly_budget_usd=10.0)
    outcome = apply_plan(doc, at(0), fleet=Ec2Fleet(boto3.Session()), ledger=None,
                         options=ApplyOptions(), say=lambda *_: None)
    assert outcome.dry_run and outcome.reconciliation.count("launch") == 1
    [(refused, verdict)] = outcome.refused  # 24 h x 3.00 = 72.00 > 10.00
    assert refused.slot == 0 and verdict.projected_usd == pytest.approx(72.0)
    assert moto_ec2.describe_instances()["Reservations"] == []
    assert list(tmp_path.iterdir()) == []


def test_the_guard_counts_what_an_older_plan_of_the_workload_spent(moto_ec2,
                                                                   tmp_path: Path) -> None:
    older = plan(pool(OD, [(0, 0, 10)]), plan_id="t-0001")
    newer = plan(pool(OD, [(0, 10, 24)]), plan_id="t-0002", monthly_budget_usd=60.0)
    with Ledger.open(tmp_path) as ledger:
        ledger.record_plan(older.model_dump(mode="json", by_alias=True), "old.json", at(0))
        ledger.instance_running(instance_id="i-old", plan_id="t-0001", pool=OD,
                                region="us-east-1", instance_type="p3.2xlarge",
                                market="on_demand", slot=0, az=None, usd_per_hour=3.0, at=at(0))
        ledger.instance_halted("i-old", at(10), ended=True)
        outcome = apply_plan(newer, at(10), fleet=Ec2Fleet(boto3.Session()), ledger=ledger,
                             options=ApplyOptions(), say=lambda *_: None)
    # the older plan's 10 h x 3.00 = 30.00 spent this month + 14 h x 3.00 = 42.00 for the
    # new slot = 72.00 > 60.00: refused (counting the new plan alone, 42.00 would pass)
    [(refused, verdict)] = outcome.refused
    assert (refused.kind, verdict.spent_usd, verdict.projected_usd) == (
        "launch", pytest.approx(30.0), pytest.approx(72.0))


def test_the_guard_counts_an_older_plan_aws_shows_and_the_instance_it_claims(
        moto_ec2, tmp_path: Path) -> None:
    # The older plan's instance runs (tagged t-0001, workload t); the ledger has its runtime
    # but not the older plan's document. The newer plan wants two instances over [10, 24).
    tags = [{"Key": "costopt:plan", "Value": "t-0001"}, {"Key": "costopt:pool", "Value": OD},
            {"Key": "costopt:slot", "Value": "0"}, {"Key": "costopt:workload", "Value": "t"}]
    old = moto_ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1,
                                 InstanceType="p3.2xlarge", TagSpecifications=[
                                     {"ResourceType": "instance", "Tags": tags}])
    old_id = old["Instances"][0]["InstanceId"]
    newer = plan(pool(OD, [(0, 10, 24), (1, 10, 24)]), plan_id="t-0002",
                 monthly_budget_usd=100.0)
    with Ledger.open(tmp_path) as ledger:
        ledger.instance_running(instance_id=old_id, plan_id="t-0001", pool=OD,
                                region="us-east-1", instance_type="p3.2xlarge",
                                market="on_demand", slot=0, az=None, usd_per_hour=3.0, at=at(0))
        outcome = apply_plan(newer, at(10), fleet=Ec2Fleet(boto3.Session()), ledger=ledger,
                             options=ApplyOptions(), say=lambda *_: None)
    assert [(a.kind, a.slot, a.instance_id) for a in outcome.reconciliation.actions] == [
        ("claim", 0, old_id), ("launch", 1, None)]
    # spent: the older instance's 10 h x 3.00 = 30.00; kept: it, claimed, until 24:00,
    # 14 h x 3.00 = 42.00; the launch 42.00: 114.00 > 100.00 (without the older plan's
    # spend, 84.00 would pass)
    [(_, verdict)] = outcome.refused
    assert (verdict.spent_usd, verdict.committed_usd, verdict.projected_usd) == (
        pytest.approx(30.0), pytest.approx(42.0), pytest.approx(114.0))


def test_a_swap_to_spot_in_another_zone_is_judged_as_a_swap_by_the_guard() -> None:
    # A spot pool of use1-az1 (1.00 USD/h; use1-az2 1.20; on-demand and MaxPrice 3.00) runs
    # slot 0 (00-24) on its on-demand fallback from 00:00. At 01:00 the policy wants spot
    # back (a swap); use1-az1 has no spot (2 tries), use1-az2 comes next. The guard counts
    # spot at MaxPrice: the swap adds 23 h x 3.00 = 69.00 and ends the on-demand one's 69.00,
    # so the month stays at 3.00 spent + 69.00 = 72.00 <= 100.00. Judged without the swap
    # (as a fallback step once was) it is 141.00 > 100.00: refused, and the next run starts
    # the chain at use1-az2 and is refused again, keeping on-demand to the slot's end (129 h
    # of a p4d in the example month). At 02:00 spot is back: the swap runs and on-demand ends.
    from costopt.orchestrate.reconcile import MarketChoice
    from costopt.simulate.ec2 import SimulatedEc2

    spot = "aws:us-east-1:p3.2xlarge:spot:use1-az1"
    doc = plan({**pool("aws:us-east-1:p3.2xlarge:spot", [(0, 0, 24)], usd_per_hour=1.0,
                       on_demand=3.0, fallback=True),
                "pool": spot, "zone": "use1-az1",
                "spot_zone_prices": {"use1-az1": 1.0, "use1-az2": 1.2}},
               monthly_budget_usd=100.0)
    fleet = SimulatedEc2(at(0))
    fleet.zone_ids = {"use1-az1", "use1-az2"}
    said: list[str] = []
    ledger = Ledger.in_memory()

    def run(hour: float, market: str) -> None:
        fleet.advance(at(hour))
        apply_plan(doc, at(hour), fleet=fleet, ledger=ledger, options=YES,
                   say=lambda kind, message: said.append(f"{kind}: {message}"),
                   markets={spot: MarketChoice(market, "swap")})

    run(0, "on_demand")
    fleet.set_capacity(spot, 0)
    run(1, "spot")
    assert not [s for s in said if s.startswith("refused")]
    fleet.set_capacity(spot, 1)
    run(2, "spot")
    live = [i for i in fleet.describe_workload("t", ["us-east-1"]) if i.state == "running"]
    assert [i.market for i in live] == ["spot"]
    ledger.close()


def test_a_quiet_run_is_skipped_until_the_fleet_changes_from_outside(
        moto_ec2, tmp_path: Path) -> None:
    """Slot 0 of an on-demand pool 00-01 and again 04-24 (12-hour periods), applied on one
    ledger. 00:00 launches A; 01:00 stops it (wanted again within a period). 02:00 finds it
    stopped and writes nothing: a quiet run. 03:00 describes the same, reconciles to no
    action on the ledger unwritten since: the quiet run is carried on (its bookkeeping
    skipped), nothing written. Someone terminates A by hand: 03:30 reconciles to no action
    still (slot 0 is not wanted before 04:00) but describes A terminated, so the run is
    whole: the ledger ends A at 03:30. 04:00 launches B; 05:00 quiet, 06:00 skipped; B is
    terminated by hand: 07:00 runs whole and launches C, B's runtime ended at 07:00."""
    doc = plan(pool(OD, [(0, 0, 1), (0, 4, 24)], usd_per_hour=3.0))
    fleet = Ec2Fleet(boto3.Session())
    with Ledger.open(tmp_path) as ledger:
        def run(hour: float, quiet: QuietRun | None) -> ApplyOutcome:
            return apply_plan(doc, at(hour), fleet=fleet, ledger=ledger, options=YES,
                              say=lambda *_: None, quiet=quiet)

        def quiet_then_skipped(hour: float, last: QuietRun | None) -> QuietRun:
            quiet = run(hour, last).quiet
            assert quiet is not None
            written = ledger.version()
            skipped = run(hour + 1, quiet)
            assert skipped.quiet is quiet and skipped.reconciliation.actions == ()
            assert ledger.version() == written
            return quiet

        assert [x.kind for x in run(0, None).done] == ["launch"]
        [first] = [i.instance_id for i in ledger.instances()]
        assert [x.kind for x in run(1, None).done] == ["stop"]
        quiet = quiet_then_skipped(2, None)
        moto_ec2.terminate_instances(InstanceIds=[first])
        whole = run(3.5, quiet)
        assert whole.quiet is None and whole.reconciliation.actions == ()
        assert [(i.instance_id, i.ended_at) for i in ledger.instances()] == [(first, at(3.5))]
        assert [x.kind for x in run(4, whole.quiet).done] == ["launch"]
        [second] = [i.instance_id for i in ledger.instances() if i.instance_id != first]
        quiet = quiet_then_skipped(5, None)
        moto_ec2.terminate_instances(InstanceIds=[second])
        assert [x.kind for x in run(7, quiet).done] == ["launch"]
        runs = ledger.runtimes(at(0), at(24))
        assert [(r.instance_id in (first, second), r.start, r.end) for r in runs] == [
            (True, at(0), at(1)), (True, at(4), at(7)), (False, at(7), None)]


def test_a_run_refused_for_capacity_is_kept_and_the_next_skips_only_the_bookkeeping(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A spot-only pool's slot 0 (00-24) on an in-process EC2 whose trace holds 0, 0, 0, 1,
    0, 0, 1 instances at 00:00-06:00, applied hourly twice in step: once passing each run's
    ``quiet`` on, once never. 00:00 records the plan and puts it in force: not kept.
    01:00 describes nothing, its bookkeeping writes nothing, and the launch's two tries
    (spot_attempts 2) are refused: kept. 02:00 describes the same on the ledger written
    only by those: bookkeeping skipped, the launch refused again, kept. 03:00 skipped too,
    then launches: not kept. 04:00 the trace falls to 0: the instance is terminated
    (one-time), described so: the whole run records the interruption and the relaunch is
    refused; not kept (its bookkeeping wrote). 05:00 no longer shows the instance, its
    bookkeeping writes nothing: kept after the refusal; 06:00 skipped, launches. So the
    kept sequence's bookkeeping runs at 00, 01, 04 and 05 only; every message, action,
    runtime and interruption is the other's."""
    import costopt.orchestrate.apply as shell
    from costopt.simulate.ec2 import SimulatedEc2

    spot = "aws:us-east-1:p3.2xlarge:spot"
    doc = plan(pool(spot, [(0, 0, 24)], usd_per_hour=1.0, on_demand=3.0))
    booked: list[float] = []
    sync = shell._sync_ledger

    def counted(plan_, observed, ledger, when, say) -> None:  # type: ignore[no-untyped-def]
        if ledger is kept_ledger:
            booked.append((when - at(0)).total_seconds() / 3600)
        sync(plan_, observed, ledger, when, say)

    monkeypatch.setattr(shell, "_sync_ledger", counted)
    fleets = [SimulatedEc2(at(0)), SimulatedEc2(at(0))]
    kept_ledger, plain_ledger = Ledger.in_memory(), Ledger.in_memory()
    said: list[list[str]] = [[], []]
    quiet: QuietRun | None = None
    kept: list[bool] = []
    for hour, count in enumerate([0, 0, 0, 1, 0, 0, 1]):
        for k, (ledger, passed) in enumerate([(kept_ledger, quiet), (plain_ledger, None)]):
            fleets[k].advance(at(hour))
            fleets[k].set_capacity(spot, count)
            out = apply_plan(doc, at(hour), fleet=fleets[k], ledger=ledger, options=YES,
                             say=lambda kind, message, k=k: said[k].append(f"{kind}: {message}"),
                             quiet=passed)
            if k == 0:
                quiet = out.quiet
                kept.append(out.quiet is not None)

    def written(ledger: Ledger) -> tuple[object, ...]:
        return ([(a.at, a.kind, a.slot, a.status, a.detail, a.instance_id)  # (the tokens
                 for a in ledger.actions()],  # hash each ledger's own owner id)
                [(r.instance_id, r.start, r.end) for r in ledger.runtimes(at(0), at(24))],
                [(i.instance_id, i.at) for i in ledger.interruptions(at(0), at(24))])

    assert kept == [False, True, True, False, False, True, False]
    assert booked == [0, 1, 4, 5]
    assert said[0] == said[1]
    assert written(kept_ledger) == written(plain_ledger)
    actions, runtimes, interruptions = written(kept_ledger)
    assert [(a[0], a[3]) for a in actions] == [
        *[(at(h), "failed") for h in (0, 0, 1, 1, 2, 2)], (at(3), "ok"),
        (at(4), "failed"), (at(4), "failed"), (at(5), "failed"), (at(5), "failed"),
        (at(6), "ok")]
    first, second = (a[5] for a in actions if a[3] == "ok")
    assert runtimes == [(first, at(3), at(4)), (second, at(6), None)]
    assert interruptions == [(first, at(4))]
    kept_ledger.close()
    plain_ledger.close()
