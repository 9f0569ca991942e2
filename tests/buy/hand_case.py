"""The hand-worked buy-or-rent case (``tests/buy/conftest.py`` builds it), derived here step
by step so that every figure a test asserts is computed from the case's inputs, not typed in.

The inputs: one 4x V100 server (speed 1.0) of USD 8,760 with a 1-year life, 1,650 W at load
and 250 W idle, ops USD 100 a month; electricity 0.10 USD/kWh, PUE 1.2. Against p3.8xlarge
in us-east-1 (4x V100): on demand USD 12.00 an hour, spot USD 4.00 an hour with 0.1
interruptions an hour (checkpoint every 60 min, restart 10 min). At 50 % utilisation.
The rounded figures beside each step are checked by ``test_the_derivation_gives_the_
figures_worked_by_hand`` in ``test_breakeven.py``.
"""

from __future__ import annotations

HOURS = 730.0  # a month
U = 0.5  # the utilisation compared at
LIFE_MONTHS = 12.0
PURCHASE_USD = 8760.0
USD_PER_KWH, PUE = 0.10, 1.2
IDLE_KW, LOAD_KW = 0.25, 1.65
GPUS, SPEED = 4, 1.0

# Owned, a month
AMORTISATION = PURCHASE_USD / LIFE_MONTHS  # 730.00
IDLE_ENERGY = IDLE_KW * HOURS * USD_PER_KWH * PUE  # 21.90
OPS = 100.0
FIXED = AMORTISATION + IDLE_ENERGY + OPS  # 851.90
ACTIVE_PER_U = (LOAD_KW - IDLE_KW) * HOURS * USD_PER_KWH * PUE  # 122.64 per unit of U
ACTIVE = ACTIVE_PER_U * U  # 61.32
RUNNING = IDLE_ENERGY + OPS + ACTIVE  # 183.22
TOTAL = FIXED + ACTIVE  # 913.22
WORK_GPU_HOURS = GPUS * SPEED * HOURS * U  # 1,460 reference GPU-hours


def rent(usd_per_hour: float, efficiency: float) -> dict[str, float]:
    """One market's figures: the instance-hours the month's work takes on 4 V100s at that
    efficiency, their rent, and the three verdicts. Owning and renting cost the same at the
    break-even ``u``: ``FIXED + ACTIVE_PER_U u = R u`` with ``R`` the rent at u = 1."""
    hours = WORK_GPU_HOURS / (GPUS * SPEED * efficiency)
    usd = hours * usd_per_hour
    rent_at_full = usd / U
    return {"instance_hours": hours, "usd": usd,
            "breakeven": FIXED / (rent_at_full - ACTIVE_PER_U),
            "payback_months": PURCHASE_USD / (usd - RUNNING),
            "saving_usd": (usd - TOTAL) * LIFE_MONTHS}


SPOT_EFFICIENCY = 1 - 0.1 * (60 / 2 + 10) / 60  # half a checkpoint lost + a restart, per hour
ON_DEMAND = rent(12.0, 1.0)
# 365 h, 4,380 USD; break-even 0.0986296739, payback 2.0873145602 months, saves 41,601.36
SPOT = rent(4.0, SPOT_EFFICIENCY)
# 391.0714 h, 1,564.2857 USD; break-even 0.2834063319, payback 6.3429277183 months,
# saves 7,812.7886
