"""Benchmark ``costopt risk`` on the example: scenarios per second on one process, on local
processes and on a local Ray, and the speed-up over one process.

``examples/workload.yaml`` is planned (``costopt plan``); each scenario draws a synthetic
trace per spot pool from the plan's statistics (availability 0.59 where the plan assumed
it, outages of 1.58 h on average: docs/risk.md) and carries the plan out with
``simulate``'s code. Then, with the same master seed:

1. ``--speedup`` scenarios (default 4) in this process, then the same on 2 local processes:
   scenarios per second of each and the ratio (the target: 2 processes >= 1.8x one), with
   the CPU-seconds of each scenario in this process and the most two processes could gain
   with those scenarios (dealt in order to whichever process is free: a few scenarios of
   unequal length leave one process idle at the end), and the load average (the machine is
   shared: other work takes cores from the two processes);
2. ``--scenarios`` scenarios (default 200; 0 to stop after 1) on local processes, every
   core (the target: under 10 minutes on this machine);
3. the same on a local Ray (``ray.init`` with this machine's cores, its start-up timed
   apart), unless ``--no-ray`` or Ray is not installed.

Figures are printed, never asserted; the results of 1-3 are checked identical where they
overlap (the same seeds). To time a real cluster: ``--ray-address auto`` (or
``ray://HEAD:10001``) in place of the local Ray.

    python scripts/bench_risk.py [--scenarios 200] [--speedup 4] [--policy deadline]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKLOAD = REPO / "examples" / "workload.yaml"


def makespan(seconds: list[float], workers: int) -> float:
    """How long ``workers`` processes take for tasks of ``seconds``, each task dealt in
    order to the process free first (as a process pool does)."""
    free = [0.0] * workers
    for s in seconds:
        free[free.index(min(free))] += s
    return max(free)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", type=int, default=200)
    parser.add_argument("--speedup", type=int, default=4,
                        help="scenarios for the one-process against two-process figure")
    parser.add_argument("--policy", default="deadline")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--ray-address", default="local")
    args = parser.parse_args()

    from costopt.planfile import read_plan
    from costopt.pricing.catalog import load_catalog
    from costopt.risk.fanout import run_sweep
    from costopt.risk.scenario import RiskInputs
    from costopt.risk.scenarios import SyntheticSource, plan_zone_stats, scenario_seeds
    from costopt.risk.stats import summarise
    from costopt.workload_checks import load_workload

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "costopt.cli.main", "plan", str(WORKLOAD), "-o",
                        "plan.json"], cwd=tmp, check=True, capture_output=True, timeout=600)
        plan = read_plan(Path(tmp) / "plan.json")
    workload = load_workload(WORKLOAD)
    catalog = load_catalog(workload.cloud.pricing if workload.cloud else None)
    stats = plan_zone_stats(plan)
    inputs = RiskInputs(plan, workload, catalog, SyntheticSource(stats), policy=args.policy)
    print(f"the example's plan {plan.plan_id}: {len(plan.fleet)} pool(s) in its fleet, spot "
          "pools " + ", ".join(f"{p} (availability {s.availability:g}, mean outage "
                               f"{s.mean_outage_hours:.2f} h)" for p, s in stats.items())
          + f"; policy {args.policy}; {os.cpu_count()} cores")

    def timed(label: str, seeds: list[int], **how: object) -> tuple[float, list]:
        started, load = time.perf_counter(), os.getloadavg()[0]
        sweep = run_sweep(inputs, seeds, **how)  # type: ignore[arg-type]
        seconds = time.perf_counter() - started
        print(f"  {label} ({sweep.runner}): {len(seeds)} scenarios in {seconds:.1f} s, "
              f"{len(seeds) / seconds:.3f} scenarios/s (load average {load:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after)"
              + (f", {len(sweep.failures)} FAILED" if sweep.failures else ""))
        return len(seeds) / seconds, sweep.results

    few = scenario_seeds(args.seed, args.speedup)
    cpu: list[float] = []
    clock = [time.process_time()]

    def lap(_outcome: object) -> None:
        cpu.append(time.process_time() - clock[0])
        clock[0] = time.process_time()

    one, first = timed("one process", few, workers=1, on_done=lap)
    two, again = timed("two processes", few, workers=2)
    print("  CPU-seconds per scenario in one process: "
          + ", ".join(f"{c:.1f}" for c in cpu) + f" (mean {sum(cpu) / len(cpu):.1f}); "
          f"the most 2 processes can gain with them: {sum(cpu) / makespan(cpu, 2):.2f}x")
    print(f"  speed-up of 2 processes over 1: {two / one:.2f}x (target >= 1.8x); same "
          f"results: {first == again}")
    if args.scenarios == 0:  # the speed-up only
        return
    seeds = scenario_seeds(args.seed, args.scenarios)
    rate, results = timed("local processes, every core", seeds)
    s = summarise(results)
    print(f"  {args.scenarios} scenarios: {args.scenarios / rate / 60:.1f} min (target < 10); "
          f"P10/P50/P90/max {s.cost.p10_usd:,.2f} / {s.cost.p50_usd:,.2f} / "
          f"{s.cost.p90_usd:,.2f} / {s.cost.max_usd:,.2f} USD against planned "
          f"{plan.cost.variable_usd:,.2f}; first ones as one process: "
          f"{results[:len(first)] == first}")
    if args.no_ray:
        return
    try:
        import ray
    except ImportError:
        print("  Ray: not installed (pip install 'costopt[ray]')")
        return
    started = time.perf_counter()
    if args.ray_address == "local":
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False)
    else:
        ray.init(address=args.ray_address)
    print(f"  ray.init: {time.perf_counter() - started:.1f} s")
    try:
        _rate, on_ray = timed(f"Ray at {args.ray_address}", seeds, ray_address=args.ray_address)
        print(f"  Ray results as local processes': {on_ray == results}")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
