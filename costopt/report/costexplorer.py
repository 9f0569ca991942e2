"""The AWS edge of ``costopt report --source aws``: what Cost Explorer billed, day by day
and instance type, for the resources tagged ``costopt:plan`` with the month's plans.

One call, ``ce:GetCostAndUsage`` (DAILY, metric ``UnblendedCost``, grouped by the
``INSTANCE_TYPE`` dimension, filtered on the tag), its pages followed by ``NextPageToken``
(botocore has no paginator for it); throttling is retried by botocore's standard mode.
The tag only reaches Cost Explorer once it is activated as a cost-allocation tag in the
Billing console, which takes up to 24 hours; Cost Explorer's own figures lag by about a day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from costopt.aws import Clients
from costopt.awserrors import NO_CREDENTIALS, aws_errors
from costopt.report.comparison import AwsCost

TAG = "costopt:plan"
METRIC = "UnblendedCost"
CE_REGION = "us-east-1"  # Cost Explorer's one endpoint


def window(start: datetime, as_of: datetime) -> tuple[date, date] | None:
    """Cost Explorer's ``TimePeriod`` for ``[start, as_of)``: whole days, the end exclusive
    (a day begun counts); None when no time has elapsed."""
    if as_of <= start:
        return None
    last = as_of - timedelta(microseconds=1)
    return start.date(), last.date() + timedelta(days=1)


def request(start: date, end: date, plan_ids: Sequence[str]) -> dict[str, Any]:
    """The ``GetCostAndUsage`` parameters (without a page token)."""
    return {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": [METRIC],
        "GroupBy": [{"Type": "DIMENSION", "Key": "INSTANCE_TYPE"}],
        "Filter": {"Tags": {"Key": TAG, "Values": list(plan_ids), "MatchOptions": ["EQUALS"]}},
    }


_FIXES = {NO_CREDENTIALS: "configure them (aws configure, AWS_PROFILE or --profile), or leave "
           "out --source aws to report from the ledger alone"}
_DEFAULT_FIX = ("the credentials need ce:GetCostAndUsage, and Cost Explorer must be enabled for "
                "the account; or leave out --source aws to report from the ledger alone")


def daily_costs(session: Any, start: date, end: date, plan_ids: Sequence[str]
                ) -> list[AwsCost]:
    """Cost Explorer's unblended cost (USD) of each instance type on each day of
    ``[start, end)`` for the resources tagged with one of ``plan_ids``."""
    if not plan_ids:
        return []
    client = Clients(session)("ce", CE_REGION)
    params = request(start, end, plan_ids)
    out: list[AwsCost] = []
    while True:
        with aws_errors("Cost Explorer GetCostAndUsage", _FIXES, _DEFAULT_FIX):
            page = client.get_cost_and_usage(**params)
        for result in page.get("ResultsByTime", []):
            day = date.fromisoformat(result["TimePeriod"]["Start"])
            estimated = bool(result.get("Estimated", False))
            for group in result.get("Groups", []):
                amount = float(group["Metrics"][METRIC]["Amount"])
                out.append(AwsCost(day, group["Keys"][0], amount, estimated))
        token = page.get("NextPageToken")
        if not token:
            return out
        params = {**params, "NextPageToken": token}
