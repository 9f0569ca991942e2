"""The file edge: a folder of public-format traces as a source, and a scenario written out
as a manifest ``simulate`` reads back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from simulate.sim_cases import SPOT, one_job, prices, stretched

from costopt.errors import InputFileError
from costopt.risk.replay import load_source, write_scenario
from costopt.risk.scenarios import scenario_seeds
from costopt.simulate.traces import load_manifest


def test_a_folder_of_traces_gives_windows_a_scenario_writes_back(tmp_path: Path) -> None:
    # One file of 30 hourly ticks, capacity 0 or 2 in a known pattern (tick k up unless
    # k % 5 == 0). The plan's one spot pool has one slot, so a tick with capacity holds 1.
    # A 24-hour window from tick f in 0..6 is then 1 except where (f + i) % 5 == 0.
    folder = tmp_path / "traces"
    folder.mkdir()
    counts = [0 if k % 5 == 0 else 2 for k in range(30)]
    (folder / "a.json").write_text(json.dumps({"metadata": {"gap_seconds": 3600},
                                               "data": counts}))
    source = load_source(folder)
    w, cat = one_job(10), prices()
    plan = stretched(w, cat, 12)
    source.check(plan)
    (seed,) = scenario_seeds(1, 1)
    (trace,) = source.traces(plan, seed)
    first = int(trace.file.rsplit("@tick", 1)[1])
    assert 0 <= first <= 6
    assert list(trace.trace.counts) == [0 if (first + i) % 5 == 0 else 1 for i in range(24)]
    (back,) = load_manifest(write_scenario([trace], tmp_path / "scenario-0000"))
    assert (back.pool.text, back.start, list(back.trace.counts)) == (
        SPOT, trace.start, list(trace.trace.counts))


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as caught:
        load_source(tmp_path)
    assert "holds no *.json trace" in str(caught.value)
