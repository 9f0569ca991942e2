"""The console script's entry point: signals are taken before anything else
(:mod:`costopt.cli.startup` says why); ``costopt validate FILE`` is answered at once where
:func:`~costopt.cli.validation.fast_validate` can (no Typer, no Rich: about a third of its
time); anything else imports the application and runs it."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

from costopt.cli.startup import command_begins, note_signals


def run() -> None:
    """Console-script entry point (``costopt``)."""
    note_signals()
    from costopt.cli.validation import fast_validate

    line = fast_validate(sys.argv[1:], datetime.now(timezone.utc))
    if line is not None:
        command_begins()
        print(line)
        return
    from costopt.cli.main import run as run_application

    run_application()
