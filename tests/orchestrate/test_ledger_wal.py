"""Opening a new SQLite ledger while another connection makes its tables: the switch to WAL,
which SQLite refuses at once rather than wait, is tried again."""

from __future__ import annotations

import sqlite3

import pytest

from costopt.orchestrate.ledger.engines import BUSY_TIMEOUT_S, _write_ahead_log


class Refusing:
    """A connection whose ``PRAGMA journal_mode=WAL`` fails with ``errors`` in turn."""

    def __init__(self, *errors: str) -> None:
        self.errors = list(errors)
        self.calls = 0

    def execute(self, sql: str) -> None:
        assert sql == "PRAGMA journal_mode=WAL"
        self.calls += 1
        if self.errors:
            raise sqlite3.OperationalError(self.errors.pop(0))


def test_a_locked_file_is_tried_again_every_20_ms_until_it_switches() -> None:
    conn, now, slept = Refusing("database is locked", "database is locked"), [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    _write_ahead_log(conn, clock=lambda: now[0], sleep=sleep)  # type: ignore[arg-type]
    assert (conn.calls, slept) == (3, [0.02, 0.02])


def test_it_gives_up_after_the_busy_timeout_and_other_errors_fail_at_once() -> None:
    # A file locked for good: tries at 0, 0.02, ... until the clock passes 30 s, then the
    # error; 30 / 0.02 = 1,500 waits, the last try at 30.0 s itself.
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    locked = Refusing(*["database is locked"] * 5000)
    with pytest.raises(sqlite3.OperationalError):
        _write_ahead_log(locked, clock=lambda: now[0], sleep=sleep)  # type: ignore[arg-type]
    assert now[0] == pytest.approx(BUSY_TIMEOUT_S, abs=0.05)
    assert locked.calls == pytest.approx(BUSY_TIMEOUT_S / 0.02 + 1, abs=2)
    damaged = Refusing("file is not a database")
    with pytest.raises(sqlite3.OperationalError):
        _write_ahead_log(damaged, clock=lambda: 0.0, sleep=sleep)  # type: ignore[arg-type]
    assert damaged.calls == 1
