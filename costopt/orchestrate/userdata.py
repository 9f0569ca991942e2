"""The cloud-init user data of an instance: the jobs its slot serves, set up and run.

Pure: a plan, a pool and a slot in, a shell script out. Each job of the slot that has a
``run`` gets a detached shell that runs its ``setup`` and then its ``run`` (``bash -c``,
the commands quoted with :func:`shlex.quote`, so they arrive exactly as written), with
``COSTOPT_*`` variables in its environment and its output in
``/var/log/costopt/JOB.log``; the jobs of one instance run side by side. A slot of a
multi-node gang also learns its rank and the address of rank 0, which it finds by the gang's
``costopt:gang-id`` tag (the same whichever plan holds the gang now: a newer plan takes a
running gang over whole, and a rank started or launched again finds its rank 0). cloud-init
runs user data on an instance's first boot only: the script copies itself to cloud-init's per-boot
scripts, so that an instance stopped and started again (a paused slot, a persistent spot
request) runs its jobs again (docs/orchestrator.md, "What an instance runs").
"""

from __future__ import annotations

import re
import shlex
from datetime import datetime

from costopt.core.gangs import gangs_per_instance
from costopt.errors import FieldIssue, PlanFileError
from costopt.planfile import FleetPool, JobRecord, PlanDocument, Slot
from costopt.workload import NAME_PATTERN

USER_DATA_MAX_BYTES = 16 * 1024
"""AWS's limit on user data, before base64 encoding."""

MASTER_PORT = 29500
"""The port a multi-node gang's rank 0 listens on unless ``MASTER_PORT`` is set (PyTorch's
default)."""

LOG_DIR = "/var/log/costopt"
"""Where each job's output goes (``JOB.log``); ``COSTOPT_LOG_DIR`` moves it."""

PER_BOOT = "/var/lib/cloud/scripts/per-boot/costopt.sh"
"""Where the script copies itself: cloud-init runs it at every later boot."""

TAG_VALUE_MAX = 256
"""AWS's limit on a tag value, in characters."""

_RANK0 = """\
costopt_rank0_address() {
  # Rank 0 is the running instance of this gang (by its id) tagged costopt:node-rank=0.
  if [ "$COSTOPT_NODE_RANK" = 0 ]; then hostname -I | awk '{print $1}'; return; fi
  while true; do
    addr=$(aws ec2 describe-instances --region "$COSTOPT_REGION" --output text \\
      --query 'Reservations[].Instances[].PrivateIpAddress' --filters \\
      "Name=tag:costopt:gang-id,Values=$COSTOPT_GANG_ID" "Name=tag:costopt:node-rank,Values=0" \\
      "Name=instance-state-name,Values=running" 2>/dev/null | awk '{print $1}')
    if [ -n "$addr" ] && [ "$addr" != None ]; then echo "$addr"; return; fi
    sleep 10
  done
}
export COSTOPT_MASTER_ADDR="$(costopt_rank0_address)"
export MASTER_ADDR="$COSTOPT_MASTER_ADDR" MASTER_PORT="${MASTER_PORT:-@PORT@}"
export NODE_RANK="$COSTOPT_NODE_RANK" NNODES="$COSTOPT_NODES"
""".replace("@PORT@", str(MASTER_PORT))


def slot_at(pool: FleetPool, slot: int, at: datetime) -> Slot | None:
    """The interval of ``slot`` that holds ``at``, else its next one, else None."""
    own = sorted((s for s in pool.slots if s.slot == slot), key=lambda s: s.start)
    return next((s for s in own if s.start <= at < s.end), None) or next(
        (s for s in own if s.start > at), None)


def _export(**values: object) -> str:
    return "export " + " ".join(f"{k}={shlex.quote(str(v))}" for k, v in values.items())


def new_gang_id(plan_id: str, gang: int, owner: str | None) -> str:
    """The ``costopt:gang-id`` of a multi-node gang launched afresh: the plan, its gang number
    and the launching ledger's id (two ledgers running the same plan never share one)."""
    return f"{plan_id}.g{gang}.{owner or 'no-ledger'}"


def _job_block(job: JobRecord, gangs_here: int, gang: int | None, gang_id: str) -> str:
    steps = [f"bash -c {shlex.quote(job.setup)}"] if job.setup else []
    steps.append(f"bash -c {shlex.quote(job.run or '')}")
    log = f'"$COSTOPT_LOG_DIR"/{shlex.quote(job.job + ".log")}'
    find_rank0 = [] if gang is None else [_export(COSTOPT_GANG=gang, COSTOPT_GANG_ID=gang_id),
                                          _RANK0.rstrip("\n")]
    return "\n".join([
        "(",
        _export(COSTOPT_JOB=job.job, COSTOPT_GPUS=job.gpus, COSTOPT_GANGS=gangs_here),
        *find_rank0,
        " && ".join(steps),
        f") </dev/null >>{log} 2>&1 &",
    ])


def user_data(plan: PlanDocument, pool: FleetPool, slot: Slot,
              gang_id: str | None = None) -> str | None:
    """The script for an instance of ``slot``; None when no job of the slot has a ``run``
    (a launch template's own user data is then kept). ``gang_id``: the ``costopt:gang-id``
    of the slot's multi-node gang (default: :func:`new_gang_id` with no ledger).

    ``COSTOPT_GANGS`` is how many of the job's gangs the instance holds at once
    (``min(parallel, floor(G / gpus))`` for one-node gangs, 1 for a multi-node one): a
    sweep's command starts that many trials."""
    jobs = [j for j in (plan.job(name) for name in slot.jobs) if j is not None and j.run]
    if not jobs:
        return None
    record = plan.pool(pool.pool)
    per_node = record.gpus_per_node if record is not None else 0
    lines = [
        "#!/bin/bash",
        f"# costopt: plan {plan.plan_id}, pool {pool.pool}, slot {slot.slot}. Each job's setup,",
        "# then its run; output in /var/log/costopt/JOB.log.",
        _export(COSTOPT_PLAN=plan.plan_id, COSTOPT_WORKLOAD=plan.workload_name,
                COSTOPT_POOL=pool.pool, COSTOPT_REGION=pool.region, COSTOPT_SLOT=slot.slot,
                COSTOPT_NODE_RANK=slot.node_rank or 0, COSTOPT_NODES=slot.nodes),
        f'export COSTOPT_LOG_DIR="${{COSTOPT_LOG_DIR:-{LOG_DIR}}}"; mkdir -p "$COSTOPT_LOG_DIR"',
        f'boot="${{COSTOPT_PER_BOOT:-{PER_BOOT}}}"',
        '[ "$0" = "$boot" ] || install -D -m 0755 "$0" "$boot"',
    ]
    for job in jobs:
        here = gangs_per_instance(per_node, job.gpus, job.nodes, job.parallel)
        lines.append(_job_block(job, here, slot.gang, gang_id or new_gang_id(
            plan.plan_id, slot.gang or 0, None)))
    return "\n".join(lines) + "\n"


def _name_issues(plan: PlanDocument, slot: Slot) -> list[FieldIssue]:
    """The workload's and the slot's job names that are no names a workload may have: a
    plan file edited (and its id hashed again) to carry shell text in them."""
    named = [("workload.name", plan.workload_name)] + [
        (f"jobs[{i}].job", job.job) for i, job in enumerate(plan.jobs) if job.job in slot.jobs]
    return [FieldIssue(where, name, "is no name `costopt plan` writes (letters, digits, '.', "
                       "'_', '-'); nothing was launched. To fix: make the plan again with "
                       "`costopt plan`") for where, name in named
            if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name)]


def checked_user_data(plan: PlanDocument, pool: FleetPool, slot: Slot,
                      plan_file: str, gang_id: str | None = None) -> str | None:
    """:func:`user_data`, or :class:`PlanFileError` when a name in it is none a workload
    may have, or when it is longer than AWS takes."""
    issues = _name_issues(plan, slot)
    if issues:
        raise PlanFileError(plan_file, issues)
    script = user_data(plan, pool, slot, gang_id)
    size = len(script.encode()) if script else 0
    if size > USER_DATA_MAX_BYTES:
        raise PlanFileError(plan_file, [FieldIssue(
            f"fleet[{pool.pool}].slots[{slot.slot}]", f"{size} bytes of user data",
            f"is longer than AWS's {USER_DATA_MAX_BYTES} bytes (jobs {', '.join(slot.jobs)}); "
            "nothing was launched. To fix: shorten the jobs' setup and run, e.g. put the "
            "commands in a script on the image and run that")])
    return script


def jobs_tag(jobs: list[str] | tuple[str, ...]) -> str:
    """The ``costopt:jobs`` tag: the job names, comma-separated, cut to AWS's 256
    characters with ``+N`` for the names left out."""
    names = list(jobs)
    for keep in range(len(names), -1, -1):
        text = ",".join(names[:keep]) + (f",+{len(names) - keep}" if keep < len(names) else "")
        if len(text) <= TAG_VALUE_MAX:
            return text.lstrip(",")
    return f"+{len(names)}"
