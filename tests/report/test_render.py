"""The report's formats and charts for the hand-worked month (tests/month_case.py), and
the HTML page opened in headless Chromium: its screenshot shows the three charts and the
page makes no request beyond itself."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from month_case import NOW, build_ledger
from PIL import Image

from costopt.core.months import Month
from costopt.report.attribution import owned_from_plans
from costopt.report.charts import CHARTS, COLOURS, HEIGHT_PX, WIDTH_PX, chart_pngs, figures
from costopt.report.forecast import choose_budget
from costopt.report.inputs import read_ledger
from costopt.report.render import csv_text, html_page, json_document, markdown
from costopt.report.spend import MonthReport, month_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> MonthReport:
    state = tmp_path_factory.mktemp("state")
    build_ledger(state)
    month = Month(2026, 12)
    view = read_ledger(state, month)
    return month_report(month, NOW, view, owned=owned_from_plans(view.plans, month),
                        budget=choose_budget(None, None, view.plans, month))


@pytest.fixture(scope="module")
def page(report: MonthReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(html_page(report, chart_pngs(report)), encoding="utf-8")
    return path


def test_markdown(report: MonthReport) -> None:
    text = markdown(report)
    assert text.startswith("# GPU spend, 2026-12\n")
    assert ("As of 2026-12-11 00:00 UTC, spent USD 520.56 (cloud 246.00 + owned servers 274.56) "
            "of a USD 2,000.00 budget (26.0 %); "
            "forecast USD 1,613.74 by month end (run-rate), 80.7 % of the budget: alert 80 %."
            ) in text
    assert "| on-demand | 186.00 | 35.7 % | 26.0 | 62.0 |" in text
    assert "| train | 120.36 |" in text and "| (unassigned) | 12.00 |" in text
    assert "| 2026-12-03 | 27.12 | 102.00 | 60.00 | 189.12 | 276.72 |" in text
    assert "| saved | 120.00 (32.8 %) |" in text
    assert "## Spot interruptions: 1" in text
    for table in re.findall(r"(?:^\|.*\|\n)+", text, flags=re.M):
        widths = {row.count(" | ") for row in table.splitlines() if not row.startswith("|-")}
        assert len(widths) == 1, table  # every row has the header's columns


def test_json(report: MonthReport) -> None:
    doc = json.loads(json.dumps(json_document(report), allow_nan=False))
    assert doc["schema"] == "costopt.report/v1"
    assert (doc["month"], doc["total_usd"], doc["elapsed_hours"]) == ("2026-12", 520.56, 240.0)
    assert doc["forecast"] == {"plan_usd": 1240.92, "remaining_usd": 720.36,
                               "run_rate_usd": 1613.74, "usd": 1613.74, "basis": "run-rate"}
    assert doc["budget"]["band_pct"] == 80 and doc["budget"]["over"] is False
    assert {x["name"]: x["usd"] for x in doc["by_market"]} == {
        "owned": 274.56, "on_demand": 186.0, "spot": 60.0}
    assert doc["savings"]["savings_usd"] == 120.0
    assert [i["instance_id"] for i in doc["interruptions"]] == ["i-b1"]
    assert len(doc["daily"]) == 10 and doc["aws"] is None


def test_csv(report: MonthReport) -> None:
    rows = list(csv.DictReader(io.StringIO(csv_text(report))))
    figure = {(r["section"], r["name"], r["metric"]): (r["value"], r["unit"]) for r in rows}
    assert figure[("summary", "month", "total_usd")] == ("520.56", "USD")
    assert figure[("summary", "forecast", "run_rate_usd")] == ("1613.74", "USD")
    assert figure[("summary", "budget", "used_pct")] == ("26.028", "%")
    assert figure[("summary", "budget", "over")] == ("false", "")
    assert figure[("market", "spot", "instance_hours")] == ("15.0", "instance-hours")
    assert figure[("job", "sweep", "usd")] == ("117.0", "USD")
    assert figure[("daily", "2026-12-03", "spot_usd")] == ("60.0", "USD")
    assert figure[("interruption", "i-b1", "pool")][0] == "aws:us-west-2:p3.8xlarge:spot"


def test_charts_draw_what_the_report_says(report: MonthReport) -> None:
    figs = figures(report)
    assert list(figs) == list(CHARTS)

    def gids(name: str) -> set[str]:
        ax = figs[name].axes[0]
        return {a.get_gid() for a in [*ax.patches, *ax.lines] if a.get_gid()}

    assert {"daily:owned", "daily:on_demand", "daily:spot", "daily:planned"} <= gids("daily")
    assert {"cumulative:actual", "forecast:plan", "forecast:run-rate", "budget", "band:80",
            "band:100"} <= gids("cumulative")
    assert {"market:owned", "market:on_demand", "market:spot"} <= gids("markets")
    ax = figs["cumulative"].axes[0]
    lines = {line.get_gid(): line for line in ax.lines}
    assert lines["cumulative:actual"].get_ydata()[-1] == pytest.approx(520.56)
    assert lines["forecast:plan"].get_ydata()[-1] == pytest.approx(1240.92)
    assert lines["forecast:run-rate"].get_ydata()[-1] == pytest.approx(1613.736)
    assert list(lines["budget"].get_ydata()) == [2000.0, 2000.0]
    for data in chart_pngs(report).values():
        assert Image.open(io.BytesIO(data)).size == (WIDTH_PX, HEIGHT_PX)


def test_html_is_self_contained(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", text, flags=re.I)
    refs += re.findall(r"url\(([^)]*)\)", text, flags=re.I)
    assert len(refs) == 3 and all(r.startswith("data:image/png;base64,") for r in refs)
    assert not re.search(r"<(?:link|script)\b", text, flags=re.I)
    for ref in refs:
        png = base64.b64decode(ref.split(",", 1)[1])
        assert Image.open(io.BytesIO(png)).size == (WIDTH_PX, HEIGHT_PX)


def _has_colour(region: np.ndarray, hex_colour: str, tolerance: int = 12) -> bool:
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return bool((np.abs(region.astype(int) - rgb) <= tolerance).all(axis=-1).any())


@pytest.mark.slow
def test_html_in_headless_chromium(page: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"chromium not found at {CHROMIUM}: install Debian's chromium package "
                    "(.ci/run does) to run the HTML screenshot test")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="the playwright package is not installed (pip "
                                   "install '.[test]')")
    requested: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 900},
                                      device_scale_factor=1)
        # record every request; let none but the page itself and data: URLs through
        context.on("request", lambda request: requested.append(request.url))
        context.route(lambda url: not url.startswith(("file:", "data:")),
                      lambda route: route.abort())
        tab = context.new_page()
        tab.goto(page.as_uri(), wait_until="load")
        loaded = tab.evaluate("[...document.images].map(i => [i.id, i.complete, i.naturalWidth,"
                              " i.getBoundingClientRect().left + scrollX,"
                              " i.getBoundingClientRect().top + scrollY,"
                              " i.getBoundingClientRect().width,"
                              " i.getBoundingClientRect().height])")
        shot = tab.screenshot(full_page=True)
        # the recorder does see a request that leaves the page (aborted, never sent)
        probe = tmp_path / "probe.html"
        probe.write_text('<img src="http://example.invalid/x.png">', encoding="utf-8")
        tab.goto(probe.as_uri(), wait_until="load")
        browser.close()
    (tmp_path / "screenshot.png").write_bytes(shot)

    assert requested[0] == page.as_uri()
    outside = [u for u in requested if not u.startswith(("file:", "data:"))]
    assert outside == ["http://example.invalid/x.png"]  # the probe's, and no other
    assert [row[0] for row in loaded] == [f"chart-{name}" for name in CHARTS]
    assert all(row[1] and row[2] == WIDTH_PX for row in loaded)

    image = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"))
    for chart_id, _ok, _w, left, top, width, height in loaded:
        region = image[int(top):int(top + height), int(left):int(left + width)]
        inked = float((region.sum(axis=-1) < 3 * 235).mean())
        assert inked > 0.03, f"{chart_id}: {inked:.1%} of its pixels drawn"
        assert len(np.unique(region.reshape(-1, 3), axis=0)) > 20, chart_id
        for market in ("owned", "on_demand"):
            assert _has_colour(region, COLOURS[market]), (chart_id, market)
