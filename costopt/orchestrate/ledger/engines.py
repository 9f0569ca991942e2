"""The two engines a ledger runs on: SQLite (a file, the default) and PostgreSQL (a server a
team shares). Plain ``sqlite3`` and plain psycopg 3, not SQLAlchemy: the ledger's SQL is a
few dozen statements that both engines read alike (``?`` placeholders become ``%s`` for
psycopg), and the places they differ - column types, how a write transaction excludes the
others, how a file or database is checked on open - are this module's, written out.

A write transaction (:meth:`Engine.transaction`) is serialised against every other writer
of the tables it names: SQLite takes its one write lock at ``BEGIN IMMEDIATE``; PostgreSQL
locks the named tables (``SHARE ROW EXCLUSIVE``: readers go on, writers of those tables
wait) before the first statement, so the check-then-write steps of a claim cannot
interleave.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from costopt.core.times import is_time
from costopt.errors import CostoptError, LedgerError
from costopt.files import file_in_place
from costopt.orchestrate.ledger.location import StateLocation
from costopt.orchestrate.ledger.schema import ADDED, TABLES, TIMES, VERSION, ddl
from costopt.planfile import PlanDocument

TIME_GLOB = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z"
TIME_REGEX = r"^[0-9]{4}-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z$"
CREATE_LOCK = 4_242_424_242
"""The PostgreSQL advisory lock taken while a database's tables are made."""


class Engine(ABC):
    """A connection to one ledger database. Rows read by column name."""

    name: str
    location: StateLocation

    @abstractmethod
    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """Run one statement (``?`` placeholders); a cursor whose rows read by name."""

    @abstractmethod
    def transaction(self, *tables: str) -> AbstractContextManager[Engine]:
        """A write transaction, serialised against other writers of ``tables``."""

    @abstractmethod
    def close(self) -> None: ...

    def version(self, tables: Sequence[str] = ()) -> tuple[Any, ...] | None:
        """A value that changes whenever ``tables`` (none named: any table) may have
        changed: a write of this connection, or a commit of another one; ``None`` when the
        engine cannot tell (a read is then never reused)."""
        return None

    @abstractmethod
    def after_copy(self, table: str) -> None:
        """Rows were copied into ``table`` with their ids: move its id sequence past them."""

    @abstractmethod
    def tables(self) -> set[str]: ...

    @abstractmethod
    def columns(self, table: str) -> set[str]: ...

    @abstractmethod
    def add_tables(self, tables: list[str]) -> None:
        """Make ``tables`` (added to the schema after this ledger was made)."""

    @abstractmethod
    def bad_value(self, column: str, kind: str, not_null: bool) -> str:
        """SQL true for a value of ``column`` that is not what the ledger writes there."""


BUSY_TIMEOUT_S = 30.0
"""How long a SQLite statement waits for another connection's lock before it fails."""
WRITES_TO = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)
"""The table a single-table write statement writes to."""
EVERY_TABLE = "*"
"""What a statement that may write to any table (not a ``SELECT``, not :data:`WRITES_TO`'s)
counts as written to."""


def _write_ahead_log(conn: sqlite3.Connection, clock: Callable[[], float] = time.monotonic,
                     sleep: Callable[[float], None] = time.sleep) -> None:
    """Put the file in WAL mode. On a new file another connection may be making the tables
    at that moment: SQLite then answers ``database is locked`` at once, without waiting its
    busy timeout (the switch needs the file to itself, and waiting could deadlock), so the
    switch is tried again every 20 ms for up to :data:`BUSY_TIMEOUT_S` (two controllers
    opening a new ledger together: about 1 open in 1,000 failed, reported as a damaged
    ledger)."""
    deadline = clock() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or clock() >= deadline:
                raise
        sleep(0.02)


class SqliteEngine(Engine):
    name = "sqlite"

    def __init__(self, conn: sqlite3.Connection, location: StateLocation) -> None:
        self._conn = conn
        self.location = location
        self._written: dict[str, int] = {}  # table -> writes of this connection to it
        self._versions: dict[Sequence[str], tuple[Any, ...]] = {}  # tables -> this
        # connection's part of :meth:`version`, since its last write
        self._alone = location.path == Path(":memory:")  # no other connection can write

    @classmethod
    def open(cls, location: StateLocation) -> SqliteEngine:
        """Open the file, made (with every table) only when it is new; an existing file is
        checked (:func:`check`)."""

        path = file_in_place(location.path or Path(":memory:"), CostoptError, folder_mode=0o700)
        if not path.exists():  # the owner's only (0600): it holds the jobs' commands
            with contextlib.suppress(FileExistsError):  # another process made it just now
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.create_function("is_time", 1, is_time, deterministic=True)
        engine = cls(conn, location)
        try:
            _write_ahead_log(conn)
            conn.execute("PRAGMA foreign_keys=ON")
            if not engine.tables():  # a new file: made whole, in one transaction, once
                with engine.transaction():
                    if not engine.tables():
                        for statement in statements(ddl("sqlite")):
                            conn.execute(statement)
                        conn.execute(f"PRAGMA user_version={VERSION}")
            check(engine, int(conn.execute("PRAGMA user_version").fetchone()[0]))
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LedgerError(path, f"not a ledger SQLite can read ({exc})") from None
        except LedgerError:
            conn.close()
            raise
        return engine

    @classmethod
    def in_memory(cls) -> SqliteEngine:
        conn = sqlite3.connect(":memory:", isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.executescript(ddl("sqlite"))
        return cls(conn, StateLocation("sqlite", "sqlite://", Path(":memory:")))

    def execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        if sql.lstrip()[:6].upper() != "SELECT":
            self._wrote(sql)
        return self._conn.execute(sql, args)

    def _wrote(self, *statements: str) -> None:
        """Count a write to the table each statement writes to (:data:`EVERY_TABLE` where
        it cannot be told)."""
        for sql in statements:
            found = WRITES_TO.match(sql)
            table = found.group(1).lower() if found else EVERY_TABLE
            self._written[table] = self._written.get(table, 0) + 1
        self._versions.clear()

    @contextmanager
    def transaction(self, *tables: str) -> Iterator[Engine]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self._conn.execute("ROLLBACK")
            self._wrote("ROLLBACK")  # what was read since its writes is gone with them
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()

    def version(self, tables: Sequence[str] = ()) -> tuple[Any, ...]:
        """This connection's writes to ``tables`` (none named: to any) and to tables it
        could not tell, and SQLite's ``PRAGMA data_version`` (the same until another
        connection commits; an in-memory database has no other). A write counts when its
        statement runs, so a read in the same transaction after it is not taken for one
        before it."""
        mine = self._versions.get(tables)
        if mine is None:  # worked out once between two writes
            written = self._written
            mine = self._versions[tables] = (
                tuple(written.get(t, 0) for t in tables) if tables else sum(written.values()),
                written.get(EVERY_TABLE, 0))
        return *mine, 0 if self._alone else \
            int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def after_copy(self, table: str) -> None:
        """Nothing to do: AUTOINCREMENT moves past the largest id written."""

    def tables(self) -> set[str]:
        return {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE "
                                                 "type='table'")}

    def columns(self, table: str) -> set[str]:
        return {c[1] for c in self._conn.execute(f"PRAGMA table_info({table})")}

    def add_tables(self, tables: list[str]) -> None:
        self._conn.executescript(ddl("sqlite", *tables) + f"PRAGMA user_version={VERSION};")

    def bad_value(self, column: str, kind: str, not_null: bool) -> str:
        q = f'"{column}"'
        if column in TIMES:
            good = f"(typeof({q}) = 'text' AND {q} GLOB '{TIME_GLOB}' AND is_time({q}))"
        elif kind == "REAL":
            good = f"(typeof({q}) IN ('real', 'integer') AND {q} BETWEEN 0 AND 1e12)"
        elif kind == "INTEGER":
            good = f"typeof({q}) = 'integer'"
        else:
            good = f"typeof({q}) = 'text'"
        return f"NOT ({good})" if not_null else f"({q} IS NOT NULL AND NOT {good})"


class PostgresEngine(Engine):
    name = "postgresql"

    def __init__(self, conn: Any, location: StateLocation) -> None:
        self._conn = conn
        self.location = location
        self._sql: dict[str, str] = {}

    @classmethod
    def open(cls, location: StateLocation) -> PostgresEngine:
        """Connect (password from the URL, ``PGPASSWORD`` or ``~/.pgpass``), make the tables
        in a database that has none of them, check them in one that has."""
        import psycopg
        from psycopg.rows import dict_row

        try:
            conn = psycopg.connect(location.url, autocommit=True, row_factory=dict_row,
                                   connect_timeout=10)
        except psycopg.Error as exc:
            raise LedgerUnreachable(location, exc) from None
        engine = cls(conn, location)
        try:
            if not engine.tables() & set(TABLES):
                with engine.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (CREATE_LOCK,))
                    if not engine.tables() & set(TABLES):
                        conn.execute(ddl("postgresql"))
            check(engine, 0)
        except psycopg.Error as exc:
            conn.close()
            raise LedgerError(location.shown, f"not a ledger PostgreSQL can read "
                              f"({_without_secret(str(exc), location)})") from None
        except LedgerError:
            conn.close()
            raise
        return engine

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        text = self._sql.get(sql)
        if text is None:
            text = self._sql[sql] = sql.replace("%", "%%").replace("?", "%s")
        return self._conn.execute(text, args)

    @contextmanager
    def transaction(self, *tables: str) -> Iterator[Engine]:
        with self._conn.transaction():
            if tables:
                self._conn.execute(f"LOCK TABLE {', '.join(tables)} IN SHARE ROW EXCLUSIVE "
                                   "MODE")
            yield self

    def close(self) -> None:
        self._conn.close()

    def after_copy(self, table: str) -> None:
        self._conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)")

    def tables(self) -> set[str]:
        rows = self._conn.execute("SELECT table_name FROM information_schema.tables "
                                  "WHERE table_schema = current_schema()")
        return {r["table_name"] for r in rows}

    def columns(self, table: str) -> set[str]:
        rows = self._conn.execute("SELECT column_name FROM information_schema.columns WHERE "
                                  "table_schema = current_schema() AND table_name = %s",
                                  (table,))
        return {r["column_name"] for r in rows}

    def add_tables(self, tables: list[str]) -> None:
        self._conn.execute(ddl("postgresql", *tables))

    def bad_value(self, column: str, kind: str, not_null: bool) -> str:
        # the column types hold the rest; text times and USD amounts are checked here
        q = f'"{column}"'
        if column in TIMES:
            bad = f"{q} !~ '{TIME_REGEX}'"
        elif kind == "REAL":
            bad = f"NOT ({q} BETWEEN 0 AND 1e12)"
        else:
            return "false"
        return bad if not_null else f"({q} IS NOT NULL AND {bad})"


class LedgerUnreachable(LedgerError):
    """The ledger's server could not be reached or refused the login."""

    def __init__(self, location: StateLocation, exc: Exception) -> None:
        self.path = location.shown
        detail = " ".join(_without_secret(str(exc), location).split()).rstrip(".?")
        Exception.__init__(self, f"cannot reach the ledger {location.shown}: "
                           f"{detail}. Nothing was "
                           "changed. To fix: check the host, port, database and user in the "
                           "URL, and the password (in the URL, PGPASSWORD or ~/.pgpass)")


def _without_secret(text: str, location: StateLocation) -> str:
    from urllib.parse import urlsplit

    password = urlsplit(location.url).password
    return text.replace(password, "***") if password else text


def statements(script: str) -> list[str]:
    """The statements of a DDL script, one by one (they end with ``;`` at a line's end)."""
    return [part.strip() for part in re.split(r";[ \t]*(?:\n|$)", script) if part.strip()]


def open_engine(location: StateLocation) -> Engine:
    """The engine for ``location``, its tables made or checked."""
    if location.engine == "postgresql":
        return PostgresEngine.open(location)
    return SqliteEngine.open(location)


def _expected_columns() -> dict[str, list[tuple[str, str, bool]]]:
    """table -> ``(column, declared SQLite type, NOT NULL)`` as the schema makes them."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(ddl("sqlite"))
    found = {t: [(c[1], c[2], bool(c[3] or c[5])) for c in conn.execute(
        f"PRAGMA table_info({t})")] for t in TABLES}
    conn.close()
    return found


EXPECTED = _expected_columns()


def check(engine: Engine, version: int) -> None:
    """Raise :class:`LedgerError` unless the database holds the ledger's tables, columns and
    values of the right types; a ledger made before a table was (``version``, SQLite's
    ``user_version``; 0 on PostgreSQL) gets it."""
    where = engine.location.shown
    tables = engine.tables()
    missing = [t for t in EXPECTED if t not in tables]
    if missing and all(t in ADDED and version <= ADDED[t] for t in missing):
        engine.add_tables(missing)  # a ledger made before these tables were: add them
        missing = []
    if missing:
        raise LedgerError(where, f"the table {missing[0]!r} is missing"
                          + (" (a table is never made again in an existing ledger: its rows "
                             "would be lost silently)" if len(missing) < len(EXPECTED) else
                             "; the file holds no ledger"))
    for table, columns in EXPECTED.items():
        have = engine.columns(table)
        lost = [c for c, _k, _n in columns if c not in have]
        if lost:
            raise LedgerError(where, f"the table {table!r} has no column {', '.join(lost)}")
        # a row is named by SQLite's rowid, or on PostgreSQL by its table's first column
        key = "rowid" if engine.name == "sqlite" else f'"{columns[0][0]}"'
        for column, kind, not_null in columns:
            row = engine.execute(f'SELECT {key} AS k, "{column}" AS v FROM {table} WHERE '
                                 f"{engine.bad_value(column, kind, not_null)} LIMIT 1"
                                 ).fetchone()
            if row is not None:
                what = "a UTC time such as 2027-01-04T00:00:00Z" if column in TIMES else {
                    "REAL": "a number of USD from 0", "INTEGER": "a whole number"}.get(
                    kind, "text")
                name = row["k"] if isinstance(row["k"], int) else repr(row["k"])
                raise LedgerError(where, f"{table} row {name}: {column} = {row['v']!r}; "
                                  f"valid: {what}")
    for row in engine.execute("SELECT plan_id, document FROM plans"):
        check_document(where, row["plan_id"], row["document"])


def check_document(where: object, plan_id: str, document: str) -> None:
    """A recorded plan's document must be the plan file ``apply`` read."""
    try:
        PlanDocument.model_validate(json.loads(document))
    except (ValueError, RecursionError) as exc:
        detail = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            detail = (f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}; "
                      f"{exc.error_count()} problem(s)")
        raise LedgerError(where, f"plans row {plan_id!r}: the document is not a "
                          f"costopt.plan/v1 plan ({detail})") from None

