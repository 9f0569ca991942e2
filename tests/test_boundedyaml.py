"""The bounded safe YAML loader: what PyYAML's safe loader reads, it reads the same; what
would hang, recurse or pass silently is an error with its line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from costopt import boundedyaml
from costopt.boundedyaml import MAX_DEPTH, YamlLimitError, load_bounded

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "workload.yaml"


def _error(text: str) -> yaml.YAMLError:
    with pytest.raises(yaml.YAMLError) as info:
        load_bounded(text)
    return info.value


def test_reads_what_the_safe_loader_reads() -> None:
    text = EXAMPLE.read_text()
    assert load_bounded(text) == yaml.safe_load(text)
    merged = "base: &b {x: 1, y: 2}\nderived: {<<: *b, y: 3}\n"  # a merge may override
    assert load_bounded(merged) == {"base": {"x": 1, "y": 2}, "derived": {"x": 1, "y": 3}}


def test_both_loaders_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # The libyaml-backed loader and the pure-Python one refuse the same depth: the top
    # mapping is level 1, so MAX_DEPTH - 1 lists inside it are the most.
    deepest: list = []
    for _ in range(MAX_DEPTH - 2):
        deepest = [deepest]
    for loader in {boundedyaml.BoundedSafeLoader, boundedyaml._Loader}:
        monkeypatch.setattr(boundedyaml, "_Loader", loader)
        assert load_bounded("a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)) == {
            "a": deepest}
        err = _error("a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH)
        assert f"nested more than {MAX_DEPTH} levels deep" in str(err)


def test_deep_nesting_is_an_error_not_a_recursion_error() -> None:
    err = _error("a: " + "[" * 20_000 + "]" * 20_000)
    assert not isinstance(err, RecursionError)


def test_an_alias_bomb_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    err = _error("\n".join(lines))
    assert isinstance(err, YamlLimitError)
    assert "expands to more than 2,000,000 values" in str(err)


def test_aliases_that_nest_too_deep_are_refused() -> None:
    # Each anchor holds the previous one a level deeper: 70 levels once expanded.
    lines = ["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 70)]
    assert "levels deep through anchors and aliases" in str(_error("\n".join(lines)))


def test_a_recursive_alias_is_refused() -> None:
    assert "refers to the anchor it is inside of" in str(_error("a: &a [1, *a]\n"))


def test_duplicate_keys_name_both_lines() -> None:
    err = _error("name: a\njobs: []\nname: b\n")
    assert "the key 'name' appears on lines 1 and 3" in str(err)
    assert "twice on line 1" in str(_error("{a: 1, a: 2}"))
    assert load_bounded("a: {x: 1}\nb: {x: 1}\n") == {"a": {"x": 1}, "b": {"x": 1}}


def test_no_calendar_date_stays_text_for_the_field_to_report() -> None:
    assert load_bounded("start: 2027-02-30\nend: 0000-01-01\nok: 2027-02-28\n") == {
        "start": "2027-02-30", "end": "0000-01-01", "ok": date(2027, 2, 28)}


def test_a_value_an_explicit_tag_cannot_make_is_an_error_at_its_line() -> None:
    err = _error("a: 1\nb: !!int abc\n")
    assert "line 2" in str(err) and "cannot read 'abc'" in str(err)
    assert "could not determine a constructor" in str(_error("a: !!python/object:os.system x"))


def test_text_longer_than_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(boundedyaml, "MAX_BYTES", 100)
    assert "is longer than" in str(_error("a: " + "x" * 200))


def test_exponents_are_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    # YAML 1.1 (PyYAML) reads 1e3 and 1.5e2 as text (it wants a dot and a signed exponent);
    # costopt reads them as the numbers a user means.
    # A quoted '1e3' stays text, and so does what only looks like a number.
    text = "a: 1e3\nb: -2E-4\nc: '1e3'\nd: 1.5e2\ne: 1e\nf: 7\ng: .5e1\n"
    for loader in {boundedyaml.BoundedSafeLoader, boundedyaml._Loader}:
        monkeypatch.setattr(boundedyaml, "_Loader", loader)
        assert load_bounded(text) == {"a": 1000.0, "b": -0.0002, "c": "1e3", "d": 150.0,
                                      "e": "1e", "f": 7, "g": 5.0}


def test_numbers_and_times_read_as_yaml_1_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's surprises: PyYAML (YAML 1.1) reads ``days: 010`` as octal 8 and
    ``1:30`` as sexagesimal 90. YAML 1.2: 010 is ten, 1:30 is text (for the field to report),
    0o10 is eight and 0x10 sixteen, as written; booleans and dates are as before."""
    text = ("days: 010\nwindow: 1:30\nneg: -007\noct: 0o10\nhex: 0x10\nbig: 1_000\n"
            "f: 1:30.5\ng: .inf\nh: 2.50\nyes_: true\nday: 2027-01-04\n")
    assert yaml.safe_load(text)["days"] == 8 and yaml.safe_load(text)["window"] == 90
    for loader in {boundedyaml.BoundedSafeLoader, boundedyaml._Loader}:
        monkeypatch.setattr(boundedyaml, "_Loader", loader)
        assert load_bounded(text) == {"days": 10, "window": "1:30", "neg": -7, "oct": 8,
                                      "hex": 16, "big": 1000, "f": "1:30.5",
                                      "g": float("inf"), "h": 2.5, "yes_": True,
                                      "day": date(2027, 1, 4)}
        assert str(_error("a: !!int 1:30")).count("cannot read '1:30'") == 1
