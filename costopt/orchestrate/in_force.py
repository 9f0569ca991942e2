"""Which plan a plan file stands for: the plan in force when it is a re-plan of the file's.

A ``watch`` re-plans what is left on events and puts each new plan in force (the ledger
keeps every plan it carried out, and which one is in force); each new plan records the plan
it resumes (``resumes.plan_id``). A controller given an older file of that lineage - a
standby started with the plan file the leader began with, an ``apply`` or a ``watch``
restarted with it - carries out the plan in force, the file's newest descendant: the same
plan, continued on the evidence (progress, refused capacity) the leader saw. A file whose
plan was in force and that a plan of another lineage replaced since (a plan made afresh by
``costopt plan``) is refused: taking the fleet back to it takes a person's decision
(``--reinstate``). A plan never in force is a new plan: it takes the fleet over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from costopt.core.times import ts
from costopt.errors import PlanReplaced
from costopt.orchestrate.ledger import Ledger
from costopt.planfile import PlanDocument, write_plan


@dataclass(frozen=True)
class Successor:
    """The plan in force of a workload, made by re-planning a given plan ``replans`` times
    (1: a re-plan of it; 2: a re-plan of that re-plan; ...), in force since ``since``."""

    plan: PlanDocument
    since: datetime
    replans: int


def lineage(plan_id: str, documents: list[dict]) -> list[str]:
    """``plan_id``, then the plan it resumes, then that one's, ... as far as ``documents``
    (plan documents as the ledger keeps them) tell; a loop ends the walk."""
    parent = {d["plan_id"]: (d.get("resumes") or {}).get("plan_id") for d in documents}
    out = [plan_id]
    while (up := parent.get(out[-1])) is not None and up not in out:
        out.append(up)
    return out


def successor_in_force(plan: PlanDocument, ledger: Ledger) -> Successor | None:
    """The plan in force of ``plan``'s workload when it descends from ``plan``; ``None``
    when ``plan`` is in force itself, or never was and is no ancestor of the plan in force
    (a new plan: it takes the fleet over). Raises :class:`PlanReplaced` when ``plan`` was in
    force and a plan of another lineage replaced it."""
    workload = plan.workload_name
    current = ledger.plan_in_force(workload)
    if current is None or current[0] == plan.plan_id:
        return None
    newer, since = current
    documents = ledger.plans()
    ancestors = lineage(newer, documents)
    if plan.plan_id in ancestors:
        document = next(d for d in documents if d["plan_id"] == newer)
        return Successor(PlanDocument.model_validate(document), since,
                         ancestors.index(plan.plan_id))
    if not ledger.was_in_force(workload, plan.plan_id):
        return None
    raise PlanReplaced(
        f"plan {plan.plan_id} of workload {workload!r} was replaced by plan {newer} on "
        f"{ts(since)}, which is not a re-plan of it (it descends from "
        f"{ancestors[-1]}, a plan made afresh); carrying this file out would take the fleet "
        "back to a plan a person set aside. Nothing was changed. To fix: pass the plan file "
        f"of {newer} (or of a plan it was re-planned from), make a new plan with `costopt "
        "plan`, or pass --reinstate to put this plan back in force")


def beside(plan_file: Path, plan: PlanDocument) -> Path:
    """Where a plan that follows on ``plan_file``'s is written: ``PLAN.<plan id>.json``
    next to it (a re-plan made by ``watch``, the plan in force a controller follows)."""
    return plan_file.with_name(f"{plan_file.stem}.{plan.plan_id}.json")


def follow(plan: PlanDocument, plan_file: Path, ledger: Ledger | None, *, reinstate: bool,
           role: str, say: Callable[[str, str], None],
           write: bool = True) -> tuple[PlanDocument, Path]:
    """The plan a controller (``role``: watch or apply) given ``plan_file`` (holding
    ``plan``) carries out, and its file: the plan in force where it is a re-plan of
    ``plan`` - written next to ``plan_file`` (unless ``write`` is false: a dry run changes
    nothing) and said in one line - else ``plan`` itself (also with ``reinstate``, or no
    ledger yet). Raises :class:`PlanReplaced` as :func:`successor_in_force`."""
    if ledger is None or reinstate:
        return plan, plan_file
    successor = successor_in_force(plan, ledger)
    if successor is None:
        return plan, plan_file
    target = beside(plan_file, successor.plan)
    if write:
        write_plan(successor.plan, target)
    say("following", f"plan {plan.plan_id} was re-planned since ({successor.replans} "
        f"re-plan(s)): this {role} carries out the plan in force, {successor.plan.plan_id} "
        f"(since {ts(successor.since)}), " + (f"written to {target}" if write else
                                              f"written to {target} with --yes"))
    return successor.plan, target
