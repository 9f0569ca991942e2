"""The parsed price tables in the user's cache folder (:mod:`costopt.pricing.cache`): read
back while the files are unchanged, parsed again when they change, passed over when damaged
or unwritable, never an error of their own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from costopt.errors import PricingDataError
from costopt.pricing import catalog as catalog_module
from costopt.pricing.cache import cache_dir, entry_path
from costopt.pricing.catalog import load_catalog, shipped_data_dir


@pytest.fixture
def price_file(tmp_path: Path) -> Path:
    """A copy of the shipped price file (the autouse fixture gives each test its own cache
    folder, ``XDG_CACHE_HOME``)."""
    path = tmp_path / "prices.csv"
    shutil.copyfile(shipped_data_dir() / "instances.csv", path)
    return path


def _no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> None:
        raise AssertionError("parsed, not read from the cache")

    monkeypatch.setattr(catalog_module, "load_offers", refuse)
    monkeypatch.setattr(catalog_module, "load_gpu_table", refuse)


def test_an_unchanged_file_is_read_back_not_parsed(price_file: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_catalog(price_file)
    assert entry_path(price_file).parent == cache_dir()
    assert entry_path(price_file).is_file()
    _no_parsing(monkeypatch)
    second = load_catalog(price_file)
    assert second == first and second.source == str(price_file)
    assert second.offer("p3.2xlarge", "us-east-1") == first.offer("p3.2xlarge", "us-east-1")


def test_a_changed_file_is_parsed_again_in_the_same_entry(price_file: Path) -> None:
    before = load_catalog(price_file).offer("p3.2xlarge", "us-east-1")
    assert before is not None
    text = price_file.read_text()
    row = next(line for line in text.splitlines()
               if line.startswith("p3.2xlarge,p3,us-east-1,"))
    cells = row.split(",")
    cells[9] = "99.5"  # on_demand_usd_per_hour
    price_file.write_text(text.replace(row, ",".join(cells)))
    after = load_catalog(price_file).offer("p3.2xlarge", "us-east-1")
    assert after is not None and after.on_demand_usd_per_hour == 99.5
    assert before.on_demand_usd_per_hour != 99.5
    assert [p.name for p in cache_dir().iterdir()] == [entry_path(price_file).name]


def test_a_damaged_entry_is_parsed_over(price_file: Path) -> None:
    expected = load_catalog(price_file)
    entry_path(price_file).write_bytes(b"not a pickle")
    assert load_catalog(price_file) == expected
    entry_path(price_file).write_bytes(b"")
    assert load_catalog(price_file) == expected


def test_an_unwritable_cache_folder_is_no_error(price_file: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))  # its costopt/prices cannot be made
    assert load_catalog(price_file).offer("p3.2xlarge", "us-east-1") is not None


def test_a_file_with_an_error_says_so_every_time_and_stores_nothing(price_file: Path) -> None:
    price_file.write_text(price_file.read_text().replace(",2026-01-01,", ",2026-13-01,", 1))
    for _ in range(2):
        with pytest.raises(PricingDataError) as raised:
            load_catalog(price_file)
        assert "must be YYYY-MM-DD" in str(raised.value)
    assert not entry_path(price_file).exists()
