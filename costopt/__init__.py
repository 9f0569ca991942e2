"""costopt: where to run planned GPU work - owned servers, AWS on-demand or AWS spot.

The package reads left to right as a pipeline:
``pricing`` -> ``workload`` -> ``plan`` (the LP) -> ``orchestrate`` -> ``report``,
with ``cli`` as a thin shell around them.
"""

from __future__ import annotations

__version__ = "0.1.0"
