"""Friction 6 of a new user's first hour: a plan-to-plan diff, and no plan overwritten
silently, through the real CLI at 80 and 200 columns and piped."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from console_cli import WIDTHS, run_costopt
from one_job_case import WORKLOAD as SIMULATED

from costopt.orchestrate.ledger import Ledger

WORKLOAD = SIMULATED.replace("name: sim-test", "name: diff-test").replace(
    "{name: train,", "{name: train-a-rather-long-job-name,")
"""One p3.2xlarge job, 1 USD/h on spot and 3 on demand (the workload simulate's tests use)."""


def test_diff_and_the_overwrite_of_a_plan_file(tmp_path: Path) -> None:
    """10 GPU-h on spot at 1 USD/h = 10 USD; then 12 GPU-h = 12 USD: +2.00 on spot. Then
    the job may not use spot: 12 h on demand at 3 USD/h = 36 USD, a move between pools."""
    (tmp_path / "workload.yaml").write_text(WORKLOAD)
    first = run_costopt("plan", "workload.yaml", "-o", "plan.json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "holds a plan already" not in first.stdout
    old = (tmp_path / "plan.json").read_text()
    (tmp_path / "old.json").write_text(old)
    (tmp_path / "workload.yaml").write_text(WORKLOAD.replace("gpu_hours: 10", "gpu_hours: 12"))
    second = run_costopt("plan", "workload.yaml", "-o", "plan.json", columns=80, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "plan.json holds a plan already; what changes:" in second.stdout
    assert "~ job train-a-rather-long-job-name changed: spot p3.2xlarge us-east-1" in \
        second.stdout
    (spot,) = [line for line in second.stdout.splitlines() if line.split()[:1] == ["spot"]]
    assert spot.split() == ["spot", "10.00", "12.00", "+2.00"]

    (tmp_path / "workload.yaml").write_text(
        WORKLOAD.replace("gpu_hours: 10, interruptible: true", "gpu_hours: 12"))
    third = run_costopt("plan", "workload.yaml", "-o", "new.json", cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    for columns in WIDTHS:
        shown = run_costopt("diff", "plan.json", "new.json", columns=columns, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert "~ job train-a-rather-long-job-name moved:" in shown.stdout
        (total,) = [line for line in shown.stdout.splitlines() if line.split()[:1] == ["total"]]
        assert total.split() == ["total", "12.00", "36.00", "+24.00"]
        if columns is not None:
            assert max(len(line) for line in shown.stdout.splitlines()) <= columns
    as_json = run_costopt("diff", "plan.json", "new.json", "--format", "json", cwd=tmp_path)
    doc = json.loads(as_json.stdout)
    assert doc["change_usd"] == 24.0
    assert doc["by_market"]["spot"] == [12.0, 0.0] and doc["by_market"]["on_demand"] == [0.0,
                                                                                        36.0]
    assert [j["job"] for j in doc["jobs"]] == ["train-a-rather-long-job-name"]


def test_the_plan_in_force_is_overwritten_only_with_force(tmp_path: Path) -> None:
    (tmp_path / "workload.yaml").write_text(WORKLOAD)
    assert run_costopt("plan", "workload.yaml", "-o", "plan.json", cwd=tmp_path).returncode == 0
    in_force = json.loads((tmp_path / "plan.json").read_text())["plan_id"]
    with Ledger.open(tmp_path / "state") as ledger:
        ledger.put_in_force("diff-test", in_force, datetime(2026, 12, 1, tzinfo=timezone.utc))
    (tmp_path / "workload.yaml").write_text(WORKLOAD.replace("gpu_hours: 10", "gpu_hours: 12"))
    refused = run_costopt("plan", "workload.yaml", "-o", "plan.json", "--state-dir", "state",
                          cwd=tmp_path)
    assert refused.returncode == 1
    assert f"holds {in_force}, the plan in force for diff-test" in refused.stderr
    assert "pass --force" in refused.stderr and "Traceback" not in refused.stderr
    assert json.loads((tmp_path / "plan.json").read_text())["plan_id"] == in_force
    forced = run_costopt("plan", "workload.yaml", "-o", "plan.json", "--state-dir", "state",
                         "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert json.loads((tmp_path / "plan.json").read_text())["plan_id"] != in_force
