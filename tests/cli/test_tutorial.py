"""The tutorial's commands, in order, as written, on moto's server (``docs/tutorial.md``).

Run in this process (:mod:`in_process`): eleven child processes cost ~1 s of imports each,
and what only a real process shows is tested where it matters (the console script in
``test_hostile_input`` and ``test_fast_validate``, ``apply`` and ``status`` end to end in
``test_orchestrate_cli``)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from console_cli import run_costopt
from fleet_cli import fleet

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"


def commands() -> list[list[str]]:
    """The ``$ costopt ...`` lines of the tutorial's console blocks, in order."""
    return [shlex.split(line.removeprefix("$ costopt "))
            for line in TUTORIAL.read_text().splitlines() if line.startswith("$ costopt ")]


@pytest.mark.slow
def test_the_tutorial_runs_as_written(tmp_path: Path, aws: str) -> None:
    ran = []
    for args in commands():
        result = run_costopt(*args, cwd=tmp_path, columns=80,
                             AWS_ENDPOINT_URL=aws)
        ran.append(args[0])
        # report exits 3 when its forecast is over the budget: the tutorial says so
        assert result.returncode in ((0, 3) if args[0] == "report" else (0,)), (
            args, result.stdout[-2000:], result.stderr[-2000:])
        if args[0] == "apply" and "--yes" in args:
            launched = fleet("us-east-1") + fleet("us-west-2")
            assert launched, "apply --yes launched nothing"
        if args[:1] == ["status"] and "json" not in args:  # at 80 columns, ids kept whole
            ids = [i["InstanceId"] for i in fleet("us-east-1") + fleet("us-west-2")]
            assert ids and all(i in result.stdout for i in ids)
            assert max(len(line) for line in result.stdout.splitlines()) <= 80
        if args[:1] == ["status"] and "json" in args:
            jobs = {j["job"]: j for j in json.loads(result.stdout)["jobs"]}
            assert jobs["vit-pretrain"]["done_gpu_hours"] >= 150
            assert jobs["vit-pretrain"]["pace"] != "finished"
        if args[0] == "diff":
            assert re.search(r"No changes|total", result.stdout)
    assert ran == ["init", "validate", "plan", "plan", "diff", "apply", "apply", "status",
                   "progress", "status", "report"]
