"""The workload file: defaults, and each validation error with path, value and remedy."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from builders import catalog, offer, server, workload

from costopt.errors import WorkloadError
from costopt.plan.pools import build_pools, eligibility, unplaceable_jobs
from costopt.workload import speed_for
from costopt.workload_checks import (
    check_against_catalog,
    horizon_started,
    load_workload,
    offers_of,
    parse_workload,
)

UTC = timezone.utc


def errors_of(raw: dict) -> str:
    with pytest.raises(WorkloadError) as info:
        parse_workload(raw, "w.yaml")
    return str(info.value)


def minimal(**changes: object) -> dict:
    raw: dict = {"name": "lab", "horizon": {"start": "2027-01-04", "days": 28},
                 "jobs": [{"name": "a", "gpu_hours": 10}]}
    raw.update(changes)
    return raw


def test_defaults_from_the_spec() -> None:
    w = parse_workload(minimal(owned={"servers": [server()]}, cloud={}), "w.yaml")
    assert w.horizon.period_hours == 24
    assert w.horizon.start == datetime(2027, 1, 4, tzinfo=UTC)
    assert w.horizon.periods == 28
    job = w.jobs[0]
    assert (job.gpus, job.min_gpu_memory_gb, job.interruptible, job.checkpoint_minutes) == (
        1, 0, False, 60)
    assert w.job_window(job) == (datetime(2027, 1, 4, tzinfo=UTC),
                                 datetime(2027, 2, 1, tzinfo=UTC))
    assert w.owned is not None
    assert (w.owned.electricity_usd_per_kwh, w.owned.pue) == (0.15, 1.0)
    s = w.owned.servers[0]
    assert (s.count, s.availability, s.ops_usd_per_month) == (1, 1.0, 0)
    assert w.cloud is not None
    assert w.cloud.markets == ["on_demand", "spot"]
    assert w.cloud.spot_restart_minutes == 10
    assert job.allowed_kinds() == {"owned", "on_demand"}


def test_unknown_field_suggests_the_near_one() -> None:
    message = errors_of(minimal(jobs=[{"name": "a", "gpu_hour": 10}]))
    assert "w.yaml: jobs[0].gpu_hour = 10: unknown field; did you mean 'gpu_hours'?" in message
    assert "w.yaml: jobs[0].gpu_hours: is required" in message


def test_deadline_before_start() -> None:
    message = errors_of(minimal(jobs=[{"name": "a", "gpu_hours": 1, "start": "2027-01-10",
                                       "deadline": "2027-01-08"}]))
    assert "jobs[0].deadline = '2027-01-08T00:00:00Z': is not after the job's start " \
           "(2027-01-10T00:00:00Z)" in message


def test_window_with_no_whole_period() -> None:
    message = errors_of(minimal(jobs=[{"name": "a", "gpu_hours": 1,
                                       "start": "2027-01-05T06:00:00Z",
                                       "deadline": "2027-01-06T12:00:00Z"}]))
    assert "jobs[0]" in message
    assert "holds no whole 24-hour period" in message
    assert "To fix" in message


MIXED = {"start": "2027-01-04", "days": 3, "periods": [{"hours": 1, "count": 48},
                                                     {"hours": 24, "count": 1}]}


def test_mixed_periods_hourly_then_daily() -> None:
    h = parse_workload(minimal(horizon=MIXED), "w.yaml").horizon
    # 48 hourly periods from Monday 00:00, then one day from Wednesday 00:00: 49 periods.
    assert h.periods == 49
    assert h.period_lengths[47:] == (1, 24)
    assert h.period_start(1) == datetime(2027, 1, 4, 1, tzinfo=UTC)
    assert h.period_start(48) == datetime(2027, 1, 6, tzinfo=UTC)
    assert h.runs_text == "48x1 h, then 1x24 h"


def test_a_job_uses_only_the_whole_periods_of_its_window() -> None:
    # Window Mon 06:30 .. Wed 12:00: hours 7..47 (periods 7..47) lie wholly inside; the day
    # from Wed 00:00 does not (it ends Thu 00:00).
    w = parse_workload(minimal(horizon=MIXED, jobs=[{
        "name": "a", "gpu_hours": 1, "start": "2027-01-04T06:30:00Z",
        "deadline": "2027-01-06T12:00:00Z"}]), "w.yaml")
    assert w.job_periods(w.jobs[0]) == range(7, 48)
    assert w.job_hours(w.jobs[0]) == 41


@pytest.mark.parametrize(("horizon", "expected"), [
    ({**MIXED, "periods": [{"hours": 1, "count": 48}]},
     "horizon: periods add up to 48x1 h = 48 h, but days: 3 is 72 h"),
    ({**MIXED, "period_hours": 1}, "horizon: has both period_hours and periods"),
    ({**MIXED, "periods": [{"hours": 200, "count": 1}]},
     "horizon.periods[0].hours = 200: Input should be less than or equal to 168"),
    ({**MIXED, "periods": []}, "horizon.periods"),
    ({**MIXED, "periods": [{"hours": 24, "cont": 3}]},
     "horizon.periods[0].cont = 3: unknown field; did you mean 'count'?"),
])
def test_mixed_period_errors(horizon: dict, expected: str) -> None:
    assert expected in errors_of(minimal(horizon=horizon))


def test_window_inside_one_long_period_names_the_runs() -> None:
    message = errors_of(minimal(horizon=MIXED, jobs=[{
        "name": "a", "gpu_hours": 1, "start": "2027-01-06T01:00:00Z"}]))
    assert "holds no whole period (48x1 h, then 1x24 h)" in message
    assert "shorten horizon.periods" in message


def test_period_hours_must_divide_the_horizon() -> None:
    message = errors_of(minimal(horizon={"start": "2027-01-04", "days": 1, "period_hours": 7}))
    assert "horizon.period_hours = 7: does not divide days*24 = 24" in message


@pytest.mark.parametrize(("change", "expected"), [
    ({"horizon": {"start": "2027-13-01", "days": 1}},
     "horizon.start = '2027-13-01': is not a calendar date (month must be in 1..12)"),
    ({"horizon": {"start": "2027-01-01", "days": 0}}, "horizon.days = 0: Input should be "
                                                     "greater than 0"),
    ({"jobs": []}, "jobs = []: List should have at least 1 item"),
    ({"jobs": [{"name": "a", "gpu_hours": -5}]}, "jobs[0].gpu_hours = -5"),
    ({"jobs": [{"name": "a", "gpu_hours": 1, "allow": ["gpu-cloud"]}]},
     "jobs[0].allow[0] = 'gpu-cloud': Input should be 'owned', 'on_demand' or 'spot'"),
    ({"jobs": [{"name": "a", "gpu_hours": 1}, {"name": "a", "gpu_hours": 2}]},
     "jobs[1].name = 'a': is used twice"),
    ({"owned": {"servers": [server(idle_watts=2000)]}},
     "owned.servers[0].idle_watts = 2000: exceeds power_watts = 1650"),
    ({"cloud": {"markets": ["reserved"]}}, "cloud.markets[0] = 'reserved'"),
    ({"horizon": {"start": "2027-01-04", "days": 7, "period_hours": 0}},
     "horizon.period_hours = 0: Input should be greater than or equal to 1"),
    ({"horizon": {"start": "2027-01-04", "days": 7, "period_hours": 169}},
     "horizon.period_hours = 169: Input should be less than or equal to 168"),
    ({"horizon": "tomorrow"},
     "horizon = 'tomorrow': must be a mapping with the fields start, days, period_hours"),
    ({"jobs": ["train"]}, "jobs[0] = 'train': must be a mapping with the fields name, gpus, "
                          "gpu_hours,"),
    ({"jobz": []}, "w.yaml: jobz = []: unknown field; did you mean 'jobs'? valid fields here: "
                   "name, horizon, budget_usd"),
    ({"jobs": [{"name": "a", "gpu_hours": 1, "allow": ["spot"]}]},
     "jobs[0].allow = ['spot']: leaves no pool kind: spot needs interruptible: true"),
    ({"jobs": [{"name": "a", "gpu_hours": 1, "speed": {"T4": -1}}]},
     "jobs[0].speed: speeds must be >= 0 (0 forbids a GPU model); got {'T4': -1.0}"),
    ({"owned": {"servers": [server(), server()]}},
     "owned.servers[1].name = 'box': is used twice; server and candidate names must be unique"),
    ({"owned": {"servers": [server()], "candidates": [server()]}},
     "owned.candidates[0].name = 'box': is used twice"),
    ({"owned": {"pue": 0.5}}, "owned.pue = 0.5: Input should be greater than or equal to 1"),
    ({"owned": {"servers": [server(availability=0)]}},
     "owned.servers[0].availability = 0: Input should be greater than 0"),
    ({"cloud": {"quotas": [{"region": "us-east-1", "market": "spot", "family": "Q",
                            "vcpus": 8}]}},
     "cloud.quotas[0].family = 'Q': unknown quota family; valid: P (p2..p5), G (g3..g6)"),
])
def test_field_errors(change: dict, expected: str) -> None:
    assert expected in errors_of(minimal(**change))


def test_missing_name_is_reported_as_required() -> None:
    raw = minimal()
    del raw["name"]
    assert "w.yaml: name: is required" in errors_of(raw)


def test_bad_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("name: x\njobs: [\n")
    with pytest.raises(WorkloadError) as info:
        load_workload(path)
    assert "line 3" in str(info.value)
    assert "not valid YAML" in str(info.value)


def test_missing_file() -> None:
    with pytest.raises(WorkloadError) as info:
        load_workload(Path("/nonexistent/w.yaml"))
    assert "file not found" in str(info.value)


def test_relative_price_file_is_resolved_beside_the_workload(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("name: x\nhorizon: {start: 2027-01-04, days: 1}\ncloud: {pricing: p.csv}\n"
                    "jobs: [{name: a, gpu_hours: 1}]\n")
    w = load_workload(path)
    assert w.cloud is not None
    assert w.cloud.pricing == tmp_path / "p.csv"


def test_unknown_gpu_model_and_instance_type() -> None:
    w = workload([{"name": "a", "gpu_hours": 1, "speed": {"B200": 3.0}}],
                 owned={"servers": [server(gpu="V100-SXM3-16GB")]},
                 cloud={"instance_types": ["p3.2xlarg"]})
    issues = check_against_catalog(w, catalog(offer()))
    text = "\n".join(i.render("w.yaml") for i in issues)
    assert "owned.servers[0].gpu = 'V100-SXM3-16GB': unknown GPU model. Did you mean " \
           "V100-SXM2-16GB" in text
    assert "cloud.instance_types[0] = 'p3.2xlarg': unknown instance type" in text
    assert "Did you mean p3.2xlarge?" in text
    assert "jobs[0].speed.B200" in text


def test_names_the_price_data_does_not_know() -> None:
    w = workload([{"name": "a", "gpu_hours": 1, "regions": ["us-est-1"],
                   "speed": {"V10": 2.0}}],
                 owned={"candidates": [server("new", gpu="RTX-4090")]},
                 cloud={"regions": ["us-east-1", "eu-west-9"],
                        "price_overrides": [{"instance_type": "p9.xlarge", "region": "us-east-1",
                                             "market": "spot", "usd_per_hour": 1.0}],
                        "spot_interruptions_per_hour": [{"instance_type": "p3.2xlarge",
                                                         "region": "us-east-1", "rate": 0.1}],
                        "max_instances": [{"instance_type": "g4dn.xlarge", "region": "us-east-1",
                                           "market": "spot", "count": 1}],
                        "quotas": [{"region": "us-east-1", "market": "spot", "family": "VT",
                                    "vcpus": 8}]})
    text = "\n".join(i.render("w.yaml") for i in check_against_catalog(w, catalog(offer())))
    assert "w.yaml: owned.candidates[0].gpu = 'RTX-4090': unknown GPU model. Did you mean " \
           "RTX-2080-TI, GTX-1080-TI? Valid: A100-SXM4-40GB" in text
    # V10 is not a prefix that ends at a dash: it matches neither V100 model.
    assert "jobs[0].speed.V10 = 'V10': matches no GPU model" in text
    assert "cloud.regions[1] = 'eu-west-9': no GPU offers in this region." in text
    assert "jobs[0].regions[0] = 'us-est-1': no GPU offers in this region. Did you mean " \
           "us-east-1?" in text
    assert "cloud.price_overrides[0].instance_type = 'p9.xlarge': unknown instance type" in text
    assert "cloud.max_instances[0].instance_type = 'g4dn.xlarge': unknown instance type" in text
    assert "cloud.quotas[0].family = 'VT': no instance type in this family; valid: P" in text
    assert "spot_interruptions_per_hour" not in text  # p3.2xlarge is known
    assert len(text.splitlines()) == 7


def test_gang_larger_than_every_node() -> None:
    w = workload([{"name": "big", "gpus": 16, "gpu_hours": 1}],
                 owned={"servers": [server()]}, cloud={})
    cat = catalog(offer("p3.16xlarge", gpus=8, vcpus=64))
    pools = build_pools(w, cat)
    [issue] = unplaceable_jobs(w, pools, eligibility(w, pools, cat))
    assert issue.path == "jobs[0]"
    assert "gang of 16 GPUs is larger than every node (the largest has 8 GPUs)" in issue.message


def test_memory_need_no_pool_meets() -> None:
    w = workload([{"name": "llm", "gpus": 1, "gpu_hours": 1, "min_gpu_memory_gb": 80}],
                 owned={"servers": [server()]})
    pools = build_pools(w, catalog())
    [issue] = unplaceable_jobs(w, pools, eligibility(w, pools, catalog()))
    assert "min_gpu_memory_gb=80 but the largest GPU memory" in issue.message


def test_speed_keys_exact_then_longest_prefix() -> None:
    [job] = workload([{"name": "a", "gpu_hours": 1, "speed": {
        "V100": 2.0, "v100-sxm2-16gb": 3.0, "A100": 1.5, "A100-SXM4": 1.7}}]).jobs
    assert speed_for(job, "V100-SXM2-16GB", 1.0) == 3.0  # exact, any case
    assert speed_for(job, "V100-PCIE-16GB", 0.9) == 2.0  # prefix
    assert speed_for(job, "A100-SXM4-40GB", 2.0) == 1.7  # the longest prefix wins
    assert speed_for(job, "T4", 0.5) == 0.5  # the table


def test_cli_validate_reports_without_traceback(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from costopt.cli.main import app

    path = tmp_path / "bad.yaml"
    path.write_text("name: lab\nhorizon: {start: 2027-01-04, days: 2}\n"
                    "jobs:\n  - {name: a, gpu_hours: 5, deadline: 2027-01-01}\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "jobs[0].deadline" in result.output


@pytest.mark.parametrize(("change", "path"), [
    ({"jobs": [{"name": "a", "gpu_hours": float("inf")}]}, "jobs[0].gpu_hours"),
    ({"jobs": [{"name": "a", "gpu_hours": 1, "speed": {"V100": float("nan")}}]},
     "jobs[0].speed.V100"),
    ({"jobs": [{"name": "a", "gpu_hours": 1, "checkpoint_minutes": float("inf")}]},
     "jobs[0].checkpoint_minutes"),
    ({"budget_usd": float("inf")}, "budget_usd"),
    ({"cloud": {"spot_restart_minutes": float("nan")}}, "cloud.spot_restart_minutes"),
    ({"owned": {"pue": float("nan")}}, "owned.pue"),
    ({"owned": {"servers": [server(power_watts=float("inf"))]}},
     "owned.servers[0].power_watts"),
])
def test_numbers_are_finite_everywhere(change: dict, path: str) -> None:
    assert f"w.yaml: {path} = " in errors_of(minimal(**change))
    assert "is not a finite number" in errors_of(minimal(**change))


@pytest.mark.parametrize(("job", "expected"), [
    ({"gpus": True}, "jobs[0].gpus = True: is true/false, not a whole number"),
    ({"gpus": 2.0}, "jobs[0].gpus = 2.0: Input should be a valid integer"),
    ({"gpu_hours": False}, "jobs[0].gpu_hours = False: is true/false, not a number"),
    ({"gpu_hours": "1e3"}, "jobs[0].gpu_hours = '1e3': is text, not a number; valid: a "
                           "number such as 4 or 1.0e3 (written unquoted)"),
    ({"speed": {"V100": True}}, "jobs[0].speed.V100 = True: is true/false, not a number"),
])
def test_true_and_text_are_no_numbers(job: dict, expected: str) -> None:
    assert expected in errors_of(minimal(jobs=[{"name": "a", "gpu_hours": 5, **job}]))


def test_an_empty_allow_list_allows_nothing() -> None:
    message = errors_of(minimal(cloud={"regions": [], "instance_types": []},
                                jobs=[{"name": "a", "gpu_hours": 1, "regions": []}]))
    for path in ("cloud.regions", "cloud.instance_types", "jobs[0].regions"):
        assert f"{path} = []: an empty list allows nothing; To fix: leave the field out" \
            in message


def test_dates_are_of_the_years_a_plan_covers() -> None:
    # The horizon's end (start + days) must stay inside the calendar: 9999-12-25 + 7 days
    # would not.
    assert "horizon.start = '9999-12-25': is outside the years 1970 to 2999" in errors_of(
        minimal(horizon={"start": "9999-12-25", "days": 7}))
    assert "jobs[0].deadline = '0001-01-01': is outside the years" in errors_of(
        minimal(jobs=[{"name": "a", "gpu_hours": 1, "deadline": "0001-01-01"}]))


def test_lifetime_and_money_are_bounded() -> None:
    message = errors_of(minimal(owned={"servers": [server(lifetime_years=1e-300,
                                                          purchase_usd=1e300)]}))
    assert "owned.servers[0].lifetime_years = 1e-300: Input should be greater than or " \
        "equal to 0.1" in message
    assert "owned.servers[0].purchase_usd = 1e+300: Input should be less than or equal to " \
        "1000000000" in message


def test_a_started_horizon_is_warned_with_its_date() -> None:
    w = parse_workload(minimal(), "w.yaml")  # 2027-01-04, 28 days
    assert horizon_started(w, datetime(2027, 1, 4, tzinfo=UTC)) is None
    assert horizon_started(w, datetime(2027, 1, 10, 6, tzinfo=UTC)).startswith(
        "the horizon started on 2027-01-04T00:00:00Z (it is now 2027-01-10T06:00:00Z)")
    assert "the horizon ended on 2027-02-01T00:00:00Z" in horizon_started(
        w, datetime(2027, 3, 1, tzinfo=UTC))


def test_a_price_file_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "prices").mkdir()
    (tmp_path / "w.yaml").write_text("name: t\nhorizon: {start: 2027-01-04, days: 1}\n"
                                     "cloud: {pricing: prices}\njobs: [{name: a, gpu_hours: 1}]\n")
    with pytest.raises(WorkloadError) as info:
        load_workload(tmp_path / "w.yaml")
    assert "cloud.pricing = 'prices': is not a file" in str(info.value)


def test_staleness_is_judged_by_the_rows_in_use_and_says_which() -> None:
    # The table holds a p3 row of 2026-11-01 and a p2 row of 2022-01-01; on 2026-12-31 the
    # p3 row is 60 days old and the p2 row 1,825 (2022-01-01 .. 2026-12-31, one leap day).
    old = replace(offer("p2.xlarge"), price_date=date(2022, 1, 1))
    cat = catalog(offer("p3.2xlarge"), old)
    w = parse_workload(minimal(cloud={"instance_types": ["p3.2xlarge"]}), "w.yaml")
    today = date(2026, 12, 31)
    assert cat.staleness_warning(today, offers_of(w, cat), "this workload may use").startswith(
        "prices in test-prices.csv are 60 days old (from 2026-11-01) in 1 of the 1 rows this "
        "workload may use (p3)")
    assert cat.staleness_warning(today).startswith(
        "prices in test-prices.csv are 1825 days old (from 2022-01-01) in 1 of the 2 rows in "
        "the file (p2)")


def test_sweep_gang_and_command_fields() -> None:
    w = parse_workload(minimal(jobs=[
        {"name": "a", "gpu_hours": 10},
        {"name": "b", "gpus": 8, "nodes": 2, "parallel": 3, "gpu_hours": 10,
         "setup": "pip install -r requirements.txt", "run": "python train.py"}]), "w.yaml")
    a, b = w.jobs
    assert (a.parallel, a.nodes, a.run, a.setup, a.most_gpus) == (1, 1, None, None, 1)
    # 3 gangs of 2 nodes of 8 GPUs: 48 GPUs at once
    assert (b.gang_gpus, b.most_gpus, b.shape) == (16, 48, "3 gangs x 2 nodes x 8 GPUs")


@pytest.mark.parametrize(("job", "expected"), [
    ({"parallel": 0}, "jobs[0].parallel = 0: Input should be greater than or equal to 1"),
    ({"nodes": 0}, "jobs[0].nodes = 0: Input should be greater than or equal to 1"),
    ({"run": ""}, "jobs[0].run = '': String should have at least 1 character"),
    ({"setup": "make"}, "jobs[0].setup = 'make': is given without run"),
    # 12,289 bytes of commands: 1 more than the 12,288 (12 KB) they may take together
    ({"setup": "x" * 6144, "run": "y" * 6145},
     "jobs[0].run = '12289 bytes (setup + run)': is longer than 12288 bytes"),
])
def test_sweep_gang_and_command_errors(job: dict, expected: str) -> None:
    assert expected in errors_of(minimal(jobs=[{"name": "a", "gpu_hours": 10, **job}]))


def test_no_zones_at_all_is_refused_not_spot_silently_off() -> None:
    """``zones: []`` allowed no zone, which turned spot off without a word; it is refused
    with what to write instead."""
    message = errors_of(minimal(cloud={"zones": []}))
    assert "cloud.zones" in message and "an empty list allows nothing" in message


def test_a_workload_file_reads_numbers_as_yaml_1_2(tmp_path: Path) -> None:
    """``days: 010`` is a ten-day horizon (YAML 1.1 read 8); ``days: 1:30`` is no number,
    reported with its field (YAML 1.1 read 90)."""
    path = tmp_path / "w.yaml"
    path.write_text("name: lab\nhorizon: {start: 2027-01-04, days: 010}\n"
                    "jobs: [{name: a, gpu_hours: 10}]\n")
    assert load_workload(path).horizon.days == 10
    path.write_text(path.read_text().replace("010", "1:30"))
    with pytest.raises(WorkloadError) as info:
        load_workload(path)
    assert "horizon.days" in str(info.value) and "'1:30'" in str(info.value)


def test_a_spot_bid_below_every_spot_price_is_refused() -> None:
    """``spot_max_price_ratio: 1e-9`` planned spot with a bid of 0 (AWS fills none). Spot at
    1.00 of an on-demand 3.00 needs a ratio of at least 1/3: 1e-9 is refused with that
    figure; 0.5 bids 1.50 and passes; without spot in the markets nothing is bid."""
    cat = catalog(offer(spot=1.0, on_demand=3.0))

    def issues(ratio: float, **cloud: object) -> list[str]:
        w = workload([{"name": "a", "gpu_hours": 10}],
                     cloud={"spot_max_price_ratio": ratio, **cloud})
        return [f"{i.path} = {i.value}: {i.message}" for i in check_against_catalog(w, cat)]

    [message] = issues(1e-9)
    assert message.startswith("cloud.spot_max_price_ratio = 1e-09: bids below the spot price")
    assert "the lowest is 0.3333 x the on-demand price" in message
    assert "raise it to at least 0.3333" in message
    assert issues(0.5) == [] and issues(1e-9, markets=["on_demand"]) == []
