"""An option set declared once serves several commands (``cli/option_sets.py``): each
command parses the set's fields as its own options, in the place ``after`` gives them, and
receives one instance of the set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer
from typer.testing import CliRunner

from costopt.cli.option_sets import takes_options

Name = Annotated[str, typer.Argument(metavar="NAME")]
Times = Annotated[int, typer.Option("--times", min=1)]
Loud = Annotated[bool, typer.Option("--loud")]
Sep = Annotated[str, typer.Option("--sep")]
Suffix = Annotated[str, typer.Option("--suffix")]


@dataclass(frozen=True)
class Greeting:
    name: Name
    times: Times = 1
    loud: Loud = False


def app() -> typer.Typer:
    """Two commands sharing :class:`Greeting`; ``join`` places ``--sep`` between the set's
    ``--times`` and ``--loud``, ``shout`` puts ``--suffix`` after the set."""
    commands = typer.Typer()

    @commands.command()
    @takes_options(Greeting, after={"sep": "times"})
    def join(greeting: Greeting, sep: Sep = " ") -> None:
        word = greeting.name.upper() if greeting.loud else greeting.name
        print(sep.join([word] * greeting.times))

    @commands.command()
    @takes_options(Greeting)
    def shout(greeting: Greeting, suffix: Suffix = "!") -> None:
        print(f"{greeting.name.upper() * greeting.times}{suffix}", repr(greeting))

    return commands


def option_order(help_text: str) -> list[str]:
    return [word for word in help_text.split() if word.startswith("--")]


def test_each_command_parses_the_set_and_its_own_options() -> None:
    """``join ab --times 3 --sep - --loud``: "AB" three times joined by "-"; ``shout``
    receives a ``Greeting`` built from the same options (its defaults where not given)."""
    runner = CliRunner()
    joined = runner.invoke(app(), ["join", "ab", "--times", "3", "--sep", "-", "--loud"])
    shouted = runner.invoke(app(), ["shout", "ab", "--suffix", "?"])
    assert (joined.exit_code, joined.output) == (0, "AB-AB-AB\n")
    assert (shouted.exit_code, shouted.output) == (
        0, "AB? Greeting(name='ab', times=1, loud=False)\n")


def test_the_set_is_checked_as_declared() -> None:
    """``--times`` is declared with ``min=1``: 0 is refused for both commands."""
    for command in ("join", "shout"):
        result = CliRunner().invoke(app(), [command, "ab", "--times", "0"])
        assert result.exit_code == 2
        assert "--times" in result.output


def test_help_lists_the_options_where_after_places_them() -> None:
    join = CliRunner().invoke(app(), ["join", "--help"], terminal_width=200).output
    shout = CliRunner().invoke(app(), ["shout", "--help"], terminal_width=200).output
    assert option_order(join) == ["--times", "--sep", "--loud", "--help"]
    assert option_order(shout) == ["--times", "--loud", "--suffix", "--help"]
