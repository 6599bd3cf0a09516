"""Fixtures of the phantom tests: a running fake OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.phantom.fake_llm import FakeLlm


@pytest.fixture
def fake() -> Iterator[FakeLlm]:
    server = FakeLlm("Acme")
    server.start()
    try:
        yield server
    finally:
        server.stop()
