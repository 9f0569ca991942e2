"""The file edge of a sweep: read the recorded traces scenarios are drawn from, and write a
scenario's traces out as a ``traces.yaml`` that ``costopt simulate`` replays."""

from __future__ import annotations

from pathlib import Path

import yaml

from costopt.core.times import ts
from costopt.errors import FieldIssue
from costopt.files import write_atomically
from costopt.risk.scenarios import WindowSource
from costopt.traces import PoolTrace, TraceError, load_manifest, read_trace, write_trace


def load_source(path: Path) -> WindowSource:
    """A manifest (``traces.yaml``: pools named) or a folder of trace files in the public
    format (every ``*.json`` in it, read as instances available)."""
    if not path.is_dir():
        return WindowSource(manifest=tuple(load_manifest(path)))
    files = sorted(path.glob("*.json"))
    if not files:
        raise TraceError(str(path), [FieldIssue("(folder)", str(path), "holds no *.json trace; "
                                                "give a folder of traces in the public format "
                                                "or a traces.yaml manifest")])
    return WindowSource(library=tuple((f.name, read_trace(f)) for f in files))


def write_scenario(traces: list[PoolTrace], folder: Path) -> Path:
    """Write each trace and a ``traces.yaml`` naming them into ``folder``; the manifest's
    path. Files are named after their pool (``:`` as ``_``)."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for t in traces:
        name = t.pool.text.replace(":", "_") + ".json"
        write_trace(t.trace, folder / name)
        entries.append({"pool": t.pool.text, "file": name, "start": ts(t.start)})
    manifest = folder / "traces.yaml"
    text = yaml.safe_dump(entries, sort_keys=False)
    write_atomically(manifest, lambda partial: partial.write_text(text, encoding="utf-8"))
    return manifest
