"""Shared fixtures: every test runs with fake AWS credentials and private state folders.

Property tests (Hypothesis) are derandomised (the ``ci`` profile, CI or not): each test
draws the same examples on every run, so a run passes or fails on the code, not on the
draw. ``scripts/property_tests_wide.sh`` runs them with random seeds, round after round,
for the wider search (the ``wide`` profile); ``HYPOTHESIS_PROFILE`` picks one by name
(``hypothesis_profiles.py``).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis_profiles import PROFILE

settings.load_profile(PROFILE)

# Byte-code is written and reused, as on a user's install, even where the environment says
# PYTHONDONTWRITEBYTECODE (this machine's does): else every xdist worker compiles costopt's
# sources and pytest rewrites every test module afresh on each run (~7 CPU-s a worker), and
# every `costopt` the tests run as a child process compiles what it imports again (~0.2-0.5
# CPU-s each; tests/cli/test_hostile_input.py alone: 43 -> 35 CPU-s). Set here, before the
# test modules are imported, and in the environment the children inherit.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

pytest_plugins = ["state_engines"]  # the ledger engines' fixtures (imported after the above)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test can read real credentials, reach a real account by accident, or see the
    user's price file and ledger; and none sees the terminal size of whoever runs pytest
    (an xdist worker has ``COLUMNS=80``, one process run from a pipe none): a command run in
    process writes as to a pipe, and tests that mean a width set it."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE", "COSTOPT_STATE_URL",
                "COLUMNS", "LINES"):
        monkeypatch.delenv(key, raising=False)
    fake = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
            "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
            "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
            "COSTOPT_FAKE_CLOCK": "1"}  # AWS is moto: `apply --at T --yes` walks a plan
    for key, value in fake.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="session", autouse=True)
def one_botocore_loader() -> Iterator[None]:
    """Every boto3 session of a test process reads botocore's service models through one
    loader. A session otherwise parses them afresh (EC2's model: ~0.25 CPU-s), and every
    ``costopt`` command run in process makes its own session; the models are read-only
    data, so sharing them changes no answer.

    Likewise one client class per service and API version: botocore otherwise builds a
    class of ~860 methods for every EC2 client (0.06 CPU-s against 0.02 with the class
    shared). The class holds only those methods, each a call of its operation by name; a
    session's event handlers (faults, recorders, moto) are copied into each client, not
    into its class."""
    import botocore.client
    import botocore.loaders
    import botocore.session

    build_class = botocore.client.ClientCreator._create_client_class
    classes: dict[tuple[str, str], type] = {}

    def one_class(creator: botocore.client.ClientCreator, service_name: str,
                  service_model: Any) -> type:
        key = (service_name, service_model.api_version)
        if key not in classes:
            classes[key] = build_class(creator, service_name, service_model)
        return classes[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader",
                      functools.cache(botocore.loaders.create_loader))
        patch.setattr(botocore.client.ClientCreator, "_create_client_class", one_class)
        yield


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` are sent to the workers first, so that no long test starts
    last and keeps one worker busy while the other has finished (``--dist loadgroup`` sends
    the ``xdist_group`` groups first, the largest first, then single tests in this order).

    And the groups themselves: xdist 3.8 groups a worker's tests by an ``@group`` suffix it
    writes to ``item._nodeid``, which pytest 9.2 no longer reads (its node ids are
    ``item._id``, a ``NodeId``): every ``xdist_group`` was silently ignored and its tests
    spread over the workers (pytest-dev/pytest-xdist#1386). The suffix is written where
    pytest reads it; with an older pytest xdist's own write works and this does nothing."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    if not (getattr(config.option, "loadgroup", False) and items and hasattr(items[0], "_id")):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        groups = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                         for mark in item.iter_markers("xdist_group")})
        if groups and not item.nodeid.endswith(f"@{'_'.join(groups)}"):
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")
