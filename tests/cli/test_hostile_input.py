"""Hostile and surprising input: a clear error (file, field path, value, what is valid) and
exit 1, never a traceback or a hang; ``--format json`` stdout that parses whatever the solver
prints (CliRunner cannot see what a solver writes to file descriptor 1).

Through the installed ``costopt`` command in a child process where the process is the point
(a hang ended by a timeout, a solver's output, the ledger's file), else in-process
(:func:`in_process.invoke_costopt`): the same exit code, stdout and stderr, a traceback
written to stderr as a child would write it, without a child's second of imports."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from in_process import invoke_costopt

COSTOPT = str(Path(sys.executable).with_name("costopt"))  # the installed console script
REPO = Path(__file__).resolve().parents[2]

HEAD = "name: t\nhorizon: {start: 2027-01-04, days: 7}\n"
JOB = "jobs: [{name: a, gpu_hours: 50}]\n"
SERVER = ("owned: {servers: [{name: box, gpu: V100-SXM2-16GB, gpus: 4, purchase_usd: 4800, "
          "lifetime_years: 3, power_watts: 1650, idle_watts: 250}]}\n")


def run(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([COSTOPT, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env={**os.environ, "COLUMNS": "250", **(env or {})})


def run_here(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """As :func:`run`, in this process (for input that cannot hang: regular small files)."""
    return invoke_costopt(args, cwd=cwd, env={"COLUMNS": "250"})


def _bomb() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"  # 9**9 = 387,420,489 strings once expanded


CASES = {
    # name: (the file, what the error says)
    "february-30": ("name: t\nhorizon: {start: 2027-02-30, days: 7}\n" + JOB,
                    "horizon.start = '2027-02-30': is not a calendar date (day is out of "
                    "range for month)"),
    "year-9999": ("name: t\nhorizon: {start: 9999-12-25, days: 7}\n" + JOB,
                  "horizon.start = '9999-12-25': is outside the years 1970 to 2999"),
    "inf-gpu-hours": (HEAD + "jobs: [{name: a, gpu_hours: .inf}]\n",
                      "jobs[0].gpu_hours = inf: is not a finite number"),
    "nan-speed": (HEAD + SERVER + "jobs: [{name: a, gpu_hours: 5, speed: {V100: .nan}}]\n",
                  "jobs[0].speed.V100 = nan: is not a finite number"),
    "inf-price": (HEAD + "cloud: {price_overrides: [{instance_type: p3.2xlarge, region: "
                  "us-east-1, market: on_demand, usd_per_hour: .inf}]}\n" + JOB,
                  "cloud.price_overrides[0].usd_per_hour = inf: is not a finite number"),
    "nan-electricity": (HEAD + "owned: {electricity_usd_per_kwh: .nan}\n" + JOB,
                        "owned.electricity_usd_per_kwh = nan: is not a finite number"),
    "inf-purchase": (HEAD + SERVER.replace("4800", ".inf") + JOB,
                     "owned.servers[0].purchase_usd = inf: is not a finite number"),
    "tiny-lifetime": (HEAD + SERVER.replace("lifetime_years: 3", "lifetime_years: 1.0e-300")
                      + JOB, "owned.servers[0].lifetime_years = 1e-300: Input should be "
                      "greater than or equal to 0.1"),
    "gpus-true": (HEAD + SERVER + "jobs: [{name: a, gpu_hours: 5, gpus: true}]\n",
                  "jobs[0].gpus = True: is true/false, not a whole number"),
    "regions-empty": (HEAD + "cloud: {regions: []}\n" + JOB,
                      "cloud.regions = []: an empty list allows nothing"),
    "duplicate-key": (HEAD + JOB + "name: u\n",
                      "line 4, column 1: not valid YAML: the key 'name' appears on lines 1 "
                      "and 4"),
    "deep": ("a: " + "[" * 5000 + "]" * 5000 + "\n", "not valid YAML"),
    "nested-70": ("a:\n" + "".join(" " * (2 * i) + f"- b{i}:\n" for i in range(1, 70))
                  + " " * 140 + "- 1\n", "nested more than 64 levels deep"),
    "alias-bomb": (_bomb(), "expands to more than 2,000,000 values through anchors and "
                   "aliases"),
    "pricing-folder": (HEAD + "cloud: {pricing: .}\n" + JOB,
                       "cloud.pricing = '.': is not a file"),
    "zones-empty": (HEAD + "cloud: {zones: []}\n" + JOB,
                    "cloud.zones = []: an empty list allows nothing"),
    # 2999-12-01 + 3,650 days = 3009-11-29: the start is in range, the end is not
    "horizon-to-3009": ("name: t\nhorizon: {start: 2999-12-01, days: 3650}\n" + JOB,
                        "horizon: ends on 3009-11-29, after 2999, the last year a plan can "
                        "cover"),
    "ten-years-hourly": ("name: t\nhorizon: {start: 2027-01-04, days: 3650, period_hours: 1}"
                         "\n" + SERVER + JOB,
                         "makes 87,600 periods, more than the 8,784 a plan holds (a year of "
                         "hourly periods); To fix: longer periods (period_hours: 12 gives "
                         "7,300 periods)"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_workloads_get_a_clear_error(case: str, tmp_path: Path) -> None:
    text, expected = CASES[case]
    (tmp_path / "w.yaml").write_text(text)
    proc = run_here("validate", "w.yaml", cwd=tmp_path)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1, proc.stderr
    assert "error: workload w.yaml has" in proc.stderr
    assert f"w.yaml: {expected}" in proc.stderr.replace("\n", " ") or expected in proc.stderr


def test_ten_years_of_hourly_periods_is_a_size_error_not_a_hang(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(
        "name: t\nhorizon: {start: 2027-01-04, days: 3650, period_hours: 1}\n" + SERVER + JOB)
    proc = run("plan", "w.yaml", "--time-limit", "5", cwd=tmp_path, timeout=60)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1, proc.stderr
    # 3,650 days x 24 = 87,600 hourly periods
    assert "horizon = '3650 days of 87600x1 h': makes 87,600 periods" in proc.stderr
    assert "To fix: longer periods" in proc.stderr


@pytest.mark.parametrize("month", ["0000-01", "9999-12", " 2027-01", "2027-1", "2027-13"])
def test_report_months_are_parsed_strictly(month: str, tmp_path: Path) -> None:
    proc = run_here("report", "--month", month, "--state-dir", str(tmp_path), cwd=tmp_path)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1
    assert f"month {month!r} is not valid: expected YYYY-MM" in proc.stderr


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_json_on_stdout_parses_whatever_the_solver_prints(solver: str, tmp_path: Path) -> None:
    proc = run("plan", str(REPO / "examples" / "workload.yaml"), "--solver", solver,
               "--format", "json", "-o", str(tmp_path / "plan.json"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # nothing but the plan: no banner before it
    assert doc["solver"] == solver
    assert doc == json.loads((tmp_path / "plan.json").read_text())


def test_an_infeasible_baseline_shows_no_saving(tmp_path: Path) -> None:
    # One 4-GPU owned server, 7 days: 4 x 168 = 672 GPU-hours. A job allowed only on owned
    # servers needs 700: the plan falls short, and so does owned-first; its "saving" would
    # compare work not done.
    (tmp_path / "w.yaml").write_text(
        HEAD + SERVER + "jobs: [{name: a, gpus: 4, gpu_hours: 700, allow: [owned]}]\n")
    proc = run("plan", "w.yaml", cwd=tmp_path)
    assert "Traceback" not in proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "owned_first" in x)
    assert "not comparable" in line and "not feasible, cannot do: a" in line
    assert "cannot do: a; no eligible cloud pool" in line  # and why
    assert not re.search(r"-\d", line)  # no negative saving


def test_a_started_horizon_is_warned_with_its_date(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text("name: t\nhorizon: {start: 2020-01-06, days: 7}\n"
                                     + SERVER + JOB)
    proc = run("validate", "w.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "the horizon ended on 2020-01-13T00:00:00Z" in proc.stderr


def test_an_html_error_page_from_the_endpoint_is_a_clear_error(moto_url: str,
                                                               tmp_path: Path) -> None:
    # moto answers EC2 calls for a region it does not know with an HTML 500 page, which
    # botocore raises as ResponseParserError (not a ClientError).
    proc = run("pricing", "refresh", "--regions", "nowhere-1", "-o", str(tmp_path / "p.csv"),
               cwd=tmp_path, env={"AWS_ENDPOINT_URL": moto_url})
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1
    assert ("1 region (nowhere-1): NotAnAwsResponse: the endpoint answered with something "
            "that is no AWS response (500 Internal Server Error)") in proc.stderr
    assert not (tmp_path / "p.csv").exists()


# Files that are no regular files: a FIFO would block whoever opens it until a writer comes
# (forever), /dev/zero reads without end. Each is a clear error within the timeout.

def _fifo(folder: Path) -> Path:
    path = folder / "fifo"
    os.mkfifo(path)
    return path


SPECIAL = {"fifo": _fifo, "dev-zero": lambda _folder: Path("/dev/zero")}
NOT_A_FILE = {"fifo": "is a named pipe (FIFO), not a regular file",
              "dev-zero": "is a character device, not a regular file"}


@pytest.fixture(scope="module")
def plan_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plan")
    (folder / "w.yaml").write_text(HEAD + SERVER + JOB)
    proc = run("plan", "w.yaml", "-o", "plan.json", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return folder / "plan.json"


def _clear_error(proc: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1, proc.stderr
    flat = " ".join(proc.stderr.split())
    for text in expected:
        assert text in flat


@pytest.mark.parametrize("kind", sorted(SPECIAL))
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_workload_that_is_no_file_is_an_error_not_a_hang(kind: str, command: str,
                                                            tmp_path: Path) -> None:
    path = SPECIAL[kind](tmp_path)
    proc = run(command, str(path), cwd=tmp_path, timeout=30)
    _clear_error(proc, f"error: workload {path} has 1 problem", NOT_A_FILE[kind])


@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_a_plan_file_that_is_no_file_is_an_error_not_a_hang(kind: str,
                                                            tmp_path: Path) -> None:
    path = SPECIAL[kind](tmp_path)
    proc = run("apply", str(path), "--state-dir", str(tmp_path / "state"), cwd=tmp_path,
               timeout=30)
    _clear_error(proc, f"plan file {path} has 1 problem", NOT_A_FILE[kind])


@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_traces_that_are_no_files_are_an_error_not_a_hang(kind: str, plan_json: Path,
                                                          tmp_path: Path) -> None:
    path = SPECIAL[kind](tmp_path)
    workload = str(plan_json.with_name("w.yaml"))
    as_manifest = run("simulate", str(plan_json), "--traces", str(path), "--workload",
                      workload, cwd=tmp_path, timeout=30)
    _clear_error(as_manifest, str(path), NOT_A_FILE[kind])
    (tmp_path / "traces.yaml").write_text(
        f"[{{pool: 'aws:us-east-1:p3.2xlarge:spot', file: '{path}', "
        "start: 2027-01-04T00:00:00Z}]\n")
    named = run("simulate", str(plan_json), "--traces", "traces.yaml", "--workload", workload,
                cwd=tmp_path, timeout=30)
    _clear_error(named, str(path), NOT_A_FILE[kind])


def test_a_ledger_that_is_a_fifo_is_an_error_not_a_hang(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    os.mkfifo(state / "ledger.db")
    proc = run("status", "--state-dir", str(state), cwd=tmp_path, timeout=30)
    _clear_error(proc, f"{state / 'ledger.db'} is a named pipe (FIFO), not a regular file")


STATE_DIR_COMMANDS = {
    "status": ("status",),
    "report": ("report", "--month", "2027-01"),
    "progress": ("progress", "a", "--done", "1"),
    "apply": ("apply", "PLAN", "--yes"),
}


def _command(name: str, plan_json: Path) -> list[str]:
    return [str(plan_json) if a == "PLAN" else a for a in STATE_DIR_COMMANDS[name]]


@pytest.mark.parametrize("command", sorted(STATE_DIR_COMMANDS))
def test_a_state_dir_that_is_a_file_is_an_error(command: str, plan_json: Path,
                                                tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("not a folder")
    proc = run(*_command(command, plan_json), "--state-dir", str(blocker), cwd=tmp_path,
               timeout=60)
    _clear_error(proc, f"{blocker} is a file, not a folder")
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize(("command", "moment"), [
    ("status", "2027-02-30T10:00:00Z"), ("status", "2027-01-04T29:00:00Z"),
    ("status", "2027-01-39T10:00:00Z"), ("report", "2027-02-30T10:00:00Z"),
    ("progress", "2027-01-04T29:00:00Z"), ("apply", "2027-01-39T10:00:00Z"),
])
def test_an_impossible_time_in_the_ledger_names_its_row(command: str, moment: str,
                                                        plan_json: Path,
                                                        tmp_path: Path) -> None:
    """The time matches the ledger's pattern (digits where digits go) but is no time."""
    from costopt.orchestrate.ledger import Ledger

    state = tmp_path / "state"
    Ledger.open(state).close()
    with sqlite3.connect(state / "ledger.db") as conn:
        conn.execute("INSERT INTO interruptions VALUES ('i-1', 'p-1', "
                     "'aws:us-east-1:p3.2xlarge:spot', ?, 'spot')", (moment,))
    proc = run(*_command(command, plan_json), "--state-dir", str(state), cwd=tmp_path,
               timeout=60)
    _clear_error(proc, f"the ledger {state / 'ledger.db'} is damaged: interruptions row 1: "
                 f"at = '{moment}'; valid: a UTC time such as 2027-01-04T00:00:00Z")
