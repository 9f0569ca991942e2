"""Fixtures of the end-to-end CLI tests: moto in server mode on 127.0.0.1."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """One moto server per test process (per xdist worker), on a free port of 127.0.0.1;
    ``aws`` resets it before each test."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh moto behind ``AWS_ENDPOINT_URL`` for each test."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset",
                                                  method="POST")).read()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    return moto_url
