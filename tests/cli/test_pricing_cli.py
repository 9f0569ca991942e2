"""``costopt pricing show`` and ``costopt pricing refresh`` through the real CLI; refresh with
the Price List and spot history stubbed (Stubber) and DescribeInstanceTypes from moto."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from pricing.aws_records import Ec2Split, price_list_item, spot_record
from typer.testing import CliRunner

from costopt.cli.common import Env
from costopt.cli.main import app
from costopt.pricing.catalog import (
    INSTANCE_COLUMNS,
    load_catalog,
    load_offers,
    shipped_data_dir,
    user_price_file,
)
from costopt.pricing.spot import interruptions_per_hour

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def price_row(instance_type: str, region: str, gpu: str, gpus: int, on_demand: float,
              spot: float | str = "", price_date: str = "2026-11-20",
              zones: str = "") -> dict[str, Any]:
    return {"instance_type": instance_type, "family": instance_type.split(".")[0],
            "region": region, "gpu_model": gpu, "gpus": gpus, "gpu_memory_gb": 16,
            "vcpus": 8 * gpus, "memory_gib": 61 * gpus, "interconnect": "PCIe",
            "on_demand_usd_per_hour": on_demand, "spot_usd_per_hour": spot,
            "spot_usd_per_hour_min": spot, "spot_azs": 2 if spot != "" else 0,
            "interruption_band": "<5%" if spot != "" else "",
            "spot_interruptions_per_hour": 0.001055 if spot != "" else "",
            "price_date": price_date, "source": "test", "spot_zone_prices": zones}


OLD_COLUMNS = tuple(c for c in INSTANCE_COLUMNS if c != "spot_zone_prices")
"""The columns of a price file written before zone prices existed."""


def write_prices(path: Path, rows: list[dict[str, Any]],
                 columns: tuple[str, ...] = INSTANCE_COLUMNS) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def prices(tmp_path: Path) -> Path:
    # USD per GPU-hour on demand: p3.8xlarge 12/4 = 3.0, p3.2xlarge 3.06/1 = 3.06,
    # g4dn.12xlarge 3.912/4 = 0.978, p3.2xlarge in eu-west-1 3.305/1 = 3.305.
    # Zone prices: p3.2xlarge in us-east-1 0.7 (use1-az1) and 1.1 (use1-az4/us-east-1a), median
    # 0.9; p3.8xlarge 3.6 in both zones; the others have none.
    return write_prices(tmp_path / "prices.csv", [
        price_row("p3.2xlarge", "us-east-1", "V100-SXM2-16GB", 1, 3.06, 0.9,
                  zones="use1-az1=0.7;use1-az4/us-east-1a=1.1"),
        price_row("p3.8xlarge", "us-east-1", "V100-SXM2-16GB", 4, 12.0, 3.6,
                  zones="use1-az1=3.6;use1-az4/us-east-1a=3.6"),
        price_row("g4dn.12xlarge", "us-east-1", "T4", 4, 3.912),
        price_row("p3.2xlarge", "eu-west-1", "V100-SXM2-16GB", 1, 3.305, 1.1,
                  price_date="2026-09-01"),
    ])


def env_at(now: datetime = NOW, **fields: Any) -> Env:
    return Env(clock=lambda: now, **fields)


# --- show ----------------------------------------------------------------------------------


def test_show_lists_cheapest_gpu_hour_first_with_date_and_source(prices: Path) -> None:
    result = CliRunner().invoke(app, ["pricing", "show", "--prices", str(prices)],
                                obj=env_at(), terminal_width=120)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    order = [line.split()[:2] for line in lines if line.startswith(("p3", "g4dn"))]
    assert order == [["g4dn.12xlarge", "us-east-1"], ["p3.8xlarge", "us-east-1"],
                     ["p3.2xlarge", "us-east-1"], ["p3.2xlarge", "eu-west-1"]]
    assert f"Prices from {prices}: 4 offer(s)" in result.stdout
    assert "prices of 2026-09-01, 2026-11-20; source: test" in result.stdout
    # p3.8xlarge: 12.00 USD/h, 3.00 per GPU-hour, spot 3.60 in 2 zones; no spot for g4dn: "-".
    assert "p3.8xlarge    us-east-1 4x V100-SXM2-16GB 12.00   3.00 3.60 3.60   2 0.0011" \
        in result.stdout
    assert "g4dn.12xlarge us-east-1 4x T4              3.91   0.98    -    -   -      -" \
        in result.stdout


def test_show_filters_by_family_region_and_gpu_prefix(prices: Path) -> None:
    result = CliRunner().invoke(app, ["pricing", "show", "--prices", str(prices), "--gpu",
                                      "v100", "--region", "us-east-1,eu-west-1", "--format",
                                      "json"], obj=env_at())
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(o["instance_type"], o["region"]) for o in doc["offers"]] == [
        ("p3.8xlarge", "us-east-1"), ("p3.2xlarge", "us-east-1"), ("p3.2xlarge", "eu-west-1")]
    first = doc["offers"][0]
    assert (first["gpus"], first["on_demand_usd_per_hour"], first["on_demand_usd_per_gpu_hour"],
            first["spot_usd_per_gpu_hour"]) == (4, 12.0, 3.0, 0.9)  # 12/4, 3.6/4
    assert (doc["price_file"], doc["price_date"], doc["sources"]) == (
        str(prices), "2026-09-01", ["test"])

    only_p3_us = CliRunner().invoke(app, ["pricing", "show", "--prices", str(prices),
                                          "--family", "P3", "--region", "US-East-1",
                                          "--format", "json"], obj=env_at())
    assert [o["instance_type"] for o in json.loads(only_p3_us.stdout)["offers"]] == [
        "p3.8xlarge", "p3.2xlarge"]


def test_show_csv_is_a_price_file(prices: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["pricing", "show", "--prices", str(prices), "--family",
                                      "g4dn", "--format", "csv"], obj=env_at())
    assert result.exit_code == 0, result.output
    out = tmp_path / "out.csv"
    out.write_text(result.stdout)
    (offer,) = load_offers(out)
    assert (offer.instance_type, offer.on_demand_usd_per_hour, offer.spot_usd_per_hour) == (
        "g4dn.12xlarge", 3.912, None)


def test_show_warns_when_the_prices_shown_are_older_than_30_days(prices: Path) -> None:
    # The eu-west-1 row is of 2026-09-01: 84 days before 2026-11-24.
    old = CliRunner().invoke(app, ["pricing", "show", "--prices", str(prices)], obj=env_at())
    assert "are 84 days old (from 2026-09-01)" in old.stderr
    # us-east-1 alone is of 2026-11-20: 4 days, no warning.
    fresh = CliRunner().invoke(app, ["pricing", "show", "--prices", str(prices), "--region",
                                     "us-east-1"], obj=env_at())
    assert fresh.exit_code == 0 and "warning" not in fresh.stderr


def test_show_without_a_match_names_the_valid_values(prices: Path) -> None:
    result = CliRunner().invoke(app, ["pricing", "show", "--prices", str(prices), "--family",
                                      "p9"], obj=env_at())
    assert result.exit_code == 1
    assert "no offers in" in result.stderr and "match family ['p9']" in result.stderr
    assert "Families: g4dn, p3." in result.stderr
    assert "Traceback" not in result.output


def test_show_rejects_an_unknown_format_and_a_missing_file(tmp_path: Path) -> None:
    bad = CliRunner().invoke(app, ["pricing", "show", "--format", "xml"], obj=env_at())
    said = " ".join(bad.output.replace("│", " ").split())  # out of its box's lines
    assert bad.exit_code == 2 and "'xml' is not one of 'table', 'json', 'csv'" in said
    missing = CliRunner().invoke(app, ["pricing", "show", "--prices", str(tmp_path / "no.csv")],
                                 obj=env_at())
    assert missing.exit_code == 1 and "file not found" in missing.stderr


def test_show_uses_the_shipped_snapshot_without_a_user_file() -> None:
    result = CliRunner().invoke(app, ["pricing", "show", "--family", "p4d", "--region",
                                      "us-east-1", "--format", "json"], obj=env_at())
    doc = json.loads(result.stdout)
    assert doc["price_file"] == str(shipped_data_dir() / "instances.csv")
    assert [o["instance_type"] for o in doc["offers"]] == ["p4d.24xlarge"]


def test_show_json_lists_each_offers_zones(prices: Path) -> None:
    result = CliRunner().invoke(app, ["pricing", "show", "--prices", str(prices), "--family",
                                      "p3", "--region", "us-east-1", "--format", "json"],
                                obj=env_at())
    offers = {o["instance_type"]: o for o in json.loads(result.stdout)["offers"]}
    assert offers["p3.2xlarge"]["spot_zones"] == [
        {"zone_id": "use1-az1", "zone_name": None, "usd_per_hour": 0.7},
        {"zone_id": "use1-az4", "zone_name": "us-east-1a", "usd_per_hour": 1.1}]


def test_show_zones_lists_every_zone_cheapest_spot_gpu_hour_first(prices: Path) -> None:
    result = CliRunner().invoke(app, ["pricing", "show", "--prices", str(prices), "--zones"],
                                obj=env_at(), terminal_width=120)
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()
            if line.startswith(("p3", "g4dn"))]
    # Per GPU-hour: p3.2xlarge 0.7/1 = 0.70 and 1.1/1 = 1.10; p3.8xlarge 3.6/4 = 0.90 twice.
    # Over the region's median: 0.7/0.9 = 0.78, 1.1/0.9 = 1.22, 3.6/3.6 = 1.00.
    assert rows == [
        ["p3.2xlarge", "us-east-1", "use1-az1", "-", "1", "0.70", "0.70", "0.78"],
        ["p3.8xlarge", "us-east-1", "use1-az1", "-", "4", "3.60", "0.90", "1.00"],
        ["p3.8xlarge", "us-east-1", "use1-az4", "us-east-1a", "4", "3.60", "0.90", "1.00"],
        ["p3.2xlarge", "us-east-1", "use1-az4", "us-east-1a", "1", "1.10", "1.10", "1.22"]]
    assert "4 zone price(s) of 2 offer(s)" in result.stdout
    assert ("No zone prices in the file (only the region's spot price) for: g4dn.12xlarge "
            "us-east-1, p3.2xlarge eu-west-1.") in " ".join(result.stdout.split())
    assert "Name cloud.zones by zone ID" in " ".join(result.stdout.split())


def test_show_zones_as_json_and_csv(prices: Path) -> None:
    as_json = CliRunner().invoke(app, ["pricing", "show", "--prices", str(prices), "--zones",
                                       "--gpu", "V100", "--format", "json"], obj=env_at())
    doc = json.loads(as_json.stdout)
    assert doc["sorted_by"] == "spot_usd_per_gpu_hour"
    assert doc["without_zone_prices"] == ["p3.2xlarge eu-west-1"]
    first = doc["zones"][0]
    assert (first["instance_type"], first["zone_id"], first["spot_usd_per_hour"],
            first["region_spot_usd_per_hour"]) == ("p3.2xlarge", "use1-az1", 0.7, 0.9)
    assert first["vs_region"] == pytest.approx(0.7 / 0.9)
    as_csv = CliRunner().invoke(app, ["pricing", "show", "--prices", str(prices), "--zones",
                                      "--format", "csv"], obj=env_at())
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["instance_type"], r["zone_id"], r["zone_name"], r["spot_usd_per_gpu_hour"])
            for r in rows] == [("p3.2xlarge", "use1-az1", "", "0.7"),
                               ("p3.8xlarge", "use1-az1", "", "0.9"),
                               ("p3.8xlarge", "use1-az4", "us-east-1a", "0.9"),
                               ("p3.2xlarge", "use1-az4", "us-east-1a", "1.1")]


def test_show_reads_a_price_file_written_before_zone_prices(prices: Path) -> None:
    with prices.open() as handle:
        old = write_prices(prices.with_name("old.csv"), list(csv.DictReader(handle)),
                           OLD_COLUMNS)
    result = CliRunner().invoke(app, ["pricing", "show", "--prices", str(old), "--zones",
                                      "--format", "json"], obj=env_at())
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["zones"] == [] and len(doc["without_zone_prices"]) == 4


# --- refresh -------------------------------------------------------------------------------


@dataclass
class StubbedAws:
    """A boto3 session stand-in: the Price List and spot history from Stubbers, the rest of
    EC2 from moto."""

    pricing: Any
    spot: Any

    def client(self, service: str, region_name: str, config: Any = None) -> Any:
        if service == "pricing":
            return self.pricing
        return Ec2Split(boto3.client("ec2", region_name=region_name), self.spot)


@dataclass
class AwsEnv(Env):
    session: Any = None

    def boto3_session(self) -> Any:
        return self.session


@pytest.fixture
def aws() -> Iterator[tuple[AwsEnv, Stubber, Stubber]]:
    with mock_aws():
        pricing = boto3.client("pricing", region_name="us-east-1")
        spot = boto3.client("ec2", region_name="us-east-1")
        env = AwsEnv(clock=lambda: NOW, session=StubbedAws(pricing, spot))
        with Stubber(pricing) as pricing_stub, Stubber(spot) as spot_stub:
            yield env, pricing_stub, spot_stub


def answer_us_east_1(pricing_stub: Stubber, spot_stub: Stubber) -> None:
    """us-east-1: g5.xlarge at 1.006 USD/h on demand; spot now 0.45 and 0.35 in two zones
    (median 0.40, cheapest 0.35); p4d.24xlarge at 21.957642 without spot."""
    pricing_stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [
        price_list_item("g5.xlarge", "us-east-1", 1.006),
        price_list_item("p4d.24xlarge", "us-east-1", 21.957642)]})
    spot_stub.add_response("describe_spot_price_history", {"SpotPriceHistory": [
        spot_record("g5.xlarge", "us-east-1a", "0.300000", NOW - timedelta(hours=144)),
        spot_record("g5.xlarge", "us-east-1a", "0.450000", NOW - timedelta(hours=24)),
        spot_record("g5.xlarge", "us-east-1b", "0.350000", NOW - timedelta(hours=24))]})


def shipped_band(instance_type: str, region: str) -> str:
    (offer,) = [o for o in load_offers(shipped_data_dir() / "instances.csv")
                if (o.instance_type, o.region) == (instance_type, region)]
    assert offer.interruption_band
    return offer.interruption_band


WORKLOAD = """\
name: after-refresh
horizon: {start: 2027-01-04, days: 1}
cloud:
  regions: [us-east-1]
  instance_types: [g5.xlarge]
  markets: [on_demand]
jobs:
  - {name: eval, gpus: 1, gpu_hours: 10}
"""


def test_refresh_writes_the_user_file_that_plan_then_uses(aws, tmp_path: Path) -> None:
    env, pricing_stub, spot_stub = aws
    answer_us_east_1(pricing_stub, spot_stub)
    result = CliRunner().invoke(app, ["pricing", "refresh", "--regions", "us-east-1",
                                      "--families", "g5,p4d"], obj=env)
    assert result.exit_code == 0, result.output
    target = user_price_file()
    assert f"Wrote 2 row(s) to {target}" in result.stdout
    assert "costopt plan` uses it by default" in result.stdout
    with target.open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == INSTANCE_COLUMNS
    g5, p4d = rows
    band = shipped_band("g5.xlarge", "us-east-1")
    assert {k: g5[k] for k in ("instance_type", "gpu_model", "gpus", "gpu_memory_gb", "vcpus",
                               "memory_gib", "on_demand_usd_per_hour", "spot_usd_per_hour",
                               "spot_usd_per_hour_min", "spot_azs", "interruption_band",
                               "spot_interruptions_per_hour", "price_date")} == {
        "instance_type": "g5.xlarge", "gpu_model": "A10G", "gpus": "1", "gpu_memory_gb": "24",
        "vcpus": "4", "memory_gib": "16", "on_demand_usd_per_hour": "1.006",
        "spot_usd_per_hour": "0.4", "spot_usd_per_hour_min": "0.35", "spot_azs": "2",
        "interruption_band": band,
        "spot_interruptions_per_hour": f"{interruptions_per_hour(band):.6f}",
        "price_date": "2026-11-24"}
    # Zone names from the spot history mapped to IDs by moto's DescribeAvailabilityZones
    # (us-east-1a -> use1-az6, us-east-1b -> use1-az1); each zone's latest price.
    assert g5["spot_zone_prices"] == "use1-az1/us-east-1b=0.35;use1-az6/us-east-1a=0.45"
    assert load_catalog(target).zone_id("us-east-1", "us-east-1a") == "use1-az6"
    assert (p4d["instance_type"], p4d["on_demand_usd_per_hour"], p4d["spot_usd_per_hour"]) == (
        "p4d.24xlarge", "21.957642", "")

    workload = tmp_path / "workload.yaml"
    workload.write_text(WORKLOAD)
    plan_file = tmp_path / "plan.json"
    planned = CliRunner().invoke(app, ["plan", str(workload), "-o", str(plan_file)],
                                 obj=env_at())
    assert planned.exit_code == 0, planned.output
    assert "warning" not in planned.stderr  # prices of today: not stale
    doc = json.loads(plan_file.read_text())
    assert doc["prices"] == {"source": str(target), "price_date": "2026-11-24"}
    # Eval runs on g5.xlarge on demand at the refreshed 1.006 USD per instance-hour.
    (fleet,) = doc["fleet"]
    assert (fleet["pool"], fleet["usd_per_hour"]) == ("aws:us-east-1:g5.xlarge:on_demand", 1.006)


def test_refresh_keeps_the_regions_that_work_and_names_the_one_that_failed(
        aws, tmp_path: Path) -> None:
    env, pricing_stub, spot_stub = aws
    answer_us_east_1(pricing_stub, spot_stub)
    pricing_stub.add_client_error("get_products", "ThrottlingException", "Rate exceeded")
    out = tmp_path / "refreshed.csv"
    result = CliRunner().invoke(app, ["pricing", "refresh", "--regions", "us-east-1",
                                      "--regions", "eu-west-1", "--families", "g5,p4d", "-o",
                                      str(out)], obj=env)
    assert result.exit_code == 1
    assert "failed: 1 region (eu-west-1):" in result.stderr
    assert "ThrottlingException" in result.stderr
    assert "run again with --regions eu-west-1" in result.stderr
    assert {(o.instance_type, o.region) for o in load_offers(out)} == {
        ("g5.xlarge", "us-east-1"), ("p4d.24xlarge", "us-east-1")}
    assert not user_price_file().exists()


def test_refresh_merges_into_an_existing_file(aws, tmp_path: Path) -> None:
    env, pricing_stub, spot_stub = aws
    answer_us_east_1(pricing_stub, spot_stub)
    out = write_prices(tmp_path / "mine.csv", [
        price_row("g5.xlarge", "us-east-1", "A10G", 1, 9.99, price_date="2026-01-01"),
        price_row("p3.2xlarge", "us-east-1", "V100-SXM2-16GB", 1, 3.06, 0.9),
        price_row("g5.xlarge", "eu-west-1", "A10G", 1, 1.123, price_date="2026-10-01"),
    ])
    result = CliRunner().invoke(app, ["pricing", "refresh", "--regions", "us-east-1",
                                      "--families", "g5,p4d", "-o", str(out)], obj=env)
    assert result.exit_code == 0, result.output
    offers = {(o.instance_type, o.region): o for o in load_offers(out)}
    # us-east-1 g5 replaced (9.99 -> 1.006), p4d added; p3 (not asked) and eu-west-1 kept.
    assert {k: (o.on_demand_usd_per_hour, o.price_date.isoformat())
            for k, o in offers.items()} == {
        ("g5.xlarge", "us-east-1"): (1.006, "2026-11-24"),
        ("p4d.24xlarge", "us-east-1"): (21.957642, "2026-11-24"),
        ("p3.2xlarge", "us-east-1"): (3.06, "2026-11-20"),
        ("g5.xlarge", "eu-west-1"): (1.123, "2026-10-01"),
    }
    assert "Wrote 4 row(s)" in result.stdout and "2 refreshed in 1 region(s)" in result.stdout


def test_refresh_merges_into_a_file_written_before_zone_prices(aws, tmp_path: Path) -> None:
    env, pricing_stub, spot_stub = aws
    answer_us_east_1(pricing_stub, spot_stub)
    out = write_prices(tmp_path / "old.csv",
                       [price_row("g5.xlarge", "eu-west-1", "A10G", 1, 1.123, 0.5)], OLD_COLUMNS)
    result = CliRunner().invoke(app, ["pricing", "refresh", "--regions", "us-east-1",
                                      "--families", "g5,p4d", "-o", str(out)], obj=env)
    assert result.exit_code == 0, result.output
    with out.open() as handle:
        rows = {(r["instance_type"], r["region"]): r for r in csv.DictReader(handle)}
    # The file now has the column: empty for the old eu-west-1 row, filled for us-east-1 g5.
    assert rows[("g5.xlarge", "eu-west-1")]["spot_zone_prices"] == ""
    assert rows[("g5.xlarge", "us-east-1")]["spot_zone_prices"].startswith("use1-az1/")


def test_refresh_verbose_reports_the_seven_day_median(aws, tmp_path: Path) -> None:
    env, pricing_stub, spot_stub = aws
    answer_us_east_1(pricing_stub, spot_stub)
    result = CliRunner().invoke(app, ["-v", "pricing", "refresh", "--regions", "us-east-1",
                                      "--families", "g5,p4d", "-o", str(tmp_path / "p.csv")],
                                obj=env, terminal_width=160)
    assert result.exit_code == 0, result.output
    # g5.xlarge now: median(0.45, 0.35) = 0.4. 7-day medians: zone a held 0.30 for 120 h and
    # 0.45 for 24 h -> 0.30; zone b 0.35 -> 0.35; their median (0.30 + 0.35) / 2 = 0.325.
    assert any(line.split() == ["g5.xlarge", "us-east-1", "1.006", "0.4", "0.325"]
               for line in io.StringIO(result.stdout))
    assert "g5.12xlarge: no on-demand price in the Price List, left out" in result.stdout


def test_refresh_where_every_region_fails_writes_nothing(aws, tmp_path: Path) -> None:
    env, pricing_stub, _ = aws
    pricing_stub.add_client_error("get_products", "AccessDeniedException", "no pricing:*")
    out = tmp_path / "p.csv"
    result = CliRunner().invoke(app, ["pricing", "refresh", "--regions", "us-east-1",
                                      "--families", "g5", "-o", str(out)], obj=env)
    assert result.exit_code == 1
    assert "no prices fetched" in result.stderr and "AccessDeniedException" in result.stderr
    assert "pricing:GetProducts" in result.stderr
    assert not out.exists()


def test_refresh_says_each_kind_of_failure_once(aws, tmp_path: Path) -> None:
    """Three regions refused alike: one line naming the three, not three lines."""
    env, pricing_stub, _ = aws
    for _region in range(3):
        pricing_stub.add_client_error("get_products", "AccessDeniedException", "no pricing:*")
    result = CliRunner().invoke(app, ["pricing", "refresh", "--regions",
                                      "us-east-1,eu-west-1,us-west-2", "--families", "g5",
                                      "-o", str(tmp_path / "p.csv")], obj=env)
    assert result.exit_code == 1
    assert "3 regions (us-east-1, eu-west-1, us-west-2): " in result.stderr
    assert result.stderr.count("AccessDeniedException") == 1


def test_refresh_defaults_to_the_regions_of_the_workload(aws, tmp_path: Path) -> None:
    """The workload names us-east-1 only: one region fetched (the stubs answer it alone)."""
    env, pricing_stub, spot_stub = aws
    answer_us_east_1(pricing_stub, spot_stub)
    (tmp_path / "w.yaml").write_text(WORKLOAD)
    result = CliRunner().invoke(app, ["pricing", "refresh", "--workload", str(tmp_path / "w.yaml"),
                                      "--families", "g5,p4d", "-o", str(tmp_path / "p.csv")],
                                obj=env)
    assert result.exit_code == 0, result.stderr
    assert "2 refreshed in 1 region(s)" in result.stdout
    assert {o.region for o in load_offers(tmp_path / "p.csv")} == {"us-east-1"}


def test_refresh_into_a_file_that_is_not_a_price_file_stops_before_calling_aws(
        aws, tmp_path: Path) -> None:
    env, _, _ = aws  # no stubbed answers: had it called AWS, it would say "no prices fetched"
    out = tmp_path / "notes.csv"
    out.write_text("a,b\n1,2\n")
    result = CliRunner().invoke(app, ["pricing", "refresh", "--regions", "us-east-1", "-o",
                                      str(out)], obj=env)
    assert result.exit_code == 1
    assert f"price file {out} has 1 problem" in result.stderr
    assert "missing column(s) instance_type" in result.stderr
    assert out.read_text() == "a,b\n1,2\n"


def test_refresh_into_a_path_that_cannot_be_written_is_explained(aws, tmp_path: Path) -> None:
    env, pricing_stub, spot_stub = aws
    answer_us_east_1(pricing_stub, spot_stub)
    blocker = tmp_path / "prices"
    blocker.write_text("a file, not a folder")
    result = CliRunner().invoke(app, ["pricing", "refresh", "--regions", "us-east-1",
                                      "--families", "g5,p4d", "-o", str(blocker / "p.csv")],
                                obj=env)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert f"cannot write {blocker / 'p.csv'}: a file is in the way of the folder {blocker}" \
        in " ".join(result.stderr.split())
