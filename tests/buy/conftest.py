"""The hand-worked buy-or-rent case shared by the breakeven and chart tests.

One 4x V100 server (speed 1.0): USD 8,760, 1-year life, 1,650 W at load, 250 W idle,
ops USD 100 a month; electricity 0.10 USD/kWh, PUE 1.2. Against p3.8xlarge in us-east-1
(4x V100): on demand USD 12.00 an hour, spot USD 4.00 an hour with 0.1 interruptions an
hour (checkpoint 60 min, restart 10 min). Compared at 50% utilisation. The figures are
worked out in tests/buy/test_breakeven.py.
"""

from __future__ import annotations

import pytest
from builders import catalog, offer, server

from costopt.buy.breakeven import BuyOrRent, OwnedSide, compare, owned_side, rentals
from costopt.pricing.catalog import PriceCatalog
from costopt.workload import OwnedServer


@pytest.fixture
def hand_catalog() -> PriceCatalog:
    return catalog(offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=12.0, spot=4.0, rate=0.1))


@pytest.fixture
def hand_owned(hand_catalog: PriceCatalog) -> OwnedSide:
    box = OwnedServer.model_validate(server(ops_usd_per_month=100))
    return owned_side(box, hand_catalog, usd_per_kwh=0.10, pue=1.2)


@pytest.fixture
def hand_result(hand_owned: OwnedSide, hand_catalog: PriceCatalog) -> BuyOrRent:
    return compare(hand_owned, rentals(hand_catalog, "p3.8xlarge", "us-east-1"), 0.5)
