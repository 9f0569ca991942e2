"""Times as the ledger stores them (``2027-01-04T00:00:00Z``, UTC): written by :func:`ts`,
read back by :func:`parse_ts`, the one parser of stored times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """``moment`` in whole microseconds since :data:`EPOCH`: a difference of two divided by
    1,000,000 is ``timedelta.total_seconds()`` to the last bit (the same integer division),
    for sums over many spans without building a ``timedelta`` for each."""
    return (moment - EPOCH) // ONE_MICROSECOND


def ts(moment: datetime) -> str:
    """``moment`` as stored and shown everywhere: UTC, to the second (``2027-01-04T00:00:00Z``),
    the one format of a stored time."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(text: str) -> datetime:
    """A time the ledger or a plan file stored (``2027-01-04T00:00:00Z``): the one parser
    of stored times. ``ValueError`` for one that is no time (February 30, hour 29)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def is_time(text: object) -> bool:
    """SQL ``is_time(value)`` (SQLite's check on open): true for text :func:`parse_ts`
    reads."""
    try:
        parse_ts(str(text))
    except ValueError:
        return False
    return True
