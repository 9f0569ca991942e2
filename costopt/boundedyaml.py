"""YAML read within bounds: a hostile file gets an error with its line, never a hang, a
``RecursionError`` or a traceback.

:func:`load_bounded` is PyYAML's safe loading (``SafeConstructor``, no Python objects), with:

- **size**: at most :data:`MAX_BYTES` of text (the caller reads no more than that);
- **depth**: mappings and lists nested at most :data:`MAX_DEPTH` deep, checked while
  composing (before Python's recursion limit is near) and again with aliases expanded;
- **alias expansion**: at most :data:`MAX_VALUES` values once every alias is expanded (an
  "anchor bomb" of nine aliases nine deep is 387 million), and no alias inside its own anchor;
- **duplicate keys**: an error naming both lines (PyYAML keeps the last silently);
- **numbers**: YAML 1.2's, not PyYAML's YAML 1.1: ``010`` is ten (no octal), ``1:30`` is
  text (no base 60), ``1e3`` is a thousand;
- **calendar**: a date-like scalar that is no calendar date (``2027-02-30``, ``0000-01-01``)
  stays a string, so that the field that holds it reports it with its path; any other value
  an explicit tag cannot make (``!!int abc``) is an error at its line.

Built on PyYAML's own parts: libyaml's parser when PyYAML has it (as ``CSafeLoader`` does),
else the pure-Python one of ``SafeLoader``; the composer and the constructor are PyYAML's,
with the checks above added.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, SequenceNode
from yaml.resolver import Resolver

MAX_BYTES = 8 * 1024 * 1024
"""The largest YAML text read (8 MiB; a workload of 10,000 jobs is about 1.4 MiB)."""
MAX_DEPTH = 64
"""Mappings and lists nested deeper than this are refused."""
MAX_VALUES = 2_000_000
"""Values (scalars, mappings, lists) after expanding aliases, at most."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlLimitError(yaml.MarkedYAMLError):
    """The YAML is beyond one of the bounds (depth, alias expansion)."""


class _Bounds(Composer, SafeConstructor):
    """The checks, mixed into a safe loader (see the module's docstring)."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlLimitError(None, None, f"nested more than {MAX_DEPTH} levels deep",
                                     self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Node:
        node = super().compose_document()
        _check_expansion(node)
        return node

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            raise ConstructorError(None, None, f"cannot read {node.value!r} as {node.tag}: "
                                   f"{exc}", node.start_mark) from None

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            _check_duplicate_keys(self, node)
        return super().construct_mapping(node, deep)

    def construct_calendar(self, node: Node) -> Any:
        """A timestamp, or the scalar's text when it is no calendar date."""
        try:
            return SafeConstructor.construct_yaml_timestamp(self, node)
        except (ValueError, OverflowError):
            return self.construct_scalar(node)

    def construct_yaml_int(self, node: Node) -> int:
        """YAML 1.2's integers: a leading zero is no octal, a colon no base 60."""
        text = str(self.construct_scalar(node)).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        if digits.startswith("0o"):
            return sign * int(digits[2:], 8)
        if digits.startswith("0x"):
            return sign * int(digits[2:], 16)
        return sign * int(digits, 10)


def _check_duplicate_keys(loader: SafeConstructor, node: MappingNode) -> None:
    """Refuse a key given twice in one mapping (merge keys ``<<`` may be overridden)."""
    first_line: dict[Any, int] = {}
    for key_node, _value in node.value:
        if key_node.tag == _MERGE_TAG or not isinstance(key_node.value, str):
            continue  # a mapping or list as a key is PyYAML's own error
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            seen = first_line.get(key)
        except TypeError:  # unhashable: PyYAML says so
            continue
        if seen is None:
            first_line[key] = line
        else:
            where = f"on lines {seen} and {line}" if seen != line else f"twice on line {line}"
            raise ConstructorError(None, None, f"the key {key!r} appears {where}; To "
                                       "fix: keep one of them", key_node.start_mark)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_expansion(root: Node | None) -> None:
    """Count values and depth with every alias expanded, in one pass over distinct nodes
    (an alias is the same node object as its anchor); refuse cycles and what is too big."""
    if root is None:
        return
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            in_progress.discard(key)
            if size[key] > MAX_VALUES:
                raise YamlLimitError(None, None, f"expands to more than {MAX_VALUES:,} values "
                                     "through anchors and aliases", node.start_mark)
            if depth[key] > MAX_DEPTH:
                raise YamlLimitError(None, None, f"nested more than {MAX_DEPTH} levels deep "
                                     "through anchors and aliases", node.start_mark)
            continue
        if key in size:
            continue
        if key in in_progress:
            raise YamlLimitError(None, None, "an alias refers to the anchor it is inside of",
                                 node.start_mark)
        in_progress.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)


class BoundedSafeLoader(_Bounds, yaml.SafeLoader):
    """``yaml.SafeLoader`` (pure Python) with the bounds."""


BoundedSafeLoader.add_constructor("tag:yaml.org,2002:timestamp", _Bounds.construct_calendar)

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
YAML_1_2_INT = re.compile(r"^(?:[-+]?[0-9][0-9_]*|0o[0-7_]+|0x[0-9a-fA-F_]+)$")
"""Integers as YAML 1.2 reads them: decimal (``010`` is ten, not YAML 1.1's octal 8),
``0o17``, ``0xff``; no sexagesimal (YAML 1.1 reads ``1:30`` as 90: here it is text)."""
YAML_1_2_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
"""Floats as YAML 1.2 reads them: ``1.5``, ``.5``, ``1e3`` and ``-2E-4`` (YAML 1.1 wants a
dot and a signed exponent), ``.inf``, ``.nan``; no sexagesimal (``1:30.5`` is text)."""


def _yaml_1_2_numbers(loader: type) -> None:
    """Resolve plain numbers with YAML 1.2's rules instead of PyYAML's YAML 1.1 ones."""
    loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
        for first, resolvers in loader.yaml_implicit_resolvers.items()}
    loader.add_implicit_resolver(_INT_TAG, YAML_1_2_INT, list("-+0123456789"))
    loader.add_implicit_resolver(_FLOAT_TAG, YAML_1_2_FLOAT, list("-+.0123456789"))
    loader.add_constructor(_INT_TAG, _Bounds.construct_yaml_int)


_yaml_1_2_numbers(BoundedSafeLoader)

_Loader: type = BoundedSafeLoader
if getattr(yaml, "__with_libyaml__", False):
    from yaml.cyaml import CParser

    class _FastBoundedSafeLoader(_Bounds, CParser, Resolver):  # type: ignore[misc]
        """libyaml's parser (as ``yaml.CSafeLoader``), PyYAML's composer, the bounds."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    _FastBoundedSafeLoader.add_constructor("tag:yaml.org,2002:timestamp",
                                           _Bounds.construct_calendar)
    _yaml_1_2_numbers(_FastBoundedSafeLoader)
    _Loader = _FastBoundedSafeLoader


def load_bounded(text: str) -> Any:
    """The one YAML document in ``text``, safely and within the bounds. Raises
    ``yaml.YAMLError`` (with a line where there is one) for bad or hostile YAML, and
    :class:`YamlLimitError` for text longer than :data:`MAX_BYTES`."""
    if len(text) > MAX_BYTES:
        raise YamlLimitError(None, None, f"is longer than {MAX_BYTES // (1024 * 1024)} MiB; "
                             "To fix: split the work into smaller workloads", None)
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
