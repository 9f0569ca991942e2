"""Writing output files: atomically, and with a clear error where a path cannot be written."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from costopt.errors import InputFileError, OutputFileError

T = TypeVar("T")


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` by calling ``write`` on a partial file beside it, then renaming that
    over ``path``: a reader never sees half a file, and a failure leaves the old one as it
    was. Missing folders are made. A file system error becomes an :class:`OutputFileError`
    naming the path (a folder that is a file, no permission, a full disk)."""
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(partial)
        os.replace(partial, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise OutputFileError(path, exc) from None


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
