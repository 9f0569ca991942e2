"""Plan documents with a fleet schedule, and observed instances, in a few lines each."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from costopt.orchestrate.reconcile import ObservedInstance
from costopt.planfile import PlanDocument

T0 = datetime(2027, 1, 4, tzinfo=timezone.utc)
IMAGE = "ami-0123456789abcdef0"
"""The image every test launch names: moto launches any image id. Looking one up in moto's
catalogue (``describe_images(Owners=["amazon"])``) costs 1.5-3.5 CPU-s in each test."""


def at(hours: float) -> datetime:
    """``hours`` after 2027-01-04T00:00Z."""
    return T0 + timedelta(hours=hours)


def iso(hours: float) -> str:
    return at(hours).strftime("%Y-%m-%dT%H:%M:%SZ")


def pool(pool_id: str, slots: list[tuple[int, float, float]], *, usd_per_hour: float = 3.0,
         on_demand: float | None = None, fallback: bool = False) -> dict[str, Any]:
    """A fleet pool ``aws:REGION:TYPE:MARKET`` with slots ``(k, start h, end h)``."""
    _aws, region, instance_type, market = pool_id.split(":")
    od = on_demand if on_demand is not None else usd_per_hour
    return {"pool": pool_id, "region": region, "instance_type": instance_type,
            "market": market, "usd_per_hour": usd_per_hour, "on_demand_usd_per_hour": od,
            "spot_max_price_usd": od if market == "spot" else None,
            "on_demand_fallback": fallback,
            "slots": [{"slot": k, "start": iso(s), "end": iso(e)} for k, s, e in slots]}


def plan(*pools: dict[str, Any], days: int = 2, period_hours: int = 12,
         monthly_budget_usd: float | None = None, plan_id: str = "t-0001") -> PlanDocument:
    """A plan document holding only what the orchestrator reads, plus the required rest."""
    return PlanDocument.model_validate({
        "schema": "costopt.plan/v1", "plan_id": plan_id, "status": "optimal",
        "workload": {"name": "t", "file": "t.yaml", "sha256": "0" * 64},
        "horizon": {"start": iso(0), "end": iso(24 * days), "period_hours": period_hours,
                    "periods": 24 * days // period_hours},
        "monthly_budget_usd": monthly_budget_usd,
        "prices": {"source": "test", "price_date": "2026-11-01"}, "solver": "cbc",
        "cost": {"variable_usd": 0, "fixed_usd": 0, "total_usd": 0, "by_market": {}},
        "shortfalls": [], "assignments": [], "instance_hours": [], "fleet": list(pools),
        "pools": [], "baselines": {}, "binding": {},
    })


def seen(instance_id: str, pool_id: str, slot: int | None, state: str = "running", *,
         launched: float = 0.0, market: str | None = None, reason: str | None = None,
         stoppable: bool = True, plan_id: str | None = None) -> ObservedInstance:
    """An instance as DescribeInstances shows it, launched ``launched`` hours after T0."""
    _aws, region, instance_type, pool_market = pool_id.split(":")
    return ObservedInstance(instance_id=instance_id, pool=pool_id, region=region, state=state,
                            market=market or pool_market,  # type: ignore[arg-type]
                            launched_at=at(launched), slot=slot, state_reason=reason,
                            stoppable=stoppable, instance_type=instance_type,
                            plan_id=plan_id)
