"""The ledger: intents and results, runtimes and their clipping, interruptions."""

from __future__ import annotations

from pathlib import Path

import pytest
from fleet_plans import at

from costopt.orchestrate.ledger import Ledger

POOL = "aws:us-east-1:p3.2xlarge:on_demand"


def running(ledger: Ledger, instance_id: str, hour: float, usd_per_hour: float = 3.0) -> None:
    ledger.instance_running(instance_id=instance_id, plan_id="p", pool=POOL,
                            region="us-east-1", instance_type="p3.2xlarge",
                            market="on_demand", slot=0, az=None, usd_per_hour=usd_per_hour,
                            at=at(hour))


def test_intent_then_result_and_what_is_pending(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        first = ledger.intent(run_id="r", plan_id="p", at=at(0), kind="launch", pool=POOL,
                              slot=0, client_token="tok")
        second = ledger.intent(run_id="r", plan_id="p", at=at(0), kind="launch", pool=POOL,
                               slot=1)
        ledger.result(first, "ok", instance_id="i-1")
        assert [a.id for a in ledger.pending("p")] == [second]
        [done] = ledger.actions("p", "ok")
        assert (done.instance_id, done.client_token, done.status) == ("i-1", "tok", "ok")
    with Ledger.open(tmp_path) as again:  # it is on disk, in WAL mode
        assert [a.id for a in again.pending("p")] == [second]
        mode = again._conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_runtimes_stop_start_and_clipping(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
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


def test_an_interruption_is_recorded_once(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        assert ledger.record_interruption(instance_id="i-1", plan_id="p", pool=POOL,
                                          at=at(3), reason="Server.SpotInstanceTermination")
        assert not ledger.record_interruption(instance_id="i-1", plan_id="p", pool=POOL,
                                              at=at(4), reason="again")
        assert [(i.instance_id, i.at) for i in ledger.interruptions()] == [("i-1", at(3))]
        assert ledger.interruptions(at(4), at(5)) == []
