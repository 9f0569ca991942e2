"""``costopt simulate`` and ``costopt traces`` through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from console_cli import WIDTHS, run_costopt
from one_job_case import WORKLOAD
from typer.testing import CliRunner

from costopt.cli.main import app


@pytest.fixture
def planned(tmp_path: Path) -> Path:
    """A plan of one 10-hour spot slot (00:00-10:00 at 1 USD/h), and a manifest giving its
    spot pool an hourly trace with an outage from 03:00 to 05:00."""
    (tmp_path / "workload.yaml").write_text(WORKLOAD)
    result = CliRunner().invoke(app, ["plan", str(tmp_path / "workload.yaml"), "-o",
                                      str(tmp_path / "plan.json")])
    assert result.exit_code == 0, result.output
    (spot,) = [p["pool"] for p in json.loads((tmp_path / "plan.json").read_text())["fleet"]]
    (tmp_path / "trace.json").write_text(json.dumps(
        {"metadata": {"gap_seconds": 3600}, "data": [1, 1, 1, 0, 0] + [1] * 19}))
    (tmp_path / "traces.yaml").write_text(
        f"- {{pool: '{spot}', file: trace.json, start: 2027-01-01T00:00:00Z}}\n")
    return tmp_path


def test_simulate_prints_the_score_as_json(planned: Path) -> None:
    # The plan as written (--no-replan). 00:00 spot; 03:00 interrupted, no spot ->
    # on-demand, the pool held for an hour; 05:00 spot is back: a spot instance replaces the
    # on-demand one (a swap) until the slot ends at 10:00.
    # Realised (3 + 5) h x 1 + 2 h x 3 = 14 USD; planned 10; all on-demand 10 h x 3 = 30;
    # hindsight 10 (22 h of spot in the day, 10 needed). The workload plans without launch
    # overhead, and the plan says so: no setup per launch. Work 3 - 0.5 (half a checkpoint
    # lost at the interruption) + 7 = 9.5 of 10: the deadline is missed, exit code 4.
    proc = subprocess.run(
        [sys.executable, "-m", "costopt.cli.main", "simulate", "plan.json", "--traces",
         "traces.yaml", "--policy", "plan", "--no-replan", "--format", "json", "-o",
         "score.json"],
        capture_output=True, text=True, timeout=120, cwd=planned)
    assert proc.returncode == 4, proc.stderr
    assert "deadline missed: train (exit code 4)" in proc.stderr
    doc = json.loads(proc.stdout)
    assert json.loads((planned / "score.json").read_text()) == doc
    assert (doc["policy"], doc["realised_usd"], doc["planned_usd"], doc["on_demand_only_usd"],
            doc["hindsight_usd"]) == ("plan", 14.0, 10.0, 30.0, 10.0)
    assert doc["hindsight_kind"] == "exact"  # one job: spot 05:00-15:00, no setup
    (job,) = doc["jobs"]
    assert {k: job[k] for k in ("job", "deadline", "finished", "met_deadline", "spot_hours",
                                "on_demand_hours", "interruptions", "realised_usd")} == {
        "job": "train", "deadline": "2027-01-02T00:00:00Z", "finished": None,
        "met_deadline": False, "spot_hours": 8.0, "on_demand_hours": 2.0,
        "interruptions": 1, "realised_usd": 14.0}
    assert job["done_gpu_hours"] == pytest.approx(9.5, abs=1e-4)


def test_simulate_prints_tables(planned: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(planned)
    result = CliRunner().invoke(app, ["simulate", "plan.json", "--traces", "traces.yaml",
                                      "--policy", "plan", "--no-replan"])
    assert result.exit_code == 4, result.output
    assert "hindsight optimum (exact)" in result.output
    (row,) = [line for line in result.output.splitlines() if line.startswith("  train")]
    assert row.split() == ["train", "01-02", "00:00", "not", "done", "14.00", "8.0", "2.0",
                           "1", "9.50", "95.0"]


@pytest.mark.parametrize("columns", WIDTHS)
def test_the_jobs_table_keeps_its_words_whole_at_any_width(planned: Path,
                                                           columns: int | None) -> None:
    """9.5 of 10 GPU-h done: 95.0 %, "not done", at 80 and 200 columns and piped; at 80 the
    optional columns are left out, and a line says so."""
    result = run_costopt("simulate", "plan.json", "--traces", "traces.yaml", "--policy",
                         "plan", "--no-replan", cwd=planned, columns=columns)
    assert result.returncode == 4, result.stderr
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("  train")]
    assert "not done" in row and row.split()[-2:] == ["9.50", "95.0"]
    if columns is not None:
        assert max(len(line) for line in result.stdout.splitlines()) <= columns
    assert ("left out at 80 columns" in result.stdout) is (columns == 80)


def test_state_words_are_coloured_in_a_terminal_and_not_under_no_color(planned: Path) -> None:
    """Rich colours "not done" bold red where it may (FORCE_COLOR stands in for a
    terminal); NO_COLOR takes the colour away, the words stay."""
    args = ("simulate", "plan.json", "--traces", "traces.yaml", "--policy", "plan",
            "--no-replan")
    coloured = run_costopt(*args, cwd=planned, columns=120, FORCE_COLOR="1")
    assert "\x1b[1;31mnot done" in coloured.stdout
    plain = run_costopt(*args, cwd=planned, columns=120, FORCE_COLOR="1", NO_COLOR="1")
    assert "not done" in plain.stdout and "\x1b[1;31m" not in plain.stdout


def test_simulate_refuses_another_workload_and_an_unknown_policy(planned: Path) -> None:
    other = planned / "other.yaml"
    other.write_text(WORKLOAD.replace("gpu_hours: 10", "gpu_hours: 11"))
    result = CliRunner().invoke(app, ["simulate", str(planned / "plan.json"), "--traces",
                                      str(planned / "traces.yaml"), "--workload", str(other)])
    assert result.exit_code == 1
    assert "is not the workload plan" in result.output
    result = CliRunner().invoke(app, ["simulate", str(planned / "plan.json"), "--traces",
                                      str(planned / "traces.yaml"), "--policy", "greedy"])
    assert result.exit_code == 2 and "not one of 'plan', 'deadline'" in " ".join(
        result.output.replace("│", " ").split())


def test_simulate_drives_the_deadline_policy(planned: Path) -> None:
    # The deadline policy (a baseline; the default is the controller). The workload plans
    # and runs without launch overhead (setup_minutes: 0), so a restart
    # costs only half a checkpoint (30 min). 00:00 spot; 03:00 interrupted with 2.5 GPU-h
    # done (3 less half a checkpoint): 7.5 to go in 21 h less 30 min of restart (need
    # 7.5 / 20.5 = 0.366) is safely ahead of the pace 10 / (24 - 1/2) = 0.4255, so no
    # on-demand: spot is retried every 15 minutes and comes back at 05:00; no setup, 7.5 h
    # of work: finished 12:30, ended at that review. Spot 3 h + 7.5 h at 1 USD/h = 10.5
    # USD, no on-demand.
    result = CliRunner().invoke(app, ["simulate", str(planned / "plan.json"), "--traces",
                                      str(planned / "traces.yaml"), "--format", "json",
                                      "--policy", "deadline"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    (job,) = doc["jobs"]
    assert (doc["policy"], doc["realised_usd"]) == ("deadline", 10.5)
    assert (job["finished"], job["met_deadline"], job["spot_hours"], job["on_demand_hours"],
            job["interruptions"]) == ("2027-01-01T12:30:00Z", True, 10.5, 0.0, 1)


def test_traces_synth_then_stats(tmp_path: Path) -> None:
    out = tmp_path / "synth.json"
    result = CliRunner().invoke(app, [
        "traces", "synth", "--availability", "0.6", "--mean-outage-hours", "0.5",
        "--interruptions-per-hour", "0.4", "--hours", "720", "--seed", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["metadata"] == {"gap_seconds": 300}
    result = CliRunner().invoke(app, ["traces", "stats", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["ticks"] == 8640 and 0.5 < row["availability"] < 0.7
    table = CliRunner().invoke(app, ["traces", "stats", str(out)])
    assert table.exit_code == 0
    assert f"{row['availability']:.1%}" in table.output and "synth.json" in table.output


def test_traces_synth_out_of_range_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [
        "traces", "synth", "--availability", "1.5", "--mean-outage-hours", "0.5",
        "--interruptions-per-hour", "0", "--hours", "10", "-o", str(tmp_path / "x.json")])
    assert result.exit_code == 1
    assert "--availability = 1.5: must be in (0, 1]" in result.output
    assert not (tmp_path / "x.json").exists()


def test_synth_zones_writes_a_manifest_simulate_reads(tmp_path: Path) -> None:
    # The shipped prices give p3.2xlarge spot in us-east-1 a pool per zone: each gets its
    # zone's trace over the workload's day, read back by the manifest reader.
    from costopt.plan.pools import build_pools
    from costopt.pricing.catalog import load_catalog
    from costopt.traces import load_manifest
    from costopt.workload_checks import load_workload

    (tmp_path / "workload.yaml").write_text(WORKLOAD)
    result = CliRunner().invoke(app, ["traces", "synth-zones", "--workload",
                                      str(tmp_path / "workload.yaml"), "--seed", "3",
                                      "-o", str(tmp_path / "traces.yaml")])
    assert result.exit_code == 0, result.output
    traces = load_manifest(tmp_path / "traces.yaml")
    spot = [p.id for p in build_pools(load_workload(tmp_path / "workload.yaml"),
                                      load_catalog(None)).cloud if p.market == "spot"]
    assert [t.pool.text for t in traces] == sorted(spot)
    assert all(t.pool.zone_id for t in traces) and len(traces) > 1
    day = (datetime(2027, 1, 1, tzinfo=timezone.utc), datetime(2027, 1, 2, tzinfo=timezone.utc))
    assert all((t.start, t.end) == day for t in traces)
    assert "use1-az2" in result.output  # the table of each trace's statistics
