"""Gangs one instance holds at once: the one home of the plan's and the controller's count."""

from __future__ import annotations

import pytest

from costopt.core.gangs import gangs_per_instance


@pytest.mark.parametrize(("instance_gpus", "gpus", "nodes", "parallel", "expected"), [
    (8, 1, 1, 16, 8),   # floor(8 / 1) = 8 trials of 16 fit
    (8, 1, 1, 3, 3),    # all 3 trials fit
    (8, 3, 1, 4, 2),    # floor(8 / 3) = 2, two GPUs idle
    (8, 8, 1, 5, 1),    # a trial fills the instance
    (8, 2, 2, 4, 1),    # a node of a 2-node gang is the gang's alone
    (0, 1, 1, 4, 1),    # GPUs not known (the controller's fallback): one
])
def test_gangs_per_instance(instance_gpus: int, gpus: int, nodes: int, parallel: int,
                            expected: int) -> None:
    assert gangs_per_instance(instance_gpus, gpus, nodes, parallel) == expected
