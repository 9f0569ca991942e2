"""Friction 8 and 9 of a new user's first hour: CLI conventions, through the CLI (shell
completion and validate's JSON through the installed command in a child process)."""

from __future__ import annotations

import json
from pathlib import Path

from console_cli import run_costopt

WORKLOAD = """\
name: conventions
horizon: {start: 2027-01-01, days: 1}
cloud:
  regions: [us-east-1]
  instance_types: [p3.2xlarge]
  markets: [on_demand]
  setup_minutes: 0
  min_instance_minutes: 0
jobs:
  - {name: train, gpus: 1, gpu_hours: 10}
"""


def test_help_lists_choices_takes_h_and_shows_flags_bare() -> None:
    for command in ("plan", "simulate", "diff", "validate", "breakeven", "apply", "status"):
        result = run_costopt(command, "-h", columns=200)
        assert result.returncode == 0, (command, result.stderr)
        assert "<bool>" not in result.stdout and "<str>" not in result.stdout, command
        assert "table|json" in result.stdout, command
    plan = run_costopt("plan", "--help", columns=200).stdout
    assert "highs|cbc" in plan
    assert "on_demand|spot" in run_costopt("breakeven", "-h", columns=200).stdout
    assert run_costopt("-h", columns=200).returncode == 0


def test_shell_completion_is_offered() -> None:
    # Typer finds the shell in the process tree; here (pytest) there may be none: $SHELL
    result = run_costopt("--show-completion", columns=200, process=True, SHELL="/bin/bash")
    assert result.returncode == 0, result.stderr
    assert "_costopt_completion" in result.stdout
    assert "--install-completion" in run_costopt("--help", columns=200).stdout


def test_validate_speaks_json_and_its_errors_too(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(WORKLOAD)
    ok = run_costopt("validate", "w.yaml", "--format", "json", cwd=tmp_path, process=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"file": "w.yaml", "valid": True, "jobs": 1,
                                     "owned_pools": 0, "cloud_pools": 1, "periods": 1}
    (tmp_path / "w.yaml").write_text(WORKLOAD.replace("gpu_hours: 10", "gpu_hours: -1"))
    bad = run_costopt("validate", "w.yaml", "--format", "json", cwd=tmp_path)
    assert bad.returncode == 1 and bad.stdout == ""
    doc = json.loads(bad.stderr.strip().splitlines()[-1])
    assert (doc["kind"], doc["exit_code"], doc["file"]) == ("WorkloadError", 1, "w.yaml")
    (issue,) = doc["issues"]
    assert (issue["path"], issue["value"]) == ("jobs[0].gpu_hours", -1)
    plan = run_costopt("plan", "w.yaml", "--format", "json", cwd=tmp_path)
    assert plan.returncode == 1
    assert json.loads(plan.stderr.strip().splitlines()[-1])["issues"][0]["path"] == \
        "jobs[0].gpu_hours"


def test_apply_without_an_image_says_what_to_do(tmp_path: Path, aws: str) -> None:
    """moto has no public SSM parameter for AWS's GPU AMI: apply must say to pass one."""
    (tmp_path / "w.yaml").write_text(WORKLOAD)
    assert run_costopt("plan", "w.yaml", "-o", "plan.json", cwd=tmp_path).returncode == 0
    result = run_costopt("apply", "plan.json", "--yes", "--at", "2027-01-01T01:00:00Z",
                         "--state-dir", "state", cwd=tmp_path, columns=200,
                         AWS_ENDPOINT_URL=aws)
    assert result.returncode == 1
    text = " ".join((result.stdout + result.stderr).split())
    assert "pass --image-id us-east-1=ami-... (an AMI of that region)" in text
    assert "see the message" not in text
