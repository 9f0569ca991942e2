"""Friction 2 of a new user's first hour: ``status`` reads right, through the real CLI at 80
and 200 columns and piped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from console_cli import WIDTHS, run_costopt

from costopt.orchestrate.job_state import JOB_STATES

WORKLOAD = """\
name: lab
horizon: {start: 2027-01-04, days: 4}
owned:
  servers:
    - {name: box, gpu: V100-SXM2-16GB, gpus: 4, purchase_usd: 8760, lifetime_years: 1,
       power_watts: 1650, idle_watts: 250}
jobs:
  - {name: thesis-student-long-name, gpus: 4, gpu_hours: 192, start: 2027-01-06,
     deadline: 2027-01-08}
"""


@pytest.fixture
def planned(tmp_path: Path) -> Path:
    """The job fills the 4-GPU box for both days of its window (4 x 48 = 192 GPU-h): 96
    GPU-h a day, 4 an hour, from 2027-01-06."""
    (tmp_path / "workload.yaml").write_text(WORKLOAD)
    result = run_costopt("plan", "workload.yaml", "-o", "plan.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


def status(planned: Path, at: str, *extra: str, columns: int | None = 200,
           aws: str) -> str:
    result = run_costopt("status", "plan.json", "--state-dir", "state", "--at", at, *extra,
                         cwd=planned, columns=columns, AWS_ENDPOINT_URL=aws)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_job_before_its_window_waits_and_a_report_does_not_finish_it(
        planned: Path, aws: str) -> None:
    before = json.loads(status(planned, "2027-01-05T00:00:00Z", "--format", "json", aws=aws))
    (job,) = before["jobs"]
    assert (job["done_gpu_hours"], job["finished"], job["pace"]) == (0.0, None, "waiting")
    for columns in WIDTHS:
        table = status(planned, "2027-01-05T00:00:00Z", columns=columns, aws=aws)
        (row,) = [line for line in table.splitlines() if "thesis-student-long-name" in line]
        assert row.split()[-1] == "waiting" and "0.00" in row and "192.00" in row
        assert "GPU-h" in table and "due" in table
        if columns is not None:
            assert max(len(line) for line in table.splitlines()) <= columns

    said = run_costopt("progress", "thesis-student-long-name", "--done", "30", "--plan",
                       "plan.json", "--at", "2027-01-06T06:00:00Z", "--state-dir", "state",
                       cwd=planned)
    assert said.returncode == 0, said.stderr
    # 30 reported at 06:00, then the box's 4 GPU-h an hour to 12:00: 30 + 24 = 54 of 192,
    # more than the plan's 48 by then; the 138 left fit the box's 144 still planned: on
    # pace, not finished.
    after = json.loads(status(planned, "2027-01-06T12:00:00Z", "--format", "json", aws=aws))
    (job,) = after["jobs"]
    assert (job["done_gpu_hours"], job["finished"], job["pace"]) == (54.0, None, "on-pace")
    table = status(planned, "2027-01-06T12:00:00Z", columns=80, aws=aws)
    (row,) = [line for line in table.splitlines() if "thesis-student-long-name" in line]
    assert row.split()[-1] == "on-pace" and "54.00" in row
    # After its deadline, 54 + the box's 36 h x 4 = 198 >= 192: finished, all of it done.
    late = json.loads(status(planned, "2027-01-09T00:00:00Z", "--format", "json", aws=aws))
    assert (late["jobs"][0]["pace"], late["jobs"][0]["done_gpu_hours"]) == ("finished", 192.0)


def test_the_states_are_defined_once_and_shown_in_help() -> None:
    result = run_costopt("status", "--help", columns=200)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for state, meaning in JOB_STATES.items():
        assert f"{state.value}: {meaning}" in text
