"""Where costopt keeps its state on this machine (the ledger, the markers of warnings
already shown)."""

from __future__ import annotations

import hashlib
import os
from datetime import date
from pathlib import Path


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/costopt``, else ``~/.local/state/costopt``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "costopt"


def stale_prices_marker(price_file: str, day: date) -> Path:
    """The marker that the stale-price warning for ``price_file`` was shown on ``day``:
    ``STATE_DIR/warned/stale-prices-HASH-DAY`` (the warning is shown once a day per file)."""
    key = hashlib.sha256(price_file.encode()).hexdigest()[:16]
    return default_state_dir() / "warned" / f"stale-prices-{key}-{day.isoformat()}"
