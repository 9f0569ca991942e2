"""The ledger: intents and results, runtimes and their clipping, interruptions."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from fleet_plans import at, plan

from costopt.errors import LedgerError
from costopt.orchestrate.ledger import Ledger, StateLocation
from costopt.orchestrate.ledger.location import parse_state_url

POOL = "aws:us-east-1:p3.2xlarge:on_demand"


def running(ledger: Ledger, instance_id: str, hour: float, usd_per_hour: float = 3.0) -> None:
    ledger.instance_running(instance_id=instance_id, plan_id="p", pool=POOL,
                            region="us-east-1", instance_type="p3.2xlarge",
                            market="on_demand", slot=0, az=None, usd_per_hour=usd_per_hour,
                            at=at(hour))


def test_intent_then_result_and_what_is_pending(location: StateLocation) -> None:
    with Ledger.connect(location) as ledger:
        first = ledger.intent(run_id="r", plan_id="p", at=at(0), kind="launch", pool=POOL,
                              slot=0, client_token="tok")
        second = ledger.intent(run_id="r", plan_id="p", at=at(0), kind="launch", pool=POOL,
                               slot=1)
        ledger.result(first, "ok", instance_id="i-1")
        assert [a.id for a in ledger.pending("p")] == [second]
        [done] = ledger.actions("p", "ok")
        assert (done.instance_id, done.client_token, done.status) == ("i-1", "tok", "ok")
    with Ledger.connect(location) as again:  # it is on disk (SQLite: in WAL mode)
        assert [a.id for a in again.pending("p")] == [second]
        if location.engine == "sqlite":
            assert again._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_launch_history_counts_capacity_failures_since_the_last_success(
        location: StateLocation) -> None:
    unseen = "no instance found after an interrupted run"
    history = [("failed", "capacity: InsufficientInstanceCapacity (spot)", 0, "launch"),
               ("ok", None, 0, "launch"),
               ("failed", "capacity: SpotMaxPriceTooLow (spot)", 0, "launch"),
               ("failed", "RunInstances failed: AuthFailure", 0, "launch"),
               ("failed", "Capacity: not the prefix, by case", 0, "launch"),
               ("failed", "capacity: Unsupported (spot in us-east-1e)", 0, "launch"),
               ("intent", None, 0, "launch"), ("failed", "capacity: x", 1, "launch"),
               ("failed", "capacity: x", None, "launch"), ("ok", None, 0, "start"),
               ("failed", unseen, 0, "launch")]
    with Ledger.connect(location) as ledger:
        for status, detail, slot, kind in history:
            action = ledger.intent(run_id="r", plan_id="p", at=at(0), kind=kind, pool=POOL,
                                   slot=slot)
            if status != "intent":
                ledger.result(action, status, detail=detail)
        # slot 0's completed launch calls: 6 (not the intent, the start, other slots, nor
        # the call a crash cut short that AWS did not show - it is repeated with the same
        # token); capacity failures after its last success: 2 (the AuthFailure and the
        # "Capacity:" are other failures)
        assert ledger.launch_history("p", POOL, 0, unseen) == (2, 6)
        assert ledger.launch_history("p", POOL, 1, unseen) == (1, 1)
        assert ledger.launch_history("p", POOL, None, unseen) == (1, 1)
        assert ledger.launch_history("q", POOL, 0, unseen) == (0, 0)


def test_a_read_is_kept_until_a_table_it_reads_is_written(tmp_path: Path) -> None:
    # SQLite's version of the tables a read reads: a launch attempt (an action) leaves the
    # runtimes' read as it was; a write to them changes it, and so does a rolled-back write
    # (what was read between it and the rollback is gone).
    with Ledger.open(tmp_path) as ledger:
        running(ledger, "i-1", 0)
        runtimes = ledger.engine.version(("runtimes", "instances"))
        ledger.intent(run_id="r", plan_id="p", at=at(1), kind="launch", pool=POOL, slot=1)
        assert ledger.engine.version(("runtimes", "instances")) == runtimes
        actions = ledger.engine.version(("actions",))
        ledger.instance_halted("i-1", at(2), ended=True)
        assert ledger.engine.version(("runtimes", "instances")) != runtimes
        assert ledger.engine.version(("actions",)) == actions
        holds = ledger.engine.version(("offering_holds",))
        with pytest.raises(RuntimeError), ledger.engine.transaction() as c:
            c.execute("INSERT INTO offering_holds(pool, until, strikes) VALUES (?,?,?)",
                      (POOL, "2027-01-01T00:00:00Z", 1))
            raise RuntimeError("rolled back")
        assert ledger.engine.version(("offering_holds",)) != holds
        assert [(r.start, r.end) for r in ledger.runtimes(at(0), at(48))] == [(at(0), at(2))]


def test_runtimes_stop_start_and_clipping(location: StateLocation) -> None:
    with Ledger.connect(location) as ledger:
        running(ledger, "i-1", 0)
        running(ledger, "i-1", 1)  # idempotent: still one open runtime from 00:00
        ledger.instance_halted("i-1", at(8), ended=False)
        running(ledger, "i-1", 12)
        assert ledger.open_runtime_starts("p") == {"i-1": at(12)}
        runs = ledger.runtimes(at(0), at(48))
        assert [(r.start, r.end) for r in runs] == [(at(0), at(8)), (at(12), None)]
        # [06:00, 14:00) holds 2 h of the first runtime and 2 h of the second (open,
        # so it runs until "now" = 20:00, clipped at 14:00): 4 h x 3.00 = 12.00 USD
        assert sum(r.usd_within(at(6), at(14), at(20)) for r in runs) == pytest.approx(12.0)
        assert runs[1].hours_within(at(0), at(48), at(15)) == pytest.approx(3.0)
        ledger.instance_halted("i-1", at(20), ended=True)
        ledger.instance_halted("i-1", at(22), ended=True)  # idempotent
        [record] = ledger.instances("p")
        assert record.ended_at == at(20) and ledger.open_runtime_starts("p") == {}


def test_an_interruption_is_recorded_once(location: StateLocation) -> None:
    with Ledger.connect(location) as ledger:
        assert ledger.record_interruption(instance_id="i-1", plan_id="p", pool=POOL,
                                          at=at(3), reason="Server.SpotInstanceTermination")
        assert not ledger.record_interruption(instance_id="i-1", plan_id="p", pool=POOL,
                                              at=at(4), reason="again")
        assert [(i.instance_id, i.at) for i in ledger.interruptions()] == [("i-1", at(3))]
        assert ledger.interruptions(at(4), at(5)) == []


def a_ledger_with_a_plan(folder: Path) -> Path:
    with Ledger.open(folder) as ledger:
        ledger.record_plan(plan().model_dump(mode="json", by_alias=True), "p.json", at(0))
        running(ledger, "i-1", 0)
        ledger.instance_halted("i-1", at(2), ended=True)
    return folder / "ledger.db"


def damage(path: Path, sql: str, *args: object) -> None:
    conn = sqlite3.connect(path)
    conn.execute(sql, args)
    conn.commit()
    conn.close()


DOCUMENT = "UPDATE plans SET document=?"
DAMAGED = [
    ("invalid JSON in a plan", DOCUMENT, ('{"plan_id": ',),
     "plans row 't-0001': the document is not a costopt.plan/v1 plan (Expecting value"),
    ("a plan without fleet", DOCUMENT,
     (json.dumps({k: v for k, v in plan().model_dump(mode="json", by_alias=True).items()
                  if k != "fleet"}),),
     "plans row 't-0001': the document is not a costopt.plan/v1 plan (fleet: Field required"),
    ("text in a price column", "UPDATE runtimes SET usd_per_hour='three'", (),
     "runtimes row 1: usd_per_hour = 'three'; valid: a number of USD from 0"),
    ("a negative price", "UPDATE instances SET usd_per_hour=-3", (),
     "instances row 1: usd_per_hour = -3.0; valid: a number of USD from 0"),
    ("a time that is not one", "UPDATE runtimes SET start='yesterday'", (),
     "runtimes row 1: start = 'yesterday'; valid: a UTC time such as 2027-01-04T00:00:00Z"),
    ("a dropped table", "DROP TABLE runtimes", (),
     "the table 'runtimes' is missing (a table is never made again"),
    ("a dropped column", "ALTER TABLE interruptions DROP COLUMN reason", (),
     "the table 'interruptions' has no column reason"),
]


@pytest.mark.parametrize(("sql", "args", "expected"), [d[1:] for d in DAMAGED],
                         ids=[d[0] for d in DAMAGED])
def test_a_damaged_ledger_is_refused_on_open_and_left_as_it_was(
        tmp_path: Path, sql: str, args: tuple[object, ...], expected: str) -> None:
    path = a_ledger_with_a_plan(tmp_path)
    damage(path, sql, *args)
    before = path.read_bytes()
    with pytest.raises(LedgerError) as info:
        Ledger.open(tmp_path)
    assert str(info.value).startswith(f"the ledger {path} is damaged: {expected}")
    assert path.read_bytes() == before  # nothing made again, nothing changed


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "ledger.db").write_text("not sqlite at all\n" * 100)
    with pytest.raises(LedgerError) as info:
        Ledger.open(tmp_path)
    assert "is damaged: not a ledger SQLite can read (file is not a database)" in str(
        info.value)


def test_a_ledger_made_before_the_in_force_table_gets_it(tmp_path: Path) -> None:
    path = a_ledger_with_a_plan(tmp_path)
    damage(path, "DROP TABLE in_force")
    damage(path, "PRAGMA user_version=0")
    with Ledger.open(tmp_path) as ledger:
        assert ledger.plan_in_force("t") is None
        ledger.put_in_force("t", "t-0001", at(0))
        assert ledger.plan_in_force("t") == ("t-0001", at(0))
    damage(path, "DROP TABLE in_force")  # at version 2 the table is not made again
    with pytest.raises(LedgerError):
        Ledger.open(tmp_path)


def test_launch_history_counted_on_is_counted_afresh_whoever_writes(
        location: StateLocation) -> None:
    """Slot 0's launches written one by one through two handles, each asked after every
    write (each keeps its counts on SQLite and adds what came after them) and a handle
    opened afresh: (capacity failures since the last ok, completed calls) worked by hand.
    An intent left open (a crash) is not counted until closed; closed ``ok`` after a later
    failure, that failure is the one after the last success."""
    unseen = "no instance found after an interrupted run"
    capacity = "capacity: InsufficientInstanceCapacity (spot)"
    with Ledger.connect(location) as ledger, Ledger.connect(location) as other:
        def launch(by: Ledger, status: str, detail: str | None = None) -> int:
            action = by.intent(run_id="r", plan_id="p", at=at(0), kind="launch", pool=POOL,
                               slot=0)
            if status != "intent":
                by.result(action, status, detail=detail)
            return action

        def counted() -> tuple[int, int]:
            with Ledger.connect(location) as fresh:
                afresh = fresh.launch_history("p", POOL, 0, unseen)
            assert ledger.launch_history("p", POOL, 0, unseen) == afresh
            assert other.launch_history("p", POOL, 0, unseen) == afresh
            return afresh

        launch(ledger, "failed", capacity)
        assert counted() == (1, 1)
        launch(other, "failed", capacity)
        assert counted() == (2, 2)
        cut_short = launch(ledger, "intent")
        assert counted() == (2, 2)
        launch(other, "failed", capacity)
        assert counted() == (3, 3)
        ledger.result(cut_short, "ok", instance_id="i-1")  # f, f, ok, f: one failure after
        assert counted() == (1, 4)
        launch(ledger, "failed", capacity)
        assert counted() == (2, 5)
        launch(other, "ok")
        assert counted() == (0, 6)
        launch(ledger, "failed", unseen)  # repeated with its token: not a call of its own
        assert counted() == (0, 6)
        launch(ledger, "failed", "RunInstances failed: AuthFailure")  # a call, not capacity
        assert counted() == (0, 7)
        launch(other, "failed", capacity)
        assert counted() == (1, 8)


def test_a_read_again_sees_every_write_of_this_handle_and_of_another(
        location: StateLocation) -> None:
    # A read is kept for reuse while nothing is written: each write below, through this
    # handle or through another connection to the same ledger, must show in the next read.
    with Ledger.connect(location) as ledger, Ledger.connect(location) as other:
        running(ledger, "i-1", 0)
        assert [(r.start, r.end) for r in ledger.runtimes(at(0), at(48))] == [(at(0), None)]
        assert ledger.runtimes(at(0), at(48)) == ledger.runtimes(at(0), at(48))  # reused
        other.instance_halted("i-1", at(8), ended=True)
        assert [(r.start, r.end) for r in ledger.runtimes(at(0), at(48))] == [(at(0), at(8))]
        assert [i.ended_at for i in ledger.instances()] == [at(8)]
        running(other, "i-2", 10)
        assert [i.instance_id for i in ledger.instances()] == ["i-1", "i-2"]
        assert [i.instance_id for i in ledger.instances(plan_ids={"p"})] == ["i-1", "i-2"]
        ledger.instance_claimed("i-2", plan_id="q", slot=1, usd_per_hour=5.0, at=at(11))
        assert [i.instance_id for i in other.instances(plan_ids={"p"})] == ["i-1"]
        assert [i.instance_id for i in other.instances("q")] == ["i-2"]
        other.instances(plan_ids={"p"}).clear()  # a caller's own copy
        assert [i.instance_id for i in other.instances(plan_ids={"p"})] == ["i-1"]
        assert [(r.plan_id, r.usd_per_hour) for r in other.runtimes(at(0), at(48))] == [
            ("p", 3.0), ("q", 3.0), ("q", 5.0)]  # i-2's runtimes are the claiming plan's
        other.record_interruption(instance_id="i-1", plan_id="p", pool=POOL, at=at(8),
                                  reason="Server.SpotInstanceTermination")
        assert [i.instance_id for i in ledger.interruptions()] == ["i-1"]
        assert [(r.instance_id, r.usd_per_hour) for r in ledger.runtimes(at(0), at(48), {"q"})
                ] == [("i-2", 3.0), ("i-2", 5.0)]  # a set of plans' instances' only
        assert [r.instance_id for r in ledger.runtimes(at(0), at(48), {"p"})] == ["i-1"]
        assert [i.instance_id for i in ledger.interruptions(at(0), at(9), {"p"})] == ["i-1"]
        assert ledger.interruptions(at(0), at(9), {"q"}) == ledger.runtimes(at(0), at(48), set())
        running(other, "i-3", 12)
        assert [r.instance_id for r in ledger.runtimes(at(0), at(48), {"p"})] == ["i-1", "i-3"]


def test_what_every_tick_asks_is_read_again_after_any_write(location: StateLocation) -> None:
    # Every tick asks which plans are kept and in force, the ledger's id, the jobs' reports,
    # the offerings held and the open runtimes: kept for reuse while their tables are not
    # written (SQLite). Each write below, through either handle, must show in the next read
    # of both - and a read handed out, changed by its caller, must not change the next.
    doc = {"plan_id": "p", "workload": {"name": "w"}, "fleet": []}

    def asked(handle: Ledger) -> tuple[object, ...]:
        return (handle.plan_in_force("w"), handle.plan_ids_of("w"), handle.has_plan("p", "a"),
                [d["plan_id"] for d in handle.plans()], handle.owner_id(create=False),
                [(r.job, r.done_gpu_hours) for r in handle.progress_reports("p")],
                handle.offering_holds(), handle.open_runtime_starts("p"))

    with Ledger.connect(location) as ledger, Ledger.connect(location) as other:
        nothing = (None, set(), False, [], None, [], {}, {})
        assert asked(ledger) == asked(other) == nothing
        asked(ledger)[1].add("x")  # a caller's own copy
        ledger.offering_holds()[POOL] = (at(0), 9)
        assert asked(ledger) == nothing
        other.record_plan(doc, "a", at(0))
        other.put_in_force("w", "p", at(1))
        owner = other.owner_id(create=True)
        other.report_progress(plan_id="p", job="j", at=at(2), done_gpu_hours=3.0, source="tag")
        other.hold_offering(POOL, at(3), 1)
        running(other, "i-1", 4)
        now = (("p", at(1)), {"p"}, True, ["p"], owner, [("j", 3.0)], {POOL: (at(3), 1)},
               {"i-1": at(4)})
        assert asked(ledger) == asked(other) == now
        ledger.put_in_force("w", "q", at(5))
        ledger.report_progress(plan_id="p", job="j", at=at(6), done_gpu_hours=4.0,
                               source="tag")
        ledger.release_offering(POOL)
        ledger.instance_halted("i-1", at(7), ended=True)
        assert asked(other) == asked(ledger) == (
            ("q", at(5)), {"p"}, True, ["p"], owner, [("j", 3.0), ("j", 4.0)], {}, {})


def test_runtimes_end_where_the_stored_seconds_do(location: StateLocation) -> None:
    # Times are stored to the second: a runtime from 10:00:00 does not overlap a window
    # ending at 10:00:00.5 (stored 10:00:00), and does overlap one ending at 10:00:01.
    with Ledger.connect(location) as ledger:
        running(ledger, "i-1", 0)
        ledger.instance_halted("i-1", at(2), ended=True)
        running(ledger, "i-2", 10)
        half = timedelta(milliseconds=500)
        assert [r.instance_id for r in ledger.runtimes(at(0), at(10) + half)] == ["i-1"]
        assert [r.instance_id for r in ledger.runtimes(at(1), at(10) + 2 * half)] == [
            "i-1", "i-2"]
        assert [r.instance_id for r in ledger.runtimes(at(2), at(11))] == ["i-2"]


def test_spend_so_far_counts_closed_runtimes_once_and_open_ones_until_now(
        location: StateLocation) -> None:
    with Ledger.connect(location) as ledger:
        running(ledger, "i-1", 0)  # 3.00 USD/h, plan "p"
        ledger.instance_halted("i-1", at(4), ended=True)
        running(ledger, "i-2", 2, usd_per_hour=5.0)
        ledger.instance_running(instance_id="i-3", plan_id="other", pool=POOL,
                                region="us-east-1", instance_type="p3.2xlarge",
                                market="on_demand", slot=0, az=None, usd_per_hour=7.0,
                                at=at(0))
        # from 01:00 until 06:00: i-1 01:00-04:00, 3 h x 3.00 = 9.00; i-2 open, 02:00-06:00,
        # 4 h x 5.00 = 20.00; i-3 is another plan's
        assert ledger.spent_usd({"p"}, at(1), at(6)) == pytest.approx(29.0)
        # two hours on: i-1's part is the same 9.00 (kept), i-2 runs on: 6 h x 5.00 = 30.00
        assert ledger.spent_usd({"p"}, at(1), at(8)) == pytest.approx(39.0)
        assert ledger.spent_usd({"p", "other"}, at(1), at(8)) == pytest.approx(39.0 + 49.0)
        # from another start, i-1's part is its own again: 03:00-04:00, 1 h x 3.00; i-2's
        # 03:00-08:00, 5 h x 5.00
        assert ledger.spent_usd({"p"}, at(3), at(8)) == pytest.approx(3.0 + 25.0)
        # asked at 03:30, i-1 (ended 04:00) still runs: 0.5 h x 3.00 + i-2 0.5 h x 5.00;
        # at 05:00 it has ended: 1 h x 3.00 + i-2 2 h x 5.00
        assert ledger.spent_usd({"p"}, at(3), at(3.5)) == pytest.approx(1.5 + 2.5)
        assert ledger.spent_usd({"p"}, at(3), at(5)) == pytest.approx(3.0 + 10.0)
        # i-2 ends at 06:00 (a write): at 09:00, 3.00 + 3 h x 5.00; a new runtime of i-2
        # from 07:00 (another write): at 09:00, 2 h x 5.00 more
        ledger.instance_halted("i-2", at(6), ended=False)
        assert ledger.spent_usd({"p"}, at(3), at(9)) == pytest.approx(3.0 + 15.0)
        running(ledger, "i-2", 7, usd_per_hour=5.0)
        assert ledger.spent_usd({"p"}, at(3), at(9)) == pytest.approx(3.0 + 15.0 + 10.0)
        # asked for an earlier moment again: summed again, 03:00-06:30
        assert ledger.spent_usd({"p"}, at(3), at(6.5)) == pytest.approx(3.0 + 15.0)


def test_a_plan_kept_once_and_its_path_followed(location: StateLocation) -> None:
    with Ledger.connect(location) as ledger:
        doc = {"plan_id": "lab-1", "workload": {"name": "lab"}, "fleet": []}
        assert not ledger.has_plan("lab-1", "a.json")
        ledger.record_plan(doc, "a.json", at(0))
        assert ledger.has_plan("lab-1", "a.json") and not ledger.has_plan("lab-1", "b.json")
        ledger.record_plan({**doc, "fleet": ["changed"]}, "b.json", at(1))
        ledger.record_plan({"plan_id": "lab-2", "workload": {"name": "lab"}}, None, at(2))
        assert ledger.has_plan("lab-1", "b.json") and ledger.has_plan("lab-2", None)
        assert ledger.plans() == [doc, {"plan_id": "lab-2", "workload": {"name": "lab"}}]


def test_plans_in_force_one_after_another(location: StateLocation) -> None:
    with Ledger.connect(location) as ledger:
        ledger.put_in_force("lab", "lab-1", at(0))
        ledger.put_in_force("lab", "lab-1", at(1))  # already in force: nothing new
        ledger.put_in_force("lab", "lab-2", at(2))
        ledger.put_in_force("other", "other-1", at(3))
        assert ledger.plan_in_force("lab") == ("lab-2", at(2))
        assert ledger.was_in_force("lab", "lab-1") and not ledger.was_in_force("lab", "x")
        assert ledger.plan_in_force("nothing") is None


def test_a_claimed_instance_is_the_new_plans_at_its_price(location: StateLocation) -> None:
    with Ledger.connect(location) as ledger:
        running(ledger, "i-1", 0, usd_per_hour=3.0)
        ledger.instance_claimed("i-1", plan_id="q", slot=2, usd_per_hour=4.0, at=at(5))
        [record] = ledger.instances("q")
        assert (record.slot, record.usd_per_hour) == (2, 4.0)
        # 5 h at 3.00 under the old plan's price, then 4.00 from the claim: until 08:00,
        # 15.00 + 3 x 4.00 = 27.00 USD
        runs = ledger.runtimes(at(0), at(8))
        assert [(r.start, r.end, r.usd_per_hour) for r in runs] == [
            (at(0), at(5), 3.0), (at(5), None, 4.0)]
        assert sum(r.usd_within(at(0), at(8), at(8)) for r in runs) == pytest.approx(27.0)


def test_a_ledger_made_before_progress_reports_gets_the_table(tmp_path: Path) -> None:
    path = a_ledger_with_a_plan(tmp_path)
    damage(path, "DROP TABLE progress_reports")
    damage(path, "PRAGMA user_version=2")
    with Ledger.open(tmp_path) as ledger:
        ledger.report_progress(plan_id="t-0001", job="a", at=at(1), done_gpu_hours=2.5,
                               source="cli")
        assert [(r.job, r.at, r.done_gpu_hours) for r in ledger.progress_reports("t-0001")] == [
            ("a", at(1), 2.5)]


PG_DAMAGED = [
    ("UPDATE runtimes SET start='yesterday'",
     "runtimes row 1: start = 'yesterday'; valid: a UTC time such as 2027-01-04T00:00:00Z"),
    ("UPDATE instances SET usd_per_hour=-3",
     "instances row 'i-1': usd_per_hour = -3.0; valid: a number of USD from 0"),
    ("UPDATE plans SET document='{\"plan_id\": '",
     "plans row 't-0001': the document is not a costopt.plan/v1 plan (Expecting value"),
    ("ALTER TABLE interruptions DROP COLUMN reason",
     "the table 'interruptions' has no column reason"),
    ("DROP TABLE runtimes", "the table 'runtimes' is missing (a table is never made again"),
]


@pytest.mark.parametrize(("sql", "expected"), PG_DAMAGED, ids=[d[0][:24] for d in PG_DAMAGED])
def test_a_damaged_postgresql_ledger_is_refused_the_same_way(pg_url: str, sql: str,
                                                              expected: str) -> None:
    import psycopg

    location = parse_state_url(pg_url)
    with Ledger.connect(location) as ledger:
        ledger.record_plan(plan().model_dump(mode="json", by_alias=True), "p.json", at(0))
        running(ledger, "i-1", 0)
        ledger.instance_halted("i-1", at(2), ended=True)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]
    with pytest.raises(LedgerError) as info:
        Ledger.connect(location)
    assert str(info.value).startswith(f"the ledger {location.shown} is damaged: {expected}")
    assert ":***@" in location.shown


def test_a_new_ledger_is_its_owners_only(tmp_path: Path) -> None:
    """The ledger holds the plans and their jobs' ``run`` commands: 0600 (and its WAL files,
    which SQLite makes with the database's mode), its new folder 0700."""
    with Ledger.open(tmp_path / "state") as ledger:
        ledger.intent(run_id="r", plan_id="p", at=at(0), kind="launch", pool=POOL, slot=0)
        files = sorted((tmp_path / "state").iterdir())
        assert {f.stat().st_mode & 0o777 for f in files} == {0o600}
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700


def test_offering_holds_outlive_the_process_that_saw_the_refusal(
        location: StateLocation) -> None:
    spot = "aws:us-east-1:p3.2xlarge:spot:use1-az1"
    with Ledger.connect(location) as ledger:
        ledger.hold_offering(spot, at(1), 1)
        ledger.hold_offering(spot, at(3), 2)  # refused again: the hold doubled
    with Ledger.connect(location) as again:
        assert again.offering_holds() == {spot: (at(3), 2)}
        again.release_offering(spot)  # spot ran there
        assert again.offering_holds() == {}
