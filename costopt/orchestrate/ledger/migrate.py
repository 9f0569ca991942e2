"""Copy a ledger to another engine, and prove nothing was lost.

The copy runs in one transaction on the target: every table but ``leases`` (who is in
charge now belongs to the running controllers, not to the history), rows with their ids.
Before it commits, the target is read back through the same :class:`Ledger` methods the
report uses: each table's row count, and each month's cloud spend (USD, open runtimes billed
until ``now``) must equal the source's to the cent; else nothing is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from costopt.core.months import Month
from costopt.core.times import EPOCH, parse_ts
from costopt.errors import CostoptError
from costopt.orchestrate.ledger.engines import EXPECTED
from costopt.orchestrate.ledger.schema import NUMBERED, TABLES
from costopt.orchestrate.ledger.store import Ledger

COPIED = [t for t in TABLES if t != "leases"]
"""The tables a migration copies, parents before children."""


@dataclass(frozen=True)
class LedgerCheck:
    """What both ledgers hold: rows per table, and cloud spend per month (``YYYY-MM``)."""

    rows: dict[str, int]
    spend_usd: dict[str, float]


def ledger_check(ledger: Ledger, now: datetime) -> LedgerCheck:
    """Rows per copied table and the spend of each month a runtime touches (USD; a runtime
    still open runs until ``now`` or its start, whichever is later)."""
    rows = {t: int(ledger.engine.execute(f"SELECT COUNT(*) AS n FROM {t}").fetchone()["n"])
            for t in COPIED}
    spend: dict[str, float] = {}
    latest = ledger.engine.execute('SELECT MAX(start) AS s, MAX("end") AS e FROM runtimes'
                                   ).fetchone()
    now = max([now, *(parse_ts(t) for t in (latest["s"], latest["e"]) if t)])
    for run in ledger.runtimes(EPOCH, now + timedelta(seconds=1)):
        month = Month.of(run.start)
        while month.start < (run.end or now):
            label = month.label
            spend[label] = spend.get(label, 0.0) + run.usd_within(month.start, month.end, now)
            month = Month.of(month.end)
    return LedgerCheck(rows, dict(sorted(spend.items())))


def copy_ledger(source: Ledger, target: Ledger, now: datetime) -> LedgerCheck:
    """Copy ``source`` into ``target`` (which must hold no rows) and check the copy; the
    check, the same for both. :class:`CostoptError` when the target is not empty or the copy
    differs (then the target is left as it was)."""
    before = ledger_check(source, now)
    held = ", ".join(f"{n} {t}" for t, n in ledger_check(target, now).rows.items() if n)
    if held:
        raise CostoptError(f"the ledger {target.location.shown} is not empty ({held}): nothing "
                           "was copied. To fix: migrate to a new database or file")
    with target.engine.transaction(*COPIED) as c:
        for table in COPIED:
            columns = [name for name, _kind, _not_null in EXPECTED[table]]
            quoted = ", ".join(f'"{name}"' for name in columns)
            insert = (f"INSERT INTO {table}({quoted}) VALUES "
                      f"({', '.join('?' * len(columns))})")
            for row in source.engine.execute(f"SELECT {quoted} FROM {table}").fetchall():
                c.execute(insert, [row[name] for name in columns])
            if table in NUMBERED:
                c.after_copy(table)
        after = ledger_check(target, now)
        if not _same(before, after):
            raise CostoptError(f"the copy in {target.location.shown} differs from "
                               f"{source.location.shown} (rows {after.rows} against "
                               f"{before.rows}; spend {after.spend_usd} against "
                               f"{before.spend_usd}): nothing was kept")
    return after


def _same(a: LedgerCheck, b: LedgerCheck) -> bool:
    """The same rows, and the same spend each month to the cent."""
    return a.rows == b.rows and a.spend_usd.keys() == b.spend_usd.keys() and all(
        round(a.spend_usd[m], 2) == round(b.spend_usd[m], 2) for m in a.spend_usd)
