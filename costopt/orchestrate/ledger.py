"""The orchestrator's ledger: SQLite (WAL) at ``~/.local/state/costopt/ledger.db``.

Every cloud action is written *before* the call (an ``intent``) and after it (its result),
so a crash between the two is resolved on the next run from AWS's own state and the tags.
Instance *runtimes* - the intervals an instance ran, each with the USD per instance-hour in
force - are what the monthly report bills. Times are UTC, stored as ``2027-01-04T00:00:00Z``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from costopt.errors import LedgerError
from costopt.plan.planfile import PlanDocument

SCHEMA = """
CREATE TABLE IF NOT EXISTS plans (
  plan_id TEXT PRIMARY KEY,
  workload TEXT NOT NULL,
  path TEXT,
  document TEXT NOT NULL,          -- the plan file's JSON
  recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS actions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  plan_id TEXT NOT NULL,
  at TEXT NOT NULL,                -- the reconcile time
  kind TEXT NOT NULL,              -- launch, start, stop, terminate
  pool TEXT NOT NULL,
  slot INTEGER,
  region TEXT,
  instance_id TEXT,
  client_token TEXT,
  usd_per_hour REAL,
  status TEXT NOT NULL,            -- intent, then ok, failed or refused (budget guard)
  detail TEXT
);
CREATE TABLE IF NOT EXISTS instances (
  instance_id TEXT PRIMARY KEY,
  plan_id TEXT NOT NULL,
  pool TEXT NOT NULL,
  region TEXT NOT NULL,
  instance_type TEXT NOT NULL,
  market TEXT NOT NULL,            -- on_demand or spot (what it really runs as)
  slot INTEGER,
  az TEXT,
  usd_per_hour REAL NOT NULL,
  launched_at TEXT NOT NULL,
  ended_at TEXT                    -- terminated (by costopt or by AWS)
);
CREATE TABLE IF NOT EXISTS runtimes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL REFERENCES instances(instance_id),
  start TEXT NOT NULL,
  end TEXT,                        -- NULL while running
  usd_per_hour REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS interruptions (
  instance_id TEXT PRIMARY KEY,
  plan_id TEXT NOT NULL,
  pool TEXT NOT NULL,
  at TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_plan ON actions(plan_id, status);
CREATE INDEX IF NOT EXISTS runtimes_instance ON runtimes(instance_id);
"""
IN_FORCE = """
CREATE TABLE IF NOT EXISTS in_force (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  workload TEXT NOT NULL,          -- the workload's name: its identity
  plan_id TEXT NOT NULL,           -- from `since`, this plan of the workload is in force
  since TEXT NOT NULL
);
"""
PROGRESS = """
CREATE TABLE IF NOT EXISTS progress_reports (
  plan_id TEXT NOT NULL,
  job TEXT NOT NULL,
  at TEXT NOT NULL,
  done_gpu_hours REAL NOT NULL,    -- reference GPU-hours the job says it has done
  source TEXT NOT NULL,            -- cli (costopt progress) or tag (costopt:progress)
  PRIMARY KEY (plan_id, job, at)
);
"""
IDENTITY = """
CREATE TABLE IF NOT EXISTS ledger_identity (
  owner_id TEXT NOT NULL           -- random, made once: the costopt:owner tag of its launches
);
"""
SCHEMA += IN_FORCE + PROGRESS + IDENTITY
VERSION = 4
"""``PRAGMA user_version`` of a ledger with every table above. Version 0: made before the
``in_force`` table; version 2: before ``progress_reports``; version 3: before
``ledger_identity`` (opening adds what is missing)."""
ADDED = {"in_force": (0, IN_FORCE), "progress_reports": (2, PROGRESS),
         "ledger_identity": (3, IDENTITY)}
"""Tables added after a ledger version, and the latest version that lacks them."""

TIMES = frozenset({"recorded_at", "at", "launched_at", "ended_at", "start", "end", "since"})
"""Columns that hold a UTC time, ``2027-01-04T00:00:00Z``."""
TIME_GLOB = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z"


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/costopt``, else ``~/.local/state/costopt``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "costopt"


def ledger_path(state_dir: Path | None = None) -> Path:
    """The ledger's file in ``state_dir`` (default: :func:`default_state_dir`)."""
    return (state_dir or default_state_dir()) / "ledger.db"


def ts(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class ProgressReport:
    """What a job said it had done: ``done_gpu_hours`` reference GPU-hours at ``at``."""

    job: str
    at: datetime
    done_gpu_hours: float
    source: str  # cli or tag


@dataclass(frozen=True)
class Action:
    id: int
    run_id: str
    plan_id: str
    at: datetime
    kind: str
    pool: str
    slot: int | None
    region: str | None
    instance_id: str | None
    client_token: str | None
    usd_per_hour: float | None
    status: str
    detail: str | None


@dataclass(frozen=True)
class Runtime:
    """An interval an instance ran, billed at ``usd_per_hour`` (USD per instance-hour)."""

    instance_id: str
    plan_id: str
    pool: str
    region: str
    instance_type: str
    market: str
    start: datetime
    end: datetime | None  # None: still running
    usd_per_hour: float

    def clipped(self, start: datetime, end: datetime,
                now: datetime) -> tuple[datetime, datetime] | None:
        """The part of this runtime inside ``[start, end)``, ``None`` if none; a runtime
        still running runs until ``now``."""
        begin, stop = max(self.start, start), min(self.end or now, end)
        return (begin, stop) if begin < stop else None

    def hours_within(self, start: datetime, end: datetime, now: datetime) -> float:
        """Instance-hours of this runtime inside ``[start, end)``."""
        part = self.clipped(start, end, now)
        return (part[1] - part[0]).total_seconds() / 3600 if part else 0.0

    def usd_within(self, start: datetime, end: datetime, now: datetime) -> float:
        """What this runtime cost inside ``[start, end)``, in USD."""
        return self.hours_within(start, end, now) * self.usd_per_hour


@dataclass(frozen=True)
class InstanceRecord:
    instance_id: str
    plan_id: str
    pool: str
    region: str
    instance_type: str
    market: str
    slot: int | None
    az: str | None
    usd_per_hour: float
    launched_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class Interruption:
    instance_id: str
    plan_id: str
    pool: str
    at: datetime
    reason: str


class Ledger:
    """A handle on the ledger database. Use :meth:`open`; close with :meth:`close`."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    def open(cls, state_dir: Path | None = None) -> Ledger:
        """Open the ledger, made (with every table) only when its file is new. An existing
        file is checked: its tables and columns, and the type of every value in them (times,
        prices, the plans' documents); a :class:`LedgerError` says what is wrong where."""
        path = ledger_path(state_dir)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        new = not path.exists() or path.stat().st_size == 0
        if not path.exists():  # the owner's only (0600): it holds the jobs' commands
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            if new:
                conn.executescript(SCHEMA + f"PRAGMA user_version={VERSION};")
            else:
                _check(conn, path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LedgerError(path, f"not a ledger SQLite can read ({exc})") from None
        except LedgerError:
            conn.close()
            raise
        return cls(conn, path)

    @classmethod
    def in_memory(cls) -> Ledger:
        """A ledger that lives in this process only (``costopt simulate``'s)."""
        conn = sqlite3.connect(":memory:", isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.executescript(SCHEMA)
        return cls(conn, Path(":memory:"))

    def owner_id(self, *, create: bool) -> str | None:
        """This ledger's own id (32 hex digits), tagged ``costopt:owner`` on what its runs
        launch (:mod:`costopt.orchestrate.ownership`); made the first time ``create`` allows
        (a dry run writes nothing, so it may get None)."""
        row = self._conn.execute("SELECT owner_id FROM ledger_identity").fetchone()
        if row is not None:
            return str(row[0])
        if not create:
            return None
        made = uuid.uuid4().hex
        self._conn.execute("INSERT INTO ledger_identity (owner_id) VALUES (?)", (made,))
        return made

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # -- plans ---------------------------------------------------------------------------
    def record_plan(self, document: dict[str, Any], path: str | None, at: datetime) -> None:
        """Keep the plan file's content, so that reports can read it later."""
        with self._tx() as c:
            c.execute(
                "INSERT INTO plans(plan_id, workload, path, document, recorded_at) "
                "VALUES (?,?,?,?,?) ON CONFLICT(plan_id) DO UPDATE SET path=excluded.path",
                (document["plan_id"], document["workload"]["name"], path,
                 json.dumps(document, sort_keys=True), ts(at)),
            )

    def plans(self) -> list[dict[str, Any]]:
        """The recorded plan documents (checked on open), oldest first."""
        rows = self._conn.execute("SELECT document FROM plans ORDER BY recorded_at, plan_id")
        return [json.loads(r["document"]) for r in rows]

    def plan_ids_of(self, workload: str) -> set[str]:
        """The ids of the recorded plans of ``workload``."""
        rows = self._conn.execute("SELECT plan_id FROM plans WHERE workload=?", (workload,))
        return {r["plan_id"] for r in rows}

    # -- which plan of a workload is in force ------------------------------------------
    def plan_in_force(self, workload: str) -> tuple[str, datetime] | None:
        """The plan of ``workload`` in force and since when; ``None`` before any."""
        row = self._conn.execute("SELECT plan_id, since FROM in_force WHERE workload=? "
                                 "ORDER BY id DESC LIMIT 1", (workload,)).fetchone()
        return (row["plan_id"], parse_ts(row["since"])) if row else None

    def was_in_force(self, workload: str, plan_id: str) -> bool:
        """Whether ``plan_id`` was ever in force for ``workload``."""
        return self._conn.execute("SELECT 1 FROM in_force WHERE workload=? AND plan_id=?",
                                  (workload, plan_id)).fetchone() is not None

    def put_in_force(self, workload: str, plan_id: str, at: datetime) -> None:
        """From ``at``, ``plan_id`` is the plan of ``workload`` in force (no-op if it is)."""
        current = self.plan_in_force(workload)
        if current is not None and current[0] == plan_id:
            return
        with self._tx() as c:
            c.execute("INSERT INTO in_force(workload, plan_id, since) VALUES (?,?,?)",
                      (workload, plan_id, ts(at)))

    # -- actions: intent before the call, result after ----------------------------------
    def intent(self, *, run_id: str, plan_id: str, at: datetime, kind: str, pool: str,
               slot: int | None = None, region: str | None = None,
               instance_id: str | None = None, client_token: str | None = None,
               usd_per_hour: float | None = None, detail: str | None = None) -> int:
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO actions(run_id, plan_id, at, kind, pool, slot, region, instance_id,"
                " client_token, usd_per_hour, status, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, plan_id, ts(at), kind, pool, slot, region, instance_id, client_token,
                 usd_per_hour, "intent", detail),
            )
            return int(cur.lastrowid or 0)

    def result(self, action_id: int, status: str, *, instance_id: str | None = None,
               detail: str | None = None) -> None:
        """Close an intent as ``ok``, ``failed`` or ``refused``."""
        with self._tx() as c:
            c.execute(
                "UPDATE actions SET status=?, instance_id=COALESCE(?, instance_id), "
                "detail=COALESCE(?, detail) WHERE id=?",
                (status, instance_id, detail, action_id),
            )

    def actions(self, plan_id: str | None = None, status: str | None = None) -> list[Action]:
        sql, args = "SELECT * FROM actions WHERE 1=1", []
        if plan_id is not None:
            sql += " AND plan_id=?"
            args.append(plan_id)
        if status is not None:
            sql += " AND status=?"
            args.append(status)
        rows = self._conn.execute(sql + " ORDER BY id", args)
        return [Action(r["id"], r["run_id"], r["plan_id"], parse_ts(r["at"]), r["kind"],
                       r["pool"], r["slot"], r["region"], r["instance_id"], r["client_token"],
                       r["usd_per_hour"], r["status"], r["detail"]) for r in rows]

    def pending(self, plan_id: str) -> list[Action]:
        """Intents with no result: the calls a crash may have cut short."""
        return self.actions(plan_id, "intent")

    # -- instances and their runtimes ----------------------------------------------------
    def instance_running(self, *, instance_id: str, plan_id: str, pool: str, region: str,
                         instance_type: str, market: str, slot: int | None, az: str | None,
                         usd_per_hour: float, at: datetime) -> None:
        """The instance runs from ``at`` (a launch or a start); idempotent."""
        with self._tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO instances(instance_id, plan_id, pool, region,"
                " instance_type, market, slot, az, usd_per_hour, launched_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                (instance_id, plan_id, pool, region, instance_type, market, slot, az,
                 usd_per_hour, ts(at)),
            )
            open_run = c.execute("SELECT 1 FROM runtimes WHERE instance_id=? AND end IS NULL",
                                 (instance_id,)).fetchone()
            if open_run is None:
                c.execute("INSERT INTO runtimes(instance_id, start, usd_per_hour) "
                          "VALUES (?,?,?)", (instance_id, ts(at), usd_per_hour))

    def instance_claimed(self, instance_id: str, *, plan_id: str, slot: int | None,
                         usd_per_hour: float, at: datetime) -> None:
        """A newer plan took the instance over at ``at``: it is that plan's from now, at its
        price (a runtime under way is split at ``at`` when the price changes)."""
        with self._tx() as c:
            c.execute("UPDATE instances SET plan_id=?, slot=?, usd_per_hour=? "
                      "WHERE instance_id=?", (plan_id, slot, usd_per_hour, instance_id))
            moved = c.execute("UPDATE runtimes SET end=? WHERE instance_id=? AND end IS NULL "
                              "AND usd_per_hour != ?", (ts(at), instance_id, usd_per_hour))
            if moved.rowcount:
                c.execute("INSERT INTO runtimes(instance_id, start, usd_per_hour) "
                          "VALUES (?,?,?)", (instance_id, ts(at), usd_per_hour))

    def instance_halted(self, instance_id: str, at: datetime, *, ended: bool) -> None:
        """The instance stopped (``ended=False``) or terminated at ``at``; idempotent."""
        with self._tx() as c:
            c.execute("UPDATE runtimes SET end=? WHERE instance_id=? AND end IS NULL",
                      (ts(at), instance_id))
            if ended:
                c.execute("UPDATE instances SET ended_at=? WHERE instance_id=? "
                          "AND ended_at IS NULL", (ts(at), instance_id))

    def record_interruption(self, *, instance_id: str, plan_id: str, pool: str, at: datetime,
                            reason: str) -> bool:
        """Record an interruption once; ``True`` when it is new."""
        with self._tx() as c:
            cur = c.execute("INSERT OR IGNORE INTO interruptions VALUES (?,?,?,?,?)",
                            (instance_id, plan_id, pool, ts(at), reason))
            return cur.rowcount > 0

    def open_runtime_starts(self, *plan_ids: str) -> dict[str, datetime]:
        """When each instance of the plans that runs now (per the ledger) last started."""
        rows = self._conn.execute(
            "SELECT r.instance_id, r.start FROM runtimes r JOIN instances i USING(instance_id) "
            f"WHERE i.plan_id IN ({','.join('?' * len(plan_ids))}) AND r.end IS NULL",
            sorted(plan_ids))
        return {r["instance_id"]: parse_ts(r["start"]) for r in rows}

    def instances(self, plan_id: str | None = None, *,
                  plan_ids: set[str] | None = None) -> list[InstanceRecord]:
        """The instances of ``plan_id`` (or of any of ``plan_ids``; else every one)."""
        sql, args = "SELECT * FROM instances", []
        if plan_id is not None:
            plan_ids = {plan_id}
        if plan_ids is not None:
            sql += f" WHERE plan_id IN ({','.join('?' * len(plan_ids))})"
            args += sorted(plan_ids)
        rows = self._conn.execute(sql + " ORDER BY launched_at, instance_id", args)
        return [InstanceRecord(r["instance_id"], r["plan_id"], r["pool"], r["region"],
                               r["instance_type"], r["market"], r["slot"], r["az"],
                               r["usd_per_hour"], parse_ts(r["launched_at"]),
                               parse_ts(r["ended_at"]) if r["ended_at"] else None)
                for r in rows]

    def runtimes(self, start: datetime, end: datetime) -> list[Runtime]:
        """Runtimes that overlap ``[start, end)``, not clipped."""
        rows = self._conn.execute(
            "SELECT r.start, r.end, r.usd_per_hour, i.* FROM runtimes r "
            "JOIN instances i USING(instance_id) WHERE r.start < ? AND (r.end IS NULL OR "
            "r.end > ?) ORDER BY r.start, i.instance_id", (ts(end), ts(start)))
        return [Runtime(r["instance_id"], r["plan_id"], r["pool"], r["region"],
                        r["instance_type"], r["market"], parse_ts(r["start"]),
                        parse_ts(r["end"]) if r["end"] else None, r["usd_per_hour"])
                for r in rows]

    def interruptions(self, start: datetime | None = None,
                      end: datetime | None = None) -> list[Interruption]:
        """Interruptions with ``start <= at < end`` (either bound may be left out)."""
        rows = self._conn.execute(
            "SELECT * FROM interruptions WHERE (? IS NULL OR at >= ?) AND (? IS NULL OR at < ?)"
            " ORDER BY at, instance_id",
            (*[ts(start) if start else None] * 2, *[ts(end) if end else None] * 2))
        return [Interruption(r["instance_id"], r["plan_id"], r["pool"], parse_ts(r["at"]),
                             r["reason"]) for r in rows]

    def report_progress(self, *, plan_id: str, job: str, at: datetime, done_gpu_hours: float,
                        source: str) -> None:
        """Record what a job says it has done by ``at`` (the last word at a moment wins)."""
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO progress_reports VALUES (?,?,?,?,?)",
                      (plan_id, job, ts(at), done_gpu_hours, source))

    def progress_reports(self, plan_id: str) -> list[ProgressReport]:
        """The plan's jobs' progress reports, oldest first."""
        rows = self._conn.execute("SELECT * FROM progress_reports WHERE plan_id=? ORDER BY at, "
                                  "job", (plan_id,))
        return [ProgressReport(r["job"], parse_ts(r["at"]), r["done_gpu_hours"], r["source"])
                for r in rows]

def _expected_columns() -> dict[str, list[tuple[str, str, bool]]]:
    """table -> ``(column, declared type, NOT NULL)`` as :data:`SCHEMA` makes them."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                         "AND name NOT LIKE 'sqlite_%'")]
    found = {t: [(c[1], c[2], bool(c[3] or c[5])) for c in conn.execute(
        f"PRAGMA table_info({t})")] for t in tables}
    conn.close()
    return found


EXPECTED = _expected_columns()


def _bad_value(column: str, kind: str, not_null: bool) -> str:
    """SQL true for a value of ``column`` that is not what the ledger writes there."""
    q = f'"{column}"'
    if column in TIMES:
        good = f"(typeof({q}) = 'text' AND {q} GLOB '{TIME_GLOB}')"
    elif kind == "REAL":
        good = f"(typeof({q}) IN ('real', 'integer') AND {q} BETWEEN 0 AND 1e12)"
    elif kind == "INTEGER":
        good = f"typeof({q}) = 'integer'"
    else:
        good = f"typeof({q}) = 'text'"
    return f"NOT ({good})" if not_null else f"({q} IS NOT NULL AND NOT {good})"


def _check(conn: sqlite3.Connection, path: Path) -> None:
    """Raise :class:`LedgerError` unless the file holds the ledger's tables, columns and
    values of the right types; a ledger of version 0 gets the ``in_force`` table."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    missing = [t for t in EXPECTED if t not in tables]
    if missing and all(t in ADDED and version <= ADDED[t][0] for t in missing):
        # a ledger made before these tables were: add them
        conn.executescript("".join(ADDED[t][1] for t in missing)
                           + f"PRAGMA user_version={VERSION};")
        missing = []
    if missing:
        raise LedgerError(path, f"the table {missing[0]!r} is missing"
                          + (" (a table is never made again in an existing ledger: its rows "
                             "would be lost silently)" if len(missing) < len(EXPECTED) else
                             "; the file holds no ledger"))
    for table, columns in EXPECTED.items():
        have = {c[1] for c in conn.execute(f"PRAGMA table_info({table})")}
        lost = [c for c, _k, _n in columns if c not in have]
        if lost:
            raise LedgerError(path, f"the table {table!r} has no column {', '.join(lost)}")
        for column, kind, not_null in columns:
            row = conn.execute(f'SELECT rowid, "{column}" AS v FROM {table} WHERE '
                               f"{_bad_value(column, kind, not_null)} LIMIT 1").fetchone()
            if row is not None:
                what = "a UTC time such as 2027-01-04T00:00:00Z" if column in TIMES else {
                    "REAL": "a number of USD from 0", "INTEGER": "a whole number"}.get(
                    kind, "text")
                raise LedgerError(path, f"{table} row {row[0]}: {column} = {row[1]!r}; "
                                  f"valid: {what}")
    for row in conn.execute("SELECT plan_id, document FROM plans"):
        _check_document(path, row[0], row[1])


def _check_document(path: Path, plan_id: str, document: str) -> None:
    """A recorded plan's document must be the plan file ``apply`` read."""
    try:
        PlanDocument.model_validate(json.loads(document))
    except (ValueError, RecursionError) as exc:
        detail = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            detail = (f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}; "
                      f"{exc.error_count()} problem(s)")
        raise LedgerError(path, f"plans row {plan_id!r}: the document is not a "
                          f"costopt.plan/v1 plan ({detail})") from None
