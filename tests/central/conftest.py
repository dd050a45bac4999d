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


# -- the browser tests: the console served on the test database, and Chromium on it ----------------------------------
@pytest.fixture
def console(world: object, central_db_target: str, tmp_path: Path) -> Iterator[object]:
    """``seed-central serve`` (gunicorn) on the test database once the module's ``world`` is in it; stopped after."""
    from browser_support import served_console

    yield from served_console(central_db_target, tmp_path)


@pytest.fixture
def browser(console: object) -> Iterator[object]:
    """Headless Chromium, 1400 × 1000, for the served ``console``; closed after."""
    from central.console.screenshots import chromium

    with chromium((1400, 1000)) as driver:
        yield driver
