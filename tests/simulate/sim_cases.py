"""One small job planned on spot, and traces written out by hand, for the simulation tests.

The workload: one 1-GPU job of ``gpu_hours`` reference GPU-hours (checkpoint every 60
minutes) on 2027-01-01, one day in one 24-hour period; p3.2xlarge (1 V100, speed 1.0) in
us-east-1 at 3 USD/h on demand and 1 USD/h on spot with no interruptions priced in (e = 1).
It is planned without launch overhead (the test builders' default) and carried out with
10 minutes of setup per launch (``CARRIED_OUT_SETUP``, recorded in the plan's document).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
from builders import catalog, offer, workload

from costopt.core.pool_ids import parse_pool_id
from costopt.plan.planfile import to_document
from costopt.plan.planner import make_plan
from costopt.plan.pools import build_pools
from costopt.planfile import PlanDocument
from costopt.pricing.catalog import PriceCatalog
from costopt.traces import PoolTrace, Trace
from costopt.workload import Workload

T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def prices() -> PriceCatalog:
    return catalog(offer("p3.2xlarge", "us-east-1", on_demand=3.0, spot=1.0, rate=0.0))


def one_job(gpu_hours: float = 10, *, allow: list[str] | None = None, days: int = 1,
            period_hours: int = 24, **cloud: Any) -> Workload:
    job: dict[str, Any] = {"name": "train", "gpus": 1, "gpu_hours": gpu_hours,
                           "interruptible": True, "checkpoint_minutes": 60}
    if allow:
        job["allow"] = allow
    return workload([job], days=days, period_hours=period_hours,
                    cloud={"regions": ["us-east-1"], **cloud})


def issue_job() -> Workload:
    """Issue 21's job: 48 GPU-hours of a 1-GPU job due 60 h after its start (2027-01-03
    12:00), checkpoint every 30 minutes, in 12-hour periods of a 3-day horizon, on
    p3.2xlarge in us-east-1 (spot 1 USD/h, on-demand 3 with ``prices()``)."""
    return workload([{"name": "train", "gpus": 1, "gpu_hours": 48, "interruptible": True,
                      "checkpoint_minutes": 30, "deadline": "2027-01-03T12:00:00Z"}],
                    days=3, period_hours=12, cloud={"regions": ["us-east-1"]})


def _spot_pool() -> str:
    """The id the planner gives the spot pool (``aws:us-east-1:p3.2xlarge:spot``)."""
    (spot,) = [p.id for p in build_pools(one_job(), prices()).cloud if p.market == "spot"]
    return spot


SPOT = _spot_pool()


CARRIED_OUT_SETUP = {"setup_minutes": 10.0, "min_instance_minutes": 0.0}


def _document(w: Workload, cat: PriceCatalog) -> dict[str, Any]:
    doc = to_document(make_plan(w, cat), "test.yaml", "0" * 64).as_json()
    doc["launch_overhead"] = dict(CARRIED_OUT_SETUP)
    return doc


def planned(w: Workload, cat: PriceCatalog, **changes: Any) -> PlanDocument:
    """The plan ``costopt plan`` makes, with fields of its document changed."""
    doc = _document(w, cat)
    doc.update(changes)
    return PlanDocument.model_validate(doc)


def stretched(w: Workload, cat: PriceCatalog, hours: float, *,
              fallback: bool = True) -> PlanDocument:
    """The plan with its one spot slot, the instance-hours and the job's GPU-hours made
    ``hours`` long from midnight: a plan with room to spare. The slot names its job, as
    ``plan`` writes it (a slot naming none ties no job's pace or end to it: the controller
    kept a fallback on-demand instance to the slot's end)."""
    doc = _document(w, cat)
    (pool,) = doc["fleet"]
    assert pool["pool"] == SPOT
    pool["slots"] = [{"slot": 0, "start": "2027-01-01T00:00:00Z",
                      "end": (T0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "jobs": [j.name for j in w.jobs]}]
    pool["on_demand_fallback"] = fallback
    (hours_row,) = doc["instance_hours"]
    hours_row["instance_hours"] = hours
    (assignment,) = doc["assignments"]
    assignment["gpu_hours"] = assignment["work_gpu_hours"] = hours
    return PlanDocument.model_validate(doc)


def hourly(counts: list[int], pool: str = SPOT, start: datetime = T0) -> PoolTrace:
    """A trace of one-hour ticks from ``start``."""
    return PoolTrace(parse_pool_id(pool), "hand.json", start,
                     Trace(3600.0, np.asarray(counts, dtype=np.int64)))
