"""Reading a workload file and checking it: ``load_workload`` reads YAML into the pydantic
:class:`~costopt.workload.Workload` and turns every validation problem into a
:class:`~costopt.errors.WorkloadError` naming the file, the field path (``jobs[2].deadline``),
the value and what would be valid; ``check_consistency`` checks across entries (unique
names, windows, deadlines); ``check_against_catalog`` adds the checks that need the price
data (unknown GPU model or instance type, a gang larger than every node).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from costopt.boundedyaml import MAX_BYTES, load_bounded
from costopt.core.fields import field_issue, field_path
from costopt.core.near import did_you_mean, near_names
from costopt.core.times import ts
from costopt.errors import MISSING, FieldIssue, WorkloadError
from costopt.files import read_text
from costopt.pricing.catalog import InstanceOffer, PriceCatalog, quota_family
from costopt.workload import (
    COMMAND_BYTES_MAX,
    DATE_FORMS,
    CloudSpec,
    Horizon,
    Job,
    Workload,
    period_words,
    speed_key_matches,
)


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    node = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return MISSING
    return node


def _known_fields(loc: tuple[Any, ...]) -> list[str]:
    """Field names valid at the parent of ``loc`` (for "did you mean")."""
    model: Any = Workload
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = _fields_by_name(model) if hasattr(model, "model_fields") else {}
        field = fields.get(part)
        if field is None:
            return []
        model = _inner_model(field.annotation)
        if model is None:
            return []
    return list(_fields_by_name(model)) if hasattr(model, "model_fields") else []


def _fields_by_name(model: type[BaseModel]) -> dict[str, Any]:
    """A model's fields by the name the YAML file uses (its alias where it has one)."""
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _issue(err: dict[str, Any], raw: Any) -> FieldIssue:
    loc = tuple(err["loc"])
    kind = err["type"]
    value = _lookup(raw, loc)
    if isinstance(value, dict):
        value = MISSING  # a whole section: the message says what is wrong in it
    if isinstance(value, date):
        value = value.isoformat()  # as the file has it
    msg = field_issue(err).message
    if kind == "extra_forbidden":
        known = _known_fields(loc)
        near = near_names(str(loc[-1]), known, most=1, cutoff=0.6)
        hint = f"did you mean '{near[0]}'? " if near else ""
        msg = f"unknown field; {hint}valid fields here: {', '.join(known)}"
    elif kind == "finite_number":
        msg = "is not a finite number; valid: a number (not .inf or .nan)"
    elif kind == "missing":
        msg = "is required"
    elif kind in ("model_type", "dict_type"):
        known = _known_fields((*loc, ""))
        msg = "must be a mapping" + (f" with the fields {', '.join(known)}" if known else "")
    elif kind in ("datetime_from_date_parsing", "datetime_parsing", "datetime_type"):
        msg = f"is not a date or datetime; {DATE_FORMS}"
    elif kind in ("int_type", "float_type") and isinstance(value, (bool, str)):
        what = "a whole number" if kind == "int_type" else "a number"
        msg = (f"is {'true/false' if isinstance(value, bool) else 'text'}, not {what}; "
               f"valid: {what} such as 4{'' if kind == 'int_type' else ' or 1.0e3'}"
               + ("" if isinstance(value, bool) else " (written unquoted)"))
    return FieldIssue(field_path(loc), value, msg)


def parse_workload(raw: Any, file: str) -> Workload:
    """Validate already-parsed YAML; raise :class:`WorkloadError` with every problem."""
    if not isinstance(raw, dict):
        raise WorkloadError(
            file, [FieldIssue("(top level)", type(raw).__name__, "must be a mapping of fields")]
        )
    try:
        workload = Workload.model_validate(raw)
    except ValidationError as exc:
        issues = [_issue(e, raw) for e in exc.errors(include_url=False)]
        raise WorkloadError(file, issues) from None
    issues = check_consistency(workload)
    if issues:
        raise WorkloadError(file, issues)
    return workload


def load_workload(path: Path) -> Workload:
    """Read and validate a workload file."""
    raw = _read_yaml(path)
    workload = parse_workload(raw, str(path))
    cloud = workload.cloud
    if cloud is not None and cloud.pricing is not None:
        resolved = (path.parent / cloud.pricing).resolve()  # an absolute path stays itself
        if resolved.exists() and not resolved.is_file():
            raise WorkloadError(str(path), [FieldIssue(
                "cloud.pricing", str(cloud.pricing),
                f"is not a file ({resolved} is a folder or a device); To fix: name a price "
                "file (CSV), such as one `costopt pricing refresh -o prices.csv` writes")])
        cloud = cloud.model_copy(update={"pricing": resolved})
        workload = workload.model_copy(update={"cloud": cloud})
    if cloud is not None and cloud.spot_traces is not None:  # relative to the workload too
        cloud = cloud.model_copy(update={"spot_traces": (path.parent / cloud.spot_traces)
                                         .resolve()})
        workload = workload.model_copy(update={"cloud": cloud})
    return workload


def _read_yaml(path: Path) -> Any:
    """The file's YAML, read within bounds (:mod:`costopt.boundedyaml`): size, depth, alias
    expansion, duplicate keys."""
    text = read_text(path, WorkloadError, MAX_BYTES)
    try:
        return load_bounded(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise WorkloadError(
            str(path), [FieldIssue(where, MISSING, f"not valid YAML: {problem}")]
        ) from None


def horizon_started(w: Workload, now: datetime) -> str | None:
    """A warning when the horizon has already begun at ``now``: its past periods are still
    planned, though no one can run work in them."""
    if now <= w.horizon.start:
        return None
    past = "ended" if now >= w.horizon.end else "started"
    return (f"the horizon {past} on {ts(w.horizon.start if past == 'started' else w.horizon.end)}"
            f" (it is now {ts(now)}): work planned before now cannot run then. To fix: set "
            "horizon.start to a date to come")


def workload_sha256(path: Path) -> str:
    """The hash of the workload file's bytes, recorded in the plan file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_consistency(w: Workload) -> list[FieldIssue]:
    """Checks across fields that need no price data: unique names, windows, deadlines."""
    issues: list[FieldIssue] = []
    labelled = [("jobs", i, j.name) for i, j in enumerate(w.jobs)]
    seen: set[str] = set()
    for label, i, name in labelled:
        if name in seen:
            issues.append(FieldIssue(f"{label}[{i}].name", name,
                                     "is used twice; job names must be unique"))
        seen.add(name)
    seen = set()
    for i, gpu in enumerate(w.gpu_models):
        if gpu.name.upper() in seen:
            issues.append(FieldIssue(f"gpu_models[{i}].name", gpu.name,
                                     "is declared twice (names match without regard to case)"))
        seen.add(gpu.name.upper())
    seen = set()
    servers = [("owned.servers", i, s.name) for i, s in enumerate(w.servers)]
    servers += [("owned.candidates", i, s.name) for i, s in enumerate(w.candidates)]
    for label, i, name in servers:
        if name in seen:
            issues.append(FieldIssue(f"{label}[{i}].name", name,
                                     "is used twice; server and candidate names must be unique"))
        seen.add(name)
    h = w.horizon
    for i, job in enumerate(w.jobs):
        start, deadline = w.job_window(job)
        if deadline <= start:
            issues.append(FieldIssue(
                f"jobs[{i}].deadline", ts(deadline),
                f"is not after the job's start ({ts(start)}); To fix: a deadline later "
                "than the start"))
            continue
        if not w.job_periods(job):
            issues.append(FieldIssue(
                f"jobs[{i}]", f"{ts(start)} .. {ts(deadline)}",
                f"the window [start, deadline) holds no whole {period_words(h)} of the "
                f"horizon {ts(h.start)} .. {ts(h.end)}; To fix: widen the window or "
                f"shorten horizon.{'period_hours' if h.period_runs is None else 'periods'}"))
        issues.extend(_command_issues(i, job))
        if job.allow is not None and not job.allowed_kinds():
            issues.append(FieldIssue(
                f"jobs[{i}].allow", job.allow,
                "leaves no pool kind: spot needs interruptible: true; To fix: add owned or "
                "on_demand, or set interruptible: true"))
    cloud = w.cloud
    if cloud is not None:
        issues += _check_launch_overhead(cloud, h)
        for label, rows in (("price_overrides", cloud.price_overrides),
                            ("max_instances", cloud.max_instances)):
            for i, row in enumerate(rows):
                if row.az is not None and row.market != "spot":
                    issues.append(FieldIssue(f"cloud.{label}[{i}].az", row.az,
                                             "zones apply to spot only (on-demand pools are "
                                             "regional); To fix: remove az or use market: spot"))
        for i, q in enumerate(cloud.quotas):
            if q.family not in ("P", "G", "VT", "DL", "INF", "TRN", "F", "X"):
                issues.append(FieldIssue(f"cloud.quotas[{i}].family", q.family,
                                         "unknown quota family; valid: P (p2..p5), G (g3..g6)"))
    return issues


def _check_launch_overhead(cloud: CloudSpec, h: Horizon) -> list[FieldIssue]:
    """A slot lies within the periods it is planned in: the minimum slot and the setup
    must fit the shortest period."""
    issues = []
    period_minutes = min(h.period_lengths) * 60
    if cloud.min_instance_minutes > period_minutes:
        issues.append(FieldIssue("cloud.min_instance_minutes", cloud.min_instance_minutes,
                                 f"is longer than the shortest period ({period_minutes} "
                                 "minutes); To fix: a value <= the shortest period in minutes"))
    if cloud.setup_minutes >= period_minutes:
        issues.append(FieldIssue("cloud.setup_minutes", cloud.setup_minutes,
                                 f"leaves no working time in a period of {period_minutes} "
                                 "minutes; To fix: a value below the shortest period in minutes"))
    return issues


def _command_issues(i: int, job: Job) -> list[FieldIssue]:
    """``setup`` without ``run``, and commands too long for AWS's user data."""
    if job.setup is not None and job.run is None:
        return [FieldIssue(f"jobs[{i}].setup", job.setup,
                           "is given without run; To fix: add run: (the command setup "
                           "prepares for), or drop setup")]
    size = sum(len(c.encode()) for c in (job.setup, job.run) if c)
    if size > COMMAND_BYTES_MAX:
        return [FieldIssue(f"jobs[{i}].run", f"{size} bytes (setup + run)",
                           f"is longer than {COMMAND_BYTES_MAX} bytes: AWS takes at most 16 KB "
                           "of user data; To fix: put the commands in a script on the image "
                           "or in object storage, and run that")]
    return []


def offers_of(w: Workload, catalog: PriceCatalog) -> tuple[InstanceOffer, ...]:
    """The price rows the workload may use: its regions and instance types (all when it
    names none). Staleness is judged by them, not by offers it cannot use."""
    cloud = w.cloud
    if cloud is None:
        return catalog.offers
    return catalog.offers_for(cloud.instance_types, cloud.regions)


def price_date_of(w: Workload, catalog: PriceCatalog) -> date:
    """The date of the oldest price the workload may use (see :func:`offers_of`)."""
    return min((o.price_date for o in offers_of(w, catalog)), default=catalog.price_date)


def catalog_for(w: Workload, catalog: PriceCatalog | None = None) -> PriceCatalog:
    """The price catalog the workload asks for (``cloud.pricing``, else the shipped one;
    ``catalog`` when given), with the GPU models it declares (``gpu_models:``) added."""
    from costopt.pricing.catalog import GpuModel, load_catalog

    base = catalog or load_catalog(w.cloud.pricing if w.cloud else None)
    return base.with_gpus([GpuModel(name=g.name, vendor=g.vendor, memory_gb=g.memory_gb,
                                    fp32_tflops=0.0, fp16_tensor_tflops=0.0,
                                    tdp_watts=g.power_watts, relative_speed=g.relative_speed)
                           for g in w.gpu_models])


def check_against_catalog(w: Workload, catalog: PriceCatalog) -> list[FieldIssue]:
    """Checks that need the price data: GPU models, instance types, regions, gang sizes."""
    issues: list[FieldIssue] = []
    gpu_names = {g.name for g in catalog.gpus.values()}
    upper_names = {n.upper() for n in gpu_names}
    servers = [("owned.servers", i, s) for i, s in enumerate(w.servers)]
    servers += [("owned.candidates", i, s) for i, s in enumerate(w.candidates)]
    for label, i, server in servers:
        if catalog.gpu(server.gpu) is None:
            issues.append(FieldIssue(
                f"{label}[{i}].gpu", server.gpu,
                f"unknown GPU model.{did_you_mean(server.gpu.upper(), upper_names)}"
                f" Valid: {', '.join(sorted(gpu_names))}"))
    for i, job in enumerate(w.jobs):
        for key in job.speed:
            if not speed_key_matches(key, gpu_names):
                issues.append(FieldIssue(
                    f"jobs[{i}].speed.{key}", key,
                    "matches no GPU model (an exact name, or a prefix ending at a dash such as "
                    f"V100).{did_you_mean(key.upper(), upper_names)}"))
    cloud = w.cloud
    if cloud is not None:
        known_types = catalog.instance_types
        regions = set(catalog.regions) | {o.region for o in cloud.price_overrides}
        for i, name in enumerate(cloud.instance_types or []):
            if name not in known_types:
                issues.append(FieldIssue(
                    f"cloud.instance_types[{i}]", name,
                    f"unknown instance type in {catalog.source}.{did_you_mean(name, known_types)}"))
        for i, region in enumerate(cloud.regions or []):
            if region not in regions:
                issues.append(FieldIssue(
                    f"cloud.regions[{i}]", region,
                    f"no GPU offers in this region.{did_you_mean(region, regions)}"))
        for label, rows in (("price_overrides", cloud.price_overrides),
                            ("spot_interruptions_per_hour", cloud.spot_interruptions_per_hour),
                            ("spot_availability", cloud.spot_availability),
                            ("max_instances", cloud.max_instances)):
            for i, row in enumerate(rows):
                if row.instance_type not in known_types:
                    issues.append(FieldIssue(
                        f"cloud.{label}[{i}].instance_type", row.instance_type,
                        f"unknown instance type.{did_you_mean(row.instance_type, known_types)}"))
        issues += _check_zones(cloud, catalog)
        issues += _check_spot_bid(cloud, offers_of(w, catalog))
        families = {quota_family(t) for t in known_types}
        for i, q in enumerate(cloud.quotas):
            if q.family not in families and not any(f.startswith(q.family) for f in families):
                issues.append(FieldIssue(f"cloud.quotas[{i}].family", q.family,
                                         f"no instance type in this family; valid: "
                                         f"{', '.join(sorted(families))}"))
    for i, job in enumerate(w.jobs):
        for r, region in enumerate(job.regions or []):
            if cloud is not None and region not in catalog.regions:
                issues.append(FieldIssue(f"jobs[{i}].regions[{r}]", region,
                                         f"no GPU offers in this region."
                                         f"{did_you_mean(region, catalog.regions)}"))
    return issues


def _check_zones(cloud: CloudSpec, catalog: PriceCatalog) -> list[FieldIssue]:
    """Every zone the workload names is one the price data knows (by ID, or by the name
    it has in the account that refreshed the prices)."""
    how = ("a zone ID such as use1-az1 (zone names such as us-east-1a differ by account and "
           "resolve only through a price file from `costopt pricing refresh`)")
    issues = []
    for label, rows in (("price_overrides", cloud.price_overrides),
                        ("spot_interruptions_per_hour", cloud.spot_interruptions_per_hour),
                        ("max_instances", cloud.max_instances)):
        for i, row in enumerate(rows):
            if row.az is not None and catalog.zone_id(row.region, row.az) is None:
                issues.append(FieldIssue(f"cloud.{label}[{i}].az", row.az,
                                         f"no zone of {row.region} by that ID or name in "
                                         f"{catalog.source}; To fix: {how}"))
    for i, zone in enumerate(cloud.zones or []):
        if not any(catalog.zone_id(region, zone) for region in catalog.regions):
            issues.append(FieldIssue(f"cloud.zones[{i}]", zone,
                                     f"no zone by that ID or name in {catalog.source}; "
                                     f"To fix: {how}"))
    return issues


def _check_spot_bid(cloud: CloudSpec, offers: tuple[InstanceOffer, ...]) -> list[FieldIssue]:
    """A spot bid (``MaxPrice`` = on-demand price x ``spot_max_price_ratio``) below the spot
    price of every instance the workload may use: AWS would fill no spot request, yet the
    plan would count on spot."""
    needed = [o.spot_usd_per_hour / o.on_demand_usd_per_hour for o in offers
              if o.spot_usd_per_hour and o.on_demand_usd_per_hour]
    if "spot" not in cloud.markets or not needed or cloud.spot_max_price_ratio >= min(needed):
        return []
    lowest = min(needed)
    return [FieldIssue("cloud.spot_max_price_ratio", cloud.spot_max_price_ratio,
                       f"bids below the spot price of every instance the workload may use (the "
                       f"lowest is {lowest:.4f} x the on-demand price): spot would be planned "
                       f"and never run. To fix: raise it to at least {lowest:.4f}, leave it out "
                       "(1.0, AWS's default bid), or plan without spot (cloud.markets)")]
