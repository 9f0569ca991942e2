"""Spot arithmetic: zone summaries, the band -> rate formula, bands for unlisted regions."""

from __future__ import annotations

import math

import pytest

from costopt.pricing.spot import band_for, interruptions_per_hour, zone_summary


def test_band_rate_formula_by_hand() -> None:
    assert interruptions_per_hour("<5%") == pytest.approx(-math.log(0.975) / 24)
    assert interruptions_per_hour(">20%") == pytest.approx(0.0119866, abs=1e-6)
    with pytest.raises(ValueError, match="unknown interruption band"):
        interruptions_per_hour("often")


def test_zone_summary_by_hand() -> None:
    assert zone_summary([3.0, 1.0, 2.0, 10.0]) == (2.5, 1.0, 4)
    assert zone_summary([]) is None


BANDS = {("p4d.24xlarge", "us-east-1"): "10-15%", ("p4d.24xlarge", "us-west-2"): ">20%",
         ("p4d.24xlarge", "eu-west-1"): "<5%", ("g5.xlarge", "us-east-1"): "5-10%"}


def test_band_listed_for_the_region() -> None:
    assert band_for(BANDS, "p4d.24xlarge", "us-east-1") == ("10-15%", "")


def test_band_of_an_unlisted_region_is_the_types_lower_median() -> None:
    # p4d elsewhere: <5%, 10-15%, >20% -> the median is 10-15%
    band, how = band_for(BANDS, "p4d.24xlarge", "ap-south-1")
    assert band == "10-15%" and "median" in how


def test_band_of_an_unlisted_type_is_the_worst() -> None:
    band, how = band_for(BANDS, "p5.4xlarge", "us-east-1")
    assert band == ">20%" and "worst" in how
