"""One 1-GPU job on p3.2xlarge spot in us-east-1 with two zones priced, for the controller's
zone tests: 10 GPU-h, a checkpoint every 60 minutes, 10 minutes of setup a launch."""

from __future__ import annotations

from dataclasses import replace

from builders import catalog, offer, workload

from costopt.pricing.catalog import PriceCatalog, ZoneSpotPrice
from costopt.workload import Workload

AZ1 = "aws:us-east-1:p3.2xlarge:spot:use1-az1"
AZ2 = "aws:us-east-1:p3.2xlarge:spot:use1-az2"


def two_zones(*, home_usd: float, away_usd: float, on_demand_usd: float, deadline: str,
              period_hours: int) -> tuple[Workload, PriceCatalog]:
    """The job due at ``deadline``; spot at ``home_usd`` per hour in use1-az1 and
    ``away_usd`` in use1-az2, ``on_demand_usd`` on demand."""
    cat = catalog(replace(offer("p3.2xlarge", "us-east-1", on_demand=on_demand_usd,
                                spot=home_usd, rate=0.0),
                          spot_zones=(ZoneSpotPrice("use1-az1", home_usd),
                                      ZoneSpotPrice("use1-az2", away_usd))))
    w = workload([{"name": "train", "gpus": 1, "gpu_hours": 10, "interruptible": True,
                   "checkpoint_minutes": 60, "deadline": deadline}],
                 period_hours=period_hours, cloud={"regions": ["us-east-1"],
                                                   "setup_minutes": 10})
    return w, cat
