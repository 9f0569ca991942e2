"""``costopt risk`` and ``costopt plan --risk`` through the CLI; the JSON's figures agree
with separate ``costopt simulate`` runs of the same scenarios."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from one_job_case import WORKLOAD as SIMULATE_WORKLOAD
from typer.testing import CliRunner

from costopt.cli.main import app

WORKLOAD = SIMULATE_WORKLOAD.replace("setup_minutes: 0", "setup_minutes: 10")
"""``simulate``'s CLI case, launches paid 10 minutes of setup: one 10 GPU-hour job on
p3.2xlarge in us-east-1 (1 USD/h spot, 3 USD/h on demand) on 2027-01-01."""


def cli(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def planned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "workload.yaml").write_text(WORKLOAD)
    cli("plan", "workload.yaml", "-o", "plan.json")
    return tmp_path


@pytest.mark.slow
def test_the_json_agrees_with_simulate_runs_of_the_same_scenarios(planned: Path) -> None:
    cli("risk", "plan.json", "-n", "4", "--seed", "7", "--workers", "1", "--availability",
        "0.6", "--mean-outage-hours", "1", "--format", "json", "-o", "risk.json",
        "--write-traces", "scenarios")
    doc = json.loads((planned / "risk.json").read_text())
    assert (doc["scenarios"], doc["completed"], doc["failed"], doc["policy"],
            doc["replan"]) == (4, 4, [], "plan", True)  # the controller, re-planning
    for s in doc["scenario_results"]:
        folder = planned / "scenarios" / f"scenario-{s['index']:04d}"
        run = CliRunner().invoke(app, ["simulate", "plan.json", "--traces",
                                       str(folder / "traces.yaml"), "--format", "json", "-o",
                                       str(folder / "score.json")])
        missed = any(not j["met_deadline"] for j in s["jobs"])
        assert run.exit_code == (4 if missed else 0), run.output  # 4: a deadline missed
        score = json.loads((folder / "score.json").read_text())
        assert s["realised_usd"] == score["realised_usd"]
        assert [(j["job"], j["finished"], j["met_deadline"]) for j in s["jobs"]] == [
            (j["job"], j["finished"], j["met_deadline"]) for j in score["jobs"]]
    costs = sorted(s["realised_usd"] for s in doc["scenario_results"])
    # Four scenarios: P10 the 1st cost, P50 the 2nd, P90 the 4th (ceil(0.9 x 4) = 4).
    assert (doc["cost"]["p10_usd"], doc["cost"]["p50_usd"], doc["cost"]["p90_usd"],
            doc["cost"]["max_usd"]) == (costs[0], costs[1], costs[3], costs[3])
    assert len(set(costs)) > 1  # the scenarios differ


def test_tables_and_the_html_page(planned: Path) -> None:
    out = cli("risk", "plan.json", "-n", "3", "--workers", "1").output
    assert "P90" in out and "train" in out
    assert "Risk over 3 scenario(s): P50" in out
    cli("risk", "plan.json", "-n", "3", "--workers", "1", "--format", "html", "-o",
        "risk.html")
    page = (planned / "risk.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert 'id="chart-risk"' in page and "data:image/png;base64," in page


def test_bad_traces_and_format_are_refused_without_a_traceback(planned: Path) -> None:
    result = CliRunner().invoke(app, ["risk", "plan.json", "--traces", "missing.yaml"])
    assert result.exit_code == 1
    assert "missing.yaml" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["risk", "plan.json", "--format", "xml"])
    assert result.exit_code == 2
    result = CliRunner().invoke(app, ["risk", "plan.json", "--availability", "1.5"])
    assert result.exit_code == 1
    assert "--availability = 1.5" in result.output


def test_plan_prints_its_risk_line(planned: Path) -> None:
    out = cli("plan", "workload.yaml", "-o", "plan2.json", "--risk", "3").output
    assert out.index("Plan written to") < out.index("Risk over 3 scenario(s): P50")


def test_plan_for_the_tail_says_what_it_tried(planned: Path) -> None:
    # No plan can cost nothing: with a budget of 0 every derating is tried (availability x 1,
    # 0.8, 0.64, 0.512, 0.41), each attempt's P90 printed, and the least P90 kept, said so.
    result = CliRunner().invoke(app, ["plan", "workload.yaml", "-o", "plan3.json", "--risk",
                                      "2", "--risk-budget", "0"])
    assert result.exit_code == 0, result.output
    tried = [line for line in result.output.splitlines()
             if line.startswith("spot availability x ")]
    assert [line.split(":")[0] for line in tried] == [
        f"spot availability x {f}" for f in ("1", "0.8", "0.64", "0.512", "0.41")]
    assert "no plan tried has its P90 within 0.00 USD" in result.output
    assert (planned / "plan3.json").exists()


def test_a_risk_budget_without_scenarios_is_a_usage_error(planned: Path) -> None:
    result = CliRunner().invoke(app, ["plan", "workload.yaml", "-o", "plan4.json",
                                      "--risk-budget", "100"])
    assert result.exit_code == 2
    assert "--risk" in result.output
    assert not (planned / "plan4.json").exists()


def test_no_replan_and_the_deadline_policy_are_said_in_the_output(planned: Path) -> None:
    for options, policy, replan in [(["--no-replan"], "plan", False),
                                    (["--policy", "deadline"], "deadline", False)]:
        doc = json.loads(cli("risk", "plan.json", "-n", "2", "--workers", "1", "--format",
                             "json", *options).output)
        assert (doc["policy"], doc["replan"], doc["completed"]) == (policy, replan, 2)
    table = cli("risk", "plan.json", "-n", "2", "--workers", "1").output
    assert "policy plan, re-planning; seed 0" in " ".join(table.split())
