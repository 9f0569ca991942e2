"""``costopt breakeven`` through the real CLI: every printed figure of a hand-worked case.

The case (as in tests/buy/test_breakeven.py): the workload's server ``box``, 4x V100 (speed
1.0), USD 8,760, 1-year life, 1,650 W / 250 W, ops USD 100 a month, at 0.10 USD/kWh and
PUE 1.2; against p3.8xlarge in us-east-1 (4x V100), USD 12 an hour on demand, USD 4 on spot
with 0.1 interruptions an hour; 50% utilisation.

  work            4 x 1.0 x 730 h x 0.5                       = 1,460.0 ref GPU-hours
  amortisation    8,760 / 12                                   =   730.00
  idle energy     0.25 kW x 730 h x 0.10 x 1.2                 =    21.90
  ops                                                            =   100.00
  active energy   1.4 kW x 730 h x 0.5 x 0.10 x 1.2            =    61.32
  owned a month                                                 =   913.22
  on demand       1,460 / 4 = 365.0 instance-hours x 12        = 4,380.00
  spot            e = 1 - 0.1 x (30 + 10) / 60 = 93.3%;
                  1,460 / (4 x 0.9333) = 391.1 h x 4           = 1,564.29
  break-even      851.90 / (8,760 - 122.64) = 9.9%; 851.90 / (3,128.57 - 122.64) = 28.3%
  payback         8,760 / (4,380 - 183.22) = 2.1; 8,760 / (1,564.29 - 183.22) = 6.3 months
  saving          (4,380 - 913.22) x 12 = 41,601.36; (1,564.29 - 913.22) x 12 = 7,812.79
"""

from __future__ import annotations

import dataclasses
import json
import re
import struct
from datetime import date, datetime, time, timezone
from pathlib import Path

import pytest
from builders import catalog, offer
from buy import hand_case as hand
from rich.console import Console
from typer.testing import CliRunner

import costopt.pricing.catalog as pricing
from costopt.cli.common import Env
from costopt.cli.main import app
from costopt.pricing.catalog import PriceCatalog

WORKLOAD = """\
name: buy-test
horizon: {start: 2027-01-04, days: 1}
cloud:
  pricing: prices.csv
owned:
  electricity_usd_per_kwh: 0.10
  pue: 1.2
  servers:
    - {name: box, gpu: V100-SXM2-16GB, gpus: 4, purchase_usd: 8760, lifetime_years: 1,
       power_watts: 1650, idle_watts: 250, ops_usd_per_month: 100}
    - {name: half-box, gpu: V100-SXM2-16GB, gpus: 4, purchase_usd: 8760, lifetime_years: 1,
       power_watts: 1650, idle_watts: 250, availability: 0.4}
  candidates:
    - {name: new-box, gpu: V100-SXM2-16GB, gpus: 4, purchase_usd: 8760, lifetime_years: 1,
       power_watts: 1650, idle_watts: 250, ops_usd_per_month: 100, max_count: 3}
jobs:
  - {name: train, gpus: 4, gpu_hours: 100}
"""


@pytest.fixture
def price_files(monkeypatch: pytest.MonkeyPatch) -> list[Path | None]:
    """The catalog of the case, and the price files the command asked for."""
    asked: list[Path | None] = []
    hand = catalog(
        offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=12.0, spot=4.0, rate=0.1),
        offer("p3.8xlarge", "us-west-2", gpus=4, vcpus=32, on_demand=24.0),
        offer("g4dn.xlarge", gpu="T4", gpus=1, on_demand=0.526),
        offer("g4dn.2xlarge", gpu="T4", gpus=1, on_demand=0.01),
    )

    def fake_load_catalog(price_file: Path | None = None, gpu_file: Path | None = None
                          ) -> PriceCatalog:
        asked.append(price_file)
        return hand

    monkeypatch.setattr(pricing, "load_catalog", fake_load_catalog)
    return asked


@pytest.fixture
def workload_file(tmp_path: Path) -> Path:
    path = tmp_path / "workload.yaml"
    path.write_text(WORKLOAD, encoding="utf-8")
    return path


def run(*args: str, today: date | None = None) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of the command; never a crash (CliRunner would report one
    as exit 1 with the exception in ``result.exception``)."""
    env = Env(console=Console(width=200, color_system=None),
              err=Console(stderr=True, width=200, color_system=None))
    if today is not None:
        env.clock = lambda: datetime.combine(today, time(12), tzinfo=timezone.utc)
    result = CliRunner().invoke(app, list(args), obj=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    return result.exit_code, result.stdout, result.stderr


def row(output: str, label: str) -> list[str]:
    """The cells of the table row that starts with ``label``."""
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line) if c.strip()]
        if cells and cells[0] == label:
            return cells[1:]
    raise AssertionError(f"no row {label!r} in:\n{output}")


def hand_case(workload_file: Path, *more: str) -> tuple[int, str, str]:
    return run("breakeven", "box", "--vs", "p3.8xlarge", "--workload", str(workload_file),
               "--utilization", "0.5", *more)


def test_every_printed_figure_by_hand(price_files: list[Path | None],
                                     workload_file: Path) -> None:
    code, out, err = hand_case(workload_file)
    assert code == 0, err
    assert price_files == [workload_file.parent / "prices.csv"]  # the workload's price file
    assert ("Buy box: 4 x V100-SXM2-16GB (speed 1.00), USD 8,760.00, 1-year life, 1,650 W at "
            "load, 250 W idle; electricity 0.100 USD/kWh x PUE 1.20") in out
    assert "or rent p3.8xlarge in us-east-1: 4 x V100-SXM2-16GB (speed 1.00)" in out
    assert ("Same work: 1,460.0 reference GPU-hours a month at 50% utilisation (4 GPUs x "
            "speed 1.00 x 730 h x 50%)") in out
    assert row(out, "USD per instance-hour") == ["12.000", "4.000"]
    assert row(out, "useful share of instance time") == ["100.0%", "93.3%"]
    assert row(out, "instance-hours") == ["365.0", "391.1"]
    assert row(out, "amortisation") == ["730.00"]
    assert row(out, "idle energy") == ["21.90"]
    assert row(out, "ops") == ["100.00"]
    assert row(out, "active energy") == ["61.32"]
    assert row(out, "cost a month") == ["913.22", "4,380.00", "1,564.29"]
    assert row(out, "break-even utilisation") == ["9.9%", "28.3%"]
    assert row(out, "months to pay back") == ["2.1", "6.3"]
    assert row(out, "saving over 12 months") == ["41,601.36", "7,812.79"]
    assert ("Verdict against p3.8xlarge on-demand: owning is cheaper above 9.9% utilisation. "
            "At 50% it pays back in 2.1 months and saves USD 41,601.36 over its 12-month "
            "life.") in " ".join(out.split())
    assert "Prices: test-prices.csv (2026-11-01)." in out


def test_spot_verdict(price_files: list[Path | None], workload_file: Path) -> None:
    code, out, _ = hand_case(workload_file, "--market", "spot")
    assert code == 0
    assert ("Verdict against p3.8xlarge spot: owning is cheaper above 28.3% utilisation. At "
            "50% it pays back in 6.3 months and saves USD 7,812.79 over its 12-month life."
            ) in " ".join(out.split())


def test_json_by_hand(price_files: list[Path | None], workload_file: Path,
                      tmp_path: Path) -> None:
    chart = tmp_path / "buy.png"
    code, out, _ = hand_case(workload_file, "--format", "json", "--chart", str(chart))
    assert code == 0
    doc = json.loads(out)
    assert doc["market"] == "on_demand"
    assert doc["breakeven_utilization"] == pytest.approx(hand.ON_DEMAND["breakeven"])
    assert doc["payback_months"] == pytest.approx(hand.ON_DEMAND["payback_months"])
    assert doc["lifetime_saving_usd"] == pytest.approx(hand.ON_DEMAND["saving_usd"])
    assert doc["work_gpu_hours_per_month"] == pytest.approx(hand.WORK_GPU_HOURS)
    assert doc["owned_usd_per_month"]["total"] == pytest.approx(hand.TOTAL)
    assert doc["rent"]["spot"]["usd_per_month"] == pytest.approx(hand.SPOT["usd"])
    assert doc["rent"]["spot"]["breakeven_utilization"] == pytest.approx(
        hand.SPOT["breakeven"])
    assert doc["prices"] == {"source": "test-prices.csv", "price_date": "2026-11-01"}
    assert doc["chart"] == str(chart)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chart_is_written_and_announced(price_files: list[Path | None], workload_file: Path,
                                        tmp_path: Path) -> None:
    chart = tmp_path / "out" / "buy.png"
    code, out, _ = hand_case(workload_file, "--chart", str(chart))
    assert code == 0
    assert f"Chart written to {chart}." in out.replace("\n", "")
    assert struct.unpack(">II", chart.read_bytes()[16:24]) == (1400, 560)


def test_an_unwritable_chart_path_is_explained(price_files: list[Path | None],
                                              workload_file: Path) -> None:
    blocker = workload_file.parent / "charts"
    blocker.write_text("a file, not a folder")
    code, _, err = hand_case(workload_file, "--chart", str(blocker / "buy.png"))
    assert code == 1
    assert f"cannot write {blocker / 'buy.png'}: a file is in the way of the folder " \
           f"{blocker}" in " ".join(err.split())


def test_prices_are_dated_by_the_offer_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    # p3.8xlarge's price is of 2026-11-01, 24 days before 2026-11-25: fresh, although the
    # table also holds a p3.2xlarge price of 2022-01-01 (1,461 + 328 = 1,789 days old).
    old = dataclasses.replace(offer("p3.2xlarge", on_demand=3.0), price_date=date(2022, 1, 1))
    both = catalog(offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=12.0), old)
    monkeypatch.setattr(pricing, "load_catalog", lambda price_file=None, gpu_file=None: both)
    today = date(2026, 11, 25)
    code, out, err = run("breakeven", "dgx-1v", "--vs", "p3.8xlarge", today=today)
    assert code == 0
    assert "Prices: test-prices.csv (2026-11-01)." in out
    assert "warning" not in err
    code, out, err = run("breakeven", "dgx-1v", "--vs", "p3.2xlarge", today=today)
    assert code == 0
    assert "Prices: test-prices.csv (2022-01-01)." in out
    assert "are 1789 days old (from 2022-01-01)" in err


def test_flags_override_the_workload(price_files: list[Path | None],
                                     workload_file: Path) -> None:
    # Electricity 0 and PUE 1: idle and active energy 0; ops 0: owned = amortisation 730.
    # Break-even on demand 730 / 8,760 = 8.3%.
    code, out, _ = hand_case(workload_file, "--electricity", "0", "--pue", "1",
                             "--ops-usd-per-month", "0")
    assert code == 0
    assert row(out, "cost a month")[0] == "730.00"
    assert row(out, "break-even utilisation") == ["8.3%", "23.3%"]  # 730 / 3,128.57 = 23.3%


def test_a_purchase_candidate_of_the_workload(price_files: list[Path | None],
                                              workload_file: Path) -> None:
    # The candidate has the same figures as box: the same verdict.
    code, out, _ = run("breakeven", "new-box", "--vs", "p3.8xlarge", "--workload",
                       str(workload_file), "--utilization", "0.5")
    assert code == 0
    assert row(out, "saving over 12 months") == ["41,601.36", "7,812.79"]


def test_a_catalog_server(price_files: list[Path | None]) -> None:
    # used-4x-v100-sxm2: USD 5,500 over 36 months = 152.78 a month; default 0.15 USD/kWh,
    # PUE 1: idle 0.25 x 730 x 0.15 = 27.38; at 60%: active 1.4 x 730 x 0.6 x 0.15 = 91.98.
    code, out, _ = run("breakeven", "used-4x-v100-sxm2", "--vs", "p3.8xlarge")
    assert code == 0
    assert price_files == [None]  # the default price data
    assert row(out, "amortisation") == ["152.78"]
    assert row(out, "idle energy") == ["27.38"]
    assert row(out, "active energy") == ["91.98"]
    assert "at 60% utilisation" in out


def test_global_region_is_used(price_files: list[Path | None], workload_file: Path) -> None:
    # us-west-2: on demand only, at 24 USD/h: 365 instance-hours x 24 = 8,760.
    code, out, _ = run("--region", "us-west-2", "breakeven", "box", "--vs", "p3.8xlarge",
                       "--workload", str(workload_file), "--utilization", "0.5")
    assert code == 0
    assert "p3.8xlarge in us-west-2" in out
    assert row(out, "cost a month") == ["913.22", "8,760.00"]


def test_renting_is_cheaper_below_the_break_even(price_files: list[Path | None],
                                                 workload_file: Path) -> None:
    # g4dn.xlarge: 1 T4 (speed 0.5) at 0.526 USD/h. Renting 4 x 1.0 x 730 = 2,920 ref
    # GPU-h (U = 1) takes 2,920 / 0.5 = 5,840 instance-hours: R = 3,071.84 USD.
    # Break-even 851.90 / (3,071.84 - 122.64) = 28.9%. At 20%: rent 614.37; owned 851.90 +
    # 122.64 x 0.2 = 876.43; running 21.90 + 100 + 24.53 = 146.43; payback 8,760 /
    # (614.37 - 146.43) = 18.7 months, beyond the 12-month life; saving (614.37 - 876.43)
    # x 12 = -3,144.72.
    code, out, _ = run("breakeven", "box", "--vs", "g4dn.xlarge", "--workload",
                       str(workload_file), "--utilization", "0.2")
    assert code == 0
    assert row(out, "break-even utilisation") == ["28.9%"]
    assert row(out, "cost a month") == ["876.43", "614.37"]
    assert row(out, "months to pay back") == ["18.7"]
    assert row(out, "saving over 12 months") == ["-3,144.72"]
    assert ("Verdict against g4dn.xlarge on-demand: owning is cheaper above 28.9% utilisation. "
            "At 20% renting is cheaper: owning would pay back only after 18.7 months and "
            "costs USD 3,144.72 more over its 12-month life.") in " ".join(out.split())


def test_never_breaks_even(price_files: list[Path | None], workload_file: Path) -> None:
    # A T4 (speed 0.5) at 0.01 USD/h: at 50%, 1,460 / 0.5 = 2,920 instance-hours x 0.01 =
    # 29.20 a month, less than the running cost alone (183.22): never pays back, never breaks
    # even (R = 58.40 < A = 122.64); saving (29.20 - 913.22) x 12 = -10,608.24.
    code, out, _ = run("breakeven", "box", "--vs", "g4dn.2xlarge", "--workload",
                       str(workload_file), "--utilization", "0.5")
    assert code == 0
    assert row(out, "cost a month") == ["913.22", "29.20"]
    assert row(out, "break-even utilisation") == ["never"]
    assert row(out, "months to pay back") == ["never"]
    assert ("Verdict against g4dn.2xlarge on-demand: owning never breaks even (renting costs "
            "less at every utilisation up to 100%). At 50% renting is cheaper: owning never "
            "pays back and costs USD 10,608.24 more over its 12-month life."
            ) in " ".join(out.split())


@pytest.mark.parametrize(("args", "message"), [
    (("breakeven", "dgx1v", "--vs", "p3.8xlarge"), "Did you mean dgx-1v"),
    (("breakeven", "dgx-1v", "--vs", "p3.8xlarg"), "Did you mean p3.8xlarge"),
    (("breakeven", "dgx-1v", "--vs", "p3.8xlarge", "--region", "eu-west-1"),
     "priced in us-east-1, us-west-2"),
    (("breakeven", "dgx-1v", "--vs", "g4dn.xlarge", "--market", "spot"),
     "g4dn.xlarge has no spot price in us-east-1"),
])
def test_user_errors_are_explained(price_files: list[Path | None], args: tuple[str, ...],
                                   message: str) -> None:
    code, out, err = run(*args)
    assert code == 1
    assert message in " ".join(err.split())
    assert "To fix" in err
    assert "Traceback" not in out + err


def test_workload_errors(price_files: list[Path | None], workload_file: Path) -> None:
    code, _, err = run("breakeven", "bxo", "--vs", "p3.8xlarge", "--workload",
                       str(workload_file))
    assert code == 1
    assert "no server 'bxo'" in err
    assert "Known: box, half-box, new-box" in " ".join(err.split())
    # half-box works 40% of hours: 50% cannot be compared.
    code, _, err = run("breakeven", "half-box", "--vs", "p3.8xlarge", "--workload",
                       str(workload_file), "--utilization", "0.5")
    assert code == 1
    assert "utilisation 0.5 is outside [0, 0.4]" in err


def test_usage_errors(price_files: list[Path | None]) -> None:
    assert run("breakeven", "dgx-1v", "--vs", "p3.8xlarge", "--format", "xml")[0] == 2
    assert run("breakeven", "dgx-1v", "--vs", "p3.8xlarge", "--market", "reserved")[0] == 2
    assert run("breakeven", "dgx-1v", "--vs", "p3.8xlarge", "--utilization", "1.5")[0] == 2
    assert run("breakeven", "dgx-1v")[0] == 2  # --vs is required


def test_help_has_an_example() -> None:
    code, out, _ = run("breakeven", "--help")
    assert code == 0
    assert "Example: costopt breakeven used-4x-v100-sxm2 --vs p3.8xlarge" in out


@pytest.mark.skipif(not (pricing.shipped_data_dir() / "instances.csv").is_file()
                    or not (pricing.shipped_data_dir() / "gpus.csv").is_file(),
                    reason="the shipped price data is not there yet")
def test_shipped_data_end_to_end(tmp_path: Path) -> None:
    chart = tmp_path / "dgx.png"
    code, out, err = run("breakeven", "dgx-1v", "--vs", "p3.16xlarge", "--chart", str(chart))
    assert code == 0, err
    assert "break-even utilisation" in out
    assert chart.is_file()
