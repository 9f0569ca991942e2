"""Each job's progress over a whole simulation, across every plan it had in force.

A re-plan hands the fleet over: the instances the new plan keeps are claimed (from then on
their tags, and the ledger's record of them, name the new plan and one of its slots), the
others end. So each run of an instance is cut where its tags changed
(:attr:`~costopt.simulate.ec2.SimulatedEc2.served`), and each piece is credited by the
progress model of the plan it served then: the uses of its slot, else that plan's mix
(:func:`~costopt.orchestrate.progress.run_shares`). Owned servers do each plan's owned
work while that plan is in force. Every job of the first plan's workload is measured
against what it needed and its deadline there, across all pieces at once, so a job that a
re-plan left out as done is finished at the moment its work reached its need, and its
hours and cost are all there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from costopt.orchestrate.progress import (
    JobProgress,
    ProgressModel,
    Run,
    credit_owned,
    credit_run,
    finish,
    no_progress,
    run_shares,
)
from costopt.simulate.ec2 import Served


@dataclass(frozen=True)
class InForce:
    """Plan ``plan_id`` (its progress model ``model``) was in force from ``since``."""

    since: datetime
    plan_id: str
    model: ProgressModel


def whole_progress(first: ProgressModel, in_force: list[InForce], runs: list[Run],
                   served: dict[str, list[Served]], end: datetime) -> dict[str, JobProgress]:
    """Each job of ``first`` at ``end``: the ``runs`` (clipped to ``end``) cut where their
    instance's tags changed (``served``) and credited by the model of the plan each piece
    served; the owned work of each plan of ``in_force`` (in time order) until the next took
    over. A run of an instance ``served`` does not know is credited to no job."""
    out = no_progress(first)
    models = {f.plan_id: f.model for f in in_force}
    for run in runs:
        tags = served.get(run.instance_id, [])
        for k, tag in enumerate(tags):
            a = max(run.start, tag.since)
            b = min(run.end, end, tags[k + 1].since if k + 1 < len(tags) else end)
            model = models.get(tag.plan_id)
            if a >= b or model is None:
                continue
            piece = replace(run, end=b, slot=tag.slot, interrupted=run.interrupted
                            and b == run.end)
            credit_run(out, model, piece, run_shares(model, piece, b, since=a), end)
    for k, f in enumerate(in_force):
        until = in_force[k + 1].since if k + 1 < len(in_force) else end
        credit_owned(out, f.model.mix.owned_by_job, f.since, until)
    return finish(out)
