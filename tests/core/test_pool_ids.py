"""Pool ids parsed in one place."""

from __future__ import annotations

import pytest

from costopt.core.pool_ids import is_local_zone, market_label, parse_pool_id


def test_every_form_parses() -> None:
    regional = parse_pool_id("aws:us-east-1:p3.2xlarge:spot")
    zonal = parse_pool_id("aws:us-west-2:p3.2xlarge:spot:usw2-az1")
    assert (regional.region, regional.instance_type, regional.market, regional.zone_id) == (
        "us-east-1", "p3.2xlarge", "spot", None)
    assert zonal.zone_id == "usw2-az1"
    assert zonal.regional.text == "aws:us-west-2:p3.2xlarge:spot"
    assert parse_pool_id("aws:us-east-1:p3.2xlarge:on_demand").market == "on_demand"
    assert parse_pool_id("owned:box").name == "box"
    local = parse_pool_id("aws:us-west-2:g4dn.xlarge:spot:usw2-lax1-az1")  # a Local Zone
    assert (local.zone_id, is_local_zone("usw2-lax1-az1"), is_local_zone("usw2-az1")) == (
        "usw2-lax1-az1", True, False)


@pytest.mark.parametrize("text", ["aws:us-east-1:p3.2xlarge", "aws:us-east-1:p3.2xlarge:reserved",
                                  "aws:us-east-1:p3.2xlarge:on_demand:use1-az1",
                                  "aws:us-east-1:p3.2xlarge:spot:us-east-1a", "owned:", "gcp:x"])
def test_anything_else_says_what_is_valid(text: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_pool_id(text)
    assert "aws:REGION:TYPE:spot:ZONE_ID" in str(err.value)


@pytest.mark.parametrize(("market", "label"), [
    ("on_demand", "on-demand"), ("spot", "spot"), ("owned", "owned")])
def test_a_market_as_people_read_it(market: str, label: str) -> None:
    assert market_label(market) == label
