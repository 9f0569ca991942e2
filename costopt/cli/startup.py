"""Signals while the application starts: noted, and acted on when the command begins.

Importing the application and building its commands (Typer, Rich, every command group)
takes a noticeable part of a second, more on a busy machine; a Ctrl-C or SIGTERM in that
time would end the process with a traceback from some import, or silently. The console
script's entry point (:mod:`costopt.cli.entry`) calls :func:`note_signals` before anything
else; from then on such a signal is only noted. When the command is about to run
(:func:`command_begins`, called by the application's callback) the usual handling is back,
and a signal noted meanwhile ends the process with a message and exit code 130 - before the
command began, so nothing was done. Each command then handles signals itself (``watch``
stops cleanly, exit 0).

This module imports nothing of the application, so that the entry point and the
application (``cli/main.py``) both depend on it and not on each other.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Any

STOPPED_WHILE_STARTING = 130  # the shell's code for a process ended by SIGINT

_noted: list[str] = []
_previous: dict[int, Any] = {}


def _note(signum: int, _frame: FrameType | None) -> None:
    _noted.append(signal.Signals(signum).name)


def note_signals() -> None:
    """From now until :func:`command_begins`, SIGINT and SIGTERM are only noted."""
    _previous.update({sig: signal.signal(sig, _note) for sig in (signal.SIGINT,
                                                                   signal.SIGTERM)})


def command_begins() -> None:
    """The usual signal handling again; exit with a message if a signal came meanwhile.
    Does nothing where :func:`note_signals` was not called (tests, ``python -m``)."""
    for sig, handler in _previous.items():
        signal.signal(sig, handler)
    _previous.clear()
    if _noted:
        print(f"costopt: stopped on {_noted[0]} while starting, before the command began: "
              "nothing was done.", file=sys.stderr)
        sys.exit(STOPPED_WHILE_STARTING)
