"""What a plan will really cost, with odds: scenarios of spot capacity, each carried out by
``costopt simulate``'s own code, and the statistics of their outcomes (docs/risk.md)."""
