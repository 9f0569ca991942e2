"""``costopt plan``, ``validate`` and ``init`` through the real CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costopt.cli.main import app
from costopt.pricing.catalog import INSTANCE_COLUMNS

REPO = Path(__file__).resolve().parents[2]

WORKLOAD = """\
name: cli-test
horizon: {start: 2027-01-04, days: 2}
monthly_budget_usd: 1000
cloud:
  pricing: prices.csv
owned:
  servers:
    - {name: box, gpu: V100-SXM2-16GB, gpus: 4, purchase_usd: 8760, lifetime_years: 1,
       power_watts: 1650, idle_watts: 250, availability: 0.5}
jobs:
  - {name: train, gpus: 4, gpu_hours: 120, interruptible: true}
  - {name: eval, gpus: 1, gpu_hours: 10}
"""


def write_prices(path: Path) -> None:
    """One 4-GPU V100 type in us-east-1: 12 USD/h on demand, 4 USD/h spot."""
    row = {"instance_type": "p3.8xlarge", "family": "p3", "region": "us-east-1",
           "gpu_model": "V100-SXM2-16GB", "gpus": 4, "gpu_memory_gb": 16, "vcpus": 32,
           "memory_gib": 244, "interconnect": "NVLink", "on_demand_usd_per_hour": 12.0,
           "spot_usd_per_hour": 4.0, "spot_usd_per_hour_min": 3.9, "spot_azs": 3,
           "interruption_band": "<5%", "spot_interruptions_per_hour": 0.0,
           "price_date": "2026-11-20", "source": "test"}
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=INSTANCE_COLUMNS)
        writer.writeheader()
        writer.writerow(row)


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    write_prices(tmp_path / "prices.csv")
    path = tmp_path / "workload.yaml"
    path.write_text(WORKLOAD)
    return path


def test_plan_writes_the_plan_file_and_prints_the_tables(lab: Path) -> None:
    # Owned: 4 GPUs x 48 h x 0.5 = 96 GPU-h for 0.0525 USD/GPU-h. Train (120, spot ok) and
    # eval (10, on demand only) need 130: owned takes 96, 34 go to the cloud; spot at
    # 4 USD/h for 4 GPUs is 1 USD/GPU-h against 3 on demand, so train's rest goes to spot.
    out = lab.parent / "plan.json"
    result = CliRunner().invoke(app, ["plan", str(lab), "-o", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["schema"] == "costopt.plan/v1"
    assert doc["status"] == "optimal"
    assert doc["prices"]["source"].endswith("prices.csv")
    assert sum(a["gpu_hours"] for a in doc["assignments"] if a["pool"] == "owned:box") == \
        pytest.approx(96.0)
    for heading in ("Where and when each job runs", "Cost (USD)", "Against the baselines",
                    "What binds", "Plan written to"):
        assert heading in result.output


def test_plan_json_format_prints_the_document(lab: Path) -> None:
    out = lab.parent / "p.json"
    result = CliRunner().invoke(app, ["plan", str(lab), "-o", str(out), "--format", "json",
                                      "--solver", "highs"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["plan_id"] == json.loads(out.read_text())["plan_id"]


def test_infeasible_plan_exits_1_and_still_writes_the_file(lab: Path) -> None:
    lab.write_text(WORKLOAD.replace("gpu_hours: 10}", "gpu_hours: 60, deadline: 2027-01-05}"))
    out = lab.parent / "plan.json"
    result = CliRunner().invoke(app, ["plan", str(lab), "-o", str(out)])
    assert result.exit_code == 1
    doc = json.loads(out.read_text())
    assert doc["status"] == "infeasible"
    # eval: 1 GPU x 24 h = 24 GPU-h at most before its deadline; 60 asked: 36 short.
    [short] = doc["shortfalls"]
    assert (short["job"], short["gpu_hours"]) == ("eval", pytest.approx(36.0))
    assert "Traceback" not in result.output


def test_bad_solver_is_a_usage_error(lab: Path) -> None:
    result = CliRunner().invoke(app, ["plan", str(lab), "--solver", "gurobi"])
    assert result.exit_code == 2


def test_missing_workload_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plan", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "file not found" in result.output
    assert "Traceback" not in result.output


def test_validate_ok(lab: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(lab)])
    assert result.exit_code == 0, result.output
    assert "is valid: 2 job(s), 1 owned server pool(s), 2 cloud pool(s)" in result.output


def test_init_writes_an_example_that_validates(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init", str(tmp_path)]).exit_code == 0
    target = tmp_path / "workload.yaml"
    assert target.read_text().startswith("# A month of GPU work")
    again = runner.invoke(app, ["init", str(tmp_path)])
    assert again.exit_code == 1
    assert "--force" in again.output


@pytest.mark.skipif(not (REPO / "pricing_data" / "instances.csv").exists(),
                    reason="the shipped price snapshot is not there")
def test_example_through_the_installed_command(tmp_path: Path) -> None:
    """The Quickstart's first command, as a subprocess."""
    out = tmp_path / "plan.json"
    proc = subprocess.run(
        [sys.executable, "-m", "costopt.cli.main", "plan", str(REPO / "examples/workload.yaml"),
         "-o", str(out)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["status"] == "optimal"
    assert doc["fleet"]
    for name, baseline in doc["baselines"].items():
        if baseline["feasible"]:
            assert baseline["savings_usd"] >= -0.01, name
