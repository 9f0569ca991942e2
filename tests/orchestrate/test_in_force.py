"""Which plan a plan file stands for: the plan in force when it is a re-plan of the file's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from orchestrate.fleet_plans import at, iso, pool
from orchestrate.fleet_plans import plan as a_plan

from costopt.errors import PlanReplaced
from costopt.orchestrate.in_force import follow, lineage, successor_in_force
from costopt.orchestrate.ledger import Ledger
from costopt.planfile import PlanDocument, write_plan

POOL = "aws:us-east-1:p3.2xlarge:on_demand"


def a_doc(plan_id: str, resumes: str | None = None, hours: float = 0) -> PlanDocument:
    """A plan of workload ``t`` with one slot; a re-plan of ``resumes`` made ``hours`` in."""
    doc = a_plan(pool(POOL, [(0, hours, 48)]), plan_id=plan_id)
    if resumes is None:
        return doc
    return doc.model_copy(update={"resumes": {"plan_id": resumes, "at": iso(hours),
                                              "done_gpu_hours": {}}})


def in_force(ledger: Ledger, doc: PlanDocument, hours: float) -> None:
    """``doc`` recorded and put in force ``hours`` after 2027-01-04, as apply_plan does."""
    ledger.record_plan(doc.model_dump(mode="json", by_alias=True), f"{doc.plan_id}.json",
                       at(hours))
    ledger.put_in_force("t", doc.plan_id, at(hours))


@pytest.fixture
def ledger() -> Ledger:
    """t-a in force at 0 h, re-planned as t-b at 1 h, t-b re-planned as t-c at 2 h."""
    with Ledger.in_memory() as ledger:
        in_force(ledger, a_doc("t-a"), 0)
        in_force(ledger, a_doc("t-b", "t-a", 1), 1)
        in_force(ledger, a_doc("t-c", "t-b", 2), 2)
        yield ledger


def test_the_lineage_walks_back_through_resumes_and_stops_at_a_loop() -> None:
    docs = [{"plan_id": "c", "resumes": {"plan_id": "b"}}, {"plan_id": "b",
            "resumes": {"plan_id": "a"}}, {"plan_id": "a"},
            {"plan_id": "x", "resumes": {"plan_id": "y"}}, {"plan_id": "y",
                                                            "resumes": {"plan_id": "x"}}]
    assert lineage("c", docs) == ["c", "b", "a"]
    assert lineage("x", docs) == ["x", "y"]
    assert lineage("unknown", docs) == ["unknown"]


def test_an_ancestor_stands_for_the_plan_in_force_its_newest_descendant(ledger: Ledger) -> None:
    """t-a was re-planned twice (t-b, then t-c): t-c is in force since 2 h, two re-plans
    later; t-b's file stands for it too, one re-plan later."""
    first = successor_in_force(a_doc("t-a"), ledger)
    assert first is not None
    assert (first.plan.plan_id, first.since, first.replans) == ("t-c", at(2), 2)
    second = successor_in_force(a_doc("t-b", "t-a", 1), ledger)
    assert second is not None and second.replans == 1


def test_the_plan_in_force_and_a_new_plan_stand_for_themselves(ledger: Ledger) -> None:
    assert successor_in_force(a_doc("t-c", "t-b", 2), ledger) is None
    assert successor_in_force(a_doc("t-new"), ledger) is None  # never in force: takes over
    with Ledger.in_memory() as empty:
        assert successor_in_force(a_doc("t-a"), empty) is None


def test_a_plan_replaced_by_another_lineage_is_refused_naming_it(ledger: Ledger) -> None:
    """t-fresh, made afresh (it resumes nothing), replaced t-c; t-a's and t-c's files are
    refused, nothing followed."""
    in_force(ledger, a_doc("t-fresh"), 3)
    with pytest.raises(PlanReplaced) as refused:
        successor_in_force(a_doc("t-a"), ledger)
    message = str(refused.value)
    assert "plan t-a of workload 't' was replaced by plan t-fresh on 2027-01-04T03:00:00Z, " \
        "which is not a re-plan of it (it descends from t-fresh, a plan made afresh)" in message
    assert "To fix: pass the plan file of t-fresh" in message and "--reinstate" in message
    with pytest.raises(PlanReplaced):
        successor_in_force(a_doc("t-c", "t-b", 2), ledger)


def test_follow_writes_the_plan_in_force_beside_the_file_and_says_so_once(
        ledger: Ledger, tmp_path: Path) -> None:
    said: list[tuple[str, str]] = []
    given = tmp_path / "plan.json"
    doc, path = follow(a_doc("t-a"), given, ledger, reinstate=False, role="watch",
                       say=lambda kind, text: said.append((kind, text)))
    assert doc.plan_id == "t-c" and path == tmp_path / "plan.t-c.json"
    assert json.loads(path.read_text()) == doc.as_json()  # the ledger's document
    assert said == [("following", "plan t-a was re-planned since (2 re-plan(s)): this watch "
                     "carries out the plan in force, t-c (since 2027-01-04T02:00:00Z), "
                     f"written to {path}")]


def test_a_dry_run_follows_without_writing_the_file(ledger: Ledger, tmp_path: Path) -> None:
    said: list[tuple[str, str]] = []
    doc, path = follow(a_doc("t-b", "t-a", 1), tmp_path / "plan.json", ledger,
                       reinstate=False, role="apply", write=False,
                       say=lambda kind, text: said.append((kind, text)))
    assert doc.plan_id == "t-c" and not path.exists() and list(tmp_path.iterdir()) == []
    assert said == [("following", "plan t-b was re-planned since (1 re-plan(s)): this apply "
                     "carries out the plan in force, t-c (since 2027-01-04T02:00:00Z), "
                     f"written to {path} with --yes")]


def test_follow_keeps_the_file_with_reinstate_without_a_ledger_or_when_in_force(
        ledger: Ledger, tmp_path: Path) -> None:
    said: list[tuple[str, str]] = []
    given = tmp_path / "plan.json"
    write_plan(a_doc("t-a"), given)
    for doc, source, reinstate in [(a_doc("t-a"), ledger, True), (a_doc("t-a"), None, False),
                                   (a_doc("t-c", "t-b", 2), ledger, False)]:
        kept, path = follow(doc, given, source, reinstate=reinstate, role="apply",
                            say=lambda kind, text: said.append((kind, text)))
        assert (kept, path) == (doc, given)
    assert said == [] and sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]
