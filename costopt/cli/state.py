"""``costopt state``: where the orchestrator's ledger lives, and moving it.

Every command that reads or writes the ledger takes ``--state URL`` (or
``$COSTOPT_STATE_URL``): ``sqlite:///PATH`` or ``postgresql://USER@HOST/DATABASE``; without
it, the SQLite file in ``--state-dir``.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from costopt.cli.common import Env, OutputFormat, get_env, guarded
from costopt.core.times import ts
from costopt.errors import CostoptError

if TYPE_CHECKING:
    from costopt.orchestrate.ledger import Ledger, StateLocation
    from costopt.orchestrate.ledger.migrate import LedgerCheck

StateUrl = Annotated[str | None, typer.Option(
    "--state", help="The ledger: sqlite:///PATH/ledger.db or postgresql://USER@HOST[:PORT]/DB "
    "(password from the URL, PGPASSWORD or ~/.pgpass). Default: $COSTOPT_STATE_URL, else the "
    "SQLite ledger in --state-dir.", metavar="URL")]
StateDir = Annotated[Path | None, typer.Option(
    "--state-dir", help="Where the ledger lives (default ~/.local/state/costopt).")]

app = typer.Typer(help="The orchestrator's ledger: move it between SQLite and PostgreSQL.",
                  no_args_is_help=True)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="state")


def open_ledger(location: StateLocation) -> Ledger:
    """The ledger at ``location``, made if new (a PostgreSQL database gets its tables on
    first use)."""
    from costopt.orchestrate.ledger import Ledger

    try:
        return Ledger.connect(location)
    except (OSError, sqlite3.Error) as exc:
        raise CostoptError(f"cannot open the ledger {location.shown}: {exc}. To fix: pass a "
                           "writable --state-dir or another --state") from None


def ledger_at(state: str | None, state_dir: Path | None, *, create: bool) -> Ledger | None:
    """The ledger ``--state``/``--state-dir`` name; ``None`` when it is a SQLite file that
    does not exist and may not be made (a dry run)."""
    from costopt.orchestrate.ledger import state_location

    location = state_location(state, state_dir)
    if location.path is not None and not create and not location.path.exists():
        return None
    return open_ledger(location)


FromOption = Annotated[str, typer.Option("--from", help="The ledger to copy, as a state URL.",
                                         metavar="URL")]
ToOption = Annotated[str, typer.Option(
    "--to", help="Where to copy it: a state URL naming an empty ledger (or none yet).",
    metavar="URL")]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table or json.")]
CheckAtOption = Annotated[str | None, typer.Option(
    "--at", help="Bill runtimes still open until this time in the check (ISO 8601, UTC; "
    "default now).", metavar="TIME")]


@app.command("migrate")
@guarded
def migrate(
    ctx: typer.Context,
    source: FromOption,
    target: ToOption,
    fmt: FormatOption = OutputFormat.TABLE,
    at: CheckAtOption = None,
) -> None:
    """Copy a ledger to another engine, every row, then check nothing was lost: the rows of
    each table and every month's cloud spend (USD, to the cent) read back from the copy.

    The copy is one transaction: on any difference nothing is kept. Leases (which controller
    is in charge now) are not copied: stop every watch first.

    Example: costopt state migrate --from sqlite:///home/me/.local/state/costopt/ledger.db
    --to postgresql://costopt@db.lab/costopt
    """
    from costopt.orchestrate.ledger.location import parse_state_url
    from costopt.orchestrate.ledger.migrate import copy_ledger

    env = get_env(ctx)
    source_at, target_at = parse_state_url(source, "--from"), parse_state_url(target, "--to")
    if source_at.url == target_at.url:
        raise CostoptError("--from and --to name the same ledger. To fix: name another one")
    if source_at.path is not None and not source_at.path.is_file():
        raise CostoptError(f"--from: there is no ledger at {source_at.shown}. To fix: pass the "
                           "path of an existing ledger.db")
    now = env.time_option(at)
    with open_ledger(source_at) as old, open_ledger(target_at) as new:
        check = copy_ledger(old, new, now)
    _say_migrated(check, source_at.shown, target_at.shown, fmt, env)


def _say_migrated(check: LedgerCheck, source: str, target: str, fmt: OutputFormat,
                  env: Env) -> None:
    """The rows copied per table and each month's spend read back, as JSON or a table."""
    from rich.table import Table

    if fmt == "json":
        env.console.print_json(json.dumps({
            "from": source, "to": target, "rows": check.rows,
            "spend_usd": {m: round(v, 2) for m, v in check.spend_usd.items()}}))
        return
    table = Table(title=f"{source} -> {target}", title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in check.rows.items():
        table.add_row(name, f"{count:,}")
    env.console.print(table)
    months = ", ".join(f"{m} {v:,.2f} USD" for m, v in check.spend_usd.items()) or "none"
    env.console.print(f"Copied and checked: every table's rows and each month's spend "
                      f"({months}) are the same in both.", highlight=False)


def as_of(epoch_s: float | None) -> str:
    """A lease time for people: ``2027-01-04T00:00:05Z``, or ``never``."""
    from datetime import timezone

    if epoch_s is None:
        return "never"
    return ts(datetime.fromtimestamp(epoch_s, timezone.utc))
