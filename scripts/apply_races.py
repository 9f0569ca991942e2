"""Two ``costopt apply --yes`` at once on one ledger, at many moments: no slot launched twice.

For each of ``--moments`` delays spread over 0-1.5 s, moto server is reset, a fresh ledger
made (a SQLite file; a PostgreSQL database with ``--pg-url``), and two applies of a plan
of ``--slots`` on-demand slots that run now are started that far apart. Counted: instances
AWS launched (must equal the slots), live instances per slot (must be 1), and what the
second-placed apply said: it waited for the first (and said so both ways), or came after it
and found no changes.

    python scripts/apply_races.py --moments 50 [--pg-url postgresql://...]

The end-to-end test (``tests/cli/test_team_state_cli.py``) runs three moments per engine.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from failover_kills import COSTOPT, IMAGE, moto_server, plan_now, scratch_database  # noqa: E402

WAITED = re.compile(r"waited: \d+\.\d s for another apply of workload '[^']+'; the fleet is "
                    r"looked at afresh now")


@dataclass(frozen=True)
class Race:
    """Two applies ``delay_s`` apart: what each launched and said, and the fleet after."""

    delay_s: float
    launched_by: tuple[int, int]
    exit_codes: tuple[int, int]
    instances: int
    live_by_slot: dict[str, int]
    logs: tuple[str, str]

    @property
    def idle_log(self) -> str:
        """The output of the apply that launched nothing (the first when both did)."""
        return self.logs[self.launched_by.index(min(self.launched_by))]

    @property
    def waited(self) -> bool:
        return WAITED.search(self.idle_log) is not None

    @property
    def said_so(self) -> bool:
        """It waited and said both that it waits and how long, or it came after the first
        and found nothing to do."""
        said_waiting = "waiting: the apply of pid" in self.idle_log
        return said_waiting == self.waited and (
            self.waited or "No changes: the fleet matches the plan." in self.idle_log)


def race(plan: Path, url: str, moto_url: str, delay_s: float, folder: Path,
         *extra: str) -> Race:
    """Start two applies of ``plan`` on ``url`` ``delay_s`` apart and wait for both."""
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_url, "COLUMNS": "300"}
    env.pop("COSTOPT_STATE_URL", None)
    children, logs = [], [folder / "first.log", folder / "second.log"]
    for n, log in enumerate(logs):
        if n:
            time.sleep(delay_s)
        with log.open("w") as out:
            children.append(subprocess.Popen(
                [COSTOPT, "apply", str(plan), "--state", url, "--image-id", IMAGE, "--yes",
                 "--policy", "plan", *extra], env=env, stdout=out, stderr=subprocess.STDOUT))
    codes = tuple(child.wait(timeout=300) for child in children)
    texts = tuple(log.read_text() for log in logs)
    every = _instances(moto_url)
    live: dict[str, int] = {}
    for i in every:
        if i["State"]["Name"] in ("pending", "running"):
            tags = {t["Key"]: t["Value"] for t in i.get("Tags", [])}
            key = f"{tags['costopt:pool']} slot {tags['costopt:slot']}"
            live[key] = live.get(key, 0) + 1
    return Race(delay_s, (texts[0].count("launch:"), texts[1].count("launch:")),
                (codes[0], codes[1]), len(every), live, (texts[0], texts[1]))


def _instances(moto_url: str) -> list[dict]:
    import boto3

    out = []
    for region in ("us-east-1", "us-west-2"):
        ec2 = boto3.client("ec2", region_name=region, endpoint_url=moto_url)
        out += [i for page in ec2.get_paginator("describe_instances").paginate()
                for r in page["Reservations"] for i in r["Instances"]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moments", type=int, default=50)
    parser.add_argument("--slots", type=int, default=3)
    parser.add_argument("--pg-url", default=os.environ.get("COSTOPT_TEST_PG_URL"))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="apply-races-"))
    with moto_server() as (moto_url, reset):
        plan = plan_now(folder, args.slots, {**os.environ, "AWS_ENDPOINT_URL": moto_url})
        engines = ["sqlite"] + (["postgresql"] if args.pg_url else [])
        for engine in engines:
            duplicates = waited = silent = 0
            for m in range(args.moments):
                delay = 1.5 * m / max(1, args.moments - 1)
                reset()
                here = folder / f"{engine}-{m}"
                here.mkdir()
                if engine == "sqlite":
                    outcome = race(plan, f"sqlite://{here / 'ledger.db'}", moto_url, delay,
                                   here)
                else:
                    with scratch_database(args.pg_url, f"race{uuid.uuid4().hex[:6]}") as url:
                        outcome = race(plan, url, moto_url, delay, here)
                duplicates += outcome.instances != args.slots or any(
                    n != 1 for n in outcome.live_by_slot.values())
                waited += outcome.waited
                silent += not outcome.said_so
            print(f"{engine}: {args.moments} moments (0-1.5 s apart): {duplicates} with a slot "
                  f"launched twice or left out; the second apply waited {waited} times and "
                  f"came after the first {args.moments - waited} times; {silent} without "
                  "saying which", flush=True)


if __name__ == "__main__":
    main()
