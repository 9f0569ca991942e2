"""The server catalog: GPU server builds one could buy, with price, power and lifetime.

``pricing_data/servers.csv`` (sources and dates in ``pricing_data/servers.md``) has one row
per build. Each row is validated as an :class:`~costopt.workload.OwnedServer` would be, so a
build becomes an owned server of a workload (``ServerBuild.owned_server``) with no further
checks: ``costopt breakeven`` does that, and ``ServerBuild.candidate`` makes a purchase
candidate (``owned.candidates``) of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import ValidationError

from costopt.core.fields import field_issue, field_path
from costopt.core.near import did_you_mean
from costopt.errors import MISSING, CostoptError, FieldIssue, PricingDataError
from costopt.pricing.catalog import parse_number, read_checked_csv, shipped_data_dir
from costopt.workload import CandidateServer, OwnedServer

SERVER_COLUMNS: tuple[str, ...] = (
    "name",
    "gpu",
    "gpus",
    "purchase_usd",
    "power_watts",
    "idle_watts",
    "lifetime_years",
    "ops_usd_per_month",
    "condition",
    "price_basis",
    "power_basis",
    "source",
    "source_date",
)
"""Columns of a server catalog file; the numeric ones carry their unit in the name."""

_NUMBERS = ("gpus", "purchase_usd", "power_watts", "idle_watts", "lifetime_years",
            "ops_usd_per_month")
_CHOICES: Mapping[str, tuple[str, ...]] = {
    "condition": ("new", "used"),
    "price_basis": ("paid", "list", "quote", "estimate"),
    "power_basis": ("spec", "measured", "estimate"),
}
T = TypeVar("T")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")  # ISO 8601 at year, month or day precision


@dataclass(frozen=True)
class ServerBuild:
    """One buildable or buyable GPU server.

    ``power_watts`` is the whole server at full load, ``idle_watts`` the whole server idle;
    ``purchase_usd`` is one server; ``lifetime_years`` its typical straight-line
    amortisation period. ``price_basis`` says whether the price was paid, a list price, a
    quote or an estimate; ``power_basis`` whether the power is the vendor's maximum
    (``spec``), measured, or estimated. ``source_date`` is ISO 8601 at year, month or day
    precision (``2020``, ``2023-05``, ``2019-01-31``).
    """

    name: str
    gpu: str
    gpus: int
    purchase_usd: float
    power_watts: float
    idle_watts: float
    lifetime_years: float
    ops_usd_per_month: float
    condition: Literal["new", "used"]
    price_basis: Literal["paid", "list", "quote", "estimate"]
    power_basis: Literal["spec", "measured", "estimate"]
    source: str
    source_date: str

    def spec_fields(self) -> dict[str, object]:
        """The fields a workload's server entry (owned or candidate) takes from the build."""
        return {"name": self.name, "gpu": self.gpu, "gpus": self.gpus,
                "purchase_usd": self.purchase_usd, "lifetime_years": self.lifetime_years,
                "power_watts": self.power_watts, "idle_watts": self.idle_watts,
                "ops_usd_per_month": self.ops_usd_per_month}

    def owned_server(self, *, count: int = 1) -> OwnedServer:
        """This build as an owned server of a workload, named after it."""
        return OwnedServer.model_validate({**self.spec_fields(), "count": count})

    def candidate(self, *, max_count: int = 1) -> CandidateServer:
        """This build as a purchase candidate of a workload (``owned.candidates``)."""
        return CandidateServer.model_validate({**self.spec_fields(), "max_count": max_count})


def shipped_server_file() -> Path:
    """The shipped ``servers.csv`` beside the price snapshot."""
    return shipped_data_dir() / "servers.csv"


def load_servers(path: Path | None = None) -> dict[str, ServerBuild]:
    """Read and validate a server catalog, keyed by name in file order.

    Every problem is reported with its row and column (:class:`PricingDataError`).
    """
    file = path or shipped_server_file()
    rows = read_checked_csv(file, SERVER_COLUMNS)
    issues: list[FieldIssue] = []
    builds: dict[str, ServerBuild] = {}
    for i, row in enumerate(rows):
        build = _row(row, i + 2, issues)  # 1-based line numbers, after the header
        if build is None:
            continue
        if build.name in builds:
            issues.append(FieldIssue(f"row {i + 2}.name", build.name,
                                     "is used twice; names must be unique"))
        builds[build.name] = build
    if issues:
        raise PricingDataError(str(file), issues)
    return builds


def _row(row: dict[str, str], line: int, issues: list[FieldIssue]) -> ServerBuild | None:
    before = len(issues)
    nums = {c: parse_number(row[c], f"row {line}.{c}", issues, required=c != "ops_usd_per_month")
            for c in _NUMBERS}
    texts = {c: row[c].strip() for c in SERVER_COLUMNS if c not in _NUMBERS}
    for column, valid in _CHOICES.items():
        if texts[column] not in valid:
            issues.append(FieldIssue(f"row {line}.{column}", texts[column],
                                     f"valid: {', '.join(valid)}"))
    if not texts["source"]:
        issues.append(FieldIssue(f"row {line}.source", "", "is empty; every row cites a "
                                 "source (a URL, or 'estimate' explained in servers.md)"))
    if not _DATE.match(texts["source_date"]):
        issues.append(FieldIssue(f"row {line}.source_date", texts["source_date"],
                                 "valid: YYYY, YYYY-MM or YYYY-MM-DD"))
    gpus = nums["gpus"]
    if gpus is not None and gpus != int(gpus):
        issues.append(FieldIssue(f"row {line}.gpus", row["gpus"], "must be a whole number"))
    if len(issues) > before:
        return None
    build = ServerBuild(
        name=texts["name"], gpu=texts["gpu"], gpus=int(nums["gpus"] or 0),
        purchase_usd=nums["purchase_usd"] or 0.0, power_watts=nums["power_watts"] or 0.0,
        idle_watts=nums["idle_watts"] or 0.0, lifetime_years=nums["lifetime_years"] or 0.0,
        ops_usd_per_month=nums["ops_usd_per_month"] or 0.0,
        condition=texts["condition"],  # type: ignore[arg-type]
        price_basis=texts["price_basis"],  # type: ignore[arg-type]
        power_basis=texts["power_basis"],  # type: ignore[arg-type]
        source=texts["source"], source_date=texts["source_date"],
    )
    try:
        build.owned_server()
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            field = field_path(tuple(err["loc"])) if err["loc"] else ""
            value = row.get(field, MISSING) if field else MISSING
            issues.append(FieldIssue(f"row {line}.{field}" if field else f"row {line}", value,
                                     field_issue(err).message))
        return None
    return build


def find_by_name(items: Mapping[str, T], name: str, source: str, to_fix: str) -> T:
    """The item of that name (exact, else case-insensitive), else an error naming near
    matches and ending with ``to_fix``. Used for catalog builds and workload servers."""
    if name in items:
        return items[name]
    by_lower = {n.lower(): n for n in items}
    if name.lower() in by_lower:
        return items[by_lower[name.lower()]]
    hint = did_you_mean(name, items, cutoff=0.4, fold_case=True)
    known = ", ".join(items) or "(none)"
    raise CostoptError(f"no server {name!r} in {source}.{hint} Known: {known}. To fix: {to_fix}")
