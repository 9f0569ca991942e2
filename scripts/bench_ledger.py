"""Ticks per second of the ledger with 1, 5 and 20 workloads on one database, per engine.

Each workload is one controller process, as a team runs them: it takes and renews its
workload's lease, then runs ``apply_plan`` (the real reconcile, guard and ledger code) on
EC2 simulated in memory (:class:`~costopt.simulate.ec2.SimulatedEc2`: no AWS latency, so
the ledger is all that is measured), ten simulated minutes later each tick, over a plan of
four slots that start and end through the day - launches, stops and their intents, results
and runtimes included. All processes share one ledger: a SQLite file, or one PostgreSQL
database (``--pg-url``, a server's URL; a database is made and dropped).

    python scripts/bench_ledger.py [--seconds 5] [--pg-url postgresql://...]

Prints, per engine and number of workloads, the ticks per second of all workloads together
and of the slowest one. A watch ticks once a minute (``--interval 60``): a figure of ``n``
ticks per second serves about ``60 n`` workloads.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from failover_kills import scratch_database  # noqa: E402

START = datetime(2027, 1, 4, tzinfo=timezone.utc)


def plan_of(workload: str):  # -> PlanDocument
    from costopt.planfile import PlanDocument

    def iso(hours: float) -> str:
        return (START + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")

    pool = "aws:us-east-1:p3.2xlarge:on_demand"
    slots = [{"slot": k, "start": iso(2 * k), "end": iso(2 * k + 6 + 3 * k)} for k in range(4)]
    return PlanDocument.model_validate({
        "schema": "costopt.plan/v1", "plan_id": f"{workload}-1", "status": "optimal",
        "workload": {"name": workload, "file": "w.yaml", "sha256": "0" * 64},
        "horizon": {"start": iso(0), "end": iso(48), "period_hours": 12, "periods": 4},
        "monthly_budget_usd": None,
        "prices": {"source": "bench", "price_date": "2026-11-01"}, "solver": "cbc",
        "cost": {"variable_usd": 0, "fixed_usd": 0, "total_usd": 0, "by_market": {}},
        "shortfalls": [], "assignments": [], "instance_hours": [],
        "fleet": [{"pool": pool, "region": "us-east-1", "instance_type": "p3.2xlarge",
                   "market": "on_demand", "usd_per_hour": 3.06,
                   "on_demand_usd_per_hour": 3.06, "spot_max_price_usd": None,
                   "on_demand_fallback": False, "slots": slots}],
        "pools": [], "baselines": {}, "binding": {},
    })


def controller(url: str, workload: str, seconds: float, ready, go, out) -> None:  # noqa: ANN001
    """One workload's controller: ticks until ``seconds`` have passed; puts how many it ran
    on ``out``."""
    from costopt.orchestrate.apply import ApplyOptions, apply_plan
    from costopt.orchestrate.lease import LeaseKeeper
    from costopt.orchestrate.ledger import Ledger
    from costopt.orchestrate.ledger.location import parse_state_url
    from costopt.simulate.ec2 import SimulatedEc2

    location = parse_state_url(url)
    plan = plan_of(workload)
    fleet = SimulatedEc2(START)
    options = ApplyOptions(yes=True)
    keeper = LeaseKeeper(lambda: Ledger.connect(location), workload, "watch", ttl_s=60)
    ready.wait()
    go.wait()
    ticks = 0
    with Ledger.connect(location) as ledger:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            at = START + timedelta(minutes=10 * ticks)
            fleet.advance(at)
            keeper.try_take(ledger)
            ledger.hold(workload, keeper.holder)
            ledger.look()
            apply_plan(plan, at, fleet=fleet, ledger=ledger, options=options,
                       say=lambda _k, _m: None)
            keeper.ticked(ledger)
            ticks += 1
    out.put(ticks)


def measure(url: str, workloads: int, seconds: float) -> list[int]:
    """Ticks of each of ``workloads`` controllers running at once for ``seconds``."""
    ctx = multiprocessing.get_context("spawn")
    ready, go, out = ctx.Barrier(workloads + 1), ctx.Barrier(workloads + 1), ctx.Queue()
    children = [ctx.Process(target=controller, args=(url, f"w{uuid.uuid4().hex[:6]}",
                                                     seconds, ready, go, out))
                for _ in range(workloads)]
    for child in children:
        child.start()
    ready.wait(timeout=300)  # every controller imported and connected: start together
    go.wait(timeout=60)
    ticks = [out.get(timeout=seconds + 300) for _ in children]
    for child in children:
        child.join()
    return ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sizes", default="1,5,20")
    parser.add_argument("--pg-url", default=os.environ.get("COSTOPT_TEST_PG_URL"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    print(f"{os.cpu_count()} cores; each workload a process; {args.seconds:g} s per run")
    print("engine      workloads  ticks/s (all)  ticks/s (slowest workload)")
    for engine in ("sqlite", "postgresql"):
        if engine == "postgresql" and not args.pg_url:
            print("postgresql  (skipped: no --pg-url or COSTOPT_TEST_PG_URL)")
            continue
        for n in sizes:
            with ExitStack() as stack:
                url = f"sqlite://{folder / f'{n}.db'}" if engine == "sqlite" else \
                    stack.enter_context(scratch_database(args.pg_url,
                                                         f"bench_{uuid.uuid4().hex[:8]}"))
                _make(url)
                ticks = measure(url, n, args.seconds)
            print(f"{engine:<11} {n:>9}  {sum(ticks) / args.seconds:>13.1f}  "
                  f"{min(ticks) / args.seconds:>26.1f}", flush=True)


def _make(url: str) -> None:
    """Make the ledger's tables once, before the controllers race to."""
    from costopt.orchestrate.ledger import Ledger
    from costopt.orchestrate.ledger.location import parse_state_url

    Ledger.connect(parse_state_url(url)).close()


if __name__ == "__main__":
    main()
