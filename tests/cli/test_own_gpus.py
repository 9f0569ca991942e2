"""Friction 1 of a new user's first hour: GPUs of their own, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from console_cli import WIDTHS, run_costopt

OWN_GPUS = """\
name: lab
horizon: {start: 2027-01-04, days: 2}
gpu_models:
  - {name: RTX-5090, memory_gb: 32, relative_speed: 2.4, power_watts: 575}
owned:
  electricity_usd_per_kwh: 0.15
  servers:
    - {name: new-box, gpu: RTX-5090, gpus: 2, purchase_usd: 7000, lifetime_years: 4,
       power_watts: 1300, idle_watts: 100}
    - {name: old-box, gpu: RTX-4090, gpus: 2, purchase_usd: 4000, lifetime_years: 4,
       power_watts: 1300, idle_watts: 100}
jobs:
  - {name: big, gpus: 2, gpu_hours: 48, min_gpu_memory_gb: 30, allow: [owned]}
  - {name: small, gpus: 2, gpu_hours: 36, allow: [owned], speed: {RTX-5090: 0.0001}}
"""


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    path = tmp_path / "workload.yaml"
    path.write_text(OWN_GPUS)
    return path


def test_a_declared_gpu_and_a_built_in_rtx_4090_plan(lab: Path, tmp_path: Path) -> None:
    """``big`` needs 30 GB: only the declared RTX-5090 (32 GB) holds it; the RTX 4090 has
    24 GB. 48 reference GPU-h at speed 2.4 = 20 GPU-h on new-box. ``small`` is all but
    barred from the 5090 by its speed key and runs on the RTX 4090 of the table (speed
    1.8): 36 / 1.8 = 20 GPU-h on old-box. Energy above idle: (1300 - 100) W / 2 GPUs =
    0.6 kW per GPU x 0.15 USD/kWh = 0.09 USD per GPU-hour; 40 GPU-h = 3.60 USD."""
    result = run_costopt("plan", str(lab), "-o", str(tmp_path / "plan.json"),
                         "--format", "json", columns=200)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    hours: dict[tuple[str, str], float] = {}
    for a in doc["assignments"]:
        key = (a["job"], a["pool"])
        hours[key] = hours.get(key, 0.0) + a["gpu_hours"]
    assert hours == pytest.approx({("big", "owned:new-box"): 20.0,
                                   ("small", "owned:old-box"): 20.0})
    assert doc["cost"]["variable_usd"] == pytest.approx(3.60)


@pytest.mark.parametrize("columns", WIDTHS)
def test_validate_accepts_the_gpus_and_names_the_valid_ones_when_unknown(
        lab: Path, columns: int | None) -> None:
    ok = run_costopt("validate", str(lab), columns=columns)
    assert ok.returncode == 0, ok.stderr
    assert "is valid: 2 job(s), 2 owned server pool(s)" in ok.stdout
    lab.write_text(OWN_GPUS.replace("gpu: RTX-4090", "gpu: RTX-4080"))
    bad = run_costopt("validate", str(lab), columns=columns)
    assert bad.returncode == 1
    assert "owned.servers[1].gpu" in bad.stderr and "RTX-4090" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_gpu_declared_twice_or_without_speed_is_refused(lab: Path) -> None:
    lab.write_text(OWN_GPUS.replace(
        "gpu_models:\n", "gpu_models:\n  - {name: rtx-5090, memory_gb: 32}\n"))
    result = run_costopt("validate", str(lab), columns=200)
    assert result.returncode == 1
    assert "gpu_models[0].relative_speed" in result.stderr
    lab.write_text(OWN_GPUS.replace(
        "gpu_models:\n", "gpu_models:\n  - {name: rtx-5090, memory_gb: 32, relative_speed: 1}\n"))
    result = run_costopt("validate", str(lab), columns=200)
    assert result.returncode == 1
    assert "gpu_models[1].name" in result.stderr and "declared twice" in result.stderr
