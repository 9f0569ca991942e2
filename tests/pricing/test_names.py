"""Canonical GPU names and interconnects from AWS's GpuInfo and the instance type."""

from __future__ import annotations

import pytest

from costopt.pricing.names import canonical_gpu_name, family, interconnect


@pytest.mark.parametrize(
    ("manufacturer", "name", "memory_mib", "instance_type", "expected"),
    [
        # AWS says "V100" for both sizes and "A100" for both; the family decides.
        ("NVIDIA", "V100", 16384, "p3.2xlarge", "V100-SXM2-16GB"),
        ("NVIDIA", "V100", 32768, "p3dn.24xlarge", "V100-SXM2-32GB"),
        ("NVIDIA", "A100", 40960, "p4d.24xlarge", "A100-SXM4-40GB"),
        ("NVIDIA", "A100", 81920, "p4de.24xlarge", "A100-SXM4-80GB"),
        ("NVIDIA", "H100", 81920, "p5.48xlarge", "H100-SXM5-80GB"),
        ("NVIDIA", "T4", 16384, "g4dn.xlarge", "T4"),
        ("NVIDIA", "A10G", 22888, "g5.xlarge", "A10G"),
        ("NVIDIA", "L4", 22888, "g6.xlarge", "L4"),
        ("AMD", "Radeon Pro V520", 8192, "g4ad.xlarge", "RADEON-PRO-V520"),
        ("NVIDIA", "K80", 12288, "p2.xlarge", "K80"),
        # SkyPilot's catalog names map the same way: the family wins over the name.
        ("NVIDIA", "V100-32GB", 32768, "p3dn.24xlarge", "V100-SXM2-32GB"),
        ("NVIDIA", "A100-80GB", 81920, "p4de.24xlarge", "A100-SXM4-80GB"),
    ],
)
def test_known_families_get_the_canonical_name(manufacturer: str, name: str, memory_mib: int,
                                               instance_type: str, expected: str) -> None:
    assert canonical_gpu_name(manufacturer, name, memory_mib, instance_type) == expected


def test_an_unknown_family_falls_back_to_the_name_with_memory_where_sizes_differ() -> None:
    # 143,360 MiB / 1024 = 140 GB.
    assert canonical_gpu_name("NVIDIA", "H200", 143360, "p5e.48xlarge") == "H200-140GB"
    assert canonical_gpu_name("NVIDIA", "L40S", 46068, "g6e.xlarge") == "L40S"
    assert canonical_gpu_name("AMD", "Radeon Pro V520", 8192, "g9ad.xlarge") == "RADEON-PRO-V520"


def test_family_is_the_part_before_the_dot() -> None:
    assert family("p3dn.24xlarge") == "p3dn"


@pytest.mark.parametrize("instance_type", ["p3.8xlarge", "p3.16xlarge", "p3dn.24xlarge",
                                           "p4d.24xlarge", "p4de.24xlarge", "p5.48xlarge"])
def test_nvlink_types(instance_type: str) -> None:
    assert interconnect(instance_type) == "NVLink"


@pytest.mark.parametrize("instance_type", ["p3.2xlarge", "p5.4xlarge", "g5.48xlarge",
                                           "p2.16xlarge", "g4dn.metal"])
def test_pcie_types(instance_type: str) -> None:
    assert interconnect(instance_type) == "PCIe"
