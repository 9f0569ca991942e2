"""A sweep as a JSON-ready document (``costopt risk --format json``), its tables and its
HTML page (``--format html``: the tables and the chart of :mod:`costopt.risk.chart`).

USD figures are the horizon's variable cost, as ``costopt simulate`` reports it; times UTC.
Every scenario is listed (index, seed, cost, each job's finish), so any one can be replayed
with ``simulate`` (``costopt risk --write-traces DIR``).
"""

from __future__ import annotations

import base64
import html
from datetime import datetime
from typing import Any

from costopt.core.money import usd
from costopt.core.times import ts
from costopt.planfile import PlanDocument
from costopt.report.render import _CSS, Table, _html_table
from costopt.risk.fanout import Sweep
from costopt.risk.stats import RiskSummary


def _r(value: float | None, places: int = 4) -> float | None:
    return None if value is None else round(value, places) + 0.0


def _t(moment: datetime | None) -> str | None:
    return ts(moment) if moment is not None else None


def risk_document(plan: PlanDocument, sweep: Sweep, summary: RiskSummary | None, *,
                  seed: int, source: str, policy: str, replan: bool) -> dict[str, Any]:
    """The sweep's figures; ``summary`` is ``None`` when no scenario ran to its end.
    ``replan``: the controller re-planned on events in the scenarios."""
    on_demand = plan.baselines.get("all_on_demand")
    doc: dict[str, Any] = {
        "plan_id": plan.plan_id,
        "horizon": {"start": plan.horizon["start"], "end": plan.horizon["end"]},
        "policy": policy, "replan": replan, "source": source, "seed": seed,
        "runner": sweep.runner,
        "scenarios": len(sweep.results) + len(sweep.failures),
        "completed": len(sweep.results),
        "failed": [{"index": f.index, "seed": f.seed, "error": f.error}
                   for f in sweep.failures],
        "planned_usd": _r(plan.cost.variable_usd),
        "on_demand_only_usd": _r(on_demand.variable_usd) if on_demand else None,
        "cost": None, "jobs": [], "tail_pools": [], "tail_scenarios": 0,
    }
    if summary is not None:
        c = summary.cost
        doc["cost"] = {"p10_usd": _r(c.p10_usd), "p50_usd": _r(c.p50_usd),
                       "p90_usd": _r(c.p90_usd), "max_usd": _r(c.max_usd),
                       "mean_usd": _r(c.mean_usd)}
        doc["jobs"] = [{"job": j.job, "deadline": ts(j.deadline),
                        "miss_probability": _r(j.miss_probability),
                        "p50_finish": _t(j.p50_finish), "p90_finish": _t(j.p90_finish)}
                       for j in summary.jobs]
        doc["tail_scenarios"] = summary.tail_scenarios
        doc["tail_pools"] = [{
            "pool": t.pool, "mean_usd": _r(t.mean_usd), "tail_mean_usd": _r(t.tail_mean_usd),
            "excess_usd": _r(t.excess_usd), "excess_share": _r(t.excess_share),
            "mean_availability": _r(t.mean_availability),
            "tail_availability": _r(t.tail_availability)} for t in summary.tail]
    doc["scenario_results"] = [{
        "index": r.index, "seed": r.seed, "realised_usd": _r(r.realised_usd),
        "cloud_usd": _r(r.cloud_usd), "owned_usd": _r(r.owned_usd),
        "interruptions": r.interruptions,
        "jobs": [{"job": j.job, "finished": _t(j.finished_at), "met_deadline": j.met_deadline,
                  "usd": _r(j.usd)} for j in r.jobs],
        "availability": {p: _r(a) for p, a in r.availability}} for r in sweep.results]
    return doc


def _when(stamp: str | None) -> str:
    """``2027-01-25T00:00:00Z`` -> ``01-25 00:00``; ``None`` -> not finished."""
    return stamp[5:16].replace("T", " ") if stamp else "not finished"


def headline(doc: dict[str, Any]) -> str:
    """One line: P50/P90 against the plan, and the jobs at risk (``plan --risk`` prints it)."""
    c = doc["cost"]
    if c is None:
        return f"Risk: none of {doc['scenarios']} scenario(s) ran to its end."
    at_risk = [f"{j['job']} {j['miss_probability']:.0%}" for j in doc["jobs"]
               if j["miss_probability"] > 0]
    return (f"Risk over {doc['completed']} scenario(s): P50 {usd(c['p50_usd'])} USD, P90 "
            f"{usd(c['p90_usd'])} USD (planned {usd(doc['planned_usd'])}, all on-demand "
            f"{usd(doc['on_demand_only_usd'])}); jobs at risk of missing their deadline: "
            f"{', '.join(at_risk) or 'none'}.")


def tables(doc: dict[str, Any]) -> list[Table]:
    """The cost spread, the jobs and the pools of the tail, as formatted tables."""
    c = doc["cost"] or {}
    cost = Table("Realised cost over the scenarios (USD, variable cost of the horizon)",
                 ("figure", "USD"), tuple((label, usd(value)) for label, value in (
                     ("P10", c.get("p10_usd")), ("P50 (median)", c.get("p50_usd")),
                     ("P90", c.get("p90_usd")), ("max", c.get("max_usd")),
                     ("mean", c.get("mean_usd")), ("planned", doc["planned_usd"]),
                     ("all on-demand", doc["on_demand_only_usd"]))))
    jobs = Table("Jobs (times UTC)", ("job", "deadline", "P(miss)", "P50 finish", "P90 finish"),
                 tuple((j["job"], _when(j["deadline"]), f"{j['miss_probability']:.1%}",
                        _when(j["p50_finish"]), _when(j["p90_finish"])) for j in doc["jobs"]),
                 text=(0, 1, 3, 4))
    tail = Table(f"Pools in the tail (USD; the {doc['tail_scenarios']} scenario(s) at or above "
                 "P90)", ("pool", "mean", "tail", "excess", "share", "avail.", "tail avail."),
                 tuple((t["pool"], usd(t["mean_usd"]), usd(t["tail_mean_usd"]),
                        usd(t["excess_usd"]), f"{t['excess_share']:.0%}",
                        _share(t["mean_availability"]), _share(t["tail_availability"]))
                       for t in doc["tail_pools"]),
                 note="excess: the pool's mean cost in the tail less its mean over all "
                      "scenarios; avail.: share of the horizon its trace had capacity")
    return [cost, jobs, tail]


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def html_page(doc: dict[str, Any], chart_png: bytes) -> str:
    """One self-contained page: the headline, the chart (a PNG ``data:`` URI), the tables."""
    e = html.escape
    title = f"Risk of plan {doc['plan_id']}"
    image = (f'<img id="chart-risk" alt="Realised cost over the scenarios, and each job\'s '
             f'probability of missing its deadline" src="data:image/png;base64,'
             f'{base64.b64encode(chart_png).decode("ascii")}">')
    failed = "".join(f"<li>scenario {f['index']} (seed {f['seed']}): {e(f['error'])}</li>"
                     for f in doc["failed"])
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{e(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>"
        f'<p class="headline">{e(headline(doc))}</p>{image}'
        f"{''.join(_html_table(t) for t in tables(doc))}"
        + (f"<h2>Failed scenarios</h2><ul>{failed}</ul>" if failed else "")
        + f'<p class="note">{e(doc["source"])}; policy {e(doc["policy"])}'
        + (", re-planning" if doc["replan"] else "") + f'; seed {doc["seed"]}; '
        f"run on {e(doc['runner'])}. USD throughout; times UTC.</p></body></html>\n")
