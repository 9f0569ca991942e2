"""``docs/workload.md`` is generated from the workload models: complete and up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

from costopt.workload import Workload

REPO = Path(__file__).resolve().parents[2]


def field_names(model: type[BaseModel]) -> set[str]:
    """Every field name of the model and of the models inside it."""
    names = set()
    for name, field in model.model_fields.items():
        names.add(field.alias or name)
        stack = [field.annotation]
        while stack:
            annotation = stack.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                names |= field_names(annotation)
            stack.extend(getattr(annotation, "__args__", ()))
    return names


def test_the_reference_names_every_field_and_is_up_to_date() -> None:
    text = (REPO / "docs" / "workload.md").read_text()
    documented = {line.split("`")[1].rsplit(".", 1)[-1].removesuffix("[]")
                  for line in text.splitlines() if line.startswith("| `")}
    assert field_names(Workload) <= documented
    assert "| `jobs[].gpu_hours` | float | GPU-hours of the reference GPU (V100 = 1.0) | " \
        "required |" in text
    assert "| `gpu_models[].relative_speed` |" in text
    check = subprocess.run([sys.executable, str(REPO / "scripts" / "workload_reference.py"),
                            "--check"], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
