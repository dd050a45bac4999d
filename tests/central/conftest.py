"""The central suite: Django on the test database (SQLite, or PostgreSQL with --central-db=postgresql)."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True)
def _fresh_hooks() -> Iterator[None]:
    """The webhooks' cache of active hooks (a few seconds per process) read afresh around every test: a hook one test
    made goes with its database and must not be offered the next test's events."""
    from central.webhooks import services

    services.forget_hooks()
    yield
    services.forget_hooks()
