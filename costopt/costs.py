"""What owned servers cost (USD), the one home of the formulas the planner's pools, ``buy``'s
break-even and ``report``'s attribution share: the part paid whether used or not
(amortisation, idle energy, ops) and the energy above idle of a GPU-hour of work."""

from __future__ import annotations

from costopt.workload import ServerSpec

HOURS_PER_YEAR = 8760
HOURS_PER_MONTH = 730  # HOURS_PER_YEAR / 12


def servers_of(server: ServerSpec) -> int:
    """Servers of an entry: an owned entry's ``count``, one for a candidate or build."""
    return int(getattr(server, "count", 1))


def amortisation_usd(server: ServerSpec, hours: float) -> float:
    """One server's purchase spread over its lifetime, for ``hours``."""
    return server.purchase_usd / (server.lifetime_years * HOURS_PER_YEAR) * hours


def idle_energy_usd(server: ServerSpec, usd_per_kwh: float, pue: float, hours: float) -> float:
    """One server's idle power for ``hours``: ``idle_watts / 1000 * $/kWh * PUE * hours``."""
    return server.idle_watts / 1000 * usd_per_kwh * pue * hours


def ops_usd(server: ServerSpec, hours: float) -> float:
    """One server's ``ops_usd_per_month`` for ``hours`` (months of ``HOURS_PER_MONTH``)."""
    return server.ops_usd_per_month * hours / HOURS_PER_MONTH


def fixed_usd(server: ServerSpec, usd_per_kwh: float, pue: float, hours: float) -> float:
    """Cost over ``hours`` whether used or not - amortisation, idle energy, ops - of all the
    servers of an owned entry (``count`` of them), or of one candidate server."""
    per_server = (amortisation_usd(server, hours) + idle_energy_usd(server, usd_per_kwh, pue, hours)
                  + ops_usd(server, hours))
    return servers_of(server) * per_server


def energy_usd_per_gpu_hour(server: ServerSpec, usd_per_kwh: float, pue: float) -> float:
    """Energy above idle per GPU-hour: ``(power - idle) / gpus / 1000 * $/kWh * PUE``."""
    return (server.power_watts - server.idle_watts) / server.gpus / 1000 * usd_per_kwh * pue
