"""The report's arithmetic against a month worked out by hand (tests/month_case.py).

December 2026 has 31 days = 744 hours; as of 2026-12-11T00:00Z, 10 days = 240 h have
elapsed and 21 days = 504 h remain.

Cloud spend (each runtime clipped to [12-01, 12-11); price in force x hours):
  i-a1  A on-demand  12-01 00:00-04:00  4 h x 3.00 =  12.00  (its Nov 30 4 h are November's)
        (stopped, started again)  12-02 10:00-16:00  6 h x 3.00 =  18.00
  i-b1  B spot       12-03 00:00-15:00  15 h x 4.00 =  60.00  (interrupted)
  i-b2  B on-demand  12-03 15:30-24:00  8.5 h x 12.00 = 102.00
                     12-04 00:00-03:30  3.5 h x 12.00 =  42.00
  i-a2  A on-demand  12-10 20:00-24:00  4 h x 3.00 =  12.00  (still running: runs to now)
  on-demand 12 + 18 + 102 + 42 + 12 = 186.00; spot 60.00; cloud 246.00

Owned server ``box``, per hour (workload.md's fixed cost per hour):
  amortisation 8,760 / (1 x 8,760 h) = 1.00; idle 0.25 kW x 0.10 x 1.2 = 0.03;
  ops 73 / 730 = 0.10; fixed = 1.13 USD/h  -> 240 h x 1.13 = 271.20
  energy (1,650 - 250) / 4 / 1000 x 0.10 x 1.2 = 0.042 USD/GPU-h; assigned in elapsed
  December periods: 12-01 40 + 12-02 40 = 80 GPU-h -> 3.36 (11-30's 40 are November's)
  owned = 274.56
Total 246.00 + 274.56 = 520.56
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from builders import server, workload
from month_case import (
    BOX,
    BOX_RECORD,
    NOW,
    POOL_A,
    at,
    build_ledger,
    cloud_pool,
    fleet_pool,
    plan_document,
    slots,
)

from costopt.core.months import Month
from costopt.errors import ReportError
from costopt.orchestrate.ledger import Ledger
from costopt.planfile import PlanDocument
from costopt.report.attribution import OwnedCost, owned_from_plans, owned_from_workload
from costopt.report.comparison import AwsCost, join_cost_explorer
from costopt.report.forecast import Budget, band_pct, choose_budget
from costopt.report.inputs import read_ledger
from costopt.report.spend import LedgerView, MonthReport, month_report
from costopt.report.windows import plan_windows

DECEMBER = Month(2026, 12)
CENT = 0.005


def usd(value: float) -> object:
    return pytest.approx(value, abs=CENT)


def lines(report_lines: tuple) -> dict[str, tuple[float, float, float]]:
    return {line.name: (round(line.usd, 2), round(line.instance_hours, 4),
                        round(line.gpu_hours, 4)) for line in report_lines}


@pytest.fixture
def view(tmp_path: Path) -> LedgerView:
    build_ledger(tmp_path)
    return read_ledger(tmp_path, DECEMBER)


@pytest.fixture
def report(view: LedgerView) -> MonthReport:
    budget = choose_budget(None, None, view.plans, DECEMBER)
    return month_report(DECEMBER, NOW, view, owned=owned_from_plans(view.plans, DECEMBER),
                        budget=budget)


def test_the_ledger_is_read_for_the_month(view: LedgerView) -> None:
    assert sorted({r.instance_id for r in view.runtimes}) == ["i-a1", "i-a2", "i-b1", "i-b2"]
    assert len(view.runtimes) == 5  # i-a1 twice: stopped and started again
    assert [i.instance_id for i in view.interruptions] == ["i-b1"]
    assert [p.plan_id for p in view.plans] == ["lab-0001"]


def test_owned_server_rates_from_the_plan(view: LedgerView) -> None:
    (box,) = owned_from_plans(view.plans, DECEMBER)
    assert box.pool == BOX and box.servers == 1
    assert box.fixed_usd_per_hour == pytest.approx(1.13)  # 1.00 + 0.03 + 0.10
    assert box.energy_usd_per_gpu_hour == pytest.approx(0.042)


def test_total_and_markets(report: MonthReport) -> None:
    assert report.total_usd == usd(520.56)
    assert report.elapsed_hours == 240
    assert lines(report.by_market) == {
        # owned: 240 server-hours, 80 GPU-hours of assigned work
        "owned": (274.56, 240.0, 80.0),
        # on-demand: 4 + 6 + 4 h on A (1 GPU) + 8.5 + 3.5 h on B (4 GPUs): 26 h, 14 + 48 GPU-h
        "on_demand": (186.00, 26.0, 62.0),
        "spot": (60.00, 15.0, 60.0),  # i-b1: 15 h x 4 GPUs
    }
    assert report.runtimes == 5


def test_instance_types_and_regions(report: MonthReport) -> None:
    by_type = {k: v[0] for k, v in lines(report.by_instance_type).items()}
    assert by_type == {"owned:box": 274.56, "p3.8xlarge": 204.00,  # 60 + 102 + 42
                       "p3.2xlarge": 42.00}  # 12 + 18 + 12
    by_region = {k: v[0] for k, v in lines(report.by_region).items()}
    assert by_region == {"on-premises": 274.56, "us-west-2": 204.00, "us-east-1": 42.00}


def test_jobs(report: MonthReport) -> None:
    """A 12-01: train 3, sweep 1 GPU-h -> i-a1's 12.00 splits 9.00 / 3.00.
    A 12-02: sweep 6 -> 18.00 to sweep.  A 12-10: no assignment -> i-a2's 12.00 unassigned.
    B 12-03: train 40, sweep 20 -> (60.00 + 102.00) x 2/3 = 108.00 train, x 1/3 = 54.00 sweep.
    B 12-04: sweep 14 -> 42.00.  box energy: 80 GPU-h of train -> 3.36 to train.
    train 9 + 108 + 3.36 = 120.36; sweep 3 + 18 + 54 + 42 = 117.00; fixed 271.20; sum 520.56
    """
    by_job = {k: v[0] for k, v in lines(report.by_job).items()}
    assert by_job == {"(owned fixed cost)": 271.20, "train": 120.36, "sweep": 117.00,
                      "(unassigned)": 12.00}
    assert sum(by_job.values()) == usd(520.56)


def test_daily(report: MonthReport) -> None:
    """box: 24 h x 1.13 = 27.12 a day, + 40 x 0.042 = 1.68 on 12-01 and 12-02."""
    days = {d.day.day: (round(d.owned_usd, 2), round(d.on_demand_usd, 2), round(d.spot_usd, 2))
            for d in report.daily}
    assert days == {
        1: (28.80, 12.00, 0.0), 2: (28.80, 18.00, 0.0), 3: (27.12, 102.00, 60.00),
        4: (27.12, 42.00, 0.0), 5: (27.12, 0.0, 0.0), 6: (27.12, 0.0, 0.0),
        7: (27.12, 0.0, 0.0), 8: (27.12, 0.0, 0.0), 9: (27.12, 0.0, 0.0),
        10: (27.12, 12.00, 0.0),
    }
    assert sum(d.usd for d in report.daily) == usd(520.56)


def test_forecast_budget_and_band(report: MonthReport) -> None:
    """Plan: remaining 504 h of box: 504 x 1.13 = 569.52; planned energy 12-15 20 GPU-h x
    0.042 = 0.84; fleet from now: A 12-11 00:00-06:00 6 h x 3 = 18.00, A 12-31 12:00-24:00
    12 h x 3 = 36.00, B 12-20 24 h x 4 = 96.00 -> remaining 720.36; 520.56 + 720.36 = 1,240.92.
    Run-rate: 520.56 / 240 h x 744 h = 1,613.736. The forecast is the larger: run-rate.
    Budget 2,000 (the plan's monthly_budget_usd): used 520.56 / 2,000 = 26.028 %;
    forecast 1,613.736 / 2,000 = 80.6868 % -> band 80, not over."""
    f = report.forecast
    assert f.remaining_usd == usd(720.36)
    assert f.plan_usd == usd(1240.92)
    assert f.run_rate_usd == usd(1613.74)
    assert (f.usd, f.basis) == (usd(1613.74), "run-rate")
    b = report.budget
    assert b is not None
    assert (b.budget_usd, b.source) == (2000.0, "monthly_budget_usd of plan lab-0001")
    assert b.used_pct == pytest.approx(26.028)
    assert b.forecast_pct == pytest.approx(80.6868)
    assert (b.band_pct, b.over) == (80, False)
    # day by day: box 27.12 each of the 21 days, plus 12-11 A 18.00, 12-15 energy 0.84,
    # 12-20 B 96.00, 12-31 A 36.00
    remaining = {d.day.day: round(d.usd, 2) for d in report.remaining_daily}
    assert len(remaining) == 21
    assert {k: v for k, v in remaining.items() if v != 27.12} == {
        11: 45.12, 15: 27.96, 20: 123.12, 31: 63.12}


def test_over_budget_with_a_smaller_budget(view: LedgerView) -> None:
    """Forecast 1,613.736 against 1,000: 161.37 % -> band 100, over budget."""
    report = month_report(DECEMBER, NOW, view, owned=owned_from_plans(view.plans, DECEMBER),
                          budget=Budget(1000.0, "--budget"))
    assert report.budget is not None
    assert report.budget.forecast_pct == pytest.approx(161.3736)
    assert (report.budget.band_pct, report.budget.over) == (100, True)


def test_savings_and_interruptions(report: MonthReport) -> None:
    """The same cloud instance-hours at each pool's on-demand price: A 14 h x 3.00 = 42.00,
    B 15 + 12 = 27 h x 12.00 = 324.00 -> 366.00; spent 246.00; saved 120.00 (32.79 %)."""
    s = report.savings
    assert (s.cloud_usd, s.on_demand_usd, s.savings_usd) == (usd(246.00), usd(366.00),
                                                               usd(120.00))
    assert s.savings_pct == pytest.approx(32.7869, abs=1e-4)
    assert [(i.instance_id, i.pool, i.at) for i in report.interruptions] == [
        ("i-b1", "aws:us-west-2:p3.8xlarge:spot", at("12-03T15:00"))]


def test_cost_explorer_join(report: MonthReport) -> None:
    """Ledger per day and type: 12-01 p3.2xlarge 12.00, 12-03 p3.8xlarge 162.00 ...;
    AWS says 12.50 and 160.00 and knows an EBS line the ledger does not."""
    joined = join_cost_explorer(report, [
        AwsCost(date(2026, 12, 1), "p3.2xlarge", 12.50),
        AwsCost(date(2026, 12, 3), "p3.8xlarge", 100.00),
        AwsCost(date(2026, 12, 3), "p3.8xlarge", 60.00),
        AwsCost(date(2026, 12, 3), "NoInstanceType", 1.25, estimated=True),
    ], ["lab-0001"])
    assert joined.aws is not None
    rows = {(r.day.day, r.instance_type): (round(r.ledger_usd, 2), round(r.aws_usd, 2))
            for r in joined.aws.rows}
    assert rows == {(1, "p3.2xlarge"): (12.00, 12.50), (2, "p3.2xlarge"): (18.00, 0.0),
                    (3, "NoInstanceType"): (0.0, 1.25), (3, "p3.8xlarge"): (162.00, 160.00),
                    (4, "p3.8xlarge"): (42.00, 0.0), (10, "p3.2xlarge"): (12.00, 0.0)}
    assert joined.aws.ledger_usd == usd(246.00)
    assert joined.aws.aws_usd == usd(173.75)
    assert [r.estimated for r in joined.aws.rows if r.instance_type == "NoInstanceType"] == [True]


def test_bands() -> None:
    assert [band_pct(x, 1000.0) for x in (499.99, 500.0, 799.0, 800.0, 999.0, 1000.0, 5000.0)
            ] == [0, 50, 50, 80, 80, 100, 100]


def test_a_replan_takes_over_from_its_start(tmp_path: Path) -> None:
    """lab-0002 (same workload) begins 12-11: lab-0001's slots from then on are no longer
    counted, lab-0002's are: A 12-11 00:00-02:00, 2 h x 3.00 = 6.00 remaining; the budget
    is the later plan's 1,500."""
    build_ledger(tmp_path)
    replan = plan_document("lab-0002", start="12-11T00:00", days=5, monthly_budget_usd=1500.0,
                           pools=[cloud_pool(POOL_A, 1, 3.0, 3.0)],
                           fleet=[fleet_pool(POOL_A, 3.0, 3.0,
                                             slots(("12-11T00:00", "12-11T02:00")))])
    with Ledger.open(tmp_path) as ledger:
        ledger.record_plan(replan, None, at("12-10T23:00"))
    view = read_ledger(tmp_path, DECEMBER)
    report = month_report(DECEMBER, NOW, view, owned=[],
                          budget=choose_budget(None, None, view.plans, DECEMBER))
    assert report.forecast.remaining_usd == usd(6.00)
    assert report.plans == ("lab-0001", "lab-0002")
    assert report.budget is not None and report.budget.budget_usd == 1500.0


def test_a_past_month_clips_a_runtime_still_running(tmp_path: Path) -> None:
    """November as of 12-11: i-a1's 11-30 20:00-24:00 = 4 h and i-nov's 5 h at 3.00 = 27.00;
    the month is over, so both forecasts are the spend; box 720 h x 1.13 = 813.60, and
    energy 11-30 40 GPU-h x 0.042 = 1.68."""
    build_ledger(tmp_path)
    november = Month(2026, 11)
    view = read_ledger(tmp_path, november)
    report = month_report(november, NOW, view, owned=owned_from_plans(view.plans, november),
                          budget=None)
    assert report.total_usd == usd(27.00 + 813.60 + 1.68)
    assert report.forecast.plan_usd == usd(report.total_usd)
    assert report.forecast.run_rate_usd == usd(report.total_usd)
    assert report.budget is None
    assert [i.instance_id for i in report.interruptions] == ["i-old"]


def test_owned_servers_and_budget_from_a_workload(view: LedgerView) -> None:
    """--workload gives the owned servers: two boxes, no ops, 0.15 USD/kWh, PUE 1.0:
    2 x (1.00 + 0.25 x 0.15) = 2.075 USD/h; energy 1.4 kW / 4 x 0.15 = 0.0525 USD/GPU-h."""
    w = workload([{"name": "train", "gpu_hours": 10}], monthly_budget_usd=900,
                 owned={"servers": [server("box", count=2)]})
    owned = owned_from_workload(w)
    assert owned == [OwnedCost("owned:box", 2, pytest.approx(2.075), pytest.approx(0.0525))]
    budget = choose_budget(None, w, view.plans, DECEMBER)
    assert budget == Budget(900.0, "monthly_budget_usd of workload t")
    assert choose_budget(123.0, w, view.plans, DECEMBER) == Budget(123.0, "--budget")
    report = month_report(DECEMBER, NOW, view, owned=owned, budget=budget)
    # 246.00 cloud + 240 h x 2.075 = 498.00 + 80 GPU-h x 0.0525 = 4.20
    assert report.total_usd == usd(246.00 + 498.00 + 4.20)


def test_an_empty_month_has_no_data(tmp_path: Path) -> None:
    view = read_ledger(tmp_path / "nowhere", DECEMBER)
    assert not (tmp_path / "nowhere").exists()  # reading does not create a ledger
    report = month_report(DECEMBER, NOW, view, owned=[], budget=None)
    assert not report.has_data
    assert report.total_usd == 0 and report.daily[0].usd == 0


def test_before_the_month_begins_only_the_plan_forecasts(view: LedgerView) -> None:
    january = Month(2027, 1)
    report = month_report(january, NOW, view, owned=[], budget=Budget(100.0, "--budget"))
    # A 2027-01-01 00:00-12:00: 12 h x 3.00 = 36.00; nothing spent, no run-rate
    assert (report.total_usd, report.forecast.run_rate_usd) == (0, None)
    assert report.forecast.plan_usd == usd(36.00)
    assert report.daily == ()
    assert report.budget is not None and report.budget.band_pct == 0


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "december", "2026-12-01", ""])
def test_bad_months(text: str) -> None:
    with pytest.raises(ReportError) as info:
        Month.parse(text)
    assert "YYYY-MM" in str(info.value)


def test_month_bounds() -> None:
    feb = Month.parse("2028-02")
    assert (feb.start, feb.end, feb.hours) == (datetime(2028, 2, 1, tzinfo=timezone.utc),
                                               datetime(2028, 3, 1, tzinfo=timezone.utc), 696)
    assert Month.parse("2026-12").end == datetime(2027, 1, 1, tzinfo=timezone.utc)


def test_a_plan_without_owned_figures_is_a_clear_error() -> None:
    broken = {**BOX_RECORD, "pue": None, "purchase_usd": None}
    plan = PlanDocument.model_validate(plan_document("lab-9", pools=[broken]))
    with pytest.raises(ReportError) as info:
        owned_from_plans([plan], DECEMBER)
    assert str(info.value) == ("plan lab-9: owned pool owned:box has no valid pue, "
                               "purchase_usd. To fix: give the owned servers with "
                               "--workload FILE")


def test_a_runtime_of_a_pool_no_plan_knows(tmp_path: Path) -> None:
    """i-x on a pool of no recorded plan, 12-05 00:00-02:00 at 5.00: 10.00, unassigned,
    0 GPU-hours, and 10.00 at its own price in the on-demand comparison."""
    with Ledger.open(tmp_path) as ledger:
        ledger.instance_running(instance_id="i-x", plan_id="gone-1", region="eu-west-1",
                                pool="aws:eu-west-1:g5.xlarge:spot", instance_type="g5.xlarge",
                                market="spot", slot=0, az=None, usd_per_hour=5.0,
                                at=at("12-05T00:00"))
        ledger.instance_halted("i-x", at("12-05T02:00"), ended=True)
    view = read_ledger(tmp_path, DECEMBER)
    report = month_report(DECEMBER, NOW, view, owned=[], budget=None)
    assert lines(report.by_job) == {"(unassigned)": (10.0, 2.0, 0.0)}
    assert (report.savings.cloud_usd, report.savings.on_demand_usd) == (10.0, 10.0)
    assert report.notes == ("pool(s) aws:eu-west-1:g5.xlarge:spot in no recorded plan: their "
                            "GPU-hours are not known (counted 0) and their hours count at "
                            "their own price in the savings against on-demand",)


def test_a_plan_of_mixed_periods_cuts_at_its_own_bounds() -> None:
    # Horizon 11-30 + 2 days: 24 hourly periods, then one day. 12:30 on 11-30 lies in the
    # hour 12:00-13:00; 06:00 on 12-01 in the day 12-01 00:00 .. 12-02 00:00. A plan file
    # without period_runs (written before them) has equal periods of period_hours.
    doc = plan_document("lab-mixed", days=2)
    doc["horizon"]["period_runs"] = [{"hours": 1, "count": 24}, {"hours": 24, "count": 1}]
    doc["horizon"]["periods"] = 25  # as the plan file has it: the runs' periods
    [window] = plan_windows([PlanDocument.model_validate(doc)])
    assert window.grid.period(at("11-30T12:30")) == (at("11-30T12:00"), at("11-30T13:00"))
    assert window.grid.period(at("12-01T06:00")) == (at("12-01T00:00"), at("12-02T00:00"))
    old = plan_document("lab-old", days=2)
    [window] = plan_windows([PlanDocument.model_validate(old)])
    assert window.grid.period(at("11-30T12:30")) == (at("11-30T00:00"), at("12-01T00:00"))
