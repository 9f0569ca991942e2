"""Traces: the public format, statistics by hand, the synthetic model, the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sim_cases import at, hourly

from costopt.errors import InputFileError
from costopt.traces import (
    SynthSpec,
    Trace,
    load_manifest,
    read_trace,
    synth,
    trace_stats,
    traces_by_pool,
    write_trace,
)


def test_stats_of_a_hand_written_trace() -> None:
    # Hourly: 1 1 0 0 0 1 0 1 -> 4 of 8 hours available; falls to 0 after hours 1 and 5:
    # 2 preemptions, 2 / 4 spot-hours = 0.5, 2 / 8 wall hours = 0.25; outages of 3 h and
    # 1 h: mean 2, median 2, max 3.
    s = trace_stats(Trace(3600.0, np.array([1, 1, 0, 0, 0, 1, 0, 1])))
    assert (s.availability, s.spot_hours, s.preemptions) == (0.5, 4.0, 2)
    assert (s.preemptions_per_spot_hour, s.preemptions_per_hour) == (0.5, 0.25)
    assert (s.outages, s.outage_hours_mean, s.outage_hours_median, s.outage_hours_max) == (
        2, 2.0, 2.0, 3.0)


def test_a_trace_round_trips_through_the_public_format(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    write_trace(Trace(600.0, np.array([0, 2, 1])), path)
    assert json.loads(path.read_text()) == {"metadata": {"gap_seconds": 600}, "data": [0, 2, 1]}
    back = read_trace(path)
    assert back.gap_seconds == 600.0 and back.counts.tolist() == [0, 2, 1]


def test_a_trace_of_preemptions_reads_the_other_way_round(tmp_path: Path) -> None:
    # The published Can't Be Late traces: 1 (or true) = preempted, 0 = one instance to be had.
    path = tmp_path / "us-west-2a_v100_1.json"
    path.write_text(json.dumps({"metadata": {"gap_seconds": 600}, "data": [0, 1, True, False]}))
    assert read_trace(path, preempted=True).counts.tolist() == [1, 0, 0, 1]
    path.write_text(json.dumps({"metadata": {"gap_seconds": 600}, "data": [0, 2]}))
    with pytest.raises(InputFileError) as err:
        read_trace(path, preempted=True)
    assert "data[1] = 2: must be 1 (or true: preempted" in str(err.value)


@pytest.mark.parametrize(("doc", "where"), [
    ({"data": [1]}, "metadata.gap_seconds"),
    ({"metadata": {"gap_seconds": 0}, "data": [1]}, "metadata.gap_seconds"),
    ({"metadata": {"gap_seconds": 60}, "data": []}, "data"),
    ({"metadata": {"gap_seconds": 60}, "data": [1, -1]}, "data[1]"),
    ({"metadata": {"gap_seconds": 60}, "data": [1, 0.5]}, "data[1]"),
])
def test_a_bad_trace_names_the_field(tmp_path: Path, doc: dict, where: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputFileError) as err:
        read_trace(path)
    assert f"{path}: {where}" in str(err.value)


def test_synthetic_traces_have_the_asked_statistics() -> None:
    spec = SynthSpec(availability=0.6, mean_outage_hours=2.0, interruptions_per_hour=0.1,
                     hours=200_000, seed=3)
    trace = synth(spec)
    s = trace_stats(trace)
    assert s.ticks == 200_000 * 12
    assert s.availability == pytest.approx(0.6, abs=0.01)
    # Preemptions per spot-hour: ends of up spells (1/U per up-state hour) plus drops
    # (R per up-state hour), over the share of up-state time that has capacity (1 - d).
    up_hours = spec.mean_up_hours()
    expected = (1 / up_hours + 0.1) / (1 - spec.drop_probability())
    assert s.preemptions_per_spot_hour == pytest.approx(expected, rel=0.03)
    assert synth(spec).counts.tolist() == trace.counts.tolist()  # same seed, same trace
    assert set(np.unique(trace.counts).tolist()) == {0, 1}


def test_a_synthetic_spec_out_of_range_says_why() -> None:
    problems = SynthSpec(1.0, 0.5, 0.4, 10, 0).problems()
    assert [p.path for p in problems] == ["--availability"]
    assert "at most" in problems[0].message
    assert [p.path for p in SynthSpec(0.9, 0.01, 0, 10, 0).problems()] == ["--mean-outage-hours"]
    assert synth(SynthSpec(1.0, 0.5, 0.0, 1, 0, capacity=3)).counts.tolist() == [3] * 12


def test_the_manifest_takes_both_pool_forms(tmp_path: Path) -> None:
    write_trace(Trace(3600.0, np.array([1, 0])), tmp_path / "traces" / "a.json")
    write_trace(Trace(3600.0, np.array([2, 2])), tmp_path / "traces" / "b.json")
    manifest = tmp_path / "traces.yaml"
    manifest.write_text(
        "- {pool: aws:us-east-1:p3.2xlarge:spot, file: traces/a.json, start: 2027-01-01,\n"
        "   encoding: preempted}\n"
        "- {pool: 'aws:us-west-2:p3.2xlarge:spot:usw2-az1', file: traces/b.json,\n"
        "   start: 2027-01-01T00:00:00Z}\n")
    a, b = load_manifest(manifest)
    assert (a.pool.zone_id, b.pool.zone_id) == (None, "usw2-az1")
    assert a.start == b.start == at(0)
    assert a.trace.counts.tolist() == [0, 1]  # read as preemptions
    # The zone's trace gives the regional pool its capacity.
    sources = traces_by_pool(["aws:us-west-2:p3.2xlarge:spot", "aws:us-east-1:p3.2xlarge:spot",
                              "aws:us-east-1:g4dn.xlarge:spot"], [a, b])
    assert {k: [t.file for t in v] for k, v in sources.items()} == {
        "aws:us-west-2:p3.2xlarge:spot": [b.file], "aws:us-east-1:p3.2xlarge:spot": [a.file]}


@pytest.mark.parametrize(("line", "where"), [
    ("- {pool: aws:us-east-1:p3.2xlarge:on_demand, file: a.json, start: 2027-01-01}", "[0].pool"),
    ("- {pool: 'aws:us-east-1:p3.2xlarge:spot:us-east-1a', file: a.json, start: 2027-01-01}",
     "[0].pool"),
    ("- {pool: aws:us-east-1:p3.2xlarge:spot, file: a.json, start: soon}", "[0].start"),
    ("- {pool: aws:us-east-1:p3.2xlarge:spot, start: 2027-01-01}", "[0].file"),
    ("- {pool: aws:us-east-1:p3.2xlarge:spot, file: a.json, start: 2027-01-01, az: x}", "[0].az"),
    ("- {pool: aws:us-east-1:p3.2xlarge:spot, file: a.json, start: 2027-01-01, encoding: x}",
     "[0].encoding"),
    ("pool: aws:us-east-1:p3.2xlarge:spot", "(top level)"),
])
def test_a_bad_manifest_names_the_entry(tmp_path: Path, line: str, where: str) -> None:
    write_trace(Trace(3600.0, np.array([1])), tmp_path / "a.json")
    manifest = tmp_path / "traces.yaml"
    manifest.write_text(line + "\n")
    with pytest.raises(InputFileError) as err:
        load_manifest(manifest)
    assert f"{manifest}: {where}" in str(err.value)


def test_changes_and_counts_follow_the_ticks() -> None:
    trace = hourly([1, 1, 0, 0, 2, 2])
    assert trace.count_at(at(2.5)) == 0
    assert trace.changes(at(0.5), at(6)) == [(at(0.5), 1), (at(2), 0), (at(4), 2)]
    assert trace.covers(at(0), at(6)) and not trace.covers(at(0), at(6.5))


def test_missing_or_unparsable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as missing:
        read_trace(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputFileError) as broken:
        read_trace(tmp_path / "bad.json")
    (tmp_path / "traces.yaml").write_text("- [unclosed\n")
    with pytest.raises(InputFileError) as manifest:
        load_manifest(tmp_path / "traces.yaml")
    assert "none.json: (file) = " in str(missing.value) and "file not found" in str(
        missing.value)
    assert "not a JSON trace" in str(broken.value)
    assert "not a YAML manifest" in str(manifest.value)
