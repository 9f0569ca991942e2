"""``costopt traces stats`` and ``costopt traces synth``: spot-capacity traces."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from costopt.cli.common import OutputFormat, get_env, guarded
from costopt.errors import CostoptError

if TYPE_CHECKING:
    from costopt.traces import PoolTrace, SynthSpec

app = typer.Typer(help="Spot-capacity traces: statistics, and synthetic ones to simulate "
                  "with (docs/simulate.md).", no_args_is_help=True)


def register(main: typer.Typer) -> None:
    main.add_typer(app, name="traces")


@app.command("stats")
@guarded
def stats(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Trace files (the public spot-traces "
                                                "JSON format).", metavar="FILE...")],
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table or json.")
                   ] = OutputFormat.TABLE,
    preempted: Annotated[bool, typer.Option(
        "--preempted", help="The data say whether a probe was preempted (1 = no spot). Not "
        "the published spot-traces files: they record 1 = spot could be had.")] = False,
) -> None:
    """Per trace: availability, preemptions per spot-hour and per wall hour, outage lengths.

    Example: costopt traces stats us-west-2a_v100_1.json
    """
    from costopt.traces import read_trace, trace_stats

    env = get_env(ctx)
    rows = [{"file": str(f), **asdict(trace_stats(read_trace(f, preempted=preempted)))}
            for f in files]
    if fmt == "json":
        env.console.print_json(json.dumps(rows))
        return
    table = Table(title="Spot-capacity traces (preemptions: falls to none)",
                  title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("figure", no_wrap=True)
    for row in rows:
        table.add_column(Path(row["file"]).name, justify="right", overflow="fold")
    figures = (("hours", "hours", "{:,.1f}"), ("availability", "available", "{:.1%}"),
               ("preemptions_per_spot_hour", "preemptions per spot-hour", "{:.3f}"),
               ("preemptions_per_hour", "preemptions per wall hour", "{:.3f}"),
               ("outages", "outages", "{:,}"), ("outage_hours_mean", "outage mean h", "{:,.2f}"),
               ("outage_hours_median", "outage median h", "{:,.2f}"),
               ("outage_hours_max", "outage max h", "{:,.2f}"))
    for key, label, form in figures:
        table.add_row(label, *(form.format(row[key]) for row in rows))
    env.console.print(table)


@app.command("synth")
@guarded
def synth(
    ctx: typer.Context,
    availability: Annotated[float, typer.Option(
        help="Long-run share of ticks with spot capacity, in (0, 1].")],
    mean_outage_hours: Annotated[float, typer.Option(help="Mean length of an outage (h).")],
    interruptions_per_hour: Annotated[float, typer.Option(
        help="One-tick drops to 0 per hour of up time: interruptions of running instances "
        "besides the ends of up spells.")],
    hours: Annotated[float, typer.Option(help="Length of the trace (h).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The trace file to write.")],
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same trace.")] = 0,
    gap_seconds: Annotated[float, typer.Option(help="Seconds per tick.")] = 300.0,
    capacity: Annotated[int, typer.Option(help="Spot instances to be had while up.")] = 1,
) -> None:
    """Write a synthetic trace from a seeded two-state (up/down) model (docs/simulate.md).

    Example: costopt traces synth --availability 0.6 --mean-outage-hours 0.5
    --interruptions-per-hour 0.4 --hours 720 --seed 1 -o synth.json
    """
    from costopt.traces import SynthSpec, trace_stats, write_trace
    from costopt.traces import synth as make_trace

    env = get_env(ctx)
    spec = SynthSpec(availability, mean_outage_hours, interruptions_per_hour, hours, seed,
                     gap_seconds, capacity)
    issues = spec.problems() if gap_seconds > 0 else []
    if not gap_seconds > 0:
        raise CostoptError(f"--gap-seconds = {gap_seconds}: must be > 0")
    if issues:
        raise CostoptError("; ".join(f"{i.path} = {i.value}: {i.message}" for i in issues))
    trace = make_trace(spec)
    write_trace(trace, output)
    s = trace_stats(trace)
    env.console.print(
        f"Wrote {output}: {s.ticks:,} ticks of {gap_seconds:g} s ({s.hours:,.1f} h); "
        f"available {s.availability:.1%}, {s.preemptions_per_spot_hour:.3f} preemptions per "
        f"spot-hour, mean outage {s.outage_hours_mean:.2f} h (longest {s.outage_hours_max:.2f} h).",
        highlight=False)


ZonesWorkloadOption = Annotated[Path, typer.Option(
    "--workload", help="The workload: every spot pool it may use is traced over its horizon.",
    metavar="FILE")]
ManifestOption = Annotated[Path, typer.Option(
    "-o", "--output", help="The manifest to write (traces.yaml); the traces go beside it.",
    metavar="traces.yaml")]
ZonesSeedOption = Annotated[int, typer.Option(
    help="Random seed: the same seed, the same traces.")]
ZonesOption = Annotated[int, typer.Option(help="Zones per regional spot pool.", min=1, max=9)]
ZonesGapOption = Annotated[float, typer.Option(help="Seconds per tick.", min=1)]
ZonesCapacityOption = Annotated[int, typer.Option(help="Spot instances a zone holds while up.",
                                                  min=1)]


@app.command("synth-zones")
@guarded
def synth_zones(
    ctx: typer.Context,
    workload_file: ZonesWorkloadOption,
    output: ManifestOption,
    seed: ZonesSeedOption = 0,
    zones: ZonesOption = 3,
    gap_seconds: ZonesGapOption = 300.0,
    capacity: ZonesCapacityOption = 1,
) -> None:
    """Write synthetic traces of every spot pool a workload may use, zones that differ.

    A trace per zone, each zone its own statistics (availability 0.2-0.9, mean outages 15
    min-24 h), and a manifest naming them (docs/simulate.md).

    Example: costopt traces synth-zones --workload examples/workload.yaml --seed 1 -o traces.yaml
    """
    from costopt.plan.pools import build_pools
    from costopt.pricing.catalog import load_catalog
    from costopt.simulate.zones import zone_traces
    from costopt.workload_checks import load_workload

    env = get_env(ctx)
    workload = load_workload(workload_file)
    catalog = load_catalog(workload.cloud.pricing if workload.cloud else None)
    spot = [p for p in build_pools(workload, catalog).cloud if p.market == "spot"]
    if not spot:
        raise CostoptError(f"{workload_file}: the workload may use no spot pool; nothing to "
                           "trace. To fix: allow spot (cloud.markets) for an interruptible job")
    h = workload.horizon
    traced = zone_traces(spot, start=h.start, hours=(h.end - h.start).total_seconds() / 3600,
                         seed=seed, zones=zones, gap_seconds=gap_seconds, capacity=capacity)
    table = _write_zone_traces(traced, output)
    table.title = f"{len(traced)} synthetic traces for {len(spot)} spot pool(s)"
    env.console.print(table)
    env.console.print(f"Wrote {output}", highlight=False)


def _write_zone_traces(traced: list[tuple[PoolTrace, SynthSpec]], output: Path) -> Table:
    """Each zone's trace beside ``output``, then the manifest naming them at ``output``; a
    table of each trace's statistics (untitled)."""
    from costopt.core.times import ts
    from costopt.files import write_atomically
    from costopt.traces import trace_stats, write_trace

    table = Table(title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("pool", "available", "mean outage h", "longest h", "preemptions/spot-h"):
        table.add_column(col, justify="left" if col == "pool" else "right",
                         no_wrap=col == "pool")
    for trace, _spec in traced:
        write_trace(trace.trace, output.parent / trace.file)
        s = trace_stats(trace.trace)
        table.add_row(trace.pool.text, f"{s.availability:.1%}", f"{s.outage_hours_mean:.2f}",
                      f"{s.outage_hours_max:.1f}", f"{s.preemptions_per_spot_hour:.2f}")
    text = "".join(f"- {{pool: '{t.pool.text}', file: {t.file}, start: {ts(t.start)}}}\n"
                   for t, _spec in traced)
    write_atomically(output, lambda partial: partial.write_text(text, encoding="utf-8"))
    return table
