"""Fuzzing workload files: 2,000 generated files (200 in CI, the same ones every run;
``scripts/property_tests_wide.sh`` draws the 2,000 with fresh seeds), valid-ish workloads
mutated (wrong types, inf/nan, huge and negative numbers, bad dates, unknown keys, deep nesting,
anchors and aliases, duplicate keys, odd price files). Reading, validating and checking each one
(the loader, the model, the checks against the price data, pools and eligibility; not the
solver) may only fail with costopt's own errors, never anything else."""

from __future__ import annotations

import contextlib
import copy
import tempfile
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from builders import catalog, offer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples

from costopt.errors import CostoptError
from costopt.plan.pools import build_pools, eligibility, unplaceable_jobs
from costopt.plan.size import size_issues
from costopt.pricing.catalog import load_catalog, shipped_data_dir
from costopt.workload_checks import (
    check_against_catalog,
    horizon_started,
    load_workload,
    offers_of,
    price_date_of,
)

BASE: dict[str, Any] = {
    "name": "fuzz",
    "horizon": {"start": date(2027, 1, 4), "days": 7, "period_hours": 24},
    "budget_usd": 5000,
    "cloud": {"regions": ["us-east-1"], "markets": ["on_demand", "spot"],
              "instance_types": ["p3.2xlarge"],
              "price_overrides": [{"instance_type": "p3.2xlarge", "region": "us-east-1",
                                   "market": "spot", "usd_per_hour": 0.9}],
              "quotas": [{"region": "us-east-1", "market": "on_demand", "family": "P",
                          "vcpus": 64}],
              "max_instances": [{"instance_type": "p3.2xlarge", "region": "us-east-1",
                                 "market": "spot", "count": 2}]},
    "owned": {"electricity_usd_per_kwh": 0.15, "pue": 1.3,
              "servers": [{"name": "box", "gpu": "V100-SXM2-16GB", "gpus": 4,
                           "purchase_usd": 4800, "lifetime_years": 3, "power_watts": 1650,
                           "idle_watts": 250, "availability": 0.9}]},
    "jobs": [{"name": "a", "gpus": 1, "gpu_hours": 50, "interruptible": True,
              "start": date(2027, 1, 5), "deadline": date(2027, 1, 9),
              "checkpoint_minutes": 30, "speed": {"V100": 1.0}, "regions": ["us-east-1"],
              "allow": ["owned", "spot"]},
             {"name": "b", "gpus": 4, "gpu_hours": 200, "min_gpu_memory_gb": 16}],
}

PATHS: list[tuple[Any, ...]] = [
    ("name",), ("horizon",), ("horizon", "start"), ("horizon", "days"),
    ("horizon", "period_hours"), ("horizon", "periods"), ("budget_usd",),
    ("monthly_budget_usd",), ("cloud",),
    ("cloud", "regions"), ("cloud", "markets"), ("cloud", "instance_types"),
    ("cloud", "pricing"), ("cloud", "price_overrides", 0, "usd_per_hour"),
    ("cloud", "price_overrides", 0, "market"), ("cloud", "quotas", 0, "vcpus"),
    ("cloud", "quotas", 0, "family"), ("cloud", "max_instances", 0, "count"),
    ("cloud", "spot_restart_minutes"), ("cloud", "spot_max_price_ratio"),
    ("owned", "electricity_usd_per_kwh"), ("owned", "pue"), ("owned", "servers"),
    ("owned", "servers", 0, "gpu"), ("owned", "servers", 0, "gpus"),
    ("owned", "servers", 0, "count"), ("owned", "servers", 0, "purchase_usd"),
    ("owned", "servers", 0, "lifetime_years"), ("owned", "servers", 0, "power_watts"),
    ("owned", "servers", 0, "idle_watts"), ("owned", "servers", 0, "availability"),
    ("jobs",), ("jobs", 0, "name"), ("jobs", 0, "gpus"), ("jobs", 0, "gpu_hours"),
    ("jobs", 0, "start"), ("jobs", 0, "deadline"), ("jobs", 0, "speed"),
    ("jobs", 0, "speed", "V100"), ("jobs", 0, "regions"), ("jobs", 0, "allow"),
    ("jobs", 0, "interruptible"), ("jobs", 1, "min_gpu_memory_gb"),
    ("jobs", 1, "checkpoint_minutes"), ("jobs", 2), ("unknown",), ("jobs", 0, "gpu_hour"),
]

WORDS = ["", " ", "2027-02-30", "9999-12-25", "0000-01-01", "2027-01-04T25:00:00Z",
         "1e3", "1e-300", "-1", "true", "owned", "spot", "P", "V100", "us-east-1",
         "nowhere-1", "p3.2xlarge", "A" * 300, "\u00e9\u4e2d", "~"]

numbers = st.one_of(
    st.integers(-10, 100), st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -0.0, 1e-300, 1e300, 1.7e308, 10**400, 2**63]))
dates = st.one_of(st.dates(), st.datetimes(timezones=st.just(timezone.utc)),
                  st.sampled_from([date(1, 1, 1), date(9999, 12, 31),
                                   datetime(9999, 12, 31, 23, 59)]))
scalars = st.one_of(st.none(), st.booleans(), numbers, dates, st.sampled_from(WORDS),
                    st.text(max_size=12))
plausible = st.one_of(st.integers(1, 64), st.floats(0.1, 1000), st.dates(
    date(2027, 1, 1), date(2027, 1, 20)), st.sampled_from(["us-east-1", "p3.2xlarge", "V100",
                                                           ["us-east-1"], ["owned"], {}]))
"""Values that often stay valid, so that many cases reach the checks after validation."""
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(WORDS + ["x", "gpu"]),
                                                 inner, max_size=3)), max_leaves=8)


def _set(raw: Any, path: tuple[Any, ...], value: Any) -> None:
    node = raw
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return  # an earlier mutation took the parent away
    if isinstance(node, dict):
        node[path[-1]] = value
    elif isinstance(node, list) and isinstance(path[-1], int):
        if path[-1] < len(node):
            node[path[-1]] = value
        else:
            node.append(value)


def _nest(depth: int) -> str:
    return "[" * depth + "]" * depth


TEXT_EDITS = {
    "bad date": lambda text: text.replace("2027-01-04", "2027-02-30", 1),
    "far date": lambda text: text.replace("2027-01-04", "9999-12-25", 1),
    "inf": lambda text: text.replace("gpu_hours: 50", "gpu_hours: .inf"),
    "nan": lambda text: text.replace("usd_per_hour: 0.9", "usd_per_hour: .nan"),
    "duplicate key": lambda text: text + "name: again\n",
    "deep": lambda text: text + f"deep: {_nest(200)}\n",
    "deeper": lambda text: text + f"deeper: {_nest(3000)}\n",
    "alias": lambda text: ("anchors: &x {days: 3, period_hours: 24, start: 2027-01-04}\n"
                           + text.replace("horizon:", "horizon: *x\nignored:", 1)),
    "bomb": lambda text: text + "".join(
        f"b{i}: &b{i} [" + ", ".join([f"*b{i - 1}" if i else "1"] * 10) + "]\n"
        for i in range(8)),
    "recursive": lambda text: text + "loop: &l [*l]\n",
    "tag": lambda text: text.replace("days: 7", "days: !!int seven"),
    "python tag": lambda text: text + "x: !!python/object/apply:os.getcwd []\n",
    "bad yaml": lambda text: text + "jobs: [\n",
    "tabs": lambda text: "\t" + text,
    "not a mapping": lambda text: "- " + text.replace("\n", "\n  "),
    "empty": lambda text: "",
}

PRICE_FILES = [".", "/", "/dev/null", "nowhere.csv", "w.yaml", "instances.csv"]


@st.composite
def workload_texts(draw: st.DrawFn) -> str:
    raw = copy.deepcopy(BASE)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 1, 2, 3]))):
        path = draw(st.sampled_from(PATHS))
        value = draw(st.sampled_from(PRICE_FILES)) if path == ("cloud", "pricing") else \
            draw(st.one_of(plausible, plausible, values))
        _set(raw, path, value)
    text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
    edits = st.lists(st.sampled_from(sorted(TEXT_EDITS)), min_size=1, max_size=2)
    for edit in draw(st.one_of(st.just([]), st.just([]), edits)):
        text = TEXT_EDITS[edit](text)
    return text


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="costopt-fuzz-") as tmp:
        path = Path(tmp)
        (path / "instances.csv").write_bytes((shipped_data_dir() / "instances.csv").read_bytes())
        yield path


SMALL = catalog(offer("p3.2xlarge", spot=1.0, rate=0.1), offer("p3.8xlarge", gpus=4,
                                                                  vcpus=32, on_demand=12.0))


def _check(path: Path) -> None:
    """What ``validate`` and ``plan`` do with a workload short of solving it."""
    w = load_workload(path)
    cat = load_catalog(w.cloud.pricing) if w.cloud and w.cloud.pricing else SMALL
    horizon_started(w, datetime(2027, 1, 6, tzinfo=timezone.utc))
    cat.staleness_warning(date(2027, 1, 6), offers_of(w, cat))
    price_date_of(w, cat)
    if check_against_catalog(w, cat):
        return
    pools = build_pools(w, cat)
    pairs = eligibility(w, pools, cat)
    if not unplaceable_jobs(w, pools, pairs):
        size_issues(w, pools, pairs)


@pytest.mark.slow
@settings(max_examples=examples(2000, ci=200), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(text=workload_texts())
def test_workload_files_fail_only_with_costopt_errors(text: str, folder: Path) -> None:
    path = folder / "w.yaml"
    path.write_text(text, encoding="utf-8")
    with contextlib.suppress(CostoptError):  # a clear error: what hostile input should get
        _check(path)
