"""``costopt plan``, ``validate`` and ``init`` through the real CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from rich.console import Console
from typer.testing import CliRunner

from costopt.cli.common import Env
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
    # Owned: 4 GPUs for 48 h x 0.5 = 24 h, 0.0525 USD/GPU-h. Train (120, spot ok, 4 GPUs)
    # and eval (10, on demand only, 1 GPU) never share the server at once: eval takes 10 h
    # of it (on demand it would pay 12 USD/GPU-h), train the other 14 h (56 GPU-h): owned
    # 66 GPU-h; spot at 4 USD/h for 4 GPUs is 1 USD/GPU-h against 3 on demand, so train's
    # rest goes to spot.
    out = lab.parent / "plan.json"
    result = CliRunner().invoke(app, ["plan", str(lab), "-o", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["schema"] == "costopt.plan/v3"
    assert doc["status"] == "optimal"
    assert doc["prices"]["source"].endswith("prices.csv")
    assert sum(a["gpu_hours"] for a in doc["assignments"] if a["pool"] == "owned:box") == \
        pytest.approx(66.0)
    for heading in ("Where and when each job runs", "Cost over the horizon",
                    "Against the baselines", "What binds", "Plan written to"):
        assert heading in result.output


def test_a_plan_of_many_jobs_shows_the_first_rows_and_says_where_the_rest_are(
        lab: Path) -> None:
    # 205 one-GPU jobs of 1 GPU-h each, one (job, pool) row each: the table shows 200 and
    # says 5 more are in the plan file, which holds all 205 jobs' work.
    jobs = "".join(f"  - {{name: j{i:03d}, gpus: 1, gpu_hours: 1}}\n" for i in range(205))
    lab.write_text(WORKLOAD.split("jobs:")[0] + "jobs:\n" + jobs)
    out = lab.parent / "plan.json"
    result = CliRunner().invoke(app, ["plan", str(lab), "-o", str(out)],
                                obj=Env(console=Console(width=200)))
    assert result.exit_code == 0, result.output
    assert "... and 5 more rows (job, pool): the plan file holds every assignment" \
        in result.output
    table = result.output.split("Cost over the horizon")[0]
    assert "j199" in table and "j200" not in table
    doc = json.loads(out.read_text())
    assert len({a["job"] for a in doc["assignments"]}) == 205


def test_mixed_periods_plan_and_verbose_says_where_the_time_went(lab: Path) -> None:
    # 24 hourly periods, then a day: both jobs' windows hold all 25, which merge into one
    # (without launch overhead: setup ties a period to the one before, docs/model.md).
    lab.write_text(WORKLOAD.replace("days: 2}", "days: 2, periods: [{hours: 1, count: 24}, "
                                                "{hours: 24, count: 1}]}")
                   .replace("  pricing: prices.csv\n", "  pricing: prices.csv\n"
                            "  setup_minutes: 0\n  min_instance_minutes: 0\n"))
    out = lab.parent / "plan.json"
    env = Env(console=Console(width=200, color_system=None),
              err=Console(stderr=True, width=200, color_system=None))
    result = CliRunner().invoke(app, ["-v", "plan", str(lab), "-o", str(out)], obj=env)
    assert result.exit_code == 0, result.output
    assert "25 period(s) solved as 1 (runs of identical periods merged)" in result.stderr
    stages = result.stderr.split("timings (s): ")[1].split(", ")
    assert [s.split()[0] for s in stages] == ["prepare", "build", "aggregate", "solve",
                                              "split", "extract", "write"]
    doc = json.loads(out.read_text())
    assert doc["horizon"]["period_runs"] == [{"hours": 1, "count": 24},
                                             {"hours": 24, "count": 1}]
    assert doc["horizon"]["periods"] == 25
    # the same optimum as by the day (owned 66 GPU-h, the rest as in the test above)
    assert sum(a["gpu_hours"] for a in doc["assignments"] if a["pool"] == "owned:box") == \
        pytest.approx(66.0)


def test_plan_json_format_prints_the_document(lab: Path) -> None:
    out = lab.parent / "p.json"
    result = CliRunner().invoke(app, ["plan", str(lab), "-o", str(out), "--format", "json",
                                      "--solver", "highs"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["plan_id"] == json.loads(out.read_text())["plan_id"]


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
    assert isinstance(result.exception, SystemExit)


def exits_cleanly(result: Result, code: int = 1) -> str:
    """The exit code, reached through a message rather than a crash (CliRunner reports a
    crash as exit 1 too, with the exception in ``result.exception``); the output, unwrapped."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    return " ".join(result.output.split())


@pytest.mark.parametrize("command", ["plan", "validate"])
@pytest.mark.parametrize(("old", "new", "expected"), [
    ("gpu: V100-SXM2-16GB", "gpu: V100-SXM3",
     "owned.servers[0].gpu = 'V100-SXM3': unknown GPU model. Did you mean V100-SXM2-"),
    ("  pricing: prices.csv", "  pricing: prices.csv\n  instance_types: [p3.8xlarg]",
     "cloud.instance_types[0] = 'p3.8xlarg': unknown instance type in"),
    ("gpu_hours: 10}", "gpu_hours: 10, deadline: 2027-01-03}",
     "jobs[1].deadline = '2027-01-03T00:00:00Z': is not after the job's start "
     "(2027-01-04T00:00:00Z); To fix"),
    ("gpu_hours: 10}", "gpu_hours: 10, start: '2027-01-04T06:00:00Z', "
                       "deadline: '2027-01-05T06:00:00Z'}",
     "jobs[1] = '2027-01-04T06:00:00Z .. 2027-01-05T06:00:00Z': the window [start, deadline) "
     "holds no whole 24-hour period"),
    ("gpus: 4, gpu_hours: 120", "gpus: 16, gpu_hours: 120",
     "jobs[0] = 'train': gang of 16 GPUs is larger than every node (the largest has 4 GPUs); "
     "To fix: gpus <= 4"),
    ("interruptible: true", "interruptable: true",
     "jobs[0].interruptable = True: unknown field; did you mean 'interruptible'?"),
    ("days: 2}", "days: 2, period_hours: 5}",
     "horizon.period_hours = 5: does not divide days*24 = 48; To fix"),
    ("jobs:", "jobs: [", "line 11, column 3: not valid YAML"),  # the line after "jobs: ["
])
def test_a_bad_workload_is_explained_without_a_traceback(lab: Path, command: str, old: str,
                                                         new: str, expected: str) -> None:
    lab.write_text(WORKLOAD.replace(old, new))
    out = exits_cleanly(CliRunner().invoke(app, [command, str(lab), "-o", str(lab.parent / "p")]
                                           if command == "plan" else [command, str(lab)]))
    assert f"{lab}: {expected}" in out


def test_an_output_path_that_cannot_be_written_is_explained(lab: Path) -> None:
    blocker = lab.parent / "plans"
    blocker.write_text("a file, not a folder")
    out = exits_cleanly(CliRunner().invoke(app, ["plan", str(lab), "-o",
                                                 str(blocker / "plan.json")]))
    assert f"cannot write {blocker / 'plan.json'}: a file is in the way of the folder " \
           f"{blocker}; To fix" in out


BUY = """\
name: buy
horizon: {start: 2027-01-04, days: 28}
cloud: {pricing: prices.csv, markets: [on_demand], setup_minutes: 0, min_instance_minutes: 0}
owned:
  candidates:
    - {name: new-box, gpu: V100-SXM2-16GB, gpus: 1, purchase_usd: 8760, lifetime_years: 1,
       power_watts: 0, idle_watts: 0}
jobs:
  - {name: steady, gpus: 1, gpu_hours: 672}
"""


def test_plan_says_what_to_buy_and_what_it_saves(lab: Path) -> None:
    # 28 days = 672 h of one GPU. Renting: the only instance has 4 GPUs at 12 USD/h and a
    # lone 1-GPU job keeps it running: 672 h x 12 = 8,064 USD. Buying the 1-GPU box costs
    # 8,760 USD / 8,760 h x 672 h = 672 USD over the horizon: it saves 7,392 USD.
    lab.write_text(BUY)
    out_file = lab.parent / "plan.json"
    result = CliRunner().invoke(app, ["plan", str(lab), "-o", str(out_file)],
                                terminal_width=160)
    assert result.exit_code == 0, result.output
    assert "Buy 1 of buy:new-box (at most 1): 672.00 USD of fixed cost over the horizon" \
        in result.output
    assert "Buying saves 7,392.00 USD against the best plan without buying (8,064.00 USD)." \
        in " ".join(result.output.split())
    doc = json.loads(out_file.read_text())
    assert (doc["cost"]["total_usd"], doc["no_buy_total_usd"], doc["buy_saving_usd"]) == (
        672.0, 8064.0, 7392.0)


def test_a_candidate_not_bought_is_mentioned(lab: Path) -> None:
    # At 100 x the price the box costs 67,200 USD over the 672 h: renting (8,064) is cheaper.
    lab.write_text(BUY.replace("purchase_usd: 8760", "purchase_usd: 876000"))
    result = CliRunner().invoke(app, ["plan", str(lab), "-o", str(lab.parent / "plan.json")],
                                terminal_width=160)
    assert result.exit_code == 0, result.output
    assert "Not bought: candidate new-box - buying it would cost more over the horizon" \
        in " ".join(result.output.split())
    assert "Buy 1 of" not in result.output


def test_bad_solver_is_a_usage_error(lab: Path) -> None:
    result = CliRunner().invoke(app, ["plan", str(lab), "--solver", "gurobi"])
    assert result.exit_code == 2


def test_missing_workload_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plan", str(tmp_path / "nope.yaml")])
    assert "file not found" in exits_cleanly(result)


def test_validate_ok(lab: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(lab)])
    assert result.exit_code == 0, result.output
    assert "is valid: 2 job(s), 1 owned server pool(s), 2 cloud pool(s)" in result.output


def test_init_writes_an_example_that_validates(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init", str(tmp_path)]).exit_code == 0
    target = tmp_path / "workload.yaml"
    text = target.read_text()
    assert text.startswith("# A month of GPU work")
    # the sweeps run trials in parallel; a multi-node gang and the commands, commented
    assert "parallel: 8" in text and "# nodes: 2" in text
    assert "# setup: " in text and "# run: " in text
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
