"""Time the two large workloads of issue 16 through the real command, as a user runs it.

- ``10k``: 10,000 small jobs (1-4 GPUs, a few to a few hundred GPU-hours, windows of 2 to 28
  days) on the example's three owned servers and p3.2xlarge/p3.8xlarge in us-east-1, daily
  periods for 28 days: feasible. (With the example's 32 cloud pools the LP has about a
  million columns and the solver's time is all that counts: see ``bench_plan.py``.)
- ``infeasible-1k``: 1,000 jobs on two owned 4-GPU servers only, far more work than they
  hold: every job's shortfall is explained (``plan/binding.py:shortfall_reasons``).

Each runs ``costopt -v plan WORKLOAD --solver S`` in a child process; printed: wall seconds,
the child's CPU seconds, the stage timings ``-v`` prints (prepare, build, solve, extract)
and the exit code. Figures are printed, never asserted. ``--costopt`` runs another
checkout's command (before/after).

    python scripts/bench_hostile.py
    python scripts/bench_hostile.py --cases 10k --solver cbc
    python scripts/bench_hostile.py --costopt "python -m costopt.cli.main"  # with PYTHONPATH
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
START = date(2027, 1, 4)
DAYS = 28


def _day(offset: int) -> str:
    return (START + timedelta(days=offset)).isoformat()


def _jobs(n: int, rng: random.Random, *, load: tuple[float, float]) -> list[dict[str, Any]]:
    """``n`` seeded jobs; each needs a share ``load`` of what its gang does in its window."""
    jobs = []
    for i in range(n):
        gpus = rng.choice([1, 1, 1, 2, 4])
        start = rng.randrange(0, DAYS - 2)
        length = rng.randint(2, DAYS - start)
        jobs.append({"name": f"job-{i:05d}", "gpus": gpus,
                     "gpu_hours": round(rng.uniform(*load) * gpus * length * 24, 1),
                     "start": _day(start), "deadline": _day(start + length),
                     "interruptible": rng.random() < 0.7, "checkpoint_minutes": 30})
    return jobs


def ten_thousand() -> dict[str, Any]:
    example = yaml.safe_load((REPO / "examples" / "workload.yaml").read_text())
    return {"name": "bench-10k", "owned": example["owned"],
            "cloud": {"regions": ["us-east-1"], "instance_types": ["p3.2xlarge", "p3.8xlarge"]},
            "horizon": {"start": _day(0), "days": DAYS, "period_hours": 24},
            "jobs": _jobs(10_000, random.Random(16), load=(0.002, 0.02))}


def infeasible_thousand() -> dict[str, Any]:
    server = {"name": "v100-node", "gpu": "V100-SXM2-16GB", "gpus": 4, "count": 2,
              "purchase_usd": 4800, "lifetime_years": 3, "power_watts": 1650,
              "idle_watts": 250}
    return {"name": "bench-infeasible-1k",
            "horizon": {"start": _day(0), "days": DAYS, "period_hours": 24},
            "owned": {"servers": [server]},
            "jobs": _jobs(1_000, random.Random(16), load=(0.3, 0.9))}


CASES = {"10k": ten_thousand, "infeasible-1k": infeasible_thousand}


def _children_cpu_s() -> float:
    """CPU seconds (user + system) of the finished child processes: on a shared machine a
    fairer figure than wall time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_case(name: str, solver: str, command: list[str], folder: Path) -> dict[str, Any]:
    workload = folder / f"{name}.yaml"
    workload.write_text(yaml.safe_dump(CASES[name](), sort_keys=False))
    cpu_before = _children_cpu_s()
    started = time.perf_counter()
    proc = subprocess.run([*command, "-v", "plan", str(workload), "--solver", solver,
                           "-o", str(folder / f"{name}.json")],
                          capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "400"})  # the timings on one line
    wall = time.perf_counter() - started
    cpu = _children_cpu_s() - cpu_before
    timings = re.search(r"timings \(s\): (.*)", proc.stderr)
    return {"case": name, "solver": solver, "exit": proc.returncode,
            "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "timings": timings[1] if timings else "-",
            "error": "" if timings else proc.stderr.strip().splitlines()[-1:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--solver", default="highs")
    parser.add_argument("--costopt", default=str(Path(sys.executable).with_name("costopt")),
                        help="the command to run (default: this venv's costopt)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        for name in args.cases.split(","):
            row = run_case(name, args.solver, shlex.split(args.costopt), Path(tmp))
            print(f"{row['case']:>14} | {row['solver']:>5} | exit {row['exit']} | wall "
                  f"{row['wall_s']:>6} s | CPU {row['cpu_s']:>6} s | {row['timings']} "
                  f"{row['error'] or ''}", flush=True)


if __name__ == "__main__":
    main()
