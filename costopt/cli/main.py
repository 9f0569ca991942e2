"""The ``costopt`` application: global options and the command groups."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import import_module
from typing import Annotated

import typer

from costopt import __version__
from costopt.cli.common import Env, completion_shell_from_env, flags_without_type
from costopt.cli.startup import command_begins

GROUPS: dict[str, str] = {
    "plan": "plan", "validate": "plan", "init": "plan", "breakeven": "breakeven",
    "pricing": "pricing", "apply": "orchestrate", "status": "orchestrate",
    "watch": "orchestrate", "progress": "progress", "report": "report",
    "simulate": "simulate", "traces": "traces", "risk": "risk", "state": "state",
    "diff": "diff",
}
"""Each command (or command group) -> the module of ``costopt.cli`` that registers it, in
the order ``--help`` lists them."""
OPTIONS_WITH_VALUE = ("--profile", "--region")
"""The application's options that take a value (``--profile NAME``)."""

flags_without_type()
completion_shell_from_env()


def make_app(command: str | None = None) -> typer.Typer:
    """The application with the command groups: only the one that registers ``command`` when
    it names one (a command pays for no other command's imports and definitions), else all
    of them (``--help``, completion, a mistyped command's suggestions)."""
    app = typer.Typer(
        name="costopt",
        help="Where to run planned GPU work - owned servers, AWS on-demand or AWS spot - at "
        "the lowest cost that meets every deadline.\n\nExample: costopt plan "
        "examples/workload.yaml",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(main)
    modules = [GROUPS[command]] if command in GROUPS else dict.fromkeys(GROUPS.values())
    for module in modules:
        import_module(f"costopt.cli.{module}").register(app)
    return app


def command_named(args: Sequence[str]) -> str | None:
    """The command ``args`` (the command line after ``costopt``) names: the first word that
    is neither one of the application's options nor an option's value."""
    words = iter(args)
    for word in words:
        if word in OPTIONS_WITH_VALUE:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"costopt {__version__}")
        raise typer.Exit()


def main(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Say more.")] = False,
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile, as the AWS CLI has it.")
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="AWS region, as the AWS CLI has it.")
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """costopt: plan GPU work across owned servers and AWS, carry it out, report the spend."""
    command_begins()
    env = ctx.obj if isinstance(ctx.obj, Env) else Env()
    env.verbose = env.verbose or verbose
    env.profile = profile or env.profile
    env.region = region or env.region
    ctx.obj = env


def __getattr__(name: str) -> typer.Typer:
    """``app``: the whole application (what tests invoke), built once when first asked."""
    if name != "app":
        raise AttributeError(name)
    app = globals()["app"] = make_app()
    return app


def run() -> None:
    """Run the command the command line names (``python -m costopt.cli.main ...``; the
    console script goes through :mod:`costopt.cli.entry`, which takes signals first)."""
    make_app(command_named(sys.argv[1:]))()


if __name__ == "__main__":
    run()
