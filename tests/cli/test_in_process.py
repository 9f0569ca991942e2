"""The in-process runner answers as a child process would (:mod:`in_process`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from in_process import invoke_costopt

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "workload.yaml"


def test_an_uncaught_exception_is_a_traceback_on_stderr_and_exit_1(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug (not one of costopt's errors) ends a child process with Python's traceback and
    exit 1; the runner says the same, so tests that assert "no traceback" still can fail."""
    def broken(path: Path) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("costopt.workload_checks.load_workload", broken)
    result = invoke_costopt(("validate", str(EXAMPLE)))
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: a bug" in result.stderr


def test_cwd_and_environment_are_the_runs_own(tmp_path: Path) -> None:
    """Relative paths are read from ``cwd``; a ``None`` value unsets a variable for the run."""
    (tmp_path / "w.yaml").write_text(EXAMPLE.read_text())
    result = invoke_costopt(("validate", "w.yaml"), cwd=tmp_path, env={"COLUMNS": None})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("w.yaml is valid: 7 job(s)")
