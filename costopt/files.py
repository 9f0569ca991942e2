"""Writing output files: atomically, and with a clear error where a path cannot be written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from costopt.errors import InputFileError, OutputFileError

T = TypeVar("T")


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` by calling ``write`` on a temporary file beside it, then renaming that
    over ``path``: a reader never sees half a file, and a failure leaves the old one as it
    was. The temporary file gets a fresh random name and is made with ``O_EXCL`` (so a link
    planted where it would go is never followed), readable by its owner only (0600: plans,
    reports and states hold the jobs' commands), and is flushed to disk (``fsync``) before
    the rename. Missing folders are made. A file system error becomes an
    :class:`OutputFileError` naming the path (a folder that is a file, no permission, a full
    disk)."""
    partial: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial",
                                        dir=path.parent)
        os.close(handle)
        partial = Path(name)
        write(partial)
        _fsync(partial)
        os.replace(partial, path)
    except OSError as exc:
        if partial is not None:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
        raise OutputFileError(path, exc) from None


def _fsync(path: Path) -> None:
    """Flush ``path`` to disk, not following a link."""
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def read_input(path: Path, parse: Callable[[str], T], error: type[InputFileError],
               what: str) -> T:
    """``parse`` of the text of ``path``; a missing or unreadable file, or text ``parse``
    rejects with a :class:`ValueError` (JSON and YAML errors are ones), becomes ``error``
    naming the file: "not ``what``: ..." ."""
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error.about_file(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error.about_file(path, str(exc)) from None
    except ValueError as exc:
        raise error.about_file(path, f"not {what}: {exc}") from None
