"""Benchmark the planner at sizes from the example to a quarter for many teams.

Each size runs in its own child process (so peak memory is that size's own): real pools
from the shipped price table, seeded synthetic jobs (mixed gangs, windows, memory needs,
interruptible or not), three owned servers and a few quotas. Printed per size: pools,
variables and constraints before and after pruning, build, solve and total wall seconds,
peak resident memory (MB) and the objective (USD). Figures are printed, never asserted.

    python scripts/bench_plan.py                  # S, H, M, L, XL as a table
    python scripts/bench_plan.py --sizes S,M --json
    python scripts/bench_plan.py --sizes H --whole  # and the model solved whole, to compare

Sizes: S the example workload; H the example with hourly periods (672); M 200 jobs,
3 regions, 30 daily periods; L 1,000 jobs, 60 pools, 30 daily periods; XL 2,000 jobs,
60 pools, 90 daily periods. ``--whole`` also plans each size without merging runs of
identical periods (``make_plan(merge=False)``) and prints both objectives.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "workload.yaml"

REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]
TYPES_M = ["p3.2xlarge", "p3.8xlarge", "g4dn.xlarge", "g4dn.12xlarge", "g5.12xlarge",
           "p4d.24xlarge"]
TYPES_60 = ["p3.2xlarge", "p3.8xlarge", "p3.16xlarge", "g4dn.xlarge", "g4dn.12xlarge",
            "g5.xlarge", "g5.12xlarge", "g5.48xlarge", "p4d.24xlarge", "p3dn.24xlarge"]


QUOTA_VCPUS = {(r, m, f): 2048 for r in REGIONS for m in ("on_demand", "spot")
               for f in ("P", "G")} | {
    ("eu-west-1", "spot", "G"): 64,       # small: four g5.12xlarge at once
    ("eu-west-1", "on_demand", "P"): 96,  # one p4d.24xlarge, or three p3.8xlarge
}
"""vCPUs running at once per (region, market, family)."""


@dataclass(frozen=True)
class Size:
    name: str
    jobs: int
    days: int
    instance_types: tuple[str, ...]


SIZES = {
    "M": Size("M", 200, 30, tuple(TYPES_M)),
    "L": Size("L", 1000, 30, tuple(TYPES_60)),  # 3 regions x 10 types x 2 markets = 60 pools
    "XL": Size("XL", 2000, 90, tuple(TYPES_60)),
}


def synthetic_workload(size: Size, seed: int = 7) -> dict[str, Any]:
    """A workload file's content: ``size.jobs`` seeded jobs over ``size.days`` days."""
    rng = random.Random(seed)
    jobs = []
    for i in range(size.jobs):
        gpus = rng.choice([1, 1, 1, 2, 4, 4, 8])
        start = rng.randrange(0, size.days - 2)
        length = rng.randint(2, size.days - start)
        window_h = length * 24
        memory = rng.choice([0, 0, 0, 16, 16, 24, 40])
        job: dict[str, Any] = {
            "name": f"job-{i:04d}",
            "gpus": gpus,
            # at most 40 % of what the gang could do in its window on a V100
            "gpu_hours": round(rng.uniform(0.05, 0.4) * gpus * window_h, 1),
            "min_gpu_memory_gb": memory,
            "start": _day(start),
            "deadline": _day(start + length),
            "interruptible": rng.random() < 0.7,
            "checkpoint_minutes": rng.choice([10, 20, 30, 60]),
        }
        if memory >= 40 and rng.random() < 0.5:
            job["speed"] = {"A100": 2.5}
        jobs.append(job)
    return {
        "name": f"bench-{size.name.lower()}",
        "horizon": {"start": "2027-01-01", "days": size.days, "period_hours": 24},
        "cloud": {
            "regions": REGIONS,
            "instance_types": list(size.instance_types),
            # Concurrent vCPU quotas as a new account has them: P and G per region and
            # market, some small enough to bind (instances at once, integer counts there).
            "quotas": [{"region": r, "market": m, "family": f, "vcpus": QUOTA_VCPUS[(r, m, f)]}
                       for r in REGIONS for m in ("on_demand", "spot") for f in ("P", "G")],
        },
        "owned": {
            "electricity_usd_per_kwh": 0.15,
            "pue": 1.3,
            "servers": [
                {"name": "v100-node", "gpu": "V100-SXM2-16GB", "gpus": 4, "count": 4,
                 "purchase_usd": 4800, "lifetime_years": 3, "power_watts": 1650,
                 "idle_watts": 250, "availability": 0.9},
                {"name": "rtx-server", "gpu": "RTX-2080-TI", "gpus": 8, "count": 2,
                 "purchase_usd": 25000, "lifetime_years": 4, "power_watts": 2600,
                 "idle_watts": 300},
                {"name": "a100-box", "gpu": "A100-SXM4-40GB", "gpus": 8,
                 "purchase_usd": 150000, "lifetime_years": 5, "power_watts": 6500,
                 "idle_watts": 1500},
            ],
        },
        "jobs": jobs,
    }


def _day(offset: int) -> str:
    from datetime import date, timedelta

    return (date(2027, 1, 1) + timedelta(days=offset)).isoformat()


def example(hourly: bool) -> dict[str, Any]:
    """The example workload file's content; with ``hourly``, periods of one hour."""
    import yaml

    raw = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    if hourly:
        raw["horizon"]["period_hours"] = 1
    return raw


def run_size(name: str, solver: str, merge: bool = True) -> dict[str, Any]:
    """Plan one size in this process and measure it."""
    from costopt.plan.model import build_model
    from costopt.plan.planner import make_plan
    from costopt.plan.pools import build_pools, eligibility
    from costopt.pricing.catalog import load_catalog
    from costopt.workload_checks import load_workload, parse_workload

    started = time.perf_counter()
    catalog = load_catalog()
    if name == "S":
        workload = load_workload(EXAMPLE)
    elif name == "H":
        workload = parse_workload(example(hourly=True), "bench-H")
    else:
        workload = parse_workload(synthetic_workload(SIZES[name]), f"bench-{name}")
    load_s = time.perf_counter() - started

    pools = build_pools(workload, catalog)
    plain = build_model(workload, pools, eligibility(workload, pools, catalog))
    before = (len(pools.all), plain.num_cols, plain.num_rows)
    del plain

    started = time.perf_counter()
    result = make_plan(workload, catalog, solver=solver, source=f"bench-{name}", merge=merge)
    total_s = time.perf_counter() - started
    row = {
        "size": name,
        "jobs": len(workload.jobs),
        "periods": workload.horizon.periods,
        "solved_periods": result.solved_periods,
        "pools_before": before[0],
        "pools": len(result.pools.all),
        "variables_before": before[1],
        "constraints_before": before[2],
        "variables": result.variables,
        "constraints": result.constraints,
        "load_s": round(load_s, 2),
        "prepare_s": round(result.timings.get("prepare", 0.0), 2),
        "build_s": round(result.timings.get("build", 0.0), 2),
        "aggregate_s": round(result.timings.get("aggregate", 0.0), 2),
        "solve_s": round(result.timings.get("solve", 0.0), 2),
        "split_s": round(result.timings.get("split", 0.0), 2),
        "extract_s": round(result.timings.get("extract", 0.0), 2),
        "total_s": round(total_s, 2),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "objective_usd": round(result.total_usd, 2),
        "quotas_binding": sum(1 for lim in result.binding.limits if lim.kind == "quota"),
        "status": result.status,
        "solver": solver,
        "merge": merge,
    }
    if name in ("S", "H") and merge:
        row["cli_s"] = round(_cli_wall(hourly=name == "H"), 2)
    return row


def _cli_wall(hourly: bool) -> float:
    """Wall seconds of ``costopt plan`` on the example, as a user runs it (default solver)."""
    import tempfile

    import yaml

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "workload.yaml"
        path.write_text(yaml.safe_dump(example(hourly)), encoding="utf-8")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "costopt.cli.main", "plan", str(path),
                        "-o", str(Path(tmp) / "plan.json")],
                       check=True, capture_output=True)
        return time.perf_counter() - started


@dataclass(frozen=True)
class Column:
    key: str
    title: str


COLUMNS = [Column("size", "size"), Column("jobs", "jobs"), Column("periods", "periods"),
           Column("solved_periods", "solved"), Column("pools_before", "pools"),
           Column("pools", "pruned"), Column("variables_before", "vars"),
           Column("variables", "vars pruned"), Column("constraints", "rows pruned"),
           Column("build_s", "build s"), Column("aggregate_s", "aggr s"),
           Column("solve_s", "solve s"), Column("split_s", "split s"),
           Column("total_s", "total s"), Column("peak_mb", "peak MB"),
           Column("quotas_binding", "quotas binding"), Column("objective_usd", "objective USD")]


def print_table(rows: list[dict[str, Any]]) -> None:
    widths = [max(len(c.title), *(len(_fmt(r.get(c.key))) for r in rows)) for c in COLUMNS]
    print(" | ".join(c.title.rjust(w) for c, w in zip(COLUMNS, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(_fmt(r.get(c.key)).rjust(w)
                         for c, w in zip(COLUMNS, widths, strict=True)))
    for r in rows:
        if "cli_s" in r:
            which = "the hourly example" if r["size"] == "H" else "the example"
            print(f"{r['size']}: `costopt plan` on {which} wall {r['cli_s']} s (CLI, "
                  "default solver)")
    for r in rows:
        if not r["merge"]:
            merged = next((m for m in rows if m["size"] == r["size"] and m["merge"]), None)
            if merged is not None:
                gap = 100 * abs(merged["objective_usd"] - r["objective_usd"]) / r["objective_usd"]
                print(f"{r['size']}: solved whole {r['objective_usd']:,.2f} USD in "
                      f"{r['total_s']} s; merged {merged['objective_usd']:,.2f} USD in "
                      f"{merged['total_s']} s ({gap:.4f} % apart)")
    print(f"machine: {platform.machine()}, {_cpus()} CPU(s), Python "
          f"{platform.python_version()}; solver {rows[0]['solver'] if rows else '-'}")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the planner (figures printed).")
    parser.add_argument("--sizes", default="S,H,M,L,XL", help="comma-separated: S,H,M,L,XL")
    parser.add_argument("--whole", action="store_true",
                        help="also plan each size without merging identical periods")
    parser.add_argument("--no-merge", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--solver", default="highs", choices=["cbc", "highs"])
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one size here
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_size(args.one, args.solver, merge=not args.no_merge)))
        return
    sizes = [s.strip().upper() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in ("S", "H") and s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {', '.join(unknown)}; valid: S, H, M, L, XL")
    rows = []
    for name in sizes:
        for no_merge in (False, True) if args.whole else (False,):
            command = [sys.executable, __file__, "--one", name, "--solver", args.solver]
            out = subprocess.run(command + (["--no-merge"] if no_merge else []),
                                 check=True, capture_output=True, text=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            if not args.json:
                print(f"{name}{' whole' if no_merge else ''}: {rows[-1]['total_s']} s",
                      file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(rows)


if __name__ == "__main__":
    main()
