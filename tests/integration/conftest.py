"""Fixtures shared by the integration tests (the session broker lives in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.fetcher_servers import ScriptedServer


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A scripted HTTP server on 127.0.0.1 whose routes a test sets."""
    scripted = ScriptedServer()
    yield scripted
    scripted.close()
