"""``costopt apply``, ``costopt status`` and ``costopt watch``: carry a plan out on AWS."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from costopt.cli.common import Env, ExitCode, OutputFormat, get_env, guarded
from costopt.cli.option_sets import takes_options
from costopt.cli.state import StateDir, StateUrl, as_of, ledger_at, open_ledger
from costopt.cli.steering import (
    PolicyName,
    SpotAttempts,
    WorkloadFile,
    job_rows,
    policy_named,
    workload_context,
)
from costopt.core.pool_ids import market_label
from costopt.core.times import EPOCH, parse_ts, ts
from costopt.errors import CostoptError
from costopt.orchestrate.job_state import states_help

if TYPE_CHECKING:
    from costopt.orchestrate.apply import ApplyOptions, ApplyOutcome
    from costopt.orchestrate.controller import (
        Controller,
        ControllerOptions,
        LedgerSource,
        TickOutcome,
    )
    from costopt.orchestrate.ec2 import Ec2Fleet
    from costopt.orchestrate.fleet import Fleet
    from costopt.orchestrate.lease import LeaseKeeper
    from costopt.orchestrate.ledger import InstanceRecord, Lease, Ledger, Runtime
    from costopt.orchestrate.ownership import Owner
    from costopt.orchestrate.policy import Policy
    from costopt.orchestrate.reconcile import ObservedInstance
    from costopt.orchestrate.watch import StopFlag
    from costopt.planfile import FleetPool, PlanDocument


def register(app: typer.Typer) -> None:
    app.command("apply")(apply)
    app.command("status", epilog=states_help())(status)
    app.command("watch")(watch)


PlanArg = Annotated[Path, typer.Argument(help="The plan file written by `costopt plan`.",
                                         metavar="PLAN.json")]
Yes = Annotated[bool, typer.Option("--yes", help="Carry the changes out (without it: a dry "
                                   "run that changes nothing).")]
MonthlyBudget = Annotated[float | None, typer.Option(
    "--monthly-budget", help="USD per calendar month (UTC); overrides the plan's "
    "monthly_budget_usd.", min=0)]
OverBudget = Annotated[bool, typer.Option("--allow-over-budget", help="Launch even when the "
                                          "month's projected spend passes the budget.")]
ImageIds = Annotated[list[str] | None, typer.Option(
    "--image-id", help="AMI to boot, as REGION=ami-... (repeat per region) or ami-... for "
    "every region. Default: AWS's Deep Learning Base GPU AMI.", metavar="[REGION=]AMI")]
LaunchTemplate = Annotated[str | None, typer.Option(
    "--launch-template", help="EC2 launch template name (its default version) in each region: "
    "key pair, security groups, subnets, disks.", metavar="NAME")]


class RetryModeName(str, Enum):
    """``--retry-mode``: botocore's retry modes costopt offers (``costopt.aws.RETRY_MODES``,
    not imported here: botocore is slow to import)."""

    STANDARD = "standard"
    ADAPTIVE = "adaptive"


RetryMode = Annotated[RetryModeName, typer.Option("--retry-mode", help="botocore retry mode "
                                                  "for throttling.")]
Format = Annotated[OutputFormat, typer.Option("--format", help="table (for people) or json.")]
Reinstate = Annotated[bool, typer.Option(
    "--reinstate", help="Apply the plan even though a newer plan of its workload replaced it "
    "(it takes the fleet back over).")]
Force = Annotated[bool, typer.Option(
    "--force", help="Apply even while a watch is in charge of the workload (launches are "
    "still claimed in the ledger, so no slot is launched twice).")]


@dataclass(frozen=True)
class FleetOptions:
    """What ``apply`` and ``watch`` are given alike: the plan, how to act on AWS (launch
    settings, budget, retries), the ledger and the policy that drives the fleet."""

    plan_file: PlanArg
    yes: Yes = False
    state_dir: StateDir = None
    monthly_budget: MonthlyBudget = None  # USD per calendar month
    allow_over_budget: OverBudget = False
    image_id: ImageIds = None
    launch_template: LaunchTemplate = None
    spot_attempts: SpotAttempts = 2
    retry_mode: RetryMode = RetryModeName.STANDARD
    policy: PolicyName = "plan"
    workload_file: WorkloadFile = None
    reinstate: Reinstate = False
    state: StateUrl = None

    @property
    def ledger_state(self) -> tuple[str | None, Path | None]:
        """``--state`` and ``--state-dir``, as :func:`~costopt.cli.state.ledger_at` takes
        them."""
        return self.state, self.state_dir

    def apply_options(self) -> ApplyOptions:
        """The options of a reconcile; ``--image-id`` checked."""
        from costopt.orchestrate.apply import ApplyOptions
        from costopt.orchestrate.ec2 import LaunchSettings

        images: dict[str, str] = {}
        for item in self.image_id or []:
            region, _, ami = item.rpartition("=")
            if not ami.startswith("ami-"):
                raise typer.BadParameter(f"{item!r}; valid: REGION=ami-... or ami-...",
                                         param_hint="--image-id")
            images[region or "*"] = ami
        return ApplyOptions(yes=self.yes, monthly_budget_usd=self.monthly_budget,
                            allow_over_budget=self.allow_over_budget,
                            spot_attempts=self.spot_attempts,
                            launch=LaunchSettings(images, self.launch_template),
                            reinstate=self.reinstate)


def _keeper(ledger: Ledger, workload: str, role: str, ttl_s: float) -> LeaseKeeper:
    """The lease this controller takes on ``workload`` (its heartbeat opens its own
    connection to the same ledger)."""
    from costopt.orchestrate.lease import LeaseKeeper

    location = ledger.location
    return LeaseKeeper(lambda: open_ledger(location), workload, role, ttl_s)


def _read(plan_file: Path, env: Env) -> PlanDocument:
    from costopt.planfile import read_plan

    plan = read_plan(plan_file)
    if plan.status != "optimal":
        env.warn(f"{plan_file} is an infeasible plan: its fleet does what can be done, and "
                 "some jobs will fall short (see its shortfalls)")
    return plan


def _say(env: Env, fmt: str) -> Any:
    colours = {"launch": "green", "start": "green", "stop": "yellow", "terminate": "red",
               "refused": "red", "failed": "red", "fallback": "yellow",
               "interrupted": "magenta", "recovered": "cyan", "adopted": "cyan",
               "claim": "cyan", "late": "red", "replanned": "cyan",
               "following": "cyan"}

    def say(kind: str, message: str) -> None:
        out = env.err if fmt == "json" else env.console
        out.print(f"[{colours.get(kind, 'white')}]{kind}:[/] {message}", highlight=False,
                  soft_wrap=True)

    return say


ApplyAt = Annotated[str | None, typer.Option(
    "--at", help="Reconcile for this time (ISO 8601, UTC); default now.", metavar="TIME")]


@dataclass(frozen=True)
class ApplyRun:
    """One ``apply``: what to reconcile, when, and how."""

    given: FleetOptions
    moment: datetime  # the time reconciled for, UTC
    options: ApplyOptions  # --yes, budget, launch settings ...
    force: bool  # act even while a watch leads the workload
    fmt: str  # table or json


@guarded
@takes_options(FleetOptions, after={"at": "plan_file", "fmt": "retry_mode"})
def apply(
    ctx: typer.Context,
    given: FleetOptions,
    at: ApplyAt = None,
    fmt: Format = OutputFormat.TABLE,
    force: Force = False,
) -> None:
    """Reconcile the AWS fleet with the plan: launch, start, stop and terminate instances.

    Without --yes it prints the diff and the change in USD per hour, and changes nothing.
    With it, the run takes the workload's lease: it waits while another apply holds it, and
    refuses while a watch is in charge (unless --force).

    Example: costopt apply plan.json --image-id us-east-1=ami-0123456789abcdef0 --yes
    """
    env = get_env(ctx)
    moment = env.time_option(at)
    outcome = _apply_once(ApplyRun(given, moment, given.apply_options(), force, fmt), env)
    for applied in outcome.applied:
        _report(applied, env, fmt)
    if outcome.refused or outcome.failed:
        raise typer.Exit(ExitCode.USER_ERROR)


def _apply_once(run: ApplyRun, env: Env) -> TickOutcome:
    """One reconcile of the plan at ``run.moment`` (with --yes: a far clock refused first),
    under the workload's lease (:func:`_apply_lease`); the ledger closed after."""
    from costopt.orchestrate.controller import ControllerOptions
    from costopt.orchestrate.ec2 import Ec2Fleet
    from costopt.orchestrate.in_force import follow

    given, yes = run.given, run.options.yes
    if yes:
        _refuse_a_far_clock(run.moment, env)
    plan = _read(given.plan_file, env)
    fleet = Ec2Fleet(env.boto3_session(), retry_mode=given.retry_mode.value)
    driver = policy_named(given.policy)
    say = _say(env, run.fmt)
    ledger = ledger_at(*given.ledger_state, create=yes)
    try:
        keeper = _apply_lease(ledger, plan.workload_name, yes, run.force, say)
        with keeper.kept() if keeper else nullcontext():
            if ledger is not None:
                ledger.look()
            plan, plan_file = follow(plan, given.plan_file, ledger,
                                     reinstate=given.reinstate, role="apply", say=say,
                                     write=yes)
            controller = _controller(
                plan, plan_file, given.workload_file, driver, fleet=fleet,
                ledger=lambda: nullcontext(ledger), say=say,
                options=ControllerOptions(run.options, replan=False))
            return controller.tick(run.moment)
    finally:
        if ledger is not None:
            ledger.close()


def _apply_lease(ledger: Ledger | None, workload: str, yes: bool, force: bool,
                 say: Any) -> LeaseKeeper | None:
    """The lease an apply run holds (taken: waited for, or refused), ``None`` for a dry run
    or ``--force``; either says who else is in charge."""
    from costopt.orchestrate.lease import APPLY_TTL_S, take_for_apply

    if ledger is None:
        return None
    if not yes or force:
        lease = ledger.lease_of(workload)
        if lease is not None and lease.live(time.time()):
            say("note", f"{lease.describe()} is in charge of workload {workload!r}"
                + ("; --force: this apply acts anyway" if yes else ""))
        return None
    keeper = _keeper(ledger, workload, "apply", APPLY_TTL_S)
    take_for_apply(keeper, ledger, sleep=time.sleep, say=say)
    ledger.hold(workload, keeper.holder)
    return keeper


def _refuse_a_far_clock(moment: datetime, env: Env) -> None:
    """:func:`~costopt.orchestrate.guard.far_clock_refusal` as an error."""
    import os

    from costopt.orchestrate.guard import FAKE_CLOCK_VARIABLE, far_clock_refusal

    refusal = far_clock_refusal(moment, env.clock().astimezone(timezone.utc),
                                os.environ.get(FAKE_CLOCK_VARIABLE) == "1")
    if refusal is not None:
        raise CostoptError(refusal)


def _controller(plan: PlanDocument, plan_file: Path, workload_file: Path | None,
                driver: Policy | None, *, fleet: Fleet, ledger: LedgerSource, say: Any,
                options: ControllerOptions) -> Controller:
    """The controller of ``plan``. The default policy measures progress with the workload
    the plan was made from where it can be read, else carries the plan out as written (no
    floor, no re-plan) and says why; a baseline policy needs it."""
    from costopt.orchestrate.controller import Controller
    from costopt.orchestrate.in_force import beside
    from costopt.planfile import write_plan

    try:
        context = workload_context(plan, workload_file)
    except CostoptError as exc:
        if driver is not None:
            raise
        context = None
        say("note", f"progress is not measured: {exc}. The plan is carried out as written "
            "(no floor, no re-plan)")

    def on_replan(doc: PlanDocument) -> str:
        target = beside(plan_file, doc)
        write_plan(doc, target)
        controller.plan_path = str(target)
        return f"written to {target}"

    controller = Controller(plan, fleet=fleet, ledger=ledger, options=options, say=say,
                            context=context, policy=driver, plan_path=str(plan_file),
                            on_replan=on_replan)
    return controller


def _report(outcome: ApplyOutcome, env: Env, fmt: str) -> None:
    """The diff (dry run) or what was done, and the fleet's hourly cost before and after."""
    if fmt == "json":
        env.console.print_json(json.dumps(_outcome_document(outcome)))
        return
    recon = outcome.reconciliation
    before = outcome.usd_per_hour_before
    after = before + outcome.usd_per_hour_change
    out = env.console
    live = sum(1 for o in outcome.observed if o.state in ("pending", "running"))
    older = len({o.plan_id for o in outcome.observed if o.plan_id not in (None, outcome.plan_id)
                 and o.state not in ("shutting-down", "terminated")})
    out.print(f"[bold]{outcome.plan_id}[/bold] at {ts(outcome.at)}: found "
              f"{len(outcome.observed)} instance(s) of its workload, {live} running, before "
              + ("any change" if outcome.dry_run else "the changes above")
              + (f"; {older} older plan(s) of the workload to take over." if older else "."),
              highlight=False)
    _say_foreign(outcome.foreign, env)
    if outcome.dry_run and recon.actions:
        _dry_run_table(outcome, env)
    counts = ", ".join(f"{recon.count(k)} to {k}" for k in ("launch", "start", "stop",
                                                             "terminate"))
    if recon.count("claim"):
        counts += f", {recon.count('claim')} to claim from an older plan"
    if not recon.actions:
        out.print("No changes: the fleet matches the plan.")
    else:
        out.print(f"Changes: {counts}. Fleet cost {before:,.4f} -> {after:,.4f} USD/h "
                  f"({after - before:+,.4f} USD/h).", highlight=False)
    if outcome.dry_run and recon.actions:
        out.print("Dry run: nothing was changed. Run again with --yes to carry it out.")


def _outcome_document(outcome: ApplyOutcome) -> dict[str, Any]:
    """``apply --format json``: each action (refused, done), the summary, the hourly cost
    before and after (USD per hour), the budget and the instances of another ledger."""
    recon = outcome.reconciliation
    refused = {a for a, _v in outcome.refused}
    before = outcome.usd_per_hour_before
    return {
        "plan_id": outcome.plan_id, "at": ts(outcome.at),
        "dry_run": outcome.dry_run,
        "actions": [{"kind": a.kind, "pool": a.pool, "slot": a.slot,
                     "instance_id": a.instance_id, "market": a.market,
                     "usd_per_hour": a.usd_per_hour,
                     "usd_per_hour_change": a.usd_per_hour_change, "reason": a.reason,
                     "refused": a in refused,
                     "done": any(a is d for d in outcome.done)} for a in recon.actions],
        "summary": [{"kind": k, "pool": p, "count": n, "usd_per_hour_change": round(c, 6)}
                    for k, p, n, c in recon.summary()],
        "usd_per_hour_before": round(before, 6),
        "usd_per_hour_after": round(before + outcome.usd_per_hour_change, 6),
        "budget_usd": outcome.budget_usd,
        "foreign_instances": [o.instance_id for o in outcome.foreign],
    }


def _dry_run_table(outcome: ApplyOutcome, env: Env) -> None:
    """The actions a dry run would take, and those the budget guard would refuse."""
    from costopt.cli.tables import Col, show, table_of
    from costopt.core.pool_ids import pool_words

    signs = {"launch": "[green]+[/]", "start": "[green]~[/]", "stop": "[yellow]~[/]",
             "terminate": "[red]-[/]", "claim": "[cyan]>[/]"}
    refused = {a for a, _v in outcome.refused}
    table = table_of("", [Col("", "word"), Col("action"), Col("pool"),
                          Col("slot", "number", optional=True), Col("instance", "id"),
                          Col("USD/h", "number"), Col("why")])
    for a in outcome.reconciliation.actions:
        kind = f"{a.kind} [red](refused: over budget)[/]" if a in refused else a.kind
        table.add_row(signs[a.kind], kind, pool_words(a.pool),
                      "" if a.slot is None else str(a.slot), a.instance_id or "(new)",
                      f"{a.usd_per_hour_change:+,.4f}", a.reason)
    show(env.console, table)
    for action, verdict in outcome.refused:
        env.console.print(f"[red]would be refused:[/] {verdict.message(action)}",
                          highlight=False, soft_wrap=True)


def _say_foreign(foreign: list[ObservedInstance], env: Env) -> None:
    """Instances of a workload of the same name that another ledger runs: they exist, and
    are left alone."""
    live = [o for o in foreign if o.state not in ("shutting-down", "terminated")]
    if live:
        owners = sorted({o.owner or "none" for o in live})
        env.console.print(
            f"{len(live)} instance(s) carry the workload's name but belong to another ledger "
            f"(costopt:owner {', '.join(owners)}): another workload's, left alone: "
            + ", ".join(o.instance_id for o in live), highlight=False, soft_wrap=True)


StatusPlan = Annotated[Path | None, typer.Argument(
    help="Only this plan (default: every plan in the ledger).", metavar="[PLAN.json]")]
StatusAt = Annotated[str | None, typer.Option(
    "--at", help="Ages and costs as of this time (default now).", metavar="TIME")]


@guarded
def status(
    ctx: typer.Context,
    plan_file: StatusPlan = None,
    state_dir: StateDir = None,
    at: StatusAt = None,
    fmt: Format = OutputFormat.TABLE,
    state: StateUrl = None,
) -> None:
    """The managed instances, their state, age and cost so far; interruptions seen.

    Example: costopt status plan.json
    """
    from costopt.orchestrate.ec2 import Ec2Fleet
    from costopt.orchestrate.ownership import Owner

    env = get_env(ctx)
    moment = env.time_option(at)
    ledger = _status_ledger((state, state_dir), plan_file)
    try:
        plans = _status_plans(plan_file, ledger)
        records = {i.instance_id: i for i in ledger.instances()} if ledger else {}
        runtimes = ledger.runtimes(EPOCH, moment) if ledger else []
        lost = _interruptions(ledger, plans)
        documents = _plan_documents(plan_file, ledger, plans)
        jobs, notes = job_rows(documents, ledger, moment)
        owner = Owner(ledger.owner_id(create=False) if ledger else None, set(records),
                      set(plans))
        leaders = _leaders(ledger)
    finally:
        if ledger is not None:
            ledger.close()
    fleet = Ec2Fleet(env.boto3_session())
    foreign = _foreign(fleet, documents, plans, owner)
    rows = [_instance_row(plan_id, o, records.get(o.instance_id), pools, runtimes, moment)
            for plan_id, (where, pools) in plans.items() for o in fleet.describe(plan_id, where)]
    for note in notes:
        env.warn(note)
    _show_status({"at": ts(moment), "instances": rows, "interruptions": lost, "jobs": jobs,
                  "controllers": leaders, "foreign_instances": foreign}, fmt, env)


def _status_ledger(state: tuple[str | None, Path | None], plan_file: Path | None
                   ) -> Ledger | None:
    """The ledger ``status`` reads; ``None`` when there is none yet, which only a plan
    file given makes an answer."""
    ledger = ledger_at(*state, create=False)
    if ledger is None and plan_file is None:
        raise CostoptError("no ledger yet, so no plan has been applied. To fix: run "
                           "`costopt apply PLAN.json --yes` first, or pass --state-dir")
    return ledger


def _interruptions(ledger: Ledger | None, plans: Collection[str]) -> list[dict[str, Any]]:
    """The spot interruptions the ledger recorded for ``plans`` (plan ids)."""
    return [{"instance_id": i.instance_id, "plan_id": i.plan_id, "pool": i.pool,
             "at": ts(i.at), "reason": i.reason}
            for i in (ledger.interruptions() if ledger else []) if i.plan_id in plans]


def _show_status(doc: dict[str, Any], fmt: str, env: Env) -> None:
    """``status`` as JSON, or as tables: instances, interruptions, instances of another
    ledger, jobs, controllers."""
    if fmt == "json":
        foreign = [_foreign_json(o) for o in doc["foreign_instances"]]
        env.console.print_json(json.dumps({**doc, "foreign_instances": foreign}))
        return
    _status_tables(doc["instances"], doc["interruptions"], env)
    _say_foreign(doc["foreign_instances"], env)
    _jobs_table(doc["jobs"], env)
    _leaders_table(doc["controllers"], env)


def _foreign_json(o: ObservedInstance) -> dict[str, Any]:
    return {"instance_id": o.instance_id, "owner": o.owner, "state": o.state, "pool": o.pool}


def _foreign(fleet: Ec2Fleet, documents: list[PlanDocument],
             plans: dict[str, tuple[list[str], dict[str, FleetPool]]],
             owner: Owner) -> list[ObservedInstance]:
    """Instances tagged with these plans' workloads that another ledger launched."""
    from costopt.orchestrate.ownership import split_by_owner

    regions: dict[str, set[str]] = {}  # workload name -> the regions of its plans
    for d in documents:
        regions.setdefault(d.workload_name, set()).update(plans[d.plan_id][0])
    return [o for name, where in sorted(regions.items())
            for o in split_by_owner(fleet.describe_workload(name, sorted(where)), owner)[1]]


def _instance_row(plan_id: str, o: ObservedInstance, record: InstanceRecord | None,
                  pools: dict[str, FleetPool], runtimes: list[Runtime],
                  moment: datetime) -> dict[str, Any]:
    """One instance as ``status`` shows it: its price (USD per hour) and cost so far (USD)
    from the ledger, or for one not in the ledger (yet) the plan's price for its pool from
    its launch."""
    from costopt.orchestrate.reconcile import LIVE, instance_price

    launched = record.launched_at if record else o.launched_at
    if record is not None:
        usd_per_hour: float | None = record.usd_per_hour
        cost = sum(r.usd_within(launched, moment, moment) for r in runtimes
                   if r.instance_id == o.instance_id)
    else:
        usd_per_hour = instance_price(pools[o.pool], o.market) if o.pool in pools else None
        cost = (usd_per_hour or 0.0) * max(0.0, (moment - launched).total_seconds()
                                           / 3600) if o.state in LIVE else 0.0
    return {"plan_id": plan_id, "instance_id": o.instance_id, "pool": o.pool,
            "slot": o.slot, "market": o.market, "state": o.state, "az": o.az,
            "launched": ts(launched),
            "age_hours": round(max(0.0, (moment - launched).total_seconds()) / 3600, 2),
            "usd_per_hour": usd_per_hour, "cost_usd": round(cost, 2),
            "in_ledger": record is not None}


def _leaders(ledger: Ledger | None) -> list[dict[str, Any]]:
    """Each workload's controller in charge (or last in charge: a lapsed lease)."""
    now = time.time()
    return [{"workload": lease.workload, "role": lease.role, "host": lease.host,
             "pid": lease.pid, "last_tick": as_of(lease.last_tick_epoch_s),
             "lease_until": as_of(lease.expires_epoch_s), "live": lease.live(now)}
            for lease in (ledger.leases() if ledger else [])]


def _leaders_table(leaders: list[dict[str, Any]], env: Env) -> None:
    if not leaders:
        env.console.print("No controller in charge of any workload (no watch is running).")
        return
    from costopt.cli.tables import Col, show, table_of

    table = table_of("Controllers in charge", [
        Col("workload", "name"), Col("role", "name"), Col("host", "name"),
        Col("pid", "number", optional=True), Col("last tick", "stamp", optional=True),
        Col("lease until", "stamp", optional=True), Col("state")])
    for c in leaders:
        table.add_row(c["workload"], c["role"], c["host"], str(c["pid"]), c["last_tick"],
                      c["lease_until"], "[green]leading[/]" if c["live"] else
                      "[red]lapsed: a standby or the next apply takes over[/]")
    show(env.console, table)


def _plan_documents(plan_file: Path | None, ledger: Ledger | None,
                    plans: dict[str, list[str]]) -> list[PlanDocument]:
    from costopt.planfile import PlanDocument, read_plan

    if plan_file is not None:
        return [read_plan(plan_file)]
    return [PlanDocument.model_validate(d) for d in (ledger.plans() if ledger else [])
            if d["plan_id"] in plans]


def _jobs_table(jobs: list[dict[str, Any]], env: Env) -> None:
    if not jobs:
        return
    from costopt.cli.tables import Col, show, styled, table_of

    table = table_of("Jobs against the plan's pace", [
        Col("job", "name"), Col("done\nGPU-h", "number"), Col("planned\nby now\nGPU-h", "number"),
        Col("needed\nGPU-h", "number"), Col("due\nUTC", "stamp"), Col("state", "word")])
    for j in jobs:
        table.add_row(j["job"], f"{j['done_gpu_hours']:,.2f}",
                      f"{j['planned_by_now_gpu_hours']:,.2f}", f"{j['needed_gpu_hours']:,.2f}",
                      j["deadline"][5:16].replace("T", " "), styled(j["pace"]))
    show(env.console, table)
    env.console.print("GPU-h: reference GPU-hours (V100 = 1.0). States: costopt status --help.",
                      highlight=False)


def _status_plans(plan_file: Path | None, ledger: Ledger | None
                  ) -> dict[str, tuple[list[str], dict[str, FleetPool]]]:
    """plan id -> the regions to look in, and the plan's fleet pools (for their prices)."""
    from costopt.planfile import PlanDocument, read_plan

    known: dict[str, set[str]] = {}
    pools: dict[str, dict[str, FleetPool]] = {}
    given = read_plan(plan_file) if plan_file is not None else None
    documents = [PlanDocument.model_validate(d) for d in (ledger.plans() if ledger else [])]
    for plan in [*documents, *([given] if given else [])]:
        known.setdefault(plan.plan_id, set()).update(p.region for p in plan.fleet)
        pools[plan.plan_id] = {p.pool: p for p in plan.fleet}
    for inst in ledger.instances() if ledger else []:
        known.setdefault(inst.plan_id, set()).add(inst.region)
    if given is not None:
        known = {given.plan_id: known[given.plan_id]}
    return {plan_id: (sorted(regions), pools.get(plan_id, {}))
            for plan_id, regions in sorted(known.items())}


def _status_tables(rows: list[dict[str, Any]], lost: list[dict[str, Any]], env: Env) -> None:
    from costopt.cli.tables import Col, show, styled, table_of
    from costopt.core.pool_ids import pool_words

    out = env.console
    if not rows:
        out.print("No instances tagged for these plans.")
    else:
        table = table_of("Managed instances", [
            Col("instance", "id"), Col("pool"), Col("slot", "number", optional=True),
            Col("market", "word"), Col("state", "word"), Col("AZ", "id", optional=True),
            Col("age\nh", "number"), Col("USD/h", "number"), Col("cost so\nfar USD", "number")])
        for r in rows:
            table.add_row(r["instance_id"], pool_words(r["pool"]), "" if r["slot"] is None else
                          str(r["slot"]), styled(market_label(r["market"])), r["state"],
                          r["az"] or "", f"{r['age_hours']:,.1f}",
                          "" if r["usd_per_hour"] is None else f"{r['usd_per_hour']:,.4f}",
                          f"{r['cost_usd']:,.2f}")
        show(out, table)
        total = sum(r["cost_usd"] for r in rows)
        hourly = sum(r["usd_per_hour"] or 0.0 for r in rows if r["state"] in ("pending",
                                                                             "running"))
        out.print(f"Running now: {hourly:,.4f} USD/h. Cost so far of these instances: "
                  f"{total:,.2f} USD.", highlight=False)
        unknown = sum(1 for r in rows if not r["in_ledger"])
        if unknown:
            out.print(f"{unknown} instance(s) not in the ledger: priced at their plan's pool "
                      "from their launch; `costopt apply` adopts them.", highlight=False)
    if lost:
        table = table_of("Spot interruptions", [Col("instance", "id"), Col("pool"),
                                                Col("at (UTC)", "stamp"), Col("reason")])
        for i in lost:
            table.add_row(i["instance_id"], pool_words(i["pool"]), i["at"], i["reason"])
        show(out, table)
    else:
        out.print("No spot interruptions recorded.")


Interval = Annotated[float, typer.Option("--interval", help="Seconds between reconciles.",
                                         min=1)]
Replan = Annotated[bool, typer.Option(
    "--replan/--no-replan", help="Re-plan what is left (as plan --resume) on an event: a "
    "launch refused for want of spot capacity, a job behind its planned progress, a job done "
    "early, a job that must run now (docs/orchestrator.md); the new plan is written next to "
    "PLAN.json and carried out. On by default (--replan is kept as a no-op).")]


@guarded
@takes_options(FleetOptions, after={"interval": "plan_file", "replan": "workload_file"})
def watch(
    ctx: typer.Context,
    given: FleetOptions,
    interval: Interval = 60.0,
    replan: Replan = True,
) -> None:
    """Reconcile in a loop until the plan ends or Ctrl-C; replaces interrupted spot capacity.

    Ctrl-C or SIGTERM lets the reconcile under way finish, then stops. With --yes the watch
    takes the workload's lease; a second watch of the workload waits as a standby and takes
    over within two intervals of the first one's death.

    Example: costopt watch plan.json --interval 60 --yes
    """
    from costopt.orchestrate.watch import StopFlag

    env = get_env(ctx)
    stop = (env.stop_flag or StopFlag)()  # first: a signal during the set-up stops it too
    with stop.on_signals(lambda name: env.err.print(
            f"{name}: stopping after the reconcile under way.", highlight=False)):
        outcomes, tried = _watch(env, stop, given, interval, replan)
    env.console.print(_how_the_watch_ended(stop, len(outcomes), tried))


def _how_the_watch_ended(stop: StopFlag, reconciles: int, tried: int) -> str:
    if stop.raised and not tried:
        return f"Stopped on {stop.signal_name} before the first reconcile: nothing was changed."
    if stop.raised:
        return f"Stopped on {stop.signal_name} after {reconciles} reconcile(s)."
    return f"The plan has ended and its fleet is gone after {reconciles} reconcile(s)."


def _watch(env: Env, stop: StopFlag, given: FleetOptions, interval: float,
           replan: bool) -> tuple[list[TickOutcome], int]:
    """Set up and run the watch loop (``interval`` in seconds): the completed reconciles'
    outcomes and how many were tried (none when ``stop`` was raised during the set-up)."""
    from costopt.orchestrate.controller import ControllerOptions
    from costopt.orchestrate.ec2 import Ec2Fleet
    from costopt.orchestrate.watch import Backoff
    from costopt.orchestrate.watch import watch as watch_loop

    plan_file, yes, state = given.plan_file, given.yes, given.ledger_state
    options, driver = given.apply_options(), policy_named(given.policy)
    plan = _read(plan_file, env)
    fleet = Ec2Fleet(env.boto3_session(), retry_mode=given.retry_mode.value)
    say = _say(env, "table")
    tried: list[datetime] = []

    def tick(moment: datetime) -> TickOutcome:
        tried.append(moment)
        outcome = controller.tick(moment)
        for applied in outcome.applied:
            _report(applied, env, "table")
        return outcome

    if stop.raised:
        return [], 0
    controller = _controller(
        plan, plan_file, given.workload_file, driver, fleet=fleet,
        ledger=lambda: _ledger_for_tick(state, yes, plan.workload_name, keeper),
        say=say, options=ControllerOptions(options, replan=replan and yes))
    keeper = _watch_lease(env, stop, plan.workload_name, interval, state) if yes else None
    with keeper.kept() if keeper else nullcontext():
        if stop.raised:  # during the wait for the lease
            return [], 0
        _follow(controller, plan_file, state, yes, options.reinstate, say)
        outcomes = watch_loop(tick, clock=env.clock, plan_end=parse_ts(plan.horizon["end"]),
                              interval_s=interval, stop=stop,
                              backoff=Backoff(base_s=min(interval, 5.0),
                                              cap_s=max(interval, 300.0)),
                              on_error=functools.partial(_say_watch_error, env))
    return outcomes, len(tried)


def _follow(controller: Controller, plan_file: Path, state: tuple[str | None, Path | None],
            yes: bool, reinstate: bool, say: Any) -> None:
    """Once in charge, carry out the plan in force where it is a re-plan of the file's
    (:func:`~costopt.orchestrate.in_force.follow`): a standby given the file its leader began
    with takes over the leader's latest plan."""
    from costopt.orchestrate.in_force import follow

    ledger = ledger_at(*state, create=yes)
    try:
        controller.plan, path = follow(controller.plan, plan_file, ledger,
                                       reinstate=reinstate, role="watch", say=say, write=yes)
    finally:
        if ledger is not None:
            ledger.close()
    controller.plan_path = str(path)


@contextmanager
def _ledger_for_tick(state: tuple[str | None, Path | None], create: bool, workload: str,
                     keeper: LeaseKeeper | None) -> Iterator[Ledger | None]:
    """The ledger for one tick of a watch, the lease checked before it and renewed after."""
    ledger = ledger_at(*state, create=create)
    try:
        if ledger is not None and keeper is not None:
            keeper.check()
            ledger.hold(workload, keeper.holder)
            ledger.look()
        yield ledger
        if ledger is not None and keeper is not None:
            keeper.ticked(ledger)
    finally:
        if ledger is not None:
            ledger.close()


def _say_watch_error(env: Env, exc: Exception, failures: int, delay_s: float) -> None:
    """A failed reconcile of a watch, and when it tries again."""
    said = exc if isinstance(exc, CostoptError) else f"unexpected {type(exc).__name__}: {exc}"
    env.err.print(f"[red]error:[/red] {said}", highlight=False, soft_wrap=True)
    env.err.print(f"The reconcile failed ({failures} in a row); the watch goes on: next "
                  f"try in {delay_s:,.1f} s.", highlight=False)


def _watch_lease(env: Env, stop: StopFlag, workload: str, interval: float,
                 state: tuple[str | None, Path | None]) -> LeaseKeeper | None:
    """The workload's lease for this watch: taken at once, or after waiting as a standby
    (polling four times an interval) until its holder stops renewing it; ``None`` when a
    signal stopped the wait. The lease lives one interval between renewals."""
    from costopt.orchestrate.ledger import state_location

    ledger = open_ledger(state_location(*state))
    try:
        keeper = _keeper(ledger, workload, "watch", interval)

        def standby(lease: Lease) -> None:
            env.console.print(f"standby: {lease.describe()} is in charge of workload "
                              f"{workload!r}; this watch takes over if it stops (its lease "
                              f"runs until {as_of(lease.expires_epoch_s)} unless renewed).",
                              highlight=False)

        if not keeper.wait_for(ledger, poll_s=interval / 4, wait=stop.wait,
                               on_standby=standby):
            return None
        env.console.print(f"leader: this watch (pid {keeper.pid} on {keeper.host}) is in "
                          f"charge of workload {workload!r}.", highlight=False)
        return keeper
    finally:
        ledger.close()
