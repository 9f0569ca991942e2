"""Write ``docs/workload.md``: every field of the workload file, its unit and default, read
from the pydantic models of ``costopt/workload.py`` (so the reference cannot drift from the
code; ``tests/scripts/test_workload_reference.py`` checks it is up to date).

Usage: python scripts/workload_reference.py [--check]
  --check: exit 1 when docs/workload.md differs from what would be written.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from costopt.workload import Workload

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "docs" / "workload.md"

UNITS: tuple[tuple[str, str], ...] = (
    ("usd_per_kwh", "USD per kWh"),
    ("usd_per_month", "USD per month"),
    ("usd_per_hour", "USD per instance-hour"),
    ("_usd", "USD"),
    ("gpu_hours", "GPU-hours of the reference GPU (V100 = 1.0)"),
    ("_minutes", "minutes"),
    ("_hours", "hours"),
    ("_watts", "W (watts)"),
    ("_gb", "GB"),
    ("_years", "years"),
    ("days", "days"),
    ("vcpus", "vCPUs, as AWS counts them"),
    ("relative_speed", "x the reference GPU (V100-SXM2-16GB = 1.0)"),
    ("availability", "share of the time, 0..1"),
    ("pue", "ratio (power usage effectiveness)"),
    ("rate", "interruptions per instance-hour"),
    ("ratio", "ratio"),
)
"""A field's unit, from the end of its name (the first match wins)."""

HEADER = """# The workload file: every field

Generated from the models in `costopt/workload.py` by `scripts/workload_reference.py`; do not
edit by hand. A path `a.b[]` is a field of each item of the list `a.b`. "required" fields
have no default. Units follow the field's name (`_usd` USD, `_hours` hours, `gpu_hours`
GPU-hours of the reference GPU, V100 = 1.0). Dates and times are UTC (`2027-01-04` or
`2027-01-04T06:00:00Z`). Every error names the file, this path, the value and what is valid.

| field | type | unit | default | what it is |
| --- | --- | --- | --- | --- |
"""


def unit_of(name: str) -> str:
    return next((unit for suffix, unit in UNITS if name.endswith(suffix)), "")


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """A field's trailing ``# comment`` in the model's source, by field name."""
    out: dict[str, str] = {}
    for klass in reversed(model.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, BaseModel)) or klass is BaseModel:
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        lines = source.splitlines()
        for i, line in enumerate(lines):
            field = re.match(r"    (\w+): ", line)
            if not field:
                continue
            comment = re.match(r"[^#]*#\s*(.+)$", line)
            after = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if after.startswith('"""'):  # an attribute docstring, maybe over lines
                text = [after.strip('"')]
                j = i + 1
                while not lines[j].rstrip().endswith('"""') or (j == i + 1 and after == '"""'):
                    j += 1
                    text.append(lines[j].strip().strip('"'))
                out[field[1]] = " ".join(t for t in text if t)
            elif comment:
                out[field[1]] = comment[1].strip()
    return out


def _inner(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner(arg)
        if found is not None:
            return found
    return None


def _type_text(annotation: Any) -> str:
    text = re.sub(r"typing\.|costopt\.workload\.|pathlib\.|datetime\.", "", str(annotation))
    text = re.sub(r"Annotated\[(\w+), .*\]", r"\1", text)
    text = re.sub(r"<class '(\w+)'>", r"\1", text)
    return text.replace("|", "or")


def _default(field: Any) -> str:
    if field.default_factory is not None:
        return f"`{field.default_factory()!r}`"
    if field.default is PydanticUndefined:
        return "required"
    return "none" if field.default is None else f"`{field.default!r}`"


DESCRIPTIONS = {
    "name": "the workload's name, used in tags and reports (letters, digits, . _ -)",
    "horizon": "the time the plan covers",
    "horizon.start": "the first period starts here",
    "horizon.days": "horizon length (> 0)",
    "horizon.period_hours": "planning granularity; divides days x 24; 1..168",
    "horizon.periods": "periods of mixed lengths instead of period_hours, in order",
    "budget_usd": "cap on the plan's variable cost (cloud + owned energy) over the horizon",
    "monthly_budget_usd": "per calendar month (UTC): the orchestrator's guard counts cloud "
                          "spend against it; the report shows cloud + owned against it",
    "cloud": "leave out to plan on owned servers only",
    "cloud.regions": "allowed AWS regions; default every region of the price data",
    "cloud.markets": "on_demand and/or spot",
    "cloud.instance_types": "allow-list of instance types; default all",
    "cloud.pricing": "a price file (CSV); default the refreshed one, else the shipped one",
    "cloud.price_overrides": "exact prices; also admits a pool the price table lacks",
    "cloud.spot_interruptions_per_hour": "overrides the price data's estimate",
    "cloud.spot_restart_minutes": "time lost per interruption besides lost work",
    "cloud.quotas": "AWS service quotas on vCPUs running at once (family P or G)",
    "cloud.max_instances": "availability caps: instances at once",
    "cloud.zones": "spot only in these zones (zone IDs such as use1-az1)",
    "cloud.setup_minutes": "every launch and start is paid and does no work this long",
    "cloud.min_instance_minutes": "no instance run, and no pause inside a slot, is shorter",
    "owned": "the team's own servers and the ones it could buy",
    "owned.servers": "servers the team owns (their fixed cost is sunk)",
    "owned.candidates": "servers one could buy: the plan buys a whole number when it pays",
    "owned.servers[].name": "unique among servers and candidates",
    "owned.servers[].gpu": "a GPU model of pricing_data/gpus.csv or of gpu_models",
    "owned.servers[].gpus": "GPUs per server",
    "owned.servers[].purchase_usd": "price of one server",
    "owned.servers[].lifetime_years": "straight-line amortisation",
    "owned.servers[].power_watts": "whole server at full load",
    "owned.servers[].idle_watts": "whole server idle (it is on all the time)",
    "owned.servers[].availability": "share of hours it can take work",
    "owned.servers[].ops_usd_per_month": "colocation, admin",
    "owned.servers[].count": "identical servers",
    "owned.electricity_usd_per_kwh": "what electricity costs",
    "owned.pue": "power usage effectiveness of the room, 1.0..3.0",
    "gpu_models": "GPU models of your own, for cards the built-in table lacks",
    "jobs": "the work: at least one job",
    "jobs[].name": "unique",
    "jobs[].gpus": "GPUs per node used at once (the gang)",
    "jobs[].gpu_hours": "the work",
    "jobs[].min_gpu_memory_gb": "per GPU",
    "jobs[].start": "earliest start; default the horizon's start",
    "jobs[].deadline": "must be done by; default the horizon's end",
    "jobs[].interruptible": "may run on spot",
    "jobs[].checkpoint_minutes": "checkpoint interval (half is lost per interruption)",
    "jobs[].speed": "per GPU model (or a prefix ending at a dash): speed vs the reference",
    "jobs[].regions": "restrict this job to these regions",
    "jobs[].allow": "pool kinds: owned, on_demand, spot",
}
"""Words for fields whose model has neither a docstring nor a comment."""


def _doc(path: str, field: Any, comment: str | None) -> str:
    generic = re.sub(r"^owned\.(servers|candidates)\[\]\.", "owned.servers[].", path)
    text = field.description or comment or DESCRIPTIONS.get(path) or \
        DESCRIPTIONS.get(generic, "")
    text = re.sub(r"\s*\((?:extension, )?spec v\d\)|Extension \(spec v\d\): ", "", text)
    return " ".join(text.split()).replace("|", "/").replace("``", "`")


def rows(model: type[BaseModel], prefix: str = "") -> list[str]:
    """One table row per field of ``model``, nested models' fields after their parent."""
    out = []
    comments = _comments(model)
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = f"{prefix}{key}"
        inner = _inner(field.annotation)
        listed = typing.get_origin(field.annotation) is list or "list[" in str(field.annotation)
        type_text = "list of mappings" if inner and listed else (
            "mapping" if inner else _type_text(field.annotation))
        out.append(f"| `{path}` | {type_text} | {unit_of(key)} | {_default(field)} | "
                   f"{_doc(path, field, comments.get(name))} |")
        if inner is not None:
            out += rows(inner, f"{path}[]." if listed else f"{path}.")
    return out


def reference() -> str:
    return HEADER + "\n".join(rows(Workload)) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = reference()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is out of date: run python scripts/workload_reference.py",
                  file=sys.stderr)
            return 1
        print(f"{TARGET} is up to date")
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET} ({text.count(chr(10)) - HEADER.count(chr(10))} fields)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
