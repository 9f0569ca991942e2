"""Option sets: options that several commands share, declared once.

An option set is a frozen dataclass whose fields are the options, each typed with its
``Annotated`` Typer parameter and given its default. :func:`takes_options` puts the fields
in a command's signature in place of the command's parameter of the set's type: Typer builds
them as the command's own options (``--help`` lists them like any other), and the command is
called with one instance of the set. Typer calls a command with keywords only, so the
fields are keyword parameters of the wrapper.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def _field_parameters(option_set: type) -> list[inspect.Parameter]:
    """The set's fields as keyword parameters, their ``Annotated`` types resolved."""
    hints = typing.get_type_hints(option_set, include_extras=True)
    return [inspect.Parameter(
        f.name, inspect.Parameter.KEYWORD_ONLY, annotation=hints[f.name],
        default=inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default)
        for f in dataclasses.fields(option_set)]


def _moved(parameters: list[inspect.Parameter],
           after: Mapping[str, str]) -> list[inspect.Parameter]:
    """``parameters`` with each one named in ``after`` moved to just behind the one it
    names (its place in ``--help``)."""
    order = list(parameters)
    for name, anchor in after.items():
        moving = next(p for p in order if p.name == name)
        order.remove(moving)
        order.insert(next(i for i, p in enumerate(order) if p.name == anchor) + 1, moving)
    return order


def takes_options(option_set: type, *, after: Mapping[str, str] | None = None
                  ) -> Callable[[F], F]:
    """Give the decorated command the fields of ``option_set`` (a dataclass) as options,
    where its parameter annotated with ``option_set`` stands; that parameter receives them
    as one instance. ``after`` places the command's own options among the fields, each
    behind the field it names: ``{"at": "plan_file"}`` lists ``--at`` right after the plan
    argument."""
    fields = _field_parameters(option_set)
    names = [p.name for p in fields]

    def decorate(command: F) -> F:
        hints = typing.get_type_hints(command, include_extras=True)
        (marker,) = [name for name, hint in hints.items() if hint is option_set]
        parameters: list[inspect.Parameter] = []
        for p in inspect.signature(command).parameters.values():
            parameters.extend(fields if p.name == marker else [p.replace(
                annotation=hints[p.name], kind=inspect.Parameter.KEYWORD_ONLY)])
        parameters = _moved(parameters, after or {})

        @functools.wraps(command)
        def with_options(**given: Any) -> Any:
            chosen = option_set(**{name: given.pop(name) for name in names})
            return command(**given, **{marker: chosen})

        with_options.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            parameters, return_annotation=hints.get("return", inspect.Signature.empty))
        with_options.__annotations__ = {p.name: p.annotation for p in parameters}
        return with_options  # type: ignore[return-value]

    return decorate
