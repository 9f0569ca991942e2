"""Damaged plan files through ``costopt apply`` in a child process (against moto in server
mode): a clear error and exit 1, or - for a damage the plan survives - a dry run; never a
traceback, never an instance launched from a damaged file."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from cli.fleet_cli import IMAGE, fleet, run_cli
from plan_mutations import mutate, real_plan

from costopt.planfile import plan_id_for


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return real_plan(tmp_path_factory.mktemp("real"))


def apply_file(doc: dict[str, Any], folder: Path, url: str, *extra: str):
    path = folder / "plan.json"
    path.write_text(json.dumps(doc))
    return path, run_cli("apply", str(path), "--at", "2027-01-04T00:00:00Z", "--state-dir",
                         str(folder / "state"), "--image-id", IMAGE, *extra, env_url=url)


@pytest.mark.parametrize("seed", range(8))
def test_a_fuzzed_plan_through_apply_is_an_error_or_a_dry_run(
        base: dict[str, Any], tmp_path: Path, aws: str, seed: int) -> None:
    rng = random.Random(seed)
    path, result = apply_file(mutate(base, rng.choice, rng.randint(1, 4)), tmp_path, aws)
    assert "Traceback" not in result.stderr
    if result.returncode == 1 and "plan file" in result.stderr:
        assert f"error: plan file {path} has " in " ".join(result.stderr.split())
    else:  # the damage left a valid plan: the dry run's diff
        assert result.returncode == 0, result.stderr
        assert "Dry run: nothing was changed" in result.stdout or "No changes" in result.stdout
    assert fleet("us-east-1") == []


def _huge_slot(doc: dict[str, Any]) -> None:
    doc["fleet"][0]["slots"][0]["slot"] = 10**30


def _empty_horizon(doc: dict[str, Any]) -> None:
    doc["horizon"] = {}


def _many_slots(doc: dict[str, Any]) -> None:
    doc["monthly_budget_usd"] = None
    pool = doc["fleet"][0]
    pool["slots"] += [{**pool["slots"][0], "slot": k} for k in range(1, 501)]


@pytest.mark.parametrize(("change", "expected"), [
    (_huge_slot, "fleet[0].slots[0].slot = 1000000000000000000000000000000: Input should be "
     "less than or equal to 100000"),
    (_empty_horizon, "horizon.start: is required"),
    (_many_slots, "allow at most 1 instance(s) at once (slots 0..0)"),
])
@pytest.mark.parametrize("rehash", [True, False], ids=["id-matches", "id-stale"])
def test_the_issues_damaged_plans_are_refused_by_apply_yes(
        base: dict[str, Any], tmp_path: Path, aws: str, change: Any, expected: str,
        rehash: bool) -> None:
    doc = json.loads(json.dumps(base))
    change(doc)
    if rehash:
        doc["plan_id"] = plan_id_for(doc)
    path, result = apply_file(doc, tmp_path, aws, "--yes")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert expected in " ".join(result.stderr.split())
    assert fleet("us-east-1") == [] and not (tmp_path / "state").exists()
