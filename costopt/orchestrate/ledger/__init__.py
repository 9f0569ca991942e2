"""The orchestrator's ledger, on SQLite or PostgreSQL: :class:`Ledger` and its records."""

from __future__ import annotations

from costopt.orchestrate.ledger.location import (
    StateLocation,
    default_state_dir,
    ledger_path,
    state_location,
)
from costopt.orchestrate.ledger.store import (
    Action,
    InstanceRecord,
    Interruption,
    Lease,
    LeaseLost,
    Ledger,
    ProgressReport,
    Runtime,
    SlotClaimed,
    parse_ts,
    ts,
)

__all__ = ["Action", "InstanceRecord", "Interruption", "Lease", "LeaseLost", "Ledger",
           "ProgressReport", "Runtime", "SlotClaimed", "StateLocation", "default_state_dir",
           "ledger_path", "parse_ts", "state_location", "ts"]
