"""The application builds only the command group a command line names (``cli/main.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command

from costopt.cli.main import GROUPS, command_named, make_app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "workload.yaml"


@pytest.mark.parametrize(("args", "named"), [
    (["validate", "w.yaml"], "validate"),
    (["-v", "--profile", "validate", "status"], "status"),  # a profile may be named like a command
    (["--region=eu-west-1", "pricing", "show"], "pricing"),
    (["--help"], None),
    ([], None),
])
def test_the_command_is_the_first_word_that_is_no_option_or_its_value(
        args: list[str], named: str | None) -> None:
    assert command_named(args) == named


def test_a_command_gets_only_its_group_and_anything_else_gets_all() -> None:
    lean = get_command(make_app("validate"))
    assert sorted(lean.commands) == ["init", "plan", "validate"]  # cli/plan.py's three
    whole = get_command(make_app("no-such-command"))
    assert sorted(whole.commands) == sorted(GROUPS)


def test_validate_imports_no_other_command_group() -> None:
    """Through the console script's own entry: of ``costopt.cli``'s modules, only what
    ``validate`` uses is loaded (not apply/watch's, report's, breakeven's ...)."""
    probe = ("import sys, json\nfrom costopt.cli.entry import run\n"
             f"sys.argv = ['costopt', 'validate', {str(EXAMPLE)!r}]\n"
             "try:\n    run()\nexcept SystemExit:\n    pass\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.startswith('costopt.cli.'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    loaded = {m.removeprefix("costopt.cli.") for m in json.loads(out)}
    assert "plan" in loaded
    assert not loaded & {"orchestrate", "report", "breakeven", "pricing", "simulate", "risk",
                         "state", "traces", "diff", "progress"}
