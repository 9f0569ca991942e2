"""Where a ledger lives: a state URL, parsed once, its secrets never shown.

``sqlite:///ABSOLUTE/PATH/ledger.db`` (or ``sqlite:///./relative.db``) names a SQLite file;
``postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=...]`` a PostgreSQL database.
The password may come from the URL, ``PGPASSWORD`` or ``~/.pgpass`` (libpq reads the last
two itself). Every message shows :attr:`StateLocation.shown`, the URL with the password
replaced by ``***``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from costopt.core.places import default_state_dir
from costopt.errors import CostoptError
from costopt.files import check_file_place

STATE_URL_ENV = "COSTOPT_STATE_URL"
SCHEMES = ("sqlite", "postgresql")


class StateUrlError(CostoptError):
    """A state URL that names no ledger costopt can open."""


@dataclass(frozen=True)
class StateLocation:
    """A ledger's place. ``engine`` is ``sqlite`` or ``postgresql``; ``path`` the SQLite
    file; ``url`` the full URL (with any password: hand it to the driver only)."""

    engine: str
    url: str
    path: Path | None = None

    @property
    def shown(self) -> str:
        """The location for messages: a SQLite file's path, or the URL without password."""
        if self.path is not None:
            return str(self.path)
        return redact(self.url)

    @classmethod
    def sqlite_in(cls, state_dir: Path | None = None) -> StateLocation:
        """The SQLite ledger in ``state_dir`` (default: the orchestrator's state directory)."""

        path = ledger_path(state_dir).absolute()
        return cls("sqlite", f"sqlite://{path}", path)


def redact(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def parse_state_url(url: str, source: str = "--state") -> StateLocation:
    """The location ``url`` names; :class:`StateUrlError` (naming ``source``, the option or
    the environment variable it came from) when it names none."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("postgres", "postgresql"):
        parts = urlsplit(url)
        if not parts.hostname and not parts.path.strip("/"):
            raise StateUrlError(f"{source} = {redact(url)!r}: no host or database. Valid: "
                                "postgresql://USER@HOST[:PORT]/DATABASE")
        return StateLocation("postgresql", url)
    if scheme == "sqlite":
        rest = url.split("://", 1)[1]
        if not rest.startswith("/") or rest == "/":
            raise StateUrlError(f"{source} = {url!r}: a SQLite URL names a file after three "
                                "slashes. Valid: sqlite:///home/me/ledger.db or "
                                "sqlite:///./ledger.db")
        # sqlite:///./x is relative; sqlite:///x and SQLAlchemy's sqlite:////x are /x
        path = Path(rest[1:]) if rest.startswith("/./") else Path("/" + rest.lstrip("/"))
        return StateLocation("sqlite", url, path)
    raise StateUrlError(f"{source} = {redact(url)!r}: valid: sqlite:///PATH/ledger.db or "
                        "postgresql://USER@HOST[:PORT]/DATABASE")


def state_location(state: str | None, state_dir: Path | None) -> StateLocation:
    """The ledger a command uses: ``--state`` (or ``$COSTOPT_STATE_URL``), else the SQLite
    ledger in ``--state-dir`` (or the default state directory). Both at once is an error."""
    source = "--state"
    if state is None and os.environ.get(STATE_URL_ENV) and state_dir is None:
        state, source = os.environ[STATE_URL_ENV], STATE_URL_ENV
    if state is None:
        return StateLocation.sqlite_in(state_dir)
    if state_dir is not None:
        raise StateUrlError("--state and --state-dir both name a ledger. To fix: pass one")
    return parse_state_url(state, source)


def ledger_path(state_dir: Path | None = None) -> Path:
    """The ledger's file in ``state_dir`` (default: :func:`default_state_dir`); a
    :class:`CostoptError` when a file is in the way (:func:`files.check_file_place`)."""
    return check_file_place((state_dir or default_state_dir()) / "ledger.db", CostoptError)
