"""Walk more random plans' fleets than CI does, with a fresh seed each run.

``tests/plan/test_fleet_limits.py`` draws plans (nodes, parallel, quotas, caps, setup) and
walks each fleet instant by instant: limits, setup, minimum run, cost, and the layout (no
instance's jobs over its GPUs, gangs whole, every job's work in its slots). CI runs it
derandomised (the same 40 examples every time); this runs it with ``--examples`` fresh ones
and prints the seed, so that a failure can be replayed::

    python scripts/fleet_walk.py --examples 2000
    python scripts/fleet_walk.py --examples 2000 --seed 1234   # replay
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000, help="plans to draw")
    parser.add_argument("--seed", type=int, default=None, help="replay this seed")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    env = {**os.environ, "HYPOTHESIS_PROFILE": "wide",
           "FLEET_WALK_EXAMPLES": str(args.examples)}
    env.pop("CI", None)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           f"--hypothesis-seed={seed}", "tests/plan/test_fleet_limits.py"],
                          cwd=REPO, env=env, check=False)
    print(f"fleet walk: {args.examples} examples, seed {seed}: "
          f"{'passed' if done.returncode == 0 else 'FAILED'} in "
          f"{time.perf_counter() - started:.0f} s")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
