"""Parsed price tables kept in the user's cache folder: a price file's thousand rows are read
and checked once per version of the file, not on every command (about a tenth of
``costopt validate``'s time went to it).

One entry per price file (named by a hash of its path), holding the key it was parsed
under and what the parse gave. The key is the SHA-256 of the texts parsed (the instance
price file and the GPU table), costopt's version and the fields of the types stored: a file
that changes, or a costopt whose types changed, misses and parses again, so a stale table is
never read back. The folder is ``$XDG_CACHE_HOME/costopt/prices``, else
``~/.cache/costopt/prices`` - the user's own, never the package's; an entry is written
atomically, owner-only. An entry that cannot be read or written is passed over (the files
are parsed as before), never an error. Pickles are loaded from that folder only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from costopt import __version__
from costopt.errors import OutputFileError
from costopt.files import write_atomically

T = TypeVar("T")


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/costopt/prices``, else ``~/.cache/costopt/prices``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "costopt" / "prices"


def cache_key(texts: Sequence[str], stored: Sequence[type]) -> str:
    """The SHA-256 of ``texts``, costopt's version and the field names of the ``stored``
    dataclasses."""
    digest = hashlib.sha256(__version__.encode())
    for kind in stored:
        digest.update(f"\0{kind.__qualname__}:{','.join(f.name for f in fields(kind))}".encode())
    for text in texts:
        digest.update(b"\0" + text.encode())
    return digest.hexdigest()


def entry_path(source: Path) -> Path:
    """The cache entry of the price file ``source`` (one per file, whatever its version)."""
    name = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:32]
    return cache_dir() / f"{name}.pickle"


def parsed_once(source: Path, key: str, parse: Callable[[], T]) -> T:
    """What ``parse`` gives for ``source`` at ``key``: from the cache entry when it was
    stored under ``key``, else parsed and stored. An error of ``parse`` is raised, and
    nothing stored."""
    entry = entry_path(source)
    stored = _read(entry)
    if stored is not None and stored[0] == key:
        return stored[1]  # type: ignore[no-any-return]
    value = parse()
    with contextlib.suppress(OutputFileError):  # read-only or full: parsed every time
        write_atomically(entry, lambda partial: partial.write_bytes(
            pickle.dumps((key, value), protocol=pickle.HIGHEST_PROTOCOL)))
    return value


def _read(entry: Path) -> tuple[str, Any] | None:
    """The ``(key, value)`` of a cache entry; ``None`` when there is none or it cannot be
    read (a damaged or foreign file is parsed over, not trusted)."""
    try:
        stored = pickle.loads(entry.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError,
            IndexError, TypeError, ValueError):
        return None
    if isinstance(stored, tuple) and len(stored) == 2 and isinstance(stored[0], str):
        return stored
    return None
