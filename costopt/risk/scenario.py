"""One scenario carried out: its traces drawn, then ``costopt simulate``'s own entry point
(:func:`costopt.simulate.run.simulate`) run on them, and what came of it kept small enough
to send back from another process or a Ray worker.

:class:`RiskInputs` is what every scenario shares (the plan, the workload, the prices, the
source of capacity, the policy and the apply options): shipped to each worker once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from costopt.orchestrate.apply import ApplyOptions
from costopt.plan.pools import build_pools
from costopt.planfile import PlanDocument
from costopt.pricing.catalog import PriceCatalog
from costopt.risk.scenarios import Source, spot_pools
from costopt.traces import PoolTrace
from costopt.workload import Workload


@dataclass(frozen=True)
class RiskInputs:
    """What every scenario of one sweep shares. ``policy`` names one of
    :data:`costopt.orchestrate.policy.POLICIES` (``plan``: the controller ``apply`` and
    ``watch`` run); ``replan``: the controller re-plans on events, as ``watch`` does (a
    baseline policy never does)."""

    plan: PlanDocument
    workload: Workload
    catalog: PriceCatalog
    source: Source
    policy: str = "plan"
    spot_attempts: int = 2
    replan: bool = True

    @property
    def replans(self) -> bool:
        """Whether the scenarios re-plan: the controller's policy with ``replan``."""
        return self.replan and self.policy == "plan"

    @cached_property
    def spot_pools(self) -> list[str]:
        """The spot pools a scenario gives a trace: the plan's, then, when re-planning,
        every other spot pool the workload allows (a re-plan may move a job there, design
        5: without a trace its spot would always be there)."""
        ids = spot_pools(self.plan)
        if self.replans:
            ids += [p.id for p in build_pools(self.workload, self.catalog).cloud
                    if p.market == "spot"]
        return list(dict.fromkeys(ids))

    def traces(self, seed: int) -> list[PoolTrace]:
        """The traces of the scenario with this seed."""
        return self.source.traces(self.plan, seed, self.spot_pools)


@dataclass(frozen=True)
class JobOutcome:
    """A job in one scenario: when it finished (``None``: not by the horizon's end), whether
    by its deadline, and its share of the cost (USD)."""

    job: str
    deadline: datetime
    finished_at: datetime | None
    met_deadline: bool
    usd: float


@dataclass(frozen=True)
class ScenarioResult:
    """What scenario ``index`` (seed ``seed``) cost: USD of the horizon's variable cost, as
    ``simulate`` reports it; ``pool_usd`` the cloud cost per plan pool (either market);
    ``availability`` the share of the horizon each traced spot pool had capacity."""

    index: int
    seed: int
    realised_usd: float
    cloud_usd: float
    owned_usd: float
    interruptions: int
    jobs: tuple[JobOutcome, ...]
    pool_usd: tuple[tuple[str, float], ...]
    availability: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class ScenarioFailure:
    """A scenario that raised (after its retries, on Ray): reported, never dropped."""

    index: int
    seed: int
    error: str


def run_scenario(inputs: RiskInputs, index: int, seed: int) -> ScenarioResult:
    """Draw scenario ``index``'s traces from ``seed`` and carry the plan out on them."""
    from costopt.orchestrate.policy import POLICIES
    from costopt.simulate.run import simulate

    traces = inputs.traces(seed)
    sim = simulate(inputs.plan, workload=inputs.workload, catalog=inputs.catalog,
                   traces=traces, policy=POLICIES[inputs.policy],
                   options=ApplyOptions(spot_attempts=inputs.spot_attempts),
                   replan=inputs.replan)
    pool_usd: dict[str, float] = {}
    for r in sim.runs:
        pool_usd[r.pool] = pool_usd.get(r.pool, 0.0) + (
            r.end - r.start).total_seconds() / 3600 * r.usd_per_hour
    return ScenarioResult(
        index=index, seed=seed, realised_usd=sim.realised_usd, cloud_usd=sim.cloud_usd,
        owned_usd=sim.owned_usd, interruptions=sim.interruptions,
        jobs=tuple(JobOutcome(p.job, p.deadline, p.finished_at, p.met_deadline, p.usd)
                   for p in sim.jobs.values()),
        pool_usd=tuple(sorted(pool_usd.items())),
        availability=tuple((t.pool.text, float((t.trace.counts > 0).mean())) for t in traces))
