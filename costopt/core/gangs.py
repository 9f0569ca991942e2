"""How many of a job's gangs one instance holds at once: the trials of a sweep share it."""

from __future__ import annotations


def gangs_per_instance(gpus_per_instance: int, gpus: float, nodes: int, parallel: int) -> int:
    """Gangs of ``gpus`` GPUs a node of ``gpus_per_instance`` GPUs runs at once:
    ``min(parallel, floor(gpus_per_instance / gpus))`` of a one-node job, at least one (a
    node whose GPUs are not known, 0, holds one); one of a multi-node gang (its ``nodes``
    instances are its own)."""
    if nodes > 1:
        return 1
    return max(1, min(parallel, int(gpus_per_instance // gpus)))
