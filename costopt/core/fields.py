"""Pydantic's validation errors as field issues (:class:`costopt.errors.FieldIssue`), the
one conversion every input file's reader starts from: the field's path as a reader finds it
in the file (``jobs[2].deadline``), the value as found and pydantic's message without its
``Value error,`` prefix (a missing field: "is required")."""

from __future__ import annotations

from typing import Any

from costopt.errors import MISSING, FieldIssue


def field_path(loc: tuple[Any, ...]) -> str:
    """``("jobs", 2, "deadline")`` -> ``jobs[2].deadline``; pydantic's own steps
    (``function-after[...]``) left out; ``(top level)`` for an empty path."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "constrained-")):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def field_issue(err: Any, prefix: str = "") -> FieldIssue:
    """One error of ``ValidationError.errors()`` as a field issue; ``prefix`` goes before
    the path (``row 3.``)."""
    if err["type"] == "missing":
        value, message = MISSING, "is required"
    else:
        value, message = err.get("input"), str(err["msg"]).removeprefix("Value error, ")
    return FieldIssue(prefix + field_path(tuple(err["loc"])), value, message)
