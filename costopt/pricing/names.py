"""Canonical GPU names and interconnects of AWS instance types.

AWS (``DescribeInstanceTypes`` GpuInfo) and catalogs built from it name GPUs loosely
(``V100`` for both the 16 and the 32 GB part, ``A100`` for 40 and 80 GB). costopt names
each model one way everywhere (``workload.md``, "Names"); the instance family says which
board it is (SXM or PCIe), the memory which size.
"""

from __future__ import annotations

_BY_FAMILY: dict[str, str] = {
    "p2": "K80",
    "g3": "M60",
    "g3s": "M60",
    "p3": "V100-SXM2-16GB",
    "p3dn": "V100-SXM2-32GB",
    "p4d": "A100-SXM4-40GB",
    "p4de": "A100-SXM4-80GB",
    "p5": "H100-SXM5-80GB",
    "g4dn": "T4",
    "g4ad": "RADEON-PRO-V520",
    "g5": "A10G",
    "g6": "L4",
}

_BY_NAME: dict[str, str] = {
    "K80": "K80",
    "M60": "M60",
    "T4": "T4",
    "A10G": "A10G",
    "L4": "L4",
    "RADEON PRO V520": "RADEON-PRO-V520",
}

_NVLINK_TYPES = frozenset(
    {"p3.8xlarge", "p3.16xlarge", "p3dn.24xlarge", "p4d.24xlarge", "p4de.24xlarge",
     "p5.48xlarge"}
)
"""Instance types whose GPUs talk over NVLink/NVSwitch (AWS's instance type pages)."""


def family(instance_type: str) -> str:
    """``p3dn.24xlarge`` -> ``p3dn``."""
    return instance_type.split(".", 1)[0]


def canonical_gpu_name(manufacturer: str, name: str, memory_mib: int, instance_type: str) -> str:
    """The canonical model name of an instance type's GPU, from AWS's GpuInfo fields.

    The family decides where AWS's name is ambiguous; a family not known here falls back to
    the name itself (upper case, spaces as dashes) with the memory in GB when it is a V100,
    A100 or H100, so that a new type still gets a stable, readable name. ``manufacturer``
    is not needed today (one name space across vendors) but is part of what AWS reports.
    """
    known = _BY_FAMILY.get(family(instance_type))
    if known:
        return known
    upper = name.strip().upper()
    if upper in _BY_NAME:
        return _BY_NAME[upper]
    base = upper.replace(" ", "-")
    if base in {"V100", "A100", "H100", "H200", "B200"}:
        return f"{base}-{round(memory_mib / 1024)}GB"
    return base


def interconnect(instance_type: str) -> str:
    """``NVLink`` where the instance's GPUs are joined by NVLink, else ``PCIe``."""
    return "NVLink" if instance_type in _NVLINK_TYPES else "PCIe"
