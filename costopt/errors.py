"""One hierarchy of errors that the CLI turns into a clear message and an exit code.

Every error a user can cause derives from :class:`CostoptError`; the CLI prints its message
(never a traceback) and exits with ``exit_code``.
"""

from __future__ import annotations

from dataclasses import dataclass


class CostoptError(Exception):
    """An error the user can act on. ``exit_code`` is what the CLI exits with."""

    exit_code: int = 1


@dataclass(frozen=True)
class FieldIssue:
    """One problem in an input file: where it is, what was found and what would be valid."""

    path: str  # field path, e.g. ``jobs[2].deadline``
    value: object  # the offending value as read (``None`` when the field is missing)
    message: str  # what is wrong and what would be valid ("To fix: ...")

    def render(self, file: str) -> str:
        shown = "" if self.value is _MISSING else f" = {self.value!r}"
        return f"{file}: {self.path}{shown}: {self.message}"


_MISSING = object()
MISSING = _MISSING
"""Sentinel for :attr:`FieldIssue.value` when a required field is absent."""


class InputFileError(CostoptError):
    """An input file (workload, price file, plan file) is wrong in one or more places."""

    kind = "input file"

    def __init__(self, file: str, issues: list[FieldIssue]) -> None:
        self.file = file
        self.issues = list(issues)
        n = len(self.issues)
        head = f"{self.kind} {file} has {n} problem{'s' if n != 1 else ''}:"
        super().__init__("\n".join([head, *("  " + i.render(file) for i in self.issues)]))

    @classmethod
    def about_file(cls, path: object, message: str) -> InputFileError:
        """A problem with the file as a whole: missing, unreadable, not the right format."""
        return cls(str(path), [FieldIssue("(file)", str(path), message)])


class WorkloadError(InputFileError):
    """The workload file is invalid (bad YAML, unknown field, value out of range ...)."""

    kind = "workload"


class PricingDataError(InputFileError):
    """A price file is missing columns, has unparseable numbers, or cannot be read."""

    kind = "price file"


class PlanFileError(InputFileError):
    """A plan file cannot be read or is not a ``costopt.plan/v1`` document."""

    kind = "plan file"


class OutputFileError(CostoptError):
    """An output file (plan, price file, chart, example) cannot be written where asked."""

    def __init__(self, path: object, exc: OSError) -> None:
        self.path = path
        if isinstance(exc, (FileExistsError, NotADirectoryError)):
            why = f"a file is in the way of the folder {exc.filename}"
        else:
            why = f"{exc.strerror or exc} ({exc.filename or path})"
        super().__init__(f"cannot write {path}: {why}; To fix: choose a file in a folder that "
                         "exists or can be made, and that you can write to")


class InfeasiblePlan(CostoptError):
    """The workload cannot be done as asked; the message says which job falls short and why."""


class SolverError(CostoptError):
    """The LP solver failed or stopped before proving optimality."""


class AwsError(CostoptError):
    """An AWS call failed in a way the user must act on (credentials, permissions, region)."""


class PlanReplaced(CostoptError):
    """A newer plan of the same workload is in force: the older one is not applied again."""


class BudgetExceeded(CostoptError):
    """A launch would take the month's projected spend past the budget."""


class LedgerError(CostoptError):
    """The orchestrator's ledger is damaged: a table or column missing, a value of the wrong
    type, a recorded plan that is not a plan. Nothing is changed in it."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = path
        super().__init__(f"the ledger {path} is damaged: {problem}. Nothing was changed. To "
                         "fix: restore the file from a backup, or move it away to start a new "
                         "ledger (its history of spend is then lost to reports)")


class ReportError(CostoptError):
    """The monthly report cannot be made as asked: a bad month, an unreadable ledger."""
