"""The console script's entry point: signals are taken before anything else
(:mod:`costopt.cli.startup` says why), then the application is imported and run."""

from __future__ import annotations

from costopt.cli.startup import note_signals


def run() -> None:
    """Console-script entry point (``costopt``)."""
    note_signals()
    from costopt.cli.main import run as run_application

    run_application()
