"""Near matches for a name the user got wrong: the one "Did you mean" of every message."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def near_names(value: str, options: Iterable[str], *, most: int = 3,
               cutoff: float = 0.5, fold_case: bool = False) -> list[str]:
    """Up to ``most`` of ``options`` close to ``value`` (``difflib``'s ratio at least
    ``cutoff``), closest first; with ``fold_case``, compared in lower case and given as
    written."""
    written = {(o.lower() if fold_case else o): o for o in sorted(options)}
    key = value.lower() if fold_case else value
    return [written[n] for n in difflib.get_close_matches(key, list(written), n=most,
                                                          cutoff=cutoff)]


def did_you_mean(value: str, options: Iterable[str], *, cutoff: float = 0.5,
                 fold_case: bool = False) -> str:
    """`` Did you mean A, B?`` (its leading space included) for the near names of
    :func:`near_names`, or ``""`` when none is near."""
    near = near_names(value, options, cutoff=cutoff, fold_case=fold_case)
    return f" Did you mean {', '.join(near)}?" if near else ""
