"""The report's one read of the orchestrator's ledger: a month's runtimes and
interruptions, and the plan documents it recorded (checked when the ledger is opened).

Read only: a ledger that does not exist yet reads as empty and is not created.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from costopt.core.months import Month
from costopt.errors import ReportError
from costopt.orchestrate.ledger import Ledger, state_location
from costopt.planfile import PlanDocument
from costopt.report.spend import LedgerView


def read_ledger(state_dir: Path | None, month: Month,
                state: str | None = None) -> LedgerView:
    """The month's rows of the ledger ``state`` names (a state URL, else the SQLite ledger
    in ``state_dir``, default the orchestrator's)."""
    location = state_location(state, state_dir)
    if location.path is not None and not location.path.exists():
        return LedgerView((), (), ())
    try:
        with Ledger.connect(location) as ledger:
            runtimes = ledger.runtimes(month.start, month.end)
            interruptions = ledger.interruptions(month.start, month.end)
            documents = ledger.plans()
    except sqlite3.Error as exc:
        raise ReportError(f"cannot read the ledger {location.shown}: {exc}. To fix: check the "
                          "file is the ledger `costopt apply` writes, or pass --state-dir"
                          ) from None
    plans = [PlanDocument.model_validate(doc) for doc in documents]  # checked on open
    return LedgerView(tuple(runtimes), tuple(interruptions), tuple(plans))
