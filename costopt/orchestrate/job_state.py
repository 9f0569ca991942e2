"""What ``status`` and ``simulate`` call a job: the one definition of each state.

Pure and light (no heavy imports): the CLI's ``--help`` prints :data:`JOB_STATES`.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum


class JobState(str, Enum):
    """Where a job stands at a moment, as a person reads it."""

    WAITING = "waiting"
    ON_PACE = "on-pace"
    BEHIND = "behind"
    CRITICAL = "critical"
    LATE = "late"
    FINISHED = "finished"


JOB_STATES: dict[JobState, str] = {
    JobState.WAITING: "its window has not opened yet (before its start) and no work is done",
    JobState.ON_PACE: "done at least the work the plan has it do by now, or the rest is "
                      "planned on owned servers or on-demand",
    JobState.BEHIND: "done less than the plan's pace line (the deadline-aware policy runs "
                     "it on-demand until it catches up)",
    JobState.CRITICAL: "only running without a break from now on can still finish it by "
                       "its deadline",
    JobState.LATE: "its deadline has passed with work left",
    JobState.FINISHED: "all its work is done (reported or accounted)",
}
"""Each state and what it means; ``costopt status --help`` and the docs show them."""


def states_help() -> str:
    """The states as ``--help`` shows them, one per line."""
    return "Job states: " + "; ".join(f"{s.value}: {text}" for s, text in JOB_STATES.items()) + "."


def job_state(*, finished: bool, done_gpu_hours: float, at: datetime, start: datetime,
              deadline: datetime, pace: str | None) -> JobState:
    """The state of a job at ``at``. ``pace`` is the deadline-aware policy's word for the
    part it steers (``critical``, ``behind``, ``ahead``, ``safe``, ``finished``: nothing left
    where it steers, though work may be left elsewhere)."""
    if finished:
        return JobState.FINISHED
    if at >= deadline:
        return JobState.LATE
    if at < start and done_gpu_hours <= 0:
        return JobState.WAITING
    if pace == "critical":
        return JobState.CRITICAL
    if pace == "behind":
        return JobState.BEHIND
    return JobState.ON_PACE
