"""Cost Explorer's actuals beside the ledger's figures, day by instance type."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from costopt.orchestrate.ledger import Runtime
    from costopt.report.spend import MonthReport


@dataclass(frozen=True)
class AwsCost:
    """A Cost Explorer figure: unblended cost of one instance type on one UTC day (USD);
    ``estimated`` while AWS has not closed the day."""

    day: date
    instance_type: str
    usd: float
    estimated: bool = False


@dataclass(frozen=True)
class JoinedCost:
    """The ledger's and Cost Explorer's cost of one instance type on one day (USD)."""

    day: date
    instance_type: str
    ledger_usd: float
    aws_usd: float
    estimated: bool

    @property
    def difference_usd(self) -> float:
        """AWS minus the ledger: positive when AWS billed more than the ledger knows of."""
        return self.aws_usd - self.ledger_usd


@dataclass(frozen=True)
class AwsComparison:
    """Cost Explorer's actuals beside the ledger's figures, day by instance type."""

    plan_ids: tuple[str, ...]  # the values of the ``costopt:plan`` tag asked for
    rows: tuple[JoinedCost, ...]

    @property
    def ledger_usd(self) -> float:
        return sum(r.ledger_usd for r in self.rows)

    @property
    def aws_usd(self) -> float:
        return sum(r.aws_usd for r in self.rows)

    @property
    def difference_usd(self) -> float:
        return self.aws_usd - self.ledger_usd


def join_cost_explorer(report: MonthReport, costs: Sequence[AwsCost],
                       plan_ids: Sequence[str]) -> MonthReport:
    """The report with Cost Explorer's daily cost per instance type beside the ledger's
    (an outer join on day and instance type; a side with no figure counts 0)."""
    ledger = {(t.day, t.instance_type): t.usd for t in report.cloud_daily_by_type}
    aws: dict[tuple[date, str], float] = defaultdict(float)
    estimated: set[tuple[date, str]] = set()
    for c in costs:
        aws[(c.day, c.instance_type)] += c.usd
        if c.estimated:
            estimated.add((c.day, c.instance_type))
    rows = tuple(JoinedCost(day, itype, ledger.get((day, itype), 0.0), aws.get((day, itype), 0.0),
                            (day, itype) in estimated)
                 for day, itype in sorted(set(ledger) | set(aws)))
    return replace(report, aws=AwsComparison(tuple(plan_ids), rows))


def tagged_plan_ids(report: MonthReport, runtimes: Sequence[Runtime]) -> list[str]:
    """The ``costopt:plan`` tag values to ask Cost Explorer for: the plans in force in the
    month and those of the runtimes in it."""
    return sorted(set(report.plans) | {r.plan_id for r in runtimes})

