"""The fallback chain of a spot launch."""

from __future__ import annotations

from costopt.orchestrate.fallback import LaunchTarget, launch_chain, remaining_chain

ZONES = ["us-east-1b", "us-east-1a"]


def test_on_demand_pools_have_one_target() -> None:
    assert launch_chain("on_demand", ZONES, 2, True) == [LaunchTarget("on_demand")]


def test_spot_then_each_zone_then_on_demand() -> None:
    chain = launch_chain("spot", ZONES, 2, True)
    assert chain == [LaunchTarget("spot"), LaunchTarget("spot"),
                     LaunchTarget("spot", "us-east-1a"), LaunchTarget("spot", "us-east-1b"),
                     LaunchTarget("on_demand")]
    assert [t.describe() for t in chain[2:]] == ["spot in us-east-1a", "spot in us-east-1b",
                                                 "on-demand"]


def test_failures_carry_on_along_the_chain() -> None:
    chain = launch_chain("spot", ZONES, 1, True)
    assert remaining_chain(chain, 0) == chain
    assert remaining_chain(chain, 2) == [LaunchTarget("spot", "us-east-1b"),
                                         LaunchTarget("on_demand")]
    assert remaining_chain(chain, 9) == [LaunchTarget("on_demand")]


def test_without_on_demand_the_chain_starts_over() -> None:
    chain = launch_chain("spot", ZONES, 1, False)
    assert chain[-1] == LaunchTarget("spot", "us-east-1b")
    assert remaining_chain(chain, 3) == chain
    assert remaining_chain(chain, 4) == chain[1:]
