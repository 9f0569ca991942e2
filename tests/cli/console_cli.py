"""The console script in a child process at a given terminal width, or piped with no width:
what a user's terminal or a pipe into ``grep`` sees."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

COSTOPT = str(Path(sys.executable).with_name("costopt"))  # the installed console script
WIDTHS = (80, 200, None)
"""Terminal widths the output is checked at; ``None``: piped, no ``COLUMNS`` at all."""


def run_costopt(*args: str, columns: int | None = 80, cwd: Path | None = None,
                **env: str) -> subprocess.CompletedProcess[str]:
    """``costopt ARGS`` with stdout and stderr piped, ``COLUMNS`` set when ``columns`` is
    given; ``env`` adds variables (``AWS_ENDPOINT_URL``, ``NO_COLOR``...)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    environ.update(env)
    if columns is not None:
        environ["COLUMNS"] = str(columns)
    return subprocess.run([COSTOPT, *args], env=environ, cwd=cwd, capture_output=True,
                          text=True, timeout=180)


def widest_line(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)
