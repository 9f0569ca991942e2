"""What every command shares: exit codes, the injectable environment, error handling.

Heavy libraries (boto3, matplotlib, pandas, PuLP) are imported inside commands, never at
module level here, so ``costopt --help`` stays fast; Rich (~40 ms) only when a console is
first used (:class:`ConsoleOnFirstUse`), so a command that answers in plain text does
without it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum, IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from costopt.core.times import parse_ts
from costopt.errors import AwsError, CostoptError

if TYPE_CHECKING:
    from rich.console import Console


class ExitCode(IntEnum):
    OK = 0
    USER_ERROR = 1  # bad file, infeasible plan, refused action
    USAGE = 2  # Typer's own usage errors
    OVER_BUDGET = 3  # the report's forecast exceeds the budget
    DEADLINE_MISSED = 4  # simulate: a job missed its deadline (late or not done)


PIPE_WIDTH = 100_000
"""Columns of a console that writes to a pipe or file with no ``COLUMNS`` set: as wide as any
line, so nothing is wrapped or cut (``costopt status | grep i-0abc`` finds whole lines)."""


def make_console(*, stderr: bool = False) -> Console:
    """A console for stdout or stderr: the terminal's width; ``COLUMNS`` where set; else, when
    piped, :data:`PIPE_WIDTH`. Colour as Rich does it: off when piped or under ``NO_COLOR``."""
    from rich.console import Console

    console = Console(stderr=stderr)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = PIPE_WIDTH
    return console


WorkloadArgument = Annotated[Path, typer.Argument(help="The workload YAML file.",
                                                 metavar="WORKLOAD.yaml")]
PlanArgument = Annotated[Path, typer.Argument(help="The plan file written by `costopt plan`.",
                                              metavar="PLAN.json")]


class OutputFormat(str, Enum):
    """``--format``: for people, or JSON for programs."""

    TABLE = "table"
    JSON = "json"


class Solver(str, Enum):
    """``--solver``: the LP solver."""

    HIGHS = "highs"  # highspy: the fast one
    CBC = "cbc"  # bundled with PuLP


class MarketName(str, Enum):
    """``--market``: an AWS purchase option."""

    ON_DEMAND = "on_demand"
    SPOT = "spot"


def flags_without_type() -> None:
    """``--help`` shows a flag as ``--force``, not ``--force <bool>``, and an argument by its
    metavar alone (``SERVER``, not ``SERVER <str>``): Typer 0.29 prints the type of every
    parameter, flags included."""
    from typer.core import TyperArgument, TyperOption

    if getattr(TyperOption.display_type_rich, "costopt_flags", False):
        return
    option_type = TyperOption.display_type_rich
    argument_type = TyperArgument.display_type_rich

    def option_display(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else option_type(self, ctx)

    def argument_display(self: TyperArgument, ctx: Any) -> str | None:
        return None if self.metavar else argument_type(self, ctx)

    option_display.costopt_flags = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = option_display  # type: ignore[method-assign]
    TyperArgument.display_type_rich = argument_display  # type: ignore[method-assign]


def completion_shell_from_env() -> None:
    """``--install-completion`` and ``--show-completion`` find the shell from ``$SHELL`` when
    the process tree shows none (a parent that is no shell, a background job): Typer alone
    then says "Shell  not supported"."""
    from typer import completion

    detect = completion._get_shell_name
    if getattr(detect, "costopt_shell", False):
        return

    def shell_name() -> str | None:
        return detect() or (Path(os.environ["SHELL"]).name.lower()
                            if os.environ.get("SHELL") else None)

    shell_name.costopt_shell = True  # type: ignore[attr-defined]
    completion._get_shell_name = shell_name


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ConsoleOnFirstUse:
    """A console field of :class:`Env` (a dataclass field with a descriptor as its default):
    the console given to ``Env(...)``, else one :func:`make_console` builds when the field is
    first read, so Rich is imported only by a command that prints through it."""

    def __init__(self, *, stderr: bool) -> None:
        self.stderr = stderr
        self.slot = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, env: Any, owner: type) -> Any:
        if env is None:
            return None  # the field's default: build on first use
        console = env.__dict__.get(self.slot)
        if console is None:
            console = env.__dict__[self.slot] = make_console(stderr=self.stderr)
        return console

    def __set__(self, env: Any, console: Console | None) -> None:
        env.__dict__[self.slot] = console

    def in_use(self, env: Any) -> bool:
        """Whether ``env`` holds a console here already (given, or built by a read)."""
        return env.__dict__.get(self.slot) is not None


STDOUT_CONSOLE = ConsoleOnFirstUse(stderr=False)
STDERR_CONSOLE = ConsoleOnFirstUse(stderr=True)


@dataclass
class Env:
    """Effects a command may use, injectable by tests: consoles, the clock, AWS settings."""

    console: Console = STDOUT_CONSOLE  # type: ignore[assignment]
    err: Console = STDERR_CONSOLE  # type: ignore[assignment]
    clock: Callable[[], datetime] = _utc_now
    verbose: bool = False
    profile: str | None = None
    region: str | None = None
    session_factory: Callable[[], Any] | None = None  # tests: a session with event hooks
    stop_flag: Callable[[], Any] | None = None  # tests: a watch's StopFlag that never sleeps

    def boto3_session(self) -> Any:
        """A boto3 session for ``--profile``/``--region``; ``AWS_ENDPOINT_URL`` is honoured
        by boto3 itself."""
        if self.session_factory is not None:
            return self.session_factory()
        import boto3
        from botocore.exceptions import ProfileNotFound

        try:
            return boto3.Session(profile_name=self.profile, region_name=self.region)
        except ProfileNotFound as exc:
            raise AwsError(f"{exc}. To fix: pass a profile of your AWS config with --profile"
                           ) from None

    def time_option(self, value: str | None, option: str = "--at") -> datetime:
        """A ``--at TIME`` option (ISO 8601, UTC when no offset); now when not given."""
        if value is None:
            return self.clock().astimezone(timezone.utc)
        try:
            moment = parse_ts(value.strip())
        except ValueError:
            raise typer.BadParameter(f"{value!r}; valid: an ISO 8601 time such as "
                                     "2027-01-04T06:00:00Z (UTC when no offset)",
                                     param_hint=option) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)

    def say(self, text: str) -> None:
        """A line of plain text on stdout, as it is (no markup, never wrapped): through the
        console when one is in use, else written without importing Rich."""
        if STDOUT_CONSOLE.in_use(self):
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            typer.echo(text)

    def warn(self, message: str) -> None:
        """A warning on stderr, wrapped between words at the terminal's width (piped with no
        ``COLUMNS``: one line)."""
        self.err.print(f"[yellow]warning:[/yellow] {message}", highlight=False)

    def busy(self, message: str) -> AbstractContextManager[Any]:
        """A spinner with ``message`` on stderr while the work inside runs, in a terminal
        only (piped, nothing is drawn)."""
        if not self.err.is_terminal:
            return nullcontext()
        return self.err.status(message)

    def warn_stale(self, message: str | None, price_file: str) -> None:
        """The stale-price warning, once a day per price file (every time with -v): a
        marker ``STATE_DIR/warned/stale-prices-HASH-DAY`` records that it was shown."""
        if message is None:
            return
        from costopt.core.places import stale_prices_marker

        marker = stale_prices_marker(price_file, self.clock().date())
        if marker.exists() and not self.verbose:
            return
        self.warn(f"{message} (Shown once a day for this price file; -v shows it always.)")
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:
            pass  # a read-only home: the warning is shown every time


def get_env(ctx: typer.Context) -> Env:
    """The command's environment: the one a test passed as ``obj``, else a default."""
    root = ctx.find_root()
    if not isinstance(root.obj, Env):
        root.obj = Env()
    return root.obj


F = TypeVar("F", bound=Callable[..., Any])


def error_document(exc: CostoptError) -> dict[str, Any]:
    """An error as ``--format json`` puts it on stderr: the message, the exit code, and for
    an input file each issue's field path, value and message."""
    from costopt.errors import MISSING, InputFileError

    doc: dict[str, Any] = {"error": str(exc), "exit_code": exc.exit_code,
                           "kind": type(exc).__name__}
    if isinstance(exc, InputFileError):
        doc["file"] = exc.file
        doc["issues"] = [{"path": i.path, "value": None if i.value is MISSING else i.value,
                          "message": i.message} for i in exc.issues]
    return doc


def guarded(fn: F) -> F:
    """Turn a :class:`CostoptError` into a message on stderr and its exit code; under
    ``--format json`` (a command's ``fmt``) the message is a JSON document
    (:func:`error_document`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CostoptError as exc:
            err = make_console(stderr=True)
            if kwargs.get("fmt") == OutputFormat.JSON:
                import json

                err.out(json.dumps(error_document(exc), default=str), highlight=False)
            else:
                err.print(f"[red]error:[/red] {exc}", highlight=False, markup=True,
                          soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]
