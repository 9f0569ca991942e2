"""Friction 4 of a new user's first hour: the stale-price warning once a day per price file,
through the real CLI (the shipped snapshot is older than 30 days)."""

from __future__ import annotations

from pathlib import Path

from console_cli import run_costopt

WORKLOAD = """\
name: lab
horizon: {start: 2027-01-04, days: 2}
cloud: {regions: [us-east-1]}
jobs:
  - {name: a-job-with-a-long-name, gpus: 1, gpu_hours: 10}
"""


def test_the_stale_price_warning_is_shown_once_a_day(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(WORKLOAD)
    first = run_costopt("validate", "w.yaml", cwd=tmp_path, columns=80)
    assert first.returncode == 0, first.stderr
    said = " ".join(first.stderr.split())  # as read, whatever the line breaks
    assert "days old" in said and "Shown once a day for this price file" in said
    # Wrapped between words at 80 columns, never inside one.
    lines = first.stderr.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "(Shown once a day for this price file; -v shows it always.)" in " ".join(
        " ".join(lines).split())
    assert all(not line.endswith("-") or line.endswith(" -") for line in lines)
    piped = run_costopt("-v", "validate", "w.yaml", cwd=tmp_path, columns=None)
    (line,) = [t for t in piped.stderr.splitlines() if "days old" in t]  # piped: one line
    assert line.startswith("warning: prices in ") and line.endswith("-v shows it always.)")
    second = run_costopt("validate", "w.yaml", cwd=tmp_path, columns=80)
    assert second.returncode == 0 and "days old" not in " ".join(second.stderr.split())
    verbose = run_costopt("-v", "validate", "w.yaml", cwd=tmp_path, columns=80)
    assert "days old" in " ".join(verbose.stderr.split())
