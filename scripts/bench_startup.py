"""How long a user waits before ``costopt`` answers: the wall time of real processes.

Each command runs ``--runs`` times (default 7) through the installed console script in a
fresh process, imports included; the median and the fastest run are printed (a busy
machine makes single runs slow, never fast), and the fastest run's CPU seconds (user +
system: what the process itself cost, which other work on the machine inflates far less
than the wall time). Byte-code is written as on a user's install, even where
``PYTHONDONTWRITEBYTECODE`` is set (without it every run compiles costopt's sources again).
Also printed: the heavy libraries each command loaded, read from ``-X importtime`` of one
more run.

Target (issue 23): ``costopt validate examples/workload.yaml`` under 0.3 s. Printed last:
the floor under it, a process that only imports what ``validate`` cannot do without (PyYAML,
and pydantic with one model built: the first model pays for most of pydantic's machinery).

Counted with ``valgrind --tool=callgrind`` (instructions, which a busy machine does not
change; ``PYTHONHASHSEED=0``, byte-code written by a run before), 2026-12-07, session 18:
``python -c pass`` 39M; the floor 680M (PyYAML's import 124M, pydantic's 350M, its first
model 196M: the schema machinery it imports then, and the scan of every installed package's
entry points for pydantic plugins, 24M). ``validate`` 994M before this session's changes,
967M after. Where validate's instructions go, each step on top of the ones before it:

- importing the workload models (``costopt.workload``): 668M, so ~83M over pydantic with
  one model (15 models more; 686M before their empty defaults became ``default=[]``:
  pydantic read each ``default_factory=list``'s signature, which ``inspect`` parses from
  text for a builtin);
- the rest of the imports (``workload_checks``, PyYAML, the bounded loader, the catalog
  module): +126M, nearly all of it PyYAML's, which the floor pays too;
- reading the workload (YAML through libyaml's parser, the models' validation): +18M;
- the price file (495 rows of 18 columns and 1,256 zone prices, every cell checked so that a
  mistake anywhere in the file is reported with its row, as every command reports it): +97M
  (106M before: zone cells parsed with fewer temporaries);
- the checks, importing ``plan.pools`` for the pools they count: +54M;
- the console script's own modules: +4M.

So 0.3 s, with a floor of 0.285 s, leaves ``validate`` about 34M instructions over the floor
(5 %), where it takes 287M: the price file alone takes 97M, and the workload models 83M.
Tried and left out: building the models' validators on first use (pydantic's
``defer_build``: 962M against 967M, 0.5 %, as the first validation builds nearly all of
them anyway); a cache of the parsed price
table (979M against 993M then: a hit still reads, hashes and indexes the file). Not tried,
as they would change what a user gets: switching pydantic's plugins off
(``PYDANTIC_DISABLE_PLUGINS``, 24M), checking only the price rows the workload may use (a
broken row elsewhere would pass ``validate`` and fail ``plan``). Switching the garbage
collector off for the run saves 30M (3 %).

    python scripts/bench_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COSTOPT = str(Path(sys.executable).with_name("costopt"))
HEAVY = ("boto3", "botocore", "matplotlib", "pandas", "pulp", "highspy", "numpy")


FLOOR = "import yaml\nfrom pydantic import BaseModel\nclass Model(BaseModel):\n    a: int = 0"
"""What ``validate`` cannot do without: PyYAML, and pydantic with one model built."""


def commands(state_dir: Path) -> dict[str, list[str]]:
    return {
        "--help": ["--help"],
        "validate examples/workload.yaml": ["validate", str(REPO / "examples" / "workload.yaml")],
        "status (no ledger yet)": ["status", "--state-dir", str(state_dir)],
    }


RUN_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def seconds(args: list[str], program: str = COSTOPT) -> tuple[float, float]:
    """The wall time and the CPU time (user + system) of one run of ``PROGRAM ARGS``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([program, *args], capture_output=True, check=False, env=RUN_ENV)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heavy_loaded(args: list[str]) -> list[str]:
    """The heavy top-level packages the command imported (``-X importtime`` lists each)."""
    code = "import sys; from costopt.cli.entry import run; sys.argv[0] = 'costopt'; run()"
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args],
                         capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    names = {line.split("|")[-1].strip() for line in out.stderr.splitlines()
             if line.startswith("import time:")}
    return sorted(name for name in names if name in HEAVY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in commands(Path(tmp) / "state").items():
            seconds(args)  # warm the file cache and write the byte-code
            times = sorted(seconds(args) for _ in range(runs))
            heavy = ", ".join(heavy_loaded(args)) or "none"
            print(f"costopt {name:<34} median {statistics.median(t for t, _ in times):.3f} s"
                  f"  fastest {times[0][0]:.3f} s (CPU {times[0][1]:.3f} s)  ({runs} runs)  "
                  f"heavy libraries: {heavy}")
    floor = sorted(seconds(["-c", FLOOR], sys.executable) for _ in range(runs))
    print(f"floor: python -c {FLOOR!r}  median {statistics.median(t for t, _ in floor):.3f} s"
          f"  fastest {floor[0][0]:.3f} s (CPU {floor[0][1]:.3f} s)  ({runs} runs)")


if __name__ == "__main__":
    main()
