"""Damaged plan documents for the plan file's fuzz tests: a real plan, written by
``costopt plan`` from a small workload, then mutated - wrong types, inf and NaN, huge and
negative numbers, bad timestamps, missing and extra keys, garbage pool ids."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from costopt.cli.main import app
from costopt.planfile import plan_id_for

SMALL_WORKLOAD = """
name: fuzz-small
horizon: {start: 2027-01-04, days: 2, period_hours: 12}
monthly_budget_usd: 500
cloud:
  regions: [us-east-1]
  instance_types: [p3.2xlarge, p3.8xlarge]
  price_overrides:
    - {instance_type: p3.8xlarge, region: us-east-1, market: spot, usd_per_hour: 3.6}
    - {instance_type: p3.8xlarge, region: us-east-1, market: on_demand, usd_per_hour: 12.0}
    - {instance_type: p3.2xlarge, region: us-east-1, market: on_demand, usd_per_hour: 3.0}
jobs:
  - {name: train, gpus: 4, gpu_hours: 40, interruptible: true}
  - {name: eval, gpus: 1, gpu_hours: 9, deadline: "2027-01-04T12:00:00Z"}
"""

ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 7, 10**30, -(10**30), 1e308, -1e308, 1e-300, math.nan,
    math.inf, -math.inf, "", "abc", "12", "garbage", "aws:us-east-1:p3.2xlarge:spot",
    "aws:us-east-1:p3.8xlarge:spot:use1-az1", "owned:x", "buy:y", "2027-02-30T00:00:00Z",
    "2027-01-04T00:00:00", "2027-01-04T05:00:00+05:00", "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z", "2027-01-04", "a" * 300, [], {}, [1, 2], {"x": 1}, "NaN",
    "1e999", "-0", "\u0000", "costopt.plan/v1",
]
"""Values that are wrong almost anywhere (and a few that are right somewhere)."""

Choose = Callable[[list[Any]], Any]
"""Picks one of a list: hypothesis's ``data.draw(sampled_from(...))``, or ``rng.choice``."""


def real_plan(folder: Path) -> dict[str, Any]:
    """The plan ``costopt plan`` writes for :data:`SMALL_WORKLOAD`, as JSON."""
    import json

    (folder / "w.yaml").write_text(SMALL_WORKLOAD)
    result = CliRunner().invoke(app, ["plan", str(folder / "w.yaml"), "-o",
                                      str(folder / "plan.json")])
    assert result.exit_code == 0, result.output
    doc = json.loads((folder / "plan.json").read_text())
    assert doc["fleet"] and doc["instance_hours"]  # something to damage
    return doc


def locations(node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value in a JSON document (the document itself first)."""
    yield at
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for key, value in items:
        yield from locations(value, (*at, key))


def _parent(doc: Any, where: tuple[Any, ...]) -> Any:
    for key in where[:-1]:
        doc = doc[key]
    return doc


def mutate(doc: dict[str, Any], choose: Choose, rounds: int) -> dict[str, Any]:
    """``doc`` with ``rounds`` damages, each chosen by ``choose``; with its plan id made to
    match the damaged content half the time (so the fields themselves must be checked)."""
    doc = copy.deepcopy(doc)
    for _ in range(rounds):
        where = choose([w for w in locations(doc) if w])
        parent, key = _parent(doc, where), where[-1]
        kind = choose(["replace", "replace", "delete", "extra", "duplicate", "shift"])
        if kind == "replace":
            parent[key] = copy.deepcopy(choose(ODD_VALUES))
        elif kind == "delete":
            del parent[key]
        elif kind == "extra" and isinstance(parent, dict):
            parent[choose(["zzz", "slot", "pool", "end", "fleet"]) + "_x"] = copy.deepcopy(
                choose(ODD_VALUES))
        elif kind == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif kind == "shift" and isinstance(parent[key], (int, float)) \
                and not isinstance(parent[key], bool):
            parent[key] = parent[key] * choose([-1, 10**6, 0.5, 1e300]) + choose([0, 1, -1])
    if choose([True, False]):
        doc["plan_id"] = plan_id_for(doc) if isinstance(doc, dict) else None
    return doc
