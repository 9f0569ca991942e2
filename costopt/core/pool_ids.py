"""Pool ids, parsed in one place.

``aws:REGION:INSTANCE_TYPE:MARKET`` (``workload.md``), ``aws:REGION:INSTANCE_TYPE:spot:ZONE_ID``
(a spot pool in one availability zone, spec v2; ``ZONE_ID`` such as ``usw2-az1`` or the
Local Zone ``usw2-lax1-az1``),
``owned:NAME`` and ``buy:NAME``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ZONE_ID = re.compile(r"^[a-z]+[0-9]+(-[a-z0-9]+)*-az[0-9]+$")
"""An availability zone *ID* (``use1-az1``, ``usw2-az4``; a Local Zone ``usw2-lax1-az1``),
the same in every account."""


def is_local_zone(zone_id: str) -> bool:
    """Whether a zone ID names an AWS Local Zone (``usw2-lax1-az1``: a city between the
    region and ``az``), which an account must opt in to before it can launch there."""
    return len(zone_id.split("-")) > 2


def is_owned_pool(pool: str) -> bool:
    """Whether a pool id names servers the team has or would buy (``owned:NAME``,
    ``buy:NAME``), not a cloud pool."""
    return pool.startswith(("owned:", "buy:"))


MARKETS = ("on_demand", "spot")
FORMS = ("aws:REGION:TYPE:on_demand, aws:REGION:TYPE:spot, aws:REGION:TYPE:spot:ZONE_ID "
         "(e.g. aws:us-west-2:p3.2xlarge:spot:usw2-az1), owned:NAME or buy:NAME")


@dataclass(frozen=True)
class PoolId:
    """A parsed pool id. ``kind`` is ``aws``, ``owned`` or ``buy``; cloud fields are ``None``
    for owned pools, ``zone_id`` is ``None`` for regional pools."""

    text: str
    kind: str
    name: str | None = None
    region: str | None = None
    instance_type: str | None = None
    market: str | None = None
    zone_id: str | None = None

    @property
    def regional(self) -> PoolId:
        """The same pool without its zone: ``aws:REGION:TYPE:spot``."""
        if self.zone_id is None:
            return self
        return parse_pool_id(f"aws:{self.region}:{self.instance_type}:{self.market}")


def parse_pool_id(text: str) -> PoolId:
    """Parse a pool id; :class:`ValueError` saying what is valid for anything else."""
    parts = text.split(":") if isinstance(text, str) else []
    if len(parts) == 2 and parts[0] in ("owned", "buy") and parts[1]:
        return PoolId(text, parts[0], name=parts[1])
    if parts and parts[0] == "aws" and len(parts) in (4, 5) and all(parts[1:3]):
        market = parts[3]
        zone = parts[4] if len(parts) == 5 else None
        if market in MARKETS and (zone is None or (market == "spot" and ZONE_ID.match(zone))):
            return PoolId(text, "aws", region=parts[1], instance_type=parts[2],
                          market=market, zone_id=zone)
    raise ValueError(f"not a pool id; valid: {FORMS}")


def market_label(market: str) -> str:
    """A market as people read it: ``on_demand`` -> ``on-demand`` (``spot``, ``owned`` as
    they are)."""
    return market.replace("_", "-")


def pool_words(pool: str) -> str:
    """A pool id for people, in words that wrap: ``aws:us-east-1:p3.2xlarge:spot`` ->
    ``spot p3.2xlarge us-east-1``; a spot pool's zone last (``... us-east-1 use1-az1``)."""
    try:
        p = parse_pool_id(pool)
    except ValueError:
        return pool
    if p.kind != "aws":
        return f"{p.kind} {p.name}"
    words = [market_label(str(p.market)), p.instance_type, p.region, p.zone_id]
    return " ".join(w for w in words if w)
