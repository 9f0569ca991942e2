"""``costopt ARGS`` run in the test's own process (Typer's ``CliRunner``), answered as a child
process would answer it: a :class:`subprocess.CompletedProcess` with the exit code, stdout and
stderr, an uncaught exception's traceback written to stderr as Python would write it.

A child process pays ~1 s of imports for every command; in-process they are paid once per
test process. What only a real process shows stays in tests that start one (style.md: each
command once end to end): a solver's banner on file descriptor 1 (facts.md), signals, hangs
with a timeout, the console script's entry point.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import traceback
from collections.abc import Mapping
from pathlib import Path


def invoke_costopt(args: tuple[str, ...] | list[str], *, cwd: Path | None = None,
                   env: Mapping[str, str | None] | None = None
                   ) -> subprocess.CompletedProcess[str]:
    """``costopt ARGS`` in this process, in ``cwd``, with ``env`` set for the run (a ``None``
    value unsets the variable)."""
    from typer.testing import CliRunner

    from costopt.cli.main import app

    with contextlib.chdir(cwd or os.getcwd()):
        result = CliRunner().invoke(app, list(args), env=dict(env or {}))
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["costopt", *args], result.exit_code, result.stdout,
                                       stderr)
