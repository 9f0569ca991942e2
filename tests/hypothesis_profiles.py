"""The suite's Hypothesis profiles, and how many examples a property test draws under each.

- ``ci`` (``CI`` set): derandomised, so CI passes or fails on the code, not on the draw;
  a property whose example costs a solve or a full file check draws fewer examples here
  (:func:`examples`), the same ones every run.
- ``wide``: random seeds and every property's full count; ``scripts/property_tests_wide.sh``
  runs it round after round, a fresh seed each.
- ``default`` (a developer's run): random seeds and the full count.

``HYPOTHESIS_PROFILE`` picks one by name.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("wide", derandomize=False, database=None, print_blob=True)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default")
"""The profile this run loads (``tests/conftest.py`` loads it)."""


def examples(full: int, *, ci: int) -> int:
    """Examples a property test draws: ``ci`` in the ci profile (fixed, so CI's time is
    bounded and the same every run), ``full`` in the wide and default profiles."""
    return ci if PROFILE == "ci" else full
