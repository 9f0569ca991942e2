"""Benchmark ``costopt report`` on a month of 50 instances x 30 days.

A ledger in a temporary folder gets one plan (10 cloud pools of 5 slots, on-demand and spot,
in two regions; 3 owned servers; 4 jobs assigned every day) and 50 instances that each run
08:00-20:00 UTC every day from 2026-12-01 to 12-30 and are stopped overnight (1,500
runtimes), with a spot interruption every few days. The report for 2026-12 as of
2026-12-31T00:00Z is then made:

- in this process, stage by stage (read the ledger, the arithmetic, each format, the
  charts), and
- as the command a user runs, ``costopt report --month 2026-12 -o DIR`` in a fresh
  interpreter (imports included), which writes every format and the charts.

Figures are printed, never asserted.

    python scripts/bench_report.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REGIONS = ("us-east-1", "us-west-2")
TYPES = (("p3.2xlarge", 1, 3.06, 0.92), ("p3.8xlarge", 4, 12.24, 3.67),
         ("g4dn.xlarge", 1, 0.526, 0.16), ("g5.12xlarge", 4, 5.672, 1.70),
         ("p4d.24xlarge", 8, 32.77, 9.83))
JOBS = ("pretrain", "sweep-a", "sweep-b", "ablations")
START = datetime(2026, 12, 1, tzinfo=timezone.utc)
NOW = datetime(2026, 12, 31, tzinfo=timezone.utc)
DAYS = 30
PER_POOL = 5


def z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def pools() -> list[tuple[str, str, str, str, int, float, float]]:
    """(pool, region, type, market, GPUs, USD/h, on-demand USD/h): 10 pools."""
    out = []
    for i, (itype, gpus, od, spot) in enumerate(TYPES):
        region = REGIONS[i % 2]
        for market, price in (("on_demand", od), ("spot", spot)):
            out.append((f"aws:{region}:{itype}:{market}", region, itype, market, gpus, price,
                        od))
    return out


def plan_document() -> dict[str, Any]:
    day = timedelta(days=1)
    owned = [{"pool": f"owned:server-{k}", "market": "owned", "gpu_model": "V100-SXM2-16GB",
              "gpus_per_node": 4, "count": 1, "purchase_usd": 12000.0, "lifetime_years": 3.0,
              "power_watts": 1650.0, "idle_watts": 250.0, "availability": 0.9,
              "ops_usd_per_month": 50.0, "electricity_usd_per_kwh": 0.15, "pue": 1.3,
              "energy_usd_per_gpu_hour": 0.0683} for k in range(3)]
    cloud = pools()
    assignments = [{"job": job, "pool": pool, "period_start": z(START + t * day),
                    "gpu_hours": 6.0 * gpus, "work_gpu_hours": 6.0 * gpus, "cost_usd": 0.0}
                   for pool, _r, _t, _m, gpus, _p, _od in cloud for t in range(31)
                   for job in JOBS[:2]]
    assignments += [{"job": job, "pool": o["pool"], "period_start": z(START + t * day),
                     "gpu_hours": 40.0, "work_gpu_hours": 40.0, "cost_usd": 0.0}
                    for o in owned for t in range(31) for job in JOBS[2:]]
    fleet = [{"pool": pool, "region": region, "instance_type": itype, "market": market,
              "usd_per_hour": price, "on_demand_usd_per_hour": od,
              "slots": [{"slot": k, "start": z(START + t * day + timedelta(hours=8)),
                         "end": z(START + t * day + timedelta(hours=20))}
                        for k in range(PER_POOL) for t in range(31)]}
             for pool, region, itype, market, _g, price, od in cloud]
    records = [{"pool": pool, "market": market, "gpu_model": "V100-SXM2-16GB",
                "gpus_per_node": gpus, "region": region, "instance_type": itype,
                "usd_per_hour": price, "on_demand_usd_per_hour": od}
               for pool, region, itype, market, gpus, price, od in cloud]
    return {
        "schema": "costopt.plan/v1", "plan_id": "bench-00000001", "status": "optimal",
        "workload": {"name": "bench", "file": "bench.yaml", "sha256": "0" * 64},
        "horizon": {"start": z(START), "end": z(START + 31 * day), "period_hours": 24,
                    "periods": 31},
        "budget_usd": None, "monthly_budget_usd": 150000.0,
        "prices": {"source": "bench", "price_date": "2026-11-01"}, "solver": "bench",
        "cost": {"variable_usd": 0.0, "fixed_usd": 0.0, "total_usd": 0.0, "by_market": {}},
        "shortfalls": [], "instance_hours": [], "baselines": {}, "binding": {},
        "assignments": assignments, "fleet": fleet, "pools": records + owned,
    }


def fill(state_dir: Path) -> int:
    """The ledger: 50 instances, each 08:00-20:00 every day for 30 days; returns runtimes."""
    from costopt.orchestrate.ledger import Ledger

    doc = plan_document()
    runtimes = 0
    with Ledger.open(state_dir) as ledger:
        ledger.record_plan(doc, "bench.json", START - timedelta(days=1))
        for p, (pool, region, itype, market, _gpus, price, _od) in enumerate(pools()):
            for k in range(PER_POOL):
                instance = f"i-{p:02d}{k:02d}"
                for t in range(DAYS):
                    begin = START + timedelta(days=t, hours=8)
                    ledger.instance_running(instance_id=instance, plan_id=doc["plan_id"],
                                            pool=pool, region=region, instance_type=itype,
                                            market=market, slot=k, az=None,
                                            usd_per_hour=price, at=begin)
                    ledger.instance_halted(instance, begin + timedelta(hours=12), ended=False)
                    runtimes += 1
                if market == "spot" and k == 0:
                    ledger.record_interruption(instance_id=instance, plan_id=doc["plan_id"],
                                               pool=pool, at=START + timedelta(days=p + 2),
                                               reason="Server.SpotInstanceTermination")
    return runtimes


def stages(state_dir: Path) -> list[tuple[str, float]]:
    """Seconds of each stage of the report, in this process (imports done first)."""
    import json

    from costopt.core.months import Month
    from costopt.report import render
    from costopt.report.attribution import owned_from_plans
    from costopt.report.charts import chart_pngs
    from costopt.report.forecast import choose_budget
    from costopt.report.inputs import read_ledger
    from costopt.report.spend import month_report

    month = Month(2026, 12)
    out = []
    t = time.perf_counter()
    view = read_ledger(state_dir, month)
    out.append(("read the ledger", time.perf_counter() - t))
    t = time.perf_counter()
    report = month_report(month, NOW, view, owned=owned_from_plans(view.plans, month),
                          budget=choose_budget(None, None, view.plans, month))
    out.append(("arithmetic", time.perf_counter() - t))
    for name, make in (("markdown", render.markdown), ("csv", render.csv_text),
                       ("json", lambda r: json.dumps(render.json_document(r)))):
        t = time.perf_counter()
        make(report)
        out.append((name, time.perf_counter() - t))
    t = time.perf_counter()
    pngs = chart_pngs(report)
    out.append(("charts (3 PNGs)", time.perf_counter() - t))
    t = time.perf_counter()
    render.html_page(report, pngs)
    out.append(("html", time.perf_counter() - t))
    print(f"  total USD {report.total_usd:,.2f}; forecast USD {report.forecast.usd:,.2f} "
          f"({report.forecast.basis}); {len(report.interruptions)} interruptions")
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        t = time.perf_counter()
        runtimes = fill(state)
        print(f"ledger: 50 instances x {DAYS} days = {runtimes} runtimes "
              f"(filled in {time.perf_counter() - t:.1f} s)")
        print("in process:")
        timings = stages(state)
        for name, seconds in timings:
            print(f"  {name:<18} {seconds:6.3f} s")
        print(f"  {'sum':<18} {sum(s for _n, s in timings):6.3f} s")
        command = [sys.executable, "-m", "costopt.cli.main", "report", "--month", "2026-12",
                   "--state-dir", str(state), "-o", str(Path(tmp) / "out")]
        t = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - t
        print(f"`costopt report --month 2026-12 -o DIR` in a fresh process: {seconds:.2f} s "
              f"(exit {done.returncode}; imports included)")
        if done.returncode not in (0, 3):
            print(done.stderr, file=sys.stderr)


if __name__ == "__main__":
    main()
