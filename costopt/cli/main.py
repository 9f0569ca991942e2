"""The ``costopt`` application: global options and the command groups."""

from __future__ import annotations

from typing import Annotated

import typer

from costopt import __version__
from costopt.cli import breakeven as breakeven_cli
from costopt.cli import diff as diff_cli
from costopt.cli import orchestrate as orchestrate_cli
from costopt.cli import plan as plan_cli
from costopt.cli import pricing as pricing_cli
from costopt.cli import progress as progress_cli
from costopt.cli import report as report_cli
from costopt.cli import risk as risk_cli
from costopt.cli import simulate as simulate_cli
from costopt.cli import state as state_cli
from costopt.cli import traces as traces_cli
from costopt.cli.common import Env, completion_shell_from_env, flags_without_type
from costopt.cli.startup import command_begins

app = typer.Typer(
    name="costopt",
    help="Where to run planned GPU work - owned servers, AWS on-demand or AWS spot - at the "
    "lowest cost that meets every deadline.\n\nExample: costopt plan examples/workload.yaml",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
flags_without_type()
completion_shell_from_env()

for module in (plan_cli, breakeven_cli, pricing_cli, orchestrate_cli, progress_cli, report_cli,
               simulate_cli, traces_cli, risk_cli, state_cli, diff_cli):
    module.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"costopt {__version__}")
        raise typer.Exit()


@app.callback()
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


def run() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    run()
