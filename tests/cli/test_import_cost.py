"""`costopt --help`, `validate`, `status` and `plan` must not pay for libraries they do not
use (pandas alone took ~0.85 s of every command when the price file was read with it).

Each case runs in a fresh interpreter (the test process has imported everything already)
and lists the heavy top-level packages that ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "workload.yaml"
HEAVY = ("boto3", "botocore", "matplotlib", "pandas", "pulp", "highspy", "numpy")

PROBE = """
import json, sys
from typer.testing import CliRunner
from costopt.cli.main import app
result = CliRunner().invoke(app, sys.argv[1:])
heavy = sorted({m.split('.')[0] for m in sys.modules} & set(HEAVY))
print(json.dumps({"exit": result.exit_code, "heavy": heavy}))
""".replace("HEAVY", repr(HEAVY))


def _heavy_imports(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_help_imports_no_heavy_library() -> None:
    assert _heavy_imports("--help") == {"exit": 0, "heavy": []}


@pytest.mark.parametrize("command", ["plan", "validate", "report", "apply", "pricing"])
def test_subcommand_help_imports_no_heavy_library(command: str) -> None:
    probe = _heavy_imports(command, "--help")
    if probe["exit"] == 2:
        pytest.skip(f"`costopt {command}` is not registered in this build")
    assert probe == {"exit": 0, "heavy": []}


def test_plan_does_not_import_aws_or_charts(tmp_path: Path) -> None:
    probe = _heavy_imports("plan", str(EXAMPLE), "-o", str(tmp_path / "plan.json"))
    assert probe["exit"] == 0
    assert not {"boto3", "botocore", "matplotlib"} & set(probe["heavy"])
    assert "highspy" in probe["heavy"]  # the default solver path really ran
    assert "pulp" not in probe["heavy"]  # CBC's only on --solver cbc


def test_validate_imports_no_heavy_library() -> None:
    """The price file is read with the csv module, the workload with PyYAML and pydantic:
    checking a workload needs no numpy, pandas, solver, AWS or chart library."""
    assert _heavy_imports("validate", str(EXAMPLE)) == {"exit": 0, "heavy": []}


def test_status_reads_the_ledger_without_heavy_libraries(tmp_path: Path) -> None:
    """``status`` loads the plan file's model and the EC2 edge; with no ledger yet it stops
    before asking AWS (exit 1) having imported none of the heavy libraries: the plan file
    is read without the planner's numpy, and boto3 comes only with the first AWS call."""
    assert _heavy_imports("status", "--state-dir", str(tmp_path / "state")) == {
        "exit": 1, "heavy": []}


def test_validate_of_a_valid_file_imports_no_rich(tmp_path: Path) -> None:
    """Rich (~40 ms of a ~0.4 s start) is imported when a console is first used; a valid
    workload's verdict is one line of plain text, so ``validate`` does without it. Run as
    the console script builds the application (only the command's own group), twice: the
    first run warns of the example's stale prices (through Rich), the second, the same
    day, does not."""
    probe = ("import io, sys, contextlib\n"
             "from costopt.cli.main import run\n"
             f"sys.argv = ['costopt', 'validate', {str(EXAMPLE)!r}]\n"
             "out = io.StringIO()\n"
             "try:\n"
             "    with contextlib.redirect_stdout(out):\n"
             "        run()\n"
             "except SystemExit as exit:\n"
             "    assert not exit.code, exit.code\n"
             "print(out.getvalue().split(':')[0], sorted(m for m in sys.modules if "
             "m.split('.')[0] == 'rich'))\n")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    first, second = (subprocess.run([sys.executable, "-c", probe], capture_output=True,
                                    text=True, check=True, env=env) for _ in range(2))
    assert "stale" not in first.stdout and "days old" in first.stderr
    assert second.stderr == ""
    assert second.stdout.split() == [f"{EXAMPLE}", "is", "valid", "[]"]
