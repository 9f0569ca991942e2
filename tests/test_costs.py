"""Owned servers' costs, worked by hand: the parts paid whether used or not, and energy."""

from __future__ import annotations

import pytest
from builders import server

from costopt.costs import (
    amortisation_usd,
    energy_usd_per_gpu_hour,
    fixed_usd,
    idle_energy_usd,
    ops_usd,
)
from costopt.workload import CandidateServer, OwnedServer

# Two 4-GPU boxes: 8,760 USD over 1 year, 250 W idle, 1,650 W busy, 73 USD a month of ops;
# power at 0.10 USD/kWh, PUE 1.2.
BOXES = OwnedServer(**server(count=2, ops_usd_per_month=73))


def test_the_parts_of_one_server_over_a_month() -> None:
    assert amortisation_usd(BOXES, 730) == pytest.approx(730.0)  # 8760 / 8760 h x 730 h
    assert idle_energy_usd(BOXES, 0.10, 1.2, 730) == pytest.approx(21.9)  # 0.25 kW x 0.12
    assert ops_usd(BOXES, 730) == pytest.approx(73.0)


def test_fixed_cost_counts_every_server_of_an_entry_and_one_candidate() -> None:
    # 10 h: (1.00 + 0.03 + 0.10) USD/h a server, 2 servers = 22.60; a candidate is one.
    assert fixed_usd(BOXES, 0.10, 1.2, 10) == pytest.approx(22.6)
    candidate = CandidateServer(**server(ops_usd_per_month=73))
    assert fixed_usd(candidate, 0.10, 1.2, 10) == pytest.approx(11.3)


def test_energy_above_idle_per_gpu_hour() -> None:
    # (1650 - 250) W / 4 GPUs = 0.35 kW x 0.10 USD/kWh x 1.2 = 0.042 USD a GPU-hour
    assert energy_usd_per_gpu_hour(BOXES, 0.10, 1.2) == pytest.approx(0.042)
