"""``costopt report`` through the real CLI, on the hand-worked month of tests/month_case.py
(figures worked out in tests/report/test_spend.py), with the clock fixed at its "now"."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import requests
from month_case import NOW, build_ledger
from moto import mock_aws
from rich.console import Console
from typer.testing import CliRunner

from costopt.cli.common import Env
from costopt.cli.main import app


def run(*args: str, now: datetime = NOW) -> tuple[int, str, str]:
    """Exit code, stdout and stderr; never a crash."""
    env = Env(console=Console(width=200, color_system=None),
              err=Console(stderr=True, width=200, color_system=None), clock=lambda: now)
    result = CliRunner().invoke(app, list(args), obj=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def state(tmp_path: Path) -> Path:
    build_ledger(tmp_path / "state")
    return tmp_path / "state"


def test_markdown_on_stdout(state: Path) -> None:
    code, out, err = run("report", "--month", "2026-12", "--state-dir", str(state))
    assert (code, err) == (0, "")
    assert out.startswith("# GPU spend, 2026-12\n")
    assert ("As of 2026-12-11 00:00 UTC, spent USD 520.56 (cloud 246.00 + owned servers 274.56) "
            "of a USD 2,000.00 budget (26.0 %); "
            "forecast USD 1,613.74 by month end (run-rate), 80.7 % of the budget: alert 80 %."
            ) in out
    assert "| spot | 60.00 | 11.5 % | 15.0 | 60.0 |" in out
    assert "| sweep | 117.00 |" in out


def test_over_budget_exits_3(state: Path) -> None:
    code, out, err = run("report", "--month", "2026-12", "--state-dir", str(state),
                         "--budget", "1000")
    assert code == 3
    assert "161.4 % of the budget: over budget." in out
    assert ("the forecast for 2026-12, USD 1,613.74 (run-rate), is over the budget of USD "
            "1,000.00") in err


def test_output_dir_gets_every_format(state: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "reports" / "2026-12"
    code, out, err = run("report", "--month", "2026-12", "--state-dir", str(state),
                         "-o", str(out_dir))
    assert (code, err) == (0, "")
    names = ["report.md", "report.csv", "report.json", "report.html", "chart-daily.png",
             "chart-cumulative.png", "chart-markets.png"]
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(names)
    assert f"Written to {out_dir}: {', '.join(names)}" in out
    doc = json.loads((out_dir / "report.json").read_text())
    assert (doc["total_usd"], doc["forecast"]["usd"], doc["budget"]["band_pct"]) == (
        520.56, 1613.74, 80)
    assert "total_usd,520.56,USD" in (out_dir / "report.csv").read_text()
    html = (out_dir / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == 3
    assert (out_dir / "chart-daily.png").read_bytes().startswith(b"\x89PNG")


def test_json_for_scripts(state: Path) -> None:
    code, out, _err = run("report", "--month", "2026-12", "--state-dir", str(state),
                          "--format", "json")
    assert code == 0
    assert json.loads(out)["savings"]["savings_usd"] == 120.0


def test_a_month_with_no_data(state: Path) -> None:
    code, out, err = run("report", "--month", "2027-06", "--state-dir", str(state))
    assert (code, err) == (0, "")
    assert out.startswith(f"no spend recorded for 2027-06 in {state / 'ledger.db'}")
    assert "costopt apply" in out


def test_no_ledger_at_all(tmp_path: Path) -> None:
    code, out, _err = run("report", "--month", "2026-12", "--state-dir", str(tmp_path / "new"),
                          "-o", str(tmp_path / "out"))
    assert code == 0 and "no spend recorded for 2026-12" in out
    assert not (tmp_path / "out").exists() and not (tmp_path / "new").exists()


@pytest.mark.parametrize("month", ["2026-13", "Dec-2026"])
def test_bad_month(state: Path, month: str) -> None:
    code, out, err = run("report", "--month", month, "--state-dir", str(state))
    assert (code, out) == (1, "")
    assert f"error: month {month!r} is not valid: expected YYYY-MM" in err
    assert "Traceback" not in err


def test_bad_options(state: Path, tmp_path: Path) -> None:
    code, _out, err = run("report", "--month", "2026-12", "--format", "pdf")
    said = " ".join(err.replace("│", " ").split())  # the message, out of its box's lines
    assert code == 2 and "'pdf' is not one of 'md', 'html', 'csv', 'json'" in said
    code, _out, err = run("report", "--month", "2026-12", "--workload",
                          str(tmp_path / "missing.yaml"), "--state-dir", str(state))
    assert code == 1 and "file not found" in err and "Traceback" not in err


def test_workload_gives_owned_servers_and_budget(state: Path, tmp_path: Path) -> None:
    """No owned servers in the workload: only the cloud's 246.00; budget 300 -> 82.0 %."""
    path = tmp_path / "lab.yaml"
    path.write_text("name: lab\nhorizon: {start: 2026-12-01, days: 31}\n"
                    "monthly_budget_usd: 300\njobs: [{name: train, gpu_hours: 10}]\n")
    code, out, _err = run("report", "--month", "2026-12", "--state-dir", str(state),
                          "--workload", str(path))
    assert code == 3
    assert "spent USD 246.00 (cloud 246.00 + owned servers 0.00) of a USD 300.00 budget " \
        "(82.0 %)" in out


@mock_aws
def test_source_aws(state: Path) -> None:
    day = {"TimePeriod": {"Start": "2026-12-03", "End": "2026-12-04"}, "Total": {},
           "Groups": [{"Keys": ["p3.8xlarge"],
                       "Metrics": {"UnblendedCost": {"Amount": "161.5", "Unit": "USD"}}}]}
    requests.post("http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results",
                  json={"results": [{"ResultsByTime": [day]}]}, timeout=10)
    code, out, _err = run("report", "--month", "2026-12", "--state-dir", str(state),
                          "--source", "aws")
    assert code == 0
    assert "## AWS Cost Explorer against the ledger (cloud, USD)" in out
    assert "| 2026-12-03 | p3.8xlarge | 162.00 | 161.50 | -0.50 |  |" in out
    assert "| total |  | 246.00 | 161.50 | -84.50 |  |" in out


def test_source_aws_without_credentials(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, out, err = run("report", "--month", "2026-12", "--state-dir", str(state),
                         "--source", "aws")
    assert (code, out) == (1, "")
    assert ("error: Cost Explorer GetCostAndUsage failed: NoCredentials: no AWS credentials "
            "found. To fix:") in err


def test_at_reports_as_of_another_time(state: Path) -> None:
    later = datetime(2027, 3, 1, tzinfo=NOW.tzinfo)  # the clock is elsewhere; --at rules
    code, out, err = run("report", "--month", "2026-12", "--state-dir", str(state),
                         "--at", "2026-12-11T00:00:00Z", now=later)
    assert (code, err) == (0, "")
    assert "As of 2026-12-11 00:00 UTC, spent USD 520.56" in out
    code, _out, err = run("report", "--month", "2026-12", "--state-dir", str(state),
                          "--at", "soon")
    assert code == 2 and "ISO 8601" in err
