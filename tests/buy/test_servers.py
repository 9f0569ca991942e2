"""The server catalog: the shipped file, its documentation, and errors in bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from costopt.buy.servers import (
    SERVER_COLUMNS,
    find_by_name,
    load_servers,
    shipped_server_file,
)
from costopt.errors import CostoptError, PricingDataError
from costopt.pricing.catalog import load_gpu_table, shipped_data_dir

# workload.md, "Names": the canonical GPU model names (add more in the same form).
CANONICAL_GPUS = {
    "K80", "M60", "T4", "A10G", "L4", "V100-SXM2-16GB", "V100-SXM2-32GB", "V100-PCIE-16GB",
    "A100-SXM4-40GB", "A100-SXM4-80GB", "H100-SXM5-80GB", "RADEON-PRO-V520", "GTX-1060-6GB",
    "GTX-1080-TI", "RTX-2080-TI", "RTX-3060", "RTX-3090", "TITAN-RTX", "QUADRO-RTX-6000",
}
HEADER = ",".join(SERVER_COLUMNS)
GOOD = "box,V100-SXM2-16GB,4,5000,1650,250,3,0,used,paid,estimate,https://example.org/x,2021-02"


def test_shipped_catalog_has_the_builds_people_buy() -> None:
    builds = load_servers()
    # Issue 6's builds, and current 8x A100 / 8x H100 servers.
    for name in ("used-4x-v100-sxm2", "diy-3x-gtx1080ti", "vendor-3x-gtx1080ti",
                 "server-8x-rtx2080ti", "dgx-1v", "dgx-a100", "dgx-h100"):
        assert name in builds
    assert builds["used-4x-v100-sxm2"].gpus == 4
    assert builds["used-4x-v100-sxm2"].condition == "used"
    assert builds["dgx-1v"].purchase_usd == 149000
    assert builds["dgx-h100"].gpu == "H100-SXM5-80GB"
    # The in-house build is cheaper than the vendor's box of the same GPUs.
    assert builds["diy-3x-gtx1080ti"].purchase_usd < builds["vendor-3x-gtx1080ti"].purchase_usd
    assert builds["diy-3x-rtx2080ti"].purchase_usd < builds["vendor-3x-rtx2080ti"].purchase_usd


def test_shipped_catalog_uses_canonical_gpu_names() -> None:
    for build in load_servers().values():
        assert build.gpu in CANONICAL_GPUS, build.name
        assert build.idle_watts < build.power_watts, build.name


@pytest.mark.skipif(not (shipped_data_dir() / "gpus.csv").is_file(),
                    reason="pricing_data/gpus.csv is not shipped yet")
def test_shipped_catalog_gpus_are_in_the_gpu_table() -> None:
    table = load_gpu_table(shipped_data_dir() / "gpus.csv")
    for build in load_servers().values():
        assert build.gpu.upper() in table, build.name


def test_every_row_is_documented_with_its_source() -> None:
    notes = (shipped_server_file().parent / "servers.md").read_text(encoding="utf-8")
    for build in load_servers().values():
        assert f"`{build.name}`" in notes, build.name
        if build.source.startswith("http"):
            assert build.source.split()[0] in notes, build.name


def test_a_build_becomes_an_owned_server_or_a_candidate() -> None:
    build = load_servers()["dgx-1v"]
    owned = build.owned_server(count=2)
    assert (owned.name, owned.gpu, owned.gpus, owned.count) == ("dgx-1v", "V100-SXM2-16GB", 8, 2)
    assert (owned.purchase_usd, owned.lifetime_years) == (149000, 5)
    assert (owned.power_watts, owned.idle_watts) == (3500, 800)
    candidate = build.candidate(max_count=3)
    assert candidate.max_count == 3
    assert candidate.purchase_usd == 149000


def _write(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "servers.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    builds = load_servers(_write(tmp_path, GOOD))
    assert builds["box"].source_date == "2021-02"
    assert builds["box"].ops_usd_per_month == 0


def test_bad_rows_are_reported_by_row_and_column(tmp_path: Path) -> None:
    rows = [
        GOOD.replace("5000", "lots"),  # row 2: not a number
        GOOD.replace("box,", "idle,").replace(",250,", ",2000,"),  # row 3: idle above load
        GOOD.replace("box,", "cond,").replace(",used,", ",refurbished,"),  # row 4
        GOOD.replace("box,", "date,").replace("2021-02", "Feb 2021"),  # row 5
        GOOD.replace("box,", "gpus,").replace(",4,", ",2.5,"),  # row 6
        GOOD,
        GOOD,  # row 8: the same name twice
    ]
    with pytest.raises(PricingDataError) as err:
        load_servers(_write(tmp_path, *rows))
    message = str(err.value)
    assert "row 2.purchase_usd = 'lots': is not a number" in message
    assert "row 3.idle_watts = '2000': exceeds power_watts = 1650" in message
    assert "row 4.condition = 'refurbished': valid: new, used" in message
    assert "row 5.source_date = 'Feb 2021': valid: YYYY, YYYY-MM or YYYY-MM-DD" in message
    assert "row 6.gpus = '2.5': must be a whole number" in message
    assert "row 8.name = 'box': is used twice" in message


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "servers.csv"
    path.write_text("name,gpu\nbox,T4\n", encoding="utf-8")
    with pytest.raises(PricingDataError) as err:
        load_servers(path)
    assert "missing column(s) gpus, purchase_usd" in str(err.value)


def test_find_by_name_exact_then_case_insensitive_then_near() -> None:
    items = {"dgx-1v": 1, "dgx-a100": 2}
    assert find_by_name(items, "dgx-1v", "servers.csv", "-") == 1
    assert find_by_name(items, "DGX-A100", "servers.csv", "-") == 2
    with pytest.raises(CostoptError) as err:
        find_by_name(items, "dgx1v", "servers.csv", "use a catalog name")
    assert "no server 'dgx1v' in servers.csv. Did you mean dgx-1v" in str(err.value)
    assert str(err.value).endswith("To fix: use a catalog name")
