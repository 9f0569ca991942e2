"""The hand-worked month of the report tests: December 2026, as of 2026-12-11T00:00Z.

One plan, ``lab-0001`` (workload ``lab``), horizon 2026-11-30T00:00Z + 35 daily periods,
``monthly_budget_usd`` 2,000, with three pools:

- A ``aws:us-east-1:p3.2xlarge:on_demand``: 1 GPU, USD 3.00 an instance-hour;
- B ``aws:us-west-2:p3.8xlarge:spot``: 4 GPUs, USD 4.00 (spot), on-demand USD 12.00;
- ``owned:box``: one 4-GPU server, USD 8,760 over 1 year, 1,650 W / 250 W, ops USD 73 a
  month, 0.10 USD/kWh, PUE 1.2.

The ledger (:func:`build_ledger`):

- i-a1 on A: runs 2026-11-30T20:00Z to 12-01T04:00Z (across the month boundary), is
  stopped, started again 12-02T10:00Z, stopped 12-02T16:00Z;
- i-b1 on B as spot: 12-03T00:00Z until AWS interrupts it at 12-03T15:00Z;
- i-b2 on B fallen back to on-demand at USD 12.00: 12-03T15:30Z to 12-04T03:30Z;
- i-a2 on A: 12-10T20:00Z and still running;
- i-nov on A: 11-29T00:00Z to 05:00Z, and an interruption of i-old at 11-30T22:00Z
  (both in November: not in the report).

The figures are worked out in tests/report/test_spend.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from costopt.orchestrate.ledger import Ledger

NOW = datetime(2026, 12, 11, tzinfo=timezone.utc)
POOL_A = "aws:us-east-1:p3.2xlarge:on_demand"
POOL_B = "aws:us-west-2:p3.8xlarge:spot"
BOX = "owned:box"
PLAN_ID = "lab-0001"


def at(text: str) -> datetime:
    """``"12-03T15:30"`` -> 2026-12-03T15:30Z; a year may be given (``2027-01-01T12:00``)."""
    full = text if text.count("-") == 2 else f"2026-{text}"
    return datetime.fromisoformat(full).replace(tzinfo=timezone.utc)


def z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def slots(*spans: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"slot": 0, "start": z(at(a)), "end": z(at(b))} for a, b in spans]


def cloud_pool(pool: str, gpus: int, usd_per_hour: float, on_demand_usd_per_hour: float
               ) -> dict[str, Any]:
    _aws, region, instance_type, market = pool.split(":")
    return {"pool": pool, "market": market, "gpu_model": "V100-SXM2-16GB",
            "gpus_per_node": gpus, "region": region, "instance_type": instance_type,
            "usd_per_hour": usd_per_hour, "on_demand_usd_per_hour": on_demand_usd_per_hour}


def fleet_pool(pool: str, usd_per_hour: float, on_demand_usd_per_hour: float,
               spans: list[dict[str, Any]]) -> dict[str, Any]:
    _aws, region, instance_type, market = pool.split(":")
    return {"pool": pool, "region": region, "instance_type": instance_type, "market": market,
            "usd_per_hour": usd_per_hour, "on_demand_usd_per_hour": on_demand_usd_per_hour,
            "slots": spans}


BOX_RECORD = {"pool": BOX, "market": "owned", "gpu_model": "V100-SXM2-16GB",
              "gpus_per_node": 4, "count": 1, "purchase_usd": 8760.0, "lifetime_years": 1.0,
              "power_watts": 1650.0, "idle_watts": 250.0, "availability": 1.0,
              "ops_usd_per_month": 73.0, "electricity_usd_per_kwh": 0.10, "pue": 1.2,
              "energy_usd_per_gpu_hour": 0.042}


def plan_document(plan_id: str, *, workload: str = "lab", start: str = "11-30T00:00",
                  days: int = 35, monthly_budget_usd: float | None = 2000.0,
                  fleet: list[dict[str, Any]] | None = None,
                  pools: list[dict[str, Any]] | None = None,
                  assignments: list[tuple[str, str, str, float]] | None = None
                  ) -> dict[str, Any]:
    """A ``costopt.plan/v1`` document with what the report reads filled in;
    ``assignments`` are (job, pool, period start, GPU-hours), daily periods."""
    begin = at(start)
    return {
        "schema": "costopt.plan/v1", "plan_id": plan_id, "status": "optimal",
        "workload": {"name": workload, "file": f"{workload}.yaml", "sha256": "0" * 64},
        "horizon": {"start": z(begin), "end": z(begin + timedelta(days=days)),
                    "period_hours": 24, "periods": days},
        "budget_usd": None, "monthly_budget_usd": monthly_budget_usd,
        "prices": {"source": "test", "price_date": "2026-11-01"}, "solver": "test",
        "cost": {"variable_usd": 0.0, "fixed_usd": 0.0, "total_usd": 0.0, "by_market": {}},
        "shortfalls": [], "instance_hours": [], "baselines": {}, "binding": {},
        "assignments": [{"job": job, "pool": pool, "period_start": z(at(period)),
                         "gpu_hours": gpu_hours, "work_gpu_hours": gpu_hours, "cost_usd": 0.0}
                        for job, pool, period, gpu_hours in assignments or []],
        "fleet": fleet or [], "pools": pools or [],
    }


def hand_plan() -> dict[str, Any]:
    return plan_document(
        PLAN_ID,
        pools=[cloud_pool(POOL_A, 1, 3.0, 3.0), cloud_pool(POOL_B, 4, 4.0, 12.0), BOX_RECORD],
        fleet=[
            fleet_pool(POOL_A, 3.0, 3.0, slots(
                ("11-30T20:00", "12-01T04:00"), ("12-02T10:00", "12-02T16:00"),
                ("12-10T20:00", "12-11T06:00"), ("12-31T12:00", "2027-01-01T12:00"))),
            fleet_pool(POOL_B, 4.0, 12.0, slots(
                ("12-03T00:00", "12-04T03:30"), ("12-20T00:00", "12-21T00:00"))),
        ],
        assignments=[
            ("train", POOL_A, "11-30T00:00", 4.0),
            ("train", POOL_A, "12-01T00:00", 3.0), ("sweep", POOL_A, "12-01T00:00", 1.0),
            ("sweep", POOL_A, "12-02T00:00", 6.0),
            ("train", POOL_B, "12-03T00:00", 40.0), ("sweep", POOL_B, "12-03T00:00", 20.0),
            ("sweep", POOL_B, "12-04T00:00", 14.0),
            ("train", POOL_B, "12-20T00:00", 96.0),
            ("train", BOX, "11-30T00:00", 40.0),
            ("train", BOX, "12-01T00:00", 40.0), ("train", BOX, "12-02T00:00", 40.0),
            ("sweep", BOX, "12-15T00:00", 20.0),
        ],
    )


def _run(ledger: Ledger, instance_id: str, pool: str, market: str, usd_per_hour: float,
         start: str, end: str | None = None, *, ended: bool = False) -> None:
    _aws, region, instance_type, _market = pool.split(":")
    ledger.instance_running(instance_id=instance_id, plan_id=PLAN_ID, pool=pool, region=region,
                            instance_type=instance_type, market=market, slot=0, az=None,
                            usd_per_hour=usd_per_hour, at=at(start))
    if end is not None:
        ledger.instance_halted(instance_id, at(end), ended=ended)


def build_ledger(state_dir: Path) -> Path:
    """Write the case's ledger in ``state_dir``; returns the ledger's path."""
    with Ledger.open(state_dir) as ledger:
        ledger.record_plan(hand_plan(), "plan.json", at("11-29T12:00"))
        _run(ledger, "i-nov", POOL_A, "on_demand", 3.0, "11-29T00:00", "11-29T05:00",
             ended=True)
        _run(ledger, "i-a1", POOL_A, "on_demand", 3.0, "11-30T20:00", "12-01T04:00")
        _run(ledger, "i-a1", POOL_A, "on_demand", 3.0, "12-02T10:00", "12-02T16:00")
        _run(ledger, "i-b1", POOL_B, "spot", 4.0, "12-03T00:00", "12-03T15:00", ended=True)
        ledger.record_interruption(instance_id="i-b1", plan_id=PLAN_ID, pool=POOL_B,
                                   at=at("12-03T15:00"),
                                   reason="Server.SpotInstanceTermination")
        ledger.record_interruption(instance_id="i-old", plan_id=PLAN_ID, pool=POOL_B,
                                   at=at("11-30T22:00"),
                                   reason="Server.SpotInstanceTermination")
        _run(ledger, "i-b2", POOL_B, "on_demand", 12.0, "12-03T15:30", "12-04T03:30",
             ended=True)
        _run(ledger, "i-a2", POOL_A, "on_demand", 3.0, "12-10T20:00")
        return ledger.path
