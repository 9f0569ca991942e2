"""The fallback chain of a spot launch."""

from __future__ import annotations

from costopt.orchestrate.fallback import (
    LaunchTarget,
    gang_zone_first,
    launch_chain,
    remaining_chain,
)

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


def test_a_gangs_rank_goes_first_to_the_zone_of_its_other_instances() -> None:
    chain = launch_chain("spot", ["us-east-1a", "us-east-1b"], 2, True)
    # the first "anywhere" step goes to the gang's zone; the chain keeps its length, so the
    # ledger's failure count walks it as before
    assert gang_zone_first(chain, "us-east-1b") == [
        LaunchTarget("spot", "us-east-1b"), LaunchTarget("spot"),
        LaunchTarget("spot", "us-east-1a"), LaunchTarget("spot", "us-east-1b"),
        LaunchTarget("on_demand")]
    assert gang_zone_first(chain, None) == chain
    assert gang_zone_first(chain[2:], "us-east-1b") == chain[2:]  # a zone already chosen
    assert gang_zone_first([LaunchTarget("on_demand")], "us-east-1c") == [
        LaunchTarget("on_demand", "us-east-1c")]
