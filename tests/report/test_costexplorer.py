"""``--source aws``: Cost Explorer under moto (in process), and its join with the ledger.

moto returns nothing from ``GetCostAndUsage`` until results are queued; each distinct
request takes the next queued result, so a second page (a request with ``NextPageToken``)
takes the second one.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from month_case import NOW, build_ledger
from moto import mock_aws

from costopt.core.months import Month
from costopt.errors import AwsError
from costopt.report.attribution import owned_from_plans
from costopt.report.comparison import AwsCost, join_cost_explorer, tagged_plan_ids
from costopt.report.costexplorer import daily_costs, window
from costopt.report.forecast import choose_budget
from costopt.report.inputs import read_ledger
from costopt.report.spend import month_report

QUEUE = "http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results"


def day(start: str, groups: dict[str, str], *, estimated: bool = False) -> dict[str, Any]:
    end = date.fromordinal(date.fromisoformat(start).toordinal() + 1).isoformat()
    return {"TimePeriod": {"Start": start, "End": end}, "Total": {}, "Estimated": estimated,
            "Groups": [{"Keys": [k], "Metrics": {"UnblendedCost": {"Amount": v, "Unit": "USD"}}}
                       for k, v in groups.items()]}


def queue(*pages: dict[str, Any]) -> None:
    reply = requests.post(QUEUE, json={"results": list(pages)}, timeout=10)
    assert reply.status_code == 201


def recording_session(sent: list[dict[str, Any]]) -> boto3.Session:
    session = boto3.Session(region_name="eu-west-1")

    def record(params: dict[str, Any], **_kwargs: Any) -> None:
        sent.append(dict(params))

    session.events.register("provide-client-params.ce.GetCostAndUsage", record)
    return session


@mock_aws
def test_request_pages_and_join(tmp_path: Path) -> None:
    build_ledger(tmp_path)
    month = Month(2026, 12)
    view = read_ledger(tmp_path, month)
    report = month_report(month, NOW, view, owned=owned_from_plans(view.plans, month),
                          budget=choose_budget(None, None, view.plans, month))
    queue(
        {"ResultsByTime": [day("2026-12-01", {"p3.2xlarge": "12.0100"}),
                           day("2026-12-02", {"p3.2xlarge": "18"})],
         "NextPageToken": "page-2", "DimensionValueAttributes": []},
        {"ResultsByTime": [day("2026-12-03", {"p3.8xlarge": "161.5", "NoInstanceType": "0.4"}),
                           day("2026-12-10", {"p3.2xlarge": "9"}, estimated=True)],
         "DimensionValueAttributes": []},
    )
    sent: list[dict[str, Any]] = []
    plan_ids = tagged_plan_ids(report, view.runtimes)
    span = window(month.start, report.as_of)
    assert span == (date(2026, 12, 1), date(2026, 12, 11))
    costs = daily_costs(recording_session(sent), *span, plan_ids)

    assert sent[0] == {
        "TimePeriod": {"Start": "2026-12-01", "End": "2026-12-11"},
        "Granularity": "DAILY", "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "INSTANCE_TYPE"}],
        "Filter": {"Tags": {"Key": "costopt:plan", "Values": ["lab-0001"],
                            "MatchOptions": ["EQUALS"]}},
    }
    assert sent[1] == {**sent[0], "NextPageToken": "page-2"}
    assert len(sent) == 2
    assert costs == [
        AwsCost(date(2026, 12, 1), "p3.2xlarge", 12.01),
        AwsCost(date(2026, 12, 2), "p3.2xlarge", 18.0),
        AwsCost(date(2026, 12, 3), "p3.8xlarge", 161.5),
        AwsCost(date(2026, 12, 3), "NoInstanceType", 0.4),
        AwsCost(date(2026, 12, 10), "p3.2xlarge", 9.0, estimated=True),
    ]

    joined = join_cost_explorer(report, costs, plan_ids).aws
    assert joined is not None
    # ledger (tests/report/test_spend.py): 12-01 12.00, 12-02 18.00, 12-03 162.00 (60 + 102),
    # 12-04 42.00, 12-10 12.00
    assert [(r.day.day, r.instance_type, round(r.ledger_usd, 2), r.aws_usd,
             round(r.difference_usd, 2)) for r in joined.rows] == [
        (1, "p3.2xlarge", 12.00, 12.01, 0.01),
        (2, "p3.2xlarge", 18.00, 18.0, 0.0),
        (3, "NoInstanceType", 0.0, 0.4, 0.4),
        (3, "p3.8xlarge", 162.00, 161.5, -0.5),
        (4, "p3.8xlarge", 42.00, 0.0, -42.0),
        (10, "p3.2xlarge", 12.00, 9.0, -3.0),
    ]
    assert (round(joined.ledger_usd, 2), round(joined.aws_usd, 2)) == (246.00, 200.91)
    assert joined.plan_ids == ("lab-0001",)


def test_no_plans_no_call() -> None:
    class NoClient:
        def client(self, *_a: Any, **_k: Any) -> None:
            raise AssertionError("Cost Explorer called with no plan to filter on")

    assert daily_costs(NoClient(), date(2026, 12, 1), date(2026, 12, 2), []) == []


def test_window_counts_a_begun_day() -> None:
    start = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert window(start, start) is None
    assert window(start, datetime(2026, 12, 1, 0, 1, tzinfo=timezone.utc)) == (
        date(2026, 12, 1), date(2026, 12, 2))
    assert window(start, datetime(2027, 1, 1, tzinfo=timezone.utc)) == (
        date(2026, 12, 1), date(2027, 1, 1))


def test_no_credentials_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(AwsError) as info:
        daily_costs(boto3.Session(), date(2026, 12, 1), date(2026, 12, 2), ["lab-0001"])
    assert "no AWS credentials" in str(info.value) and "To fix" in str(info.value)
