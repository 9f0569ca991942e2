"""``costopt validate FILE`` answered by the console script before it imports the application
(:func:`costopt.cli.validation.fast_validate`): the same line the command prints, no Typer,
Click or Rich imported; anything else - an option, an error, a warning due - is left to the
application.

The example's prices are dated 2026-01-01 (the oldest row it may use) and its horizon starts
2027-01-04T00:00Z: on 2026-01-15 they are 14 days old (stale after 30) and the horizon is to
come, so nothing is due; on 2026-12-07 they are 340 days old."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from costopt.cli.validation import fast_validate
from costopt.core.places import stale_prices_marker
from costopt.pricing.catalog import shipped_data_dir

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "workload.yaml"
FRESH = datetime(2026, 1, 15, tzinfo=timezone.utc)
STALE = datetime(2026, 12, 7, tzinfo=timezone.utc)
LINE = (f"{EXAMPLE} is valid: 7 job(s), 3 owned server pool(s), 73 cloud pool(s), "
        "28 period(s): 28x24 h.")


def test_a_file_that_passes_with_nothing_due_gets_the_commands_line() -> None:
    assert fast_validate(["validate", str(EXAMPLE)], FRESH) == LINE


def test_stale_prices_are_left_to_the_application_until_warned_that_day() -> None:
    """The warning is due once a day per price file; its marker says it was shown."""
    assert fast_validate(["validate", str(EXAMPLE)], STALE) is None
    marker = stale_prices_marker(str(shipped_data_dir() / "instances.csv"), STALE.date())
    marker.parent.mkdir(parents=True)
    marker.touch()
    assert fast_validate(["validate", str(EXAMPLE)], STALE) == LINE


def test_a_horizon_already_begun_is_left_to_the_application() -> None:
    # 2027-01-05: one day into the horizon; the prices (2026-01-01) are then 369 days old,
    # so mark them warned to leave the horizon the only warning due.
    now = datetime(2027, 1, 5, tzinfo=timezone.utc)
    marker = stale_prices_marker(str(shipped_data_dir() / "instances.csv"), now.date())
    marker.parent.mkdir(parents=True)
    marker.touch()
    assert fast_validate(["validate", str(EXAMPLE)], now) is None


@pytest.mark.parametrize("args", [
    ["validate", "--format", "json", str(EXAMPLE)], ["validate", str(EXAMPLE), "-v"],
    ["-v", "validate", str(EXAMPLE)], ["validate", "--help"], ["plan", str(EXAMPLE)],
    ["validate"],
])
def test_any_other_command_line_is_left_to_the_application(args: list[str]) -> None:
    assert fast_validate(args, FRESH) is None


def test_a_file_with_an_error_is_left_to_the_application(tmp_path: Path) -> None:
    bad = tmp_path / "w.yaml"
    bad.write_text(EXAMPLE.read_text().replace("gpu_hours: ", "gpu_hours: -", 1))
    assert fast_validate(["validate", str(bad)], FRESH) is None


ENTRY = ("import sys\n"
         "from costopt.cli.{module} import run\n"
         "sys.argv = ['costopt', *sys.argv[1:]]\n"
         "try:\n"
         "    run()\n"
         "finally:\n"
         "    print(sorted({{m.split('.')[0] for m in sys.modules}} & {{'typer', 'click', "
         "'rich'}}), file=sys.stderr)\n")


def _costopt(module: str, *args: str, state: Path) -> subprocess.CompletedProcess[str]:
    """``costopt ARGS`` through ``costopt.cli.MODULE.run`` in a fresh interpreter (``entry``:
    the console script's; ``main``: the application's); the last line of stderr lists which
    of Typer, Click and Rich it imported."""
    return subprocess.run([sys.executable, "-c", ENTRY.format(module=module), *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "XDG_STATE_HOME": str(state)})


def test_the_console_script_answers_as_the_application_does(tmp_path: Path) -> None:
    """Today the example's prices are stale: the first run of the day warns (through the
    application, Rich and all), the second answers without Typer, Click or Rich - the same
    line, on stdout, exit 0. A file with an error gets the application's message."""
    first = _costopt("entry", "validate", str(EXAMPLE), state=tmp_path)
    second = _costopt("entry", "validate", str(EXAMPLE), state=tmp_path)
    assert (first.returncode, second.returncode) == (0, 0)
    assert "days old" in first.stderr
    assert "'typer'" in first.stderr.splitlines()[-1]  # the application answered
    assert second.stderr.splitlines() == ["[]"]
    assert second.stdout == first.stdout
    assert second.stdout.startswith(f"{EXAMPLE} is valid: 7 job(s)")
    bad = tmp_path / "w.yaml"
    bad.write_text(EXAMPLE.read_text().replace("gpu_hours: ", "gpu_hours: -", 1))
    by_entry = _costopt("entry", "validate", str(bad), state=tmp_path)
    by_application = _costopt("main", "validate", str(bad), state=tmp_path)
    assert (by_entry.returncode, by_entry.stdout, by_entry.stderr) == (
        by_application.returncode, by_application.stdout, by_application.stderr)
    assert by_entry.returncode == 1 and "gpu_hours" in by_entry.stderr
