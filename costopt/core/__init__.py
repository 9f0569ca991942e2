"""The shared vocabulary: the small values every part of costopt speaks in.

- :mod:`~costopt.core.pool_ids` - pool ids (``aws:REGION:TYPE:MARKET[:ZONE_ID]``,
  ``owned:NAME``, ``buy:NAME``), parsed once into a :class:`~costopt.core.pool_ids.PoolId`;
- :mod:`~costopt.core.times` - stored times (``2027-01-04T00:00:00Z``): written, parsed;
- :mod:`~costopt.core.months` - calendar months in UTC;
- :mod:`~costopt.core.money` - amounts of USD as people read them;
- :mod:`~costopt.core.places` - where costopt keeps its state on this machine.

Each module imports nothing of costopt but :mod:`costopt.errors` and the others here, and no
heavy library: every command may use them without paying for more.
"""
