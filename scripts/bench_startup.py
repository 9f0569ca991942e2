"""How long a user waits before ``costopt`` answers: the wall time of real processes.

Each command runs ``--runs`` times (default 7) through the installed console script in a
fresh process, imports included; the median and the fastest run are printed (a busy
machine makes single runs slow, never fast). Also printed: the heavy libraries each command
loaded, read from ``-X importtime`` of one more run.

Target (issue 23): ``costopt validate examples/workload.yaml`` under 0.3 s.

    python scripts/bench_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COSTOPT = str(Path(sys.executable).with_name("costopt"))
HEAVY = ("boto3", "botocore", "matplotlib", "pandas", "pulp", "highspy", "numpy")


def commands(state_dir: Path) -> dict[str, list[str]]:
    return {
        "--help": ["--help"],
        "validate examples/workload.yaml": ["validate", str(REPO / "examples" / "workload.yaml")],
        "status (no ledger yet)": ["status", "--state-dir", str(state_dir)],
    }


def wall_seconds(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([COSTOPT, *args], capture_output=True, check=False)
    return time.perf_counter() - started


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
            wall_seconds(args)  # warm the file cache and the byte-code
            times = [wall_seconds(args) for _ in range(runs)]
            heavy = ", ".join(heavy_loaded(args)) or "none"
            print(f"costopt {name:<34} median {statistics.median(times):.3f} s  fastest "
                  f"{min(times):.3f} s  ({runs} runs)  heavy libraries: {heavy}")


if __name__ == "__main__":
    main()
