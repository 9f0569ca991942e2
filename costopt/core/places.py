"""Where costopt keeps its state on this machine (the ledger, the markers of warnings
already shown)."""

from __future__ import annotations

import os
from pathlib import Path


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/costopt``, else ``~/.local/state/costopt``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "costopt"
