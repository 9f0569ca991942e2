"""Writing output files: atomically, and with a clear error where a path cannot be written."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from costopt.errors import OutputFileError


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
