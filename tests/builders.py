"""Builders of small catalogs and workloads, in a few lines each."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import strategies as st

from costopt.pricing.catalog import GpuModel, InstanceOffer, PriceCatalog
from costopt.workload import Workload
from costopt.workload_checks import parse_workload

TEST_GPUS = {
    # name: (memory GB, relative speed)
    "V100-SXM2-16GB": (16.0, 1.0),
    "V100-PCIE-16GB": (16.0, 0.9),
    "T4": (16.0, 0.5),
    "A100-SXM4-40GB": (40.0, 2.0),
    "RTX-2080-TI": (11.0, 0.7),
    "GTX-1080-TI": (11.0, 0.5),
}


def offer(instance_type: str = "p3.2xlarge", region: str = "us-east-1", *,
          gpu: str = "V100-SXM2-16GB", gpus: int = 1, vcpus: int = 8, on_demand: float = 3.0,
          spot: float | None = None, rate: float | None = None,
          gpu_memory_gb: float | None = None) -> InstanceOffer:
    """An instance offer with round numbers (USD per instance-hour)."""
    return InstanceOffer(
        instance_type=instance_type, family=instance_type.split(".")[0], region=region,
        gpu_model=gpu, gpus=gpus,
        gpu_memory_gb=gpu_memory_gb if gpu_memory_gb is not None else TEST_GPUS[gpu][0],
        vcpus=vcpus, memory_gib=61.0, interconnect="PCIe", on_demand_usd_per_hour=on_demand,
        spot_usd_per_hour=spot, spot_usd_per_hour_min=spot,
        interruption_band=None, spot_interruptions_per_hour=rate,
        price_date=date(2026, 11, 1),
    )


def catalog(*offers: InstanceOffer) -> PriceCatalog:
    gpus = {name.upper(): GpuModel(name, "NVIDIA", mem, 0.0, 0.0, 300.0, speed)
            for name, (mem, speed) in TEST_GPUS.items()}
    return PriceCatalog(offers=tuple(offers), gpus=gpus, source="test-prices.csv",
                        price_date=date(2026, 11, 1))


NO_LAUNCH_OVERHEAD = {"setup_minutes": 0, "min_instance_minutes": 0}
"""What a test's cloud section gets unless it says otherwise: the arithmetic of most tests
is the model's without launch overhead (tests of the overhead set it)."""


SPOT_ALWAYS_THERE = {"spot_availability_default": 1.0, "deadline_reserve": False}
"""Likewise: spot there whenever planned and no deadline reserve, unless a test sets them
(``tests/plan/test_availability.py`` and ``random_case`` do)."""


def workload(jobs: list[dict[str, Any]], *, days: int = 1, period_hours: int = 24,
             **fields: Any) -> Workload:
    """A workload starting 2027-01-01 with the given jobs and top-level fields; a cloud
    section without launch overhead, with spot always there and no deadline reserve unless
    it sets them."""
    if fields.get("cloud") is not None:
        fields["cloud"] = {**NO_LAUNCH_OVERHEAD, **SPOT_ALWAYS_THERE, **fields["cloud"]}
    raw: dict[str, Any] = {
        "name": "t",
        "horizon": {"start": "2027-01-01", "days": days, "period_hours": period_hours},
        "jobs": jobs,
        **fields,
    }
    return parse_workload(raw, "test.yaml")


def server(name: str = "box", **fields: Any) -> dict[str, Any]:
    """An owned server entry: 4x V100, 1 USD/h amortisation, 1400 W above idle."""
    base = {"name": name, "gpu": "V100-SXM2-16GB", "gpus": 4, "purchase_usd": 8760,
            "lifetime_years": 1, "power_watts": 1650, "idle_watts": 250}
    return {**base, **fields}


# Random small workloads for property tests: a few offers, servers and jobs.

OFFERS = [
    ("p3.2xlarge", "V100-SXM2-16GB", 1, 8),
    ("p3.8xlarge", "V100-SXM2-16GB", 4, 32),
    ("g4dn.12xlarge", "T4", 4, 48),
    ("p4d.24xlarge", "A100-SXM4-40GB", 8, 96),
]


def at(hours: int) -> str:
    return f"2027-01-{1 + hours // 24:02d}T{hours % 24:02d}:00:00Z"


@st.composite
def random_case(draw: st.DrawFn):
    days = draw(st.integers(1, 3))
    period_hours = draw(st.sampled_from([12, 24]))
    periods = days * 24 // period_hours
    offers = []
    for name, gpu, gpus, vcpus in draw(st.lists(st.sampled_from(OFFERS), min_size=1,
                                                max_size=3, unique=True)):
        for region in draw(st.sampled_from([["us-east-1"], ["us-east-1", "us-west-2"]])):
            od = draw(st.floats(0.5, 30.0))
            spot = draw(st.one_of(st.none(), st.floats(0.1, 1.0).map(lambda f, od=od: f * od)))
            offers.append(offer(name, region, gpu=gpu, gpus=gpus, vcpus=vcpus, on_demand=od,
                                spot=spot, rate=draw(st.floats(0.0, 0.5))))
    servers = [server(f"s{i}", gpu=draw(st.sampled_from(["V100-SXM2-16GB", "RTX-2080-TI"])),
                      gpus=draw(st.sampled_from([1, 2, 4, 8])), count=draw(st.integers(1, 2)),
                      availability=draw(st.floats(0.3, 1.0)))
               for i in range(draw(st.integers(0, 2)))]
    largest = max([o.gpus for o in offers] + [s["gpus"] for s in servers])
    gangs = [g for g in (1, 2, 4) if g <= largest]
    jobs = []
    for i in range(draw(st.integers(1, 3))):
        first = draw(st.integers(0, periods - 1))
        last = draw(st.integers(first + 1, periods))
        gpus = draw(st.sampled_from(gangs))
        # a multi-node gang only where a cloud pool (no quotas here) can always hold it
        nodes = draw(st.sampled_from([1, 1, 2, 3])) if any(o.gpus >= gpus for o in offers) \
            else 1
        jobs.append({
            "name": f"j{i}", "gpus": gpus,
            "gpu_hours": draw(st.floats(1.0, 150.0)),
            "interruptible": draw(st.booleans()),
            "start": at(first * period_hours),
            "deadline": at(last * period_hours),
            "parallel": draw(st.sampled_from([1, 1, 2, 8])),
            "nodes": nodes,
        })
    w = workload(jobs, days=days, period_hours=period_hours,
                 owned={"servers": servers} if servers else None,
                 cloud={"deadline_reserve": draw(st.booleans()),
                        "spot_availability_default": draw(st.sampled_from([1.0, 0.59]))})
    return w, catalog(*offers)
