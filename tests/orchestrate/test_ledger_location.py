"""State URLs: which ledger a command uses, and that a password never shows."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from state_engines import server_url

from costopt.errors import LedgerError
from costopt.orchestrate.ledger import Ledger, StateLocation, state_location
from costopt.orchestrate.ledger.location import StateUrlError, parse_state_url, redact


def test_sqlite_urls_name_files() -> None:
    assert parse_state_url("sqlite:///home/me/ledger.db").path == Path("/home/me/ledger.db")
    assert parse_state_url("sqlite:////home/me/ledger.db").path == Path("/home/me/ledger.db")
    assert parse_state_url("sqlite:///./here.db").path == Path("here.db")
    with pytest.raises(StateUrlError) as info:
        parse_state_url("sqlite://ledger.db")
    assert "a SQLite URL names a file after three slashes" in str(info.value)


def test_a_password_is_never_shown() -> None:
    url = "postgresql://costopt:s3cret@db.lab:5433/costopt?sslmode=require"
    location = parse_state_url(url)
    assert location.engine == "postgresql" and location.url == url
    assert location.shown == "postgresql://costopt:***@db.lab:5433/costopt?sslmode=require"
    assert redact("postgresql://costopt@db.lab/costopt") == "postgresql://costopt@db.lab/costopt"
    with pytest.raises(StateUrlError) as info:
        parse_state_url("mysql://root:s3cret@db/x")
    assert "s3cret" not in str(info.value) and "mysql://root:***@db/x" in str(info.value)


def test_which_ledger_a_command_uses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert state_location(None, tmp_path) == StateLocation.sqlite_in(tmp_path)
    monkeypatch.setenv("COSTOPT_STATE_URL", "postgresql://team@db/costopt")
    assert state_location(None, None).url == "postgresql://team@db/costopt"
    assert state_location("sqlite:///x.db", None).path == Path("/x.db")  # --state wins
    assert state_location(None, tmp_path).path == tmp_path / "ledger.db"  # so does --state-dir
    monkeypatch.setenv("COSTOPT_STATE_URL", "ftp://x")
    with pytest.raises(StateUrlError) as info:
        state_location(None, None)
    assert str(info.value).startswith("COSTOPT_STATE_URL = 'ftp://x': valid: sqlite:///")
    with pytest.raises(StateUrlError):
        state_location("sqlite:///x.db", tmp_path)


def test_a_wrong_password_is_an_error_without_the_password() -> None:
    parts = urlsplit(server_url())
    wrong = urlunsplit(parts._replace(netloc=f"{parts.username}:not-it-9@{parts.hostname}:"
                                              f"{parts.port}"))
    with pytest.raises(LedgerError) as info:
        Ledger.connect(parse_state_url(wrong))
    message = str(info.value)
    assert message.startswith(f"cannot reach the ledger postgresql://{parts.username}:***@")
    assert "password authentication failed" in message and "not-it-9" not in message
    assert "To fix: check the host, port, database and user" in message
