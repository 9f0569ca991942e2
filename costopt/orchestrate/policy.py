"""How the fleet is driven between the plan and AWS: the policy seam.

A policy answers, at a moment, *which fleet schedule to reconcile towards*, given the plan
and (if it wants it) each job's progress. The reconcile, fallback chain, budget guard and
ledger then carry that schedule out unchanged, for ``apply`` and ``simulate`` alike.

- ``plan`` (:class:`FollowPlan`): the plan's own schedule; a spot slot that finds no
  capacity falls back as the fallback chain says and stays there until the slot ends.
  This is what ``apply`` does.

A deadline-aware policy (spec v2, "Carrying a plan out on time") returns another schedule:
slots moved to an on-demand pool while a job is behind, back to spot when it is ahead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from costopt.orchestrate.progress import JobProgress
from costopt.plan.planfile import PlanDocument

ProgressNow = Callable[[], dict[str, JobProgress]]
"""Each job's progress now, computed only when a policy asks for it."""


class Policy(Protocol):
    """Decides the fleet schedule to reconcile towards at ``at``. ``review_seconds``: how
    often it wants to be asked even when nothing else happens (``None``: only when a slot
    starts or ends, an instance is interrupted, or capacity returns to a pool left short)."""

    name: str
    review_seconds: float | None

    def desired(self, plan: PlanDocument, at: datetime, progress: ProgressNow) -> PlanDocument:
        ...


class FollowPlan:
    """The plan's schedule as it stands (today's ``apply``)."""

    name = "plan"
    review_seconds = None  # the plan's schedule changes only at its slots' boundaries

    def desired(self, plan: PlanDocument, at: datetime, progress: ProgressNow) -> PlanDocument:
        return plan


POLICIES: dict[str, Policy] = {"plan": FollowPlan()}
"""The policies ``--policy`` may name."""
