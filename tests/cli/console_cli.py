"""``costopt`` at a given terminal width, or piped with no width: what a user's terminal or a
pipe into ``grep`` sees. In this process by default (:mod:`in_process`: Rich reads
``COLUMNS``, ``NO_COLOR`` and ``FORCE_COLOR`` when a command builds its console, and the
captured output is no terminal, as a pipe is not); the installed console script in a child
process with ``process=True``, for the tests that take a command end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from in_process import invoke_costopt

COSTOPT = str(Path(sys.executable).with_name("costopt"))  # the installed console script
WIDTHS = (80, 200, None)
"""Terminal widths the output is checked at; ``None``: piped, no ``COLUMNS`` at all."""


def run_costopt(*args: str, columns: int | None = 80, cwd: Path | None = None,
                process: bool = False, **env: str) -> subprocess.CompletedProcess[str]:
    """``costopt ARGS`` with stdout and stderr captured, ``COLUMNS`` set when ``columns`` is
    given (else unset, and ``LINES`` too); ``env`` adds variables (``AWS_ENDPOINT_URL``,
    ``NO_COLOR``...)."""
    changes: dict[str, str | None] = {"COLUMNS": None if columns is None else str(columns),
                                      "LINES": None, **env}
    if not process:
        return invoke_costopt(args, cwd=cwd, env=changes)
    environ = {k: v for k, v in {**os.environ, **changes}.items() if v is not None}
    return subprocess.run([COSTOPT, *args], env=environ, cwd=cwd, capture_output=True,
                          text=True, timeout=180)


def widest_line(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)
