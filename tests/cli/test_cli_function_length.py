"""The CLI stays a thin shell (style.md: parse, call the core, render): no function of
``costopt/cli/`` is longer than :data:`MAX_LINES` lines, its signature included (the Typer
options are declared once, as ``Annotated`` aliases, and the work is done by the core or a
helper).

A function's lines are counted from its ``def`` line to its last line, as Python's ``ast``
gives them (decorators not counted, blank lines and comments inside counted).
"""

from __future__ import annotations

import ast
from pathlib import Path

CLI = Path(__file__).resolve().parents[2] / "costopt" / "cli"
MAX_LINES = 40


def function_lengths(source: str) -> dict[str, int]:
    """Each function's (and method's, nested ones too) lines, by qualified name."""
    lengths: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    lengths[name] = (child.end_lineno or child.lineno) - child.lineno + 1
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return lengths


def test_the_counter_counts_signature_and_body() -> None:
    """``f`` spans lines 2-6 (the decorator on line 1 not counted): 5 lines; ``g`` nested
    in it lines 5-6: 2; the method ``C.m`` line 8: 1."""
    source = ("@decorated\ndef f(\n    a: int,\n) -> None:\n    def g():\n        pass\n"
              "class C:\n    def m(self): pass\n")
    assert function_lengths(source) == {"f": 5, "f.g": 2, "C.m": 1}


def test_no_cli_function_is_longer_than_the_limit() -> None:
    too_long = {f"{path.name}:{name}": lines for path in sorted(CLI.glob("*.py"))
                for name, lines in function_lengths(path.read_text(encoding="utf-8")).items()
                if lines > MAX_LINES}
    assert too_long == {}
