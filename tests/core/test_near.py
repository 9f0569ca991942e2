"""Near names for a "Did you mean": closest first, case folded when asked."""

from __future__ import annotations

from costopt.core.near import did_you_mean, near_names

TYPES = ["p3.2xlarge", "p3.8xlarge", "g5.xlarge", "p4d.24xlarge"]


def test_near_names_closest_first_up_to_most() -> None:
    assert near_names("p3.2xlarg", TYPES) == ["p3.2xlarge", "p3.8xlarge", "p4d.24xlarge"]
    assert near_names("p3.2xlarg", TYPES, most=1) == ["p3.2xlarge"]
    assert near_names("zzz", TYPES) == []


def test_case_folded_names_come_back_as_written() -> None:
    assert near_names("RTX-BOX", ["rtx-box2", "v100-node"], fold_case=True) == ["rtx-box2"]
    assert near_names("RTX-BOX", ["rtx-box2", "v100-node"]) == []


def test_did_you_mean_reads_as_a_sentence_or_says_nothing() -> None:
    assert did_you_mean("g5.xlarg", TYPES, cutoff=0.8) == " Did you mean g5.xlarge?"
    assert did_you_mean("g5.xlarg", TYPES) == " Did you mean g5.xlarge, p3.8xlarge, p3.2xlarge?"
    assert did_you_mean("zzz", TYPES) == ""
