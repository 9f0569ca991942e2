"""The whole test suite, timed: wall time, CPU time (user + system, of pytest and every process
it waited for: xdist workers, console-script runs) and the slowest ten tests, with the load
average at the start and at the end. On a shared machine a wall time says little without
its load; the CPU time moves less with it.

    CI=1 COSTOPT_TEST_PG_URL=... python scripts/suite_time.py [pytest arguments...]

``-n0`` runs the suite in one process (the addopts run it on every core).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str]) -> int:
    print(f"load average (1, 5, 15 min) at the start: {load()}; {os.cpu_count()} cores",
          flush=True)
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
                          "--durations=10", *argv], check=False)
    wall_s = time.monotonic() - started
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"load average (1, 5, 15 min) at the end: {load()}")
    print(f"suite: exit {run.returncode}, wall {wall_s:.0f} s, CPU "
          f"{used.ru_utime + used.ru_stime:.0f} s (user {used.ru_utime:.0f} s, system "
          f"{used.ru_stime:.0f} s)")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
