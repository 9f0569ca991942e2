"""Files in and out: every input file is read by :func:`read_text` (a regular file within a
size bound, else a clear error: never a hang on a FIFO or ``/dev/zero``); output files are
written atomically, with a clear error where a path cannot be written."""

from __future__ import annotations

import contextlib
import os
import stat
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


MAX_INPUT_BYTES = 256 * 2**20
"""The largest input file read unless its reader says less (256 MiB, the plan file's bound
before every file was read here); the workload's is :data:`costopt.boundedyaml.MAX_BYTES`."""

_KINDS = ((stat.S_ISREG, "a file"), (stat.S_ISDIR, "a folder"),
          (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:g} MiB" if n_bytes >= 2**20 else f"{n_bytes:,} bytes"


def read_text(path: Path, error: type[InputFileError],
              max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of the regular file ``path``, of at most ``max_bytes``.

    Anything else is ``error`` naming the file: missing, unreadable, a folder, a FIFO (opened
    without waiting for a writer, so never a hang), a device such as ``/dev/zero`` (never
    read), larger than ``max_bytes`` (no more than ``max_bytes + 1`` bytes are read, for a
    file that grows while read), or not UTF-8.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise error.about_file(path, "file not found") from None
    except OSError as exc:
        raise error.about_file(path, f"cannot be read: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise error.about_file(path, f"is {_kind(mode)}, not a regular file; To fix: give "
                               "the path of a file")
    with os.fdopen(fd, "rb") as handle:
        os.set_blocking(fd, True)
        try:
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise error.about_file(path, f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise error.about_file(path, f"is larger than {_size(max_bytes)}, the most this file "
                               "may be; To fix: give a smaller file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error.about_file(path, f"is not UTF-8 text ({exc})") from None


def read_input(path: Path, parse: Callable[[str], T], error: type[InputFileError],
               what: str, max_bytes: int = MAX_INPUT_BYTES) -> T:
    """``parse`` of the text of ``path`` (:func:`read_text`); text ``parse`` rejects with a
    :class:`ValueError` (JSON and YAML errors are ones) or a :class:`RecursionError` becomes
    ``error`` naming the file: "not ``what``: ..." ."""
    text = read_text(path, error, max_bytes)
    try:
        return parse(text)
    except (ValueError, RecursionError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
        raise error.about_file(path, f"not {what}: {first}") from None


def _refuse_unless(place: Path, want: str, test: Callable[[int], bool],
                   error: Callable[[str], Exception]) -> None:
    try:
        mode = place.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise error(f"{place} cannot be read: {exc.strerror or exc}") from None
    if not test(mode):
        raise error(f"{place} is {_kind(mode)}, not {want}; To fix: give a folder that holds "
                    "nothing else by that name")


def check_file_place(path: Path, error: Callable[[str], Exception]) -> Path:
    """``path``, unless something is in the way of a file there that is read and written in
    place (the ledger): its folder must be a folder or not made yet (a file given as
    ``--state-dir`` is refused), the path itself a regular file or nothing yet (a FIFO would
    hang whoever opens it). Anything else raises ``error`` of a message naming the path."""
    _refuse_unless(path.parent, "a folder", stat.S_ISDIR, error)
    _refuse_unless(path, "a regular file", stat.S_ISREG, error)
    return path


def file_in_place(path: Path, error: Callable[[str], Exception],
                  folder_mode: int = 0o777) -> Path:
    """``path`` once :func:`check_file_place` passes and its folder is made (with
    ``folder_mode``, less the umask, when missing)."""
    check_file_place(path, error)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=folder_mode)
    except OSError as exc:
        raise error(f"cannot make the folder {path.parent}: {exc.strerror or exc}; To fix: "
                    "give a folder that exists or can be made") from None
    return path
