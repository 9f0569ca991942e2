"""Benchmark ``costopt simulate`` on the example plan over a month of 5-minute ticks.

``examples/workload.yaml`` is planned (``costopt plan``), then every spot pool of its fleet
gets a synthetic trace of 30 days at 5-minute ticks (8,640 ticks; ``costopt traces synth``
with the default spot availability the planner assumes, 0.59, mean outage 0.5 h, 0.4
interruptions per hour, up to 4 instances, a seed per pool). The simulation is then run:

- in this process, stage by stage (read the inputs, the simulation itself, the hindsight
  LP), with the plan as written (spot falls back to on-demand and stays there) and with its
  on-demand fallback switched off (every slot chases spot: a reconcile whenever capacity
  comes back, the most work the loop does);
- with each policy (``--policy plan`` and the default), its CPU-seconds (this process's
  CPU time: what a risk scenario costs, whatever else the machine runs), against the
  plan's expected variable cost under the default spot availability (``costopt plan``
  prints it: ``cost.expected_usd`` less the fixed cost; the traces here are synthesised at
  that availability but not at its preemption rate, which ``scripts/bench_expected.py``
  matches): the design's target is within 15 %;
- as the command a user runs, ``costopt simulate plan.json --traces traces.yaml --format
  json -o score.json`` in a fresh interpreter (imports included), re-planning on events as
  ``watch`` does: on these traces and on zone traces (``costopt traces synth-zones --seed
  1``, zones that differ: the most re-plans), with its CPU-seconds (the child process's)
  and re-plans.

Figures are printed, never asserted. The target: the command under 30 s on this machine.

    python scripts/bench_simulate.py
    python scripts/bench_simulate.py --commands-only   # the last two lines only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from costopt.planfile import PlanDocument
from costopt.workload import DEFAULT_SPOT_AVAILABILITY

REPO = Path(__file__).resolve().parents[1]
WORKLOAD = REPO / "examples" / "workload.yaml"
TICKS = 8640  # 30 days of 5-minute ticks
SYNTH = {"availability": DEFAULT_SPOT_AVAILABILITY, "mean_outage_hours": 0.5,
         "interruptions_per_hour": 0.4}


def child_cpu_s() -> float:
    """CPU-seconds of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def costopt(*args: str, cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "costopt.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"costopt {' '.join(args)} failed:\n{proc.stderr}")
    return time.perf_counter() - started, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands-only", action="store_true",
                        help="only the commands a user runs, each in a fresh interpreter "
                        "(the last lines), not the stages in this process")
    args = parser.parse_args()
    from costopt.planfile import read_plan
    from costopt.traces import SynthSpec, synth, write_trace

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        seconds, _ = costopt("plan", str(WORKLOAD), "-o", "plan.json", cwd=work)
        print(f"costopt plan examples/workload.yaml: {seconds:.2f} s (not part of simulate)")
        plan = read_plan(work / "plan.json")
        spot = [p.pool for p in plan.fleet if p.market == "spot"]
        lines = []
        for seed, pool in enumerate(spot):
            name = f"trace-{seed}.json"
            write_trace(synth(SynthSpec(**SYNTH, hours=TICKS * 300 / 3600, seed=seed,
                                        capacity=4)), work / name)
            lines.append(f"- {{pool: '{pool}', file: {name}, start: {plan.horizon['start']}}}")
        (work / "traces.yaml").write_text("\n".join(lines) + "\n")
        print(f"{len(spot)} spot pool(s) traced, {TICKS:,} ticks of 300 s each; "
              f"{len(plan.fleet)} pool(s) in the fleet, "
              f"{sum(len(p.slots) for p in plan.fleet)} slot(s)")

        if not args.commands_only:
            in_process(plan, work)
        commands(work)


def in_process(plan: PlanDocument, work: Path) -> None:
    """The stages in this process: the simulation as planned and chasing spot, each
    policy, the hindsight LP."""
    from costopt.orchestrate.policy import POLICIES
    from costopt.pricing.catalog import load_catalog
    from costopt.simulate.hindsight import hindsight
    from costopt.simulate.run import simulate
    from costopt.traces import load_manifest
    from costopt.workload_checks import load_workload

    started = time.perf_counter()
    workload = load_workload(WORKLOAD)
    catalog = load_catalog(workload.cloud.pricing if workload.cloud else None)
    traces = load_manifest(work / "traces.yaml")
    print(f"  read the workload, prices and traces: {time.perf_counter() - started:.2f} s")
    chasing = plan.model_copy(deep=True)
    for pool in chasing.fleet:
        pool.on_demand_fallback = False
    for label, doc in (("as planned (fallback to on-demand)", plan),
                       ("on-demand fallback off (chasing spot)", chasing)):
        started = time.perf_counter()
        sim = simulate(doc, workload=workload, catalog=catalog, traces=traces,
                       policy=POLICIES["plan"])
        print(f"  simulate, {label}: {time.perf_counter() - started:.2f} s - "
              f"{sim.moments:,} moments looked at, {sim.reconciles:,} reconciles, "
              f"{sim.launches:,} launch calls, {sim.interruptions:,} interruptions; "
              f"realised {sim.realised_usd:,.2f} USD")
    expected = (plan.cost.expected_usd or plan.cost.total_usd) - plan.cost.fixed_usd
    always = (plan.cost.spot_always_there_usd or plan.cost.total_usd) - plan.cost.fixed_usd
    print(f"  plan's variable cost: expected {expected:,.2f} USD under availability "
          f"{DEFAULT_SPOT_AVAILABILITY}, {always:,.2f} were spot always there")
    for name, policy in POLICIES.items():
        started, cpu, load = time.perf_counter(), time.process_time(), os.getloadavg()[0]
        sim = simulate(plan, workload=workload, catalog=catalog, traces=traces,
                       policy=policy)
        print(f"  --policy {name}: {time.process_time() - cpu:.2f} CPU-s, "
              f"{time.perf_counter() - started:.2f} s (load average {load:.1f}); "
              f"{sim.reconciles:,} reconciles; realised {sim.realised_usd:,.2f} USD = "
              f"{sim.realised_usd / expected:.2f} x expected (target 0.85-1.15); "
              f"{sum(not j.met_deadline for j in sim.jobs.values())} deadline(s) missed")
    started = time.perf_counter()
    best = hindsight(workload, catalog, traces)
    print(f"  hindsight LP: {time.perf_counter() - started:.2f} s "
          f"({best.usd or 0:,.2f} USD)")


def commands(work: Path) -> None:
    """``costopt simulate`` as a user runs it, in a fresh interpreter: on the traces in
    ``work`` and on zone traces."""
    (work / "zones").mkdir()
    costopt("traces", "synth-zones", "--workload", str(WORKLOAD), "--seed", "1",
            "-o", "zones/traces.yaml", cwd=work)
    for label, traces_file in (("these traces", "traces.yaml"),
                               ("zone traces, seed 1", "zones/traces.yaml")):
        cpu = child_cpu_s()
        seconds, _ = costopt("simulate", "plan.json", "--traces", traces_file,
                             "--workload", str(WORKLOAD), "--format", "json",
                             "-o", "score.json", cwd=work)
        score = json.loads((work / "score.json").read_text())
        missed = sum(not j["met_deadline"] for j in score["jobs"])
        print(f"costopt simulate, {label} (fresh process, a month at 5-minute ticks): "
              f"{seconds:.2f} s, {child_cpu_s() - cpu:.2f} CPU-s (target < 30 s), "
              f"{score['actions'].get('replanned', 0)} re-plans - realised "
              f"{score['realised_usd']:,.2f}, planned {score['planned_usd']:,.2f}, all "
              f"on-demand {score['on_demand_only_usd']:,.2f}, hindsight "
              f"{score['hindsight_usd']:,.2f} USD; {missed} deadline(s) missed")


if __name__ == "__main__":
    main()
