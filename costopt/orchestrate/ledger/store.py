"""The orchestrator's ledger: SQLite (WAL) at ``~/.local/state/costopt/ledger.db`` by
default, or a PostgreSQL database a team shares (:mod:`~costopt.orchestrate.ledger.engines`).

Every cloud action is written *before* the call (an ``intent``) and after it (its result),
so a crash between the two is resolved on the next run from AWS's own state and the tags.
Instance *runtimes* - the intervals an instance ran, each with the USD per instance-hour in
force - are what the monthly report bills. Times are UTC, stored as ``2027-01-04T00:00:00Z``.

Two controllers on one ledger never launch one slot twice: a launch's intent is written in a
transaction that first checks no other run launched that slot since this one looked (a
*claim*, :meth:`Ledger.look`), and - when this controller holds the workload's lease
(:meth:`Ledger.hold`) - that the lease is still its own.
"""

from __future__ import annotations

import json
import uuid
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from costopt.core.times import parse_ts, ts
from costopt.errors import CostoptError
from costopt.orchestrate.ledger.engines import Engine, SqliteEngine, open_engine
from costopt.orchestrate.ledger.location import StateLocation


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
    slot: int | None = None  # the slot of its plan the instance serves (the last claim's)

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


@dataclass(frozen=True)
class Lease:
    """Who is in charge of a workload: a controller (``holder``, a random id per process) of
    ``role`` watch or apply, on ``host`` as ``pid``. Times in wall-clock seconds since
    1970-01-01 UTC; the lease lapses at ``expires_epoch_s`` unless renewed."""

    workload: str
    holder: str
    role: str
    host: str
    pid: int
    acquired_epoch_s: float
    renewed_epoch_s: float
    expires_epoch_s: float
    last_tick_epoch_s: float | None

    def live(self, now_epoch_s: float) -> bool:
        return now_epoch_s < self.expires_epoch_s

    def describe(self) -> str:
        """``the watch of pid 123 on host-a``, for messages."""
        return f"the {self.role} of pid {self.pid} on {self.host}"


Record = TypeVar("Record")
Read = TypeVar("Read")
READS_KEPT = 32
"""Reads a ledger handle keeps for reuse while nothing is written (each tick of a watch
asks for the runtimes until a new moment: a new read)."""


class RecordsRead(Generic[Record]):
    """Rows made into records once: a row read again with the same values (a closed runtime,
    an instance that did not change) gives back the record already made, so a read of the
    whole history parses only the rows that are new or changed since the last read (every
    tick of ``watch`` and ``simulate`` reads the runtimes, instances and actions so far).

    Exact whatever else writes the database, since a record is keyed by all its row's
    values. A row has few versions (a runtime open, then closed; an action an intent, then
    its result), so what is kept stays within a few times the rows read."""

    def __init__(self, make: Callable[[Any], Record]) -> None:
        self._make = make
        self._known: dict[tuple[Any, ...], Record] = {}

    def __call__(self, rows: Iterable[Any]) -> list[Record]:
        known, make = self._known, self._make
        out = []
        for row in rows:
            key = tuple(row.values()) if isinstance(row, dict) else tuple(row)
            record = known.get(key)
            if record is None:
                record = known[key] = make(row)
            out.append(record)
        return out


class _InstancesRead:
    """Every instance as one read found them, and those of each set of plans asked for
    since (picked once per read: every tick asks for the plan in force's)."""

    def __init__(self, every: list[InstanceRecord]) -> None:
        self.every = every
        self._of: dict[frozenset[str], list[InstanceRecord]] = {}

    def of(self, plan_ids: frozenset[str]) -> list[InstanceRecord]:
        picked = self._of.get(plan_ids)
        if picked is None:
            picked = self._of[plan_ids] = [i for i in self.every if i.plan_id in plan_ids]
        return picked


@dataclass(frozen=True)
class _LaunchesCounted:
    """:meth:`Ledger.launch_history`'s counts of a slot's actions up to id ``upto``, when
    SQLite's count of statements it could not tell (rollbacks among them) was ``untold``."""

    upto: int
    completed: int
    failures: int
    untold: object


@dataclass
class _SpentSoFar:
    """:meth:`Ledger.spent_usd`'s running total: for ``key`` (start, plan ids, the version
    of the runtimes read) as of ``at``, what the runtimes closed by then cost (USD), and the
    runtimes not closed by then."""

    key: tuple[Any, ...]
    at: datetime
    closed_usd: float
    open: list[Runtime]


class SlotClaimed(CostoptError):
    """Another controller launched a slot since this run looked at the fleet."""


class LeaseLost(CostoptError):
    """This controller's lease on its workload passed to another controller."""


class Ledger:
    """A handle on the ledger database. Use :meth:`open` (SQLite in a state directory) or
    :meth:`connect` (any state URL); close with :meth:`close`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.location = engine.location
        self.path = engine.location.path or Path(engine.location.shown)
        self._looked_at: int | None = None  # the last action id when this run looked
        self._fence: tuple[str, str] | None = None  # (workload, holder) this handle holds
        self._documents: dict[str, dict[str, Any]] = {}  # plan id -> its document, decoded
        self._read: dict[tuple[str, tuple[Any, ...]], tuple[Any, list[Any]]] = {}  # read:
        # (sql, args) -> (the version of its tables when it was read, its records)
        self._actions = RecordsRead(_action)
        self._instances = RecordsRead(_instance)
        self._runtimes = RecordsRead(_runtime)
        self._interruptions = RecordsRead(_interruption)
        self._spent: _SpentSoFar | None = None  # the last spent_usd's running total
        self._launches: dict[tuple[str, str, int | None, str], _LaunchesCounted] = {}  # a
        # slot's launch history so far (launch_history)

    @classmethod
    def open(cls, state_dir: Path | None = None) -> Ledger:
        """Open the SQLite ledger in ``state_dir``, made (with every table) only when its
        file is new. An existing file is checked: its tables and columns, and the type of
        every value in them (times, prices, the plans' documents); a :class:`LedgerError`
        says what is wrong where."""
        return cls(SqliteEngine.open(StateLocation.sqlite_in(state_dir)))

    @classmethod
    def connect(cls, location: StateLocation) -> Ledger:
        """Open the ledger at ``location`` (SQLite or PostgreSQL), made or checked."""
        return cls(open_engine(location))

    @classmethod
    def in_memory(cls) -> Ledger:
        """A ledger that lives in this process only (``costopt simulate``'s)."""
        return cls(SqliteEngine.in_memory())

    def owner_id(self, *, create: bool) -> str | None:
        """This ledger's own id (32 hex digits), tagged ``costopt:owner`` on what its runs
        launch (:mod:`costopt.orchestrate.ownership`); made the first time ``create`` allows
        (a dry run writes nothing, so it may get None). Made once, whoever comes first: a
        team's controllers on one ledger share it."""
        kept = self._kept(lambda rows: next((str(r["owner_id"]) for r in rows), None),
                          "SELECT owner_id FROM ledger_identity", (), ("ledger_identity",))
        if kept is not None:
            return kept
        if not create:
            return None
        with self._tx("ledger_identity") as c:
            row = c.execute("SELECT owner_id FROM ledger_identity").fetchone()
            if row is not None:
                return str(row["owner_id"])
            made = uuid.uuid4().hex
            c.execute("INSERT INTO ledger_identity (owner_id) VALUES (?)", (made,))
        return made

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def _conn(self) -> Any:
        """The SQLite connection (tests read its pragmas)."""
        return self._engine._conn  # type: ignore[attr-defined]

    def close(self) -> None:
        self._engine.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self, *tables: str) -> Any:
        return self._engine.transaction(*tables)

    def _rows(self, sql: str, args: Any = ()) -> Any:
        return self._engine.execute(sql, args)

    def _records(self, records: RecordsRead[Record], sql: str, args: Any = (),
                 tables: tuple[str, ...] = ()) -> list[Record]:
        """The records of a query's rows, read as :meth:`_kept` reads (a list of its own)."""
        return list(self._kept(records, sql, args, tables))

    def _kept(self, made: Callable[[Any], Read], sql: str, args: Any = (),
              tables: tuple[str, ...] = ()) -> Read:
        """What ``made`` makes of a query's rows; the same query read again while nothing
        was written to the ``tables`` it reads (by this connection, or by another one as far
        as the engine can tell) gives back what it gave, without reading the rows again (a
        tick's launch attempts write actions, not the instances or runtimes it reads; every
        tick asks which plans are kept and in force). Shared: not to be changed."""
        version = self._engine.version(tables)
        if version is None:
            return made(self._rows(sql, args))
        key = (sql, tuple(args))
        kept = self._read.get(key)
        if kept is None or kept[0] != version:
            if kept is None and len(self._read) >= READS_KEPT:
                self._read = {}
            kept = self._read[key] = (version, made(self._rows(sql, args)))
        return kept[1]

    def version(self) -> tuple[object, ...] | None:
        """A value that changes whenever anything in the ledger may have changed (a write of
        this connection, a commit of another); ``None`` when its engine cannot tell."""
        return self._engine.version()

    # -- plans ---------------------------------------------------------------------------
    def has_plan(self, plan_id: str, path: str | None) -> bool:
        """Whether the plan ``plan_id`` is kept, with ``path`` as its path (every reconcile
        records its plan: this saves making its document again)."""
        return self._kept(lambda rows: [r["path"] for r in rows],
                          "SELECT path FROM plans WHERE plan_id=?", (plan_id,),
                          ("plans",)) == [path]

    def record_plan(self, document: dict[str, Any], path: str | None, at: datetime) -> None:
        """Keep the plan file's content, so that reports can read it later (a plan already
        kept keeps its first content; only its path follows the latest)."""
        if self.has_plan(document["plan_id"], path):
            return
        with self._tx() as c:
            c.execute(
                "INSERT INTO plans(plan_id, workload, path, document, recorded_at) "
                "VALUES (?,?,?,?,?) ON CONFLICT(plan_id) DO UPDATE SET path=excluded.path",
                (document["plan_id"], document["workload"]["name"], path,
                 json.dumps(document, sort_keys=True), ts(at)),
            )

    def plans(self) -> list[dict[str, Any]]:
        """The recorded plan documents (checked on open), oldest first."""
        ids = self._kept(lambda rows: [r["plan_id"] for r in rows],
                         "SELECT plan_id FROM plans ORDER BY recorded_at, plan_id", (),
                         ("plans",))
        for plan_id in ids:  # a plan's document never changes once recorded: read and
            if plan_id not in self._documents:  # decoded once
                row = self._rows("SELECT document FROM plans WHERE plan_id=?",
                                 (plan_id,)).fetchone()
                self._documents[plan_id] = json.loads(row["document"])
        return [self._documents[plan_id] for plan_id in ids]

    def plan_ids_of(self, workload: str) -> set[str]:
        """The ids of the recorded plans of ``workload``."""
        return set(self._kept(lambda rows: [r["plan_id"] for r in rows],
                              "SELECT plan_id FROM plans WHERE workload=?", (workload,),
                              ("plans",)))

    # -- which plan of a workload is in force ------------------------------------------
    def plan_in_force(self, workload: str) -> tuple[str, datetime] | None:
        """The plan of ``workload`` in force and since when; ``None`` before any."""
        return self._kept(lambda rows: next(((r["plan_id"], parse_ts(r["since"]))
                                             for r in rows), None),
                          "SELECT plan_id, since FROM in_force WHERE workload=? "
                          "ORDER BY id DESC LIMIT 1", (workload,), ("in_force",))

    def was_in_force(self, workload: str, plan_id: str) -> bool:
        """Whether ``plan_id`` was ever in force for ``workload``."""
        return self._rows("SELECT 1 AS one FROM in_force WHERE workload=? AND plan_id=?",
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
    def look(self) -> None:
        """This run is about to look at the fleet: a launch it then decides is refused
        (:class:`SlotClaimed`) if another run launches the same slot meanwhile."""
        row = self._rows("SELECT COALESCE(MAX(id), 0) AS last FROM actions").fetchone()
        self._looked_at = int(row["last"])

    def hold(self, workload: str, holder: str) -> None:
        """Intents written through this handle need ``holder``'s lease on ``workload``
        (:class:`LeaseLost` once another controller has taken it over)."""
        self._fence = (workload, holder)

    def intent(self, *, run_id: str, plan_id: str, at: datetime, kind: str, pool: str,
               slot: int | None = None, region: str | None = None,
               instance_id: str | None = None, client_token: str | None = None,
               usd_per_hour: float | None = None, detail: str | None = None) -> int:
        with self._tx("actions") as c:
            self._check_fence(c)
            if kind == "launch" and self._looked_at is not None:
                self._check_claim(c, run_id, plan_id, pool, slot)
            cur = c.execute(
                "INSERT INTO actions(run_id, plan_id, at, kind, pool, slot, region, instance_id,"
                " client_token, usd_per_hour, status, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "RETURNING id",
                (run_id, plan_id, ts(at), kind, pool, slot, region, instance_id, client_token,
                 usd_per_hour, "intent", detail),
            )
            return int(cur.fetchone()["id"])

    def _check_fence(self, c: Engine) -> None:
        if self._fence is None:
            return
        workload, holder = self._fence
        row = c.execute("SELECT * FROM leases WHERE workload=?", (workload,)).fetchone()
        if row is None or row["holder"] != holder:
            taker = f"; {_lease(row).describe()} holds it now" if row else ""
            raise LeaseLost(f"this controller lost its lease on workload {workload!r}{taker}. "
                            "Nothing more was changed by it. To fix: nothing - the controller "
                            "in charge carries the plan on; run `costopt status` to see it")

    def _check_claim(self, c: Engine, run_id: str, plan_id: str, pool: str,
                     slot: int | None) -> None:
        row = c.execute(
            "SELECT run_id, at, status FROM actions WHERE id > ? AND kind='launch' AND "
            "plan_id=? AND pool=? AND COALESCE(slot, -1) = COALESCE(?, -1) AND run_id != ? AND "
            "status IN ('intent', 'ok') ORDER BY id LIMIT 1",
            (self._looked_at, plan_id, pool, slot, run_id)).fetchone()
        if row is not None:
            raise SlotClaimed(
                f"{pool} slot {slot} of plan {plan_id} was launched by another controller "
                f"(run {row['run_id']}, {row['status']}) after this run looked at the fleet; "
                "this run launched nothing more, so the slot is not launched twice. To fix: "
                "nothing - run again to see the fleet as it is now")

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
        return self._records(self._actions, sql + " ORDER BY id", args, ("actions",))

    def launch_history(self, plan_id: str, pool: str, slot: int | None,
                       not_counted: str) -> tuple[int, int]:
        """``(capacity failures since the slot's last successful launch, completed launch
        calls)`` of slot ``slot`` of ``pool`` in plan ``plan_id``: its launches that ended
        ``ok`` or ``failed`` but those whose detail is ``not_counted`` (a launch a crash cut
        short and AWS did not show afterwards: the next call repeats its ``ClientToken``, so
        that AWS, whose describe calls may lag, returns the instance if it did launch), and
        the failures among them after the last ``ok`` whose detail starts ``capacity:``.
        Counted by the database: a slot waiting for capacity tries at every tick, so its
        history grows by a launch a tick, and reading it whole at each was quadratic; the
        index ``actions_slot`` finds the slot's actions among the plan's (a ledger made
        before it counts the same, more slowly). On SQLite the counts are kept, with the
        last action id they cover, when the slot has no open intent: an action closed is
        never changed again, and SQLite gives each new one a larger id than any before (one
        writer at a time; ``AUTOINCREMENT``), so the next call counts only the actions after
        that id and adds them on (a rollback, or a statement whose table SQLite could not
        tell, counts afresh)."""
        key = (plan_id, pool, slot, not_counted)
        version = self._engine.version(("actions",))
        kept = self._launches.get(key) if version is not None else None
        if kept is not None and kept.untold != version[1]:  # type: ignore[index]
            kept = None
        mine = "plan_id=? AND kind='launch' AND pool=? AND slot " + (
            "IS NULL" if slot is None else "=?") + " AND id > ?"
        args = [plan_id, pool, *([] if slot is None else [slot]),
                kept.upto if kept is not None else 0]
        where = mine + " AND status IN ('ok', 'failed') AND (detail IS NULL OR detail != ?)"
        row = self._rows(
            "SELECT COUNT(*) AS completed, MAX(CASE WHEN status='ok' THEN id END) AS last_ok, "
            "COALESCE(SUM(CASE WHEN status='failed' AND substr(detail, 1, 9)='capacity:' AND "
            f"id > COALESCE((SELECT MAX(id) FROM actions WHERE {where} AND status='ok'), 0) "
            "THEN 1 ELSE 0 END), 0) AS failures, "
            f"(SELECT MIN(id) FROM actions WHERE {mine} AND status='intent') AS open, "
            f"(SELECT MAX(id) FROM actions) AS top FROM actions WHERE {where}",
            [*args, not_counted, *args, *args, not_counted]).fetchone()
        completed, failures = int(row["completed"]), int(row["failures"])
        if kept is not None:
            completed += kept.completed
            failures += kept.failures if row["last_ok"] is None else 0
        if version is not None and row["open"] is None:
            if len(self._launches) >= READS_KEPT:
                self._launches = {}
            self._launches[key] = _LaunchesCounted(int(row["top"] or 0), completed, failures,
                                                   version[1])  # type: ignore[index]
        return failures, completed

    def pending(self, plan_id: str) -> list[Action]:
        """Intents with no result: the calls a crash may have cut short."""
        return self.actions(plan_id, "intent")

    # -- instances and their runtimes ----------------------------------------------------
    def instance_running(self, *, instance_id: str, plan_id: str, pool: str, region: str,
                         instance_type: str, market: str, slot: int | None, az: str | None,
                         usd_per_hour: float, at: datetime) -> None:
        """The instance runs from ``at`` (a launch or a start); idempotent."""
        with self._tx("runtimes") as c:
            c.execute(
                "INSERT INTO instances(instance_id, plan_id, pool, region,"
                " instance_type, market, slot, az, usd_per_hour, launched_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (instance_id, plan_id, pool, region, instance_type, market, slot, az,
                 usd_per_hour, ts(at)),
            )
            open_run = c.execute("SELECT 1 AS one FROM runtimes WHERE instance_id=? AND "
                                 '"end" IS NULL', (instance_id,)).fetchone()
            if open_run is None:
                c.execute("INSERT INTO runtimes(instance_id, start, usd_per_hour) "
                          "VALUES (?,?,?)", (instance_id, ts(at), usd_per_hour))

    def instance_claimed(self, instance_id: str, *, plan_id: str, slot: int | None,
                         usd_per_hour: float, at: datetime) -> None:
        """A newer plan took the instance over at ``at``: it is that plan's from now, at its
        price (a runtime under way is split at ``at`` when the price changes)."""
        with self._tx("runtimes") as c:
            c.execute("UPDATE instances SET plan_id=?, slot=?, usd_per_hour=? "
                      "WHERE instance_id=?", (plan_id, slot, usd_per_hour, instance_id))
            moved = c.execute('UPDATE runtimes SET "end"=? WHERE instance_id=? AND "end" IS '
                              "NULL AND usd_per_hour != ?", (ts(at), instance_id, usd_per_hour))
            if moved.rowcount:
                c.execute("INSERT INTO runtimes(instance_id, start, usd_per_hour) "
                          "VALUES (?,?,?)", (instance_id, ts(at), usd_per_hour))

    def instance_halted(self, instance_id: str, at: datetime, *, ended: bool) -> None:
        """The instance stopped (``ended=False``) or terminated at ``at``; idempotent."""
        with self._tx("runtimes") as c:
            c.execute('UPDATE runtimes SET "end"=? WHERE instance_id=? AND "end" IS NULL',
                      (ts(at), instance_id))
            if ended:
                c.execute("UPDATE instances SET ended_at=? WHERE instance_id=? "
                          "AND ended_at IS NULL", (ts(at), instance_id))

    def record_interruption(self, *, instance_id: str, plan_id: str, pool: str, at: datetime,
                            reason: str) -> bool:
        """Record an interruption once; ``True`` when it is new."""
        with self._tx() as c:
            cur = c.execute("INSERT INTO interruptions(instance_id, plan_id, pool, at, reason)"
                            " VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING",
                            (instance_id, plan_id, pool, ts(at), reason))
            return cur.rowcount > 0

    def open_runtime_starts(self, *plan_ids: str) -> dict[str, datetime]:
        """When each instance of the plans that runs now (per the ledger) last started."""
        return dict(self._kept(
            lambda rows: {r["instance_id"]: parse_ts(r["start"]) for r in rows},
            "SELECT r.instance_id, r.start FROM runtimes r JOIN instances i USING(instance_id) "
            f'WHERE i.plan_id IN ({",".join("?" * len(plan_ids))}) AND r."end" IS NULL',
            sorted(plan_ids), ("runtimes", "instances")))

    def instances(self, plan_id: str | None = None, *,
                  plan_ids: set[str] | None = None) -> list[InstanceRecord]:
        """The instances of ``plan_id`` (or of any of ``plan_ids``; else every one). Picked
        from every one (``apply`` reads every one anyway): one read serves both."""
        read = self._kept(lambda rows: _InstancesRead(self._instances(rows)),
                          "SELECT * FROM instances ORDER BY launched_at, instance_id", (),
                          ("instances",))
        if plan_id is not None:
            plan_ids = {plan_id}
        return list(read.every if plan_ids is None else read.of(frozenset(plan_ids)))

    def runtimes(self, start: datetime, end: datetime,
                 plan_ids: Collection[str] | None = None) -> list[Runtime]:
        """Runtimes that overlap ``[start, end)``, not clipped; with ``plan_ids``, those of
        these plans' instances only."""
        since = self._runtimes_since(start, plan_ids)
        cut = parse_ts(ts(end))  # as the stored times compare: to the second
        return since[:bisect_left(since, cut, key=lambda r: r.start)]

    def _runtimes_since(self, start: datetime,
                        plan_ids: Collection[str] | None = None) -> list[Runtime]:
        """Runtimes not over by ``start`` (of ``plan_ids``' instances, if given), by their
        start (read for any end: a tick's read is the last tick's again). Shared: not to be
        changed."""
        of = _of_plans("i.plan_id", plan_ids)
        if of is None:
            return []
        return self._kept(
            self._runtimes, 'SELECT r.start, r."end" AS stop, r.usd_per_hour AS run_usd_per_hour, '
            "i.instance_id, i.plan_id, i.pool, i.region, i.instance_type, i.market, i.slot "
            'FROM runtimes r JOIN instances i USING(instance_id) WHERE '
            '(r."end" IS NULL OR r."end" > ?)' + of[0]
            + " ORDER BY r.start, i.instance_id", (ts(start), *of[1]), ("runtimes", "instances"))

    def spent_usd(self, plan_ids: set[str], start: datetime, at: datetime) -> float:
        """What the runtimes of ``plan_ids`` cost in ``[start, at)`` (USD), a runtime still
        running until ``at``. Every tick asks for the month so far, a little later each
        time: a running total is kept of the runtimes closed by the last ``at`` asked for
        (each closed one costs the same at every later ``at``), and only those still open
        then are looked at again - while the same ``start`` and ``plan_ids`` are asked for,
        ``at`` does not go back, and nothing was written to the runtimes since (as far as
        the engine can tell: else it is all summed again)."""
        key = (start, frozenset(plan_ids), self._engine.version(("runtimes", "instances")))
        spent = self._spent
        if spent is None or spent.key != key or key[2] is None or at < spent.at:
            spent = self._spent = _SpentSoFar(key, at, 0.0, [
                r for r in self._runtimes_since(start) if r.plan_id in plan_ids])
        spent.at = at
        cut = parse_ts(ts(at))  # as :meth:`runtimes` cuts them
        total, still = 0.0, []
        for r in spent.open:
            if r.start >= cut:  # not begun by ``at``
                still.append(r)
            elif r.end is None or r.end > at:
                total += r.usd_within(start, at, at)
                still.append(r)
            else:
                spent.closed_usd += r.usd_within(start, at, at)
        spent.open = still
        return spent.closed_usd + total

    def interruptions(self, start: datetime | None = None, end: datetime | None = None,
                      plan_ids: Collection[str] | None = None) -> list[Interruption]:
        """Interruptions with ``start <= at < end`` (either bound may be left out); with
        ``plan_ids``, those of these plans only."""
        of = _of_plans("plan_id", plan_ids)
        if of is None:
            return []
        sql, args = "SELECT * FROM interruptions WHERE 1=1", []
        if start is not None:
            sql += " AND at >= ?"
            args.append(ts(start))
        every = self._kept(  # read for any end, as the runtimes are
            self._interruptions, sql + of[0] + " ORDER BY at, instance_id", args + of[1],
            ("interruptions",))
        if end is None:
            return list(every)
        cut = parse_ts(ts(end))  # as the stored times compare: to the second
        return every[:bisect_left(every, cut, key=lambda i: i.at)]

    def report_progress(self, *, plan_id: str, job: str, at: datetime, done_gpu_hours: float,
                        source: str) -> None:
        """Record what a job says it has done by ``at`` (the last word at a moment wins)."""
        with self._tx() as c:
            c.execute("INSERT INTO progress_reports(plan_id, job, at, done_gpu_hours, source) "
                      "VALUES (?,?,?,?,?) ON CONFLICT(plan_id, job, at) DO UPDATE SET "
                      "done_gpu_hours=excluded.done_gpu_hours, source=excluded.source",
                      (plan_id, job, ts(at), done_gpu_hours, source))

    def progress_reports(self, plan_id: str) -> list[ProgressReport]:
        """The plan's jobs' progress reports, oldest first."""
        return list(self._kept(
            lambda rows: [ProgressReport(r["job"], parse_ts(r["at"]), r["done_gpu_hours"],
                                         r["source"]) for r in rows],
            "SELECT * FROM progress_reports WHERE plan_id=? ORDER BY at, job", (plan_id,),
            ("progress_reports",)))

    # -- offerings held unavailable: what a later process must know of refusals ------------
    def hold_offering(self, pool: str, until: datetime, strikes: int) -> None:
        """Hold spot pool ``pool`` unavailable until ``until``, after ``strikes`` refusals
        in a row."""
        with self._tx() as c:
            c.execute("INSERT INTO offering_holds(pool, until, strikes) VALUES (?,?,?) "
                      "ON CONFLICT(pool) DO UPDATE SET until=excluded.until, "
                      "strikes=excluded.strikes", (pool, ts(until), strikes))

    def release_offering(self, pool: str) -> None:
        """Spot ran in ``pool``: its hold and strikes go."""
        with self._tx() as c:
            c.execute("DELETE FROM offering_holds WHERE pool=?", (pool,))

    def offering_holds(self) -> dict[str, tuple[datetime, int]]:
        """pool -> (held until, strikes), for every pool refused since spot last ran there."""
        return dict(self._kept(
            lambda rows: {r["pool"]: (parse_ts(r["until"]), int(r["strikes"])) for r in rows},
            "SELECT * FROM offering_holds ORDER BY pool", (), ("offering_holds",)))

    # -- leases: one controller in charge of a workload ---------------------------------
    def take_lease(self, workload: str, *, holder: str, role: str, host: str, pid: int,
                   now_epoch_s: float, ttl_s: float) -> Lease:
        """Take or renew ``workload``'s lease for ``ttl_s`` seconds from ``now_epoch_s`` if
        it is free, lapsed or already ``holder``'s. Returns the lease as it now stands:
        ``holder``'s when it was taken, else the other controller's."""
        with self._tx("leases") as c:
            c.execute(
                "INSERT INTO leases(workload, holder, role, host, pid, acquired_epoch_s, "
                "renewed_epoch_s, expires_epoch_s) VALUES (?,?,?,?,?,?,?,?) "
                "ON CONFLICT(workload) DO UPDATE SET holder=excluded.holder, "
                "role=excluded.role, host=excluded.host, pid=excluded.pid, "
                "acquired_epoch_s=CASE WHEN leases.holder=excluded.holder THEN "
                "leases.acquired_epoch_s ELSE excluded.acquired_epoch_s END, "
                "last_tick_epoch_s=CASE WHEN leases.holder=excluded.holder THEN "
                "leases.last_tick_epoch_s END, "
                "renewed_epoch_s=excluded.renewed_epoch_s, "
                "expires_epoch_s=excluded.expires_epoch_s "
                "WHERE leases.holder=excluded.holder OR leases.expires_epoch_s <= ?",
                (workload, holder, role, host, pid, now_epoch_s, now_epoch_s,
                 now_epoch_s + ttl_s, now_epoch_s))
            row = c.execute("SELECT * FROM leases WHERE workload=?", (workload,)).fetchone()
        return _lease(row)

    def lease_ticked(self, workload: str, holder: str, now_epoch_s: float) -> None:
        """The holder finished a reconcile at ``now_epoch_s`` (what ``status`` shows)."""
        with self._tx("leases") as c:
            c.execute("UPDATE leases SET last_tick_epoch_s=? WHERE workload=? AND holder=?",
                      (now_epoch_s, workload, holder))

    def release_lease(self, workload: str, holder: str) -> None:
        """Give the lease up (no-op unless ``holder`` has it): a standby takes over at once."""
        with self._tx("leases") as c:
            c.execute("DELETE FROM leases WHERE workload=? AND holder=?", (workload, holder))

    def leases(self) -> list[Lease]:
        """Every workload's lease, live or lapsed, by workload."""
        return [_lease(r) for r in self._rows("SELECT * FROM leases ORDER BY workload")]

    def lease_of(self, workload: str) -> Lease | None:
        row = self._rows("SELECT * FROM leases WHERE workload=?", (workload,)).fetchone()
        return _lease(row) if row else None


def _of_plans(column: str, plan_ids: Collection[str] | None
              ) -> tuple[str, list[str]] | None:
    """SQL that keeps the rows whose ``column`` is one of ``plan_ids``, and its arguments
    (``plan_ids`` ``None``: every row; ``None`` where ``plan_ids`` is empty: no row)."""
    if plan_ids is None:
        return "", []
    ids = sorted(plan_ids)
    return (f" AND {column} IN ({','.join('?' * len(ids))})", ids) if ids else None


def _action(r: Any) -> Action:
    return Action(r["id"], r["run_id"], r["plan_id"], parse_ts(r["at"]), r["kind"], r["pool"],
                  r["slot"], r["region"], r["instance_id"], r["client_token"],
                  r["usd_per_hour"], r["status"], r["detail"])


def _instance(r: Any) -> InstanceRecord:
    return InstanceRecord(r["instance_id"], r["plan_id"], r["pool"], r["region"],
                          r["instance_type"], r["market"], r["slot"], r["az"],
                          r["usd_per_hour"], parse_ts(r["launched_at"]),
                          parse_ts(r["ended_at"]) if r["ended_at"] else None)


def _runtime(r: Any) -> Runtime:
    return Runtime(r["instance_id"], r["plan_id"], r["pool"], r["region"], r["instance_type"],
                   r["market"], parse_ts(r["start"]), parse_ts(r["stop"]) if r["stop"] else None,
                   r["run_usd_per_hour"], r["slot"])


def _interruption(r: Any) -> Interruption:
    return Interruption(r["instance_id"], r["plan_id"], r["pool"], parse_ts(r["at"]),
                        r["reason"])


def _lease(row: Any) -> Lease:
    return Lease(row["workload"], row["holder"], row["role"], row["host"], int(row["pid"]),
                 row["acquired_epoch_s"], row["renewed_epoch_s"], row["expires_epoch_s"],
                 row["last_tick_epoch_s"])
