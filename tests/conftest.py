"""Fixtures shared by every suite: paths to shared test data, temporary stores and configurations."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SEED_SHARED_DIR", REPO.parent / "shared"))
FACES = SHARED / "testdata" / "faces"

# Kivy must never open a window or grab a device in tests.
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """The real face photos; tests that need them skip (with the reason) when they are absent."""
    if not (FACES / "people").is_dir():
        pytest.skip(f"real face photos not found at {FACES} (clone the project with ../shared beside it)")
    return FACES


@pytest.fixture
def sim_config(tmp_path: Path):
    """A simulated terminal's configuration, with its data in a temporary directory."""
    from terminal.config import parse_config

    return parse_config({
        "device": {"id": "test-door-1", "site": "test", "language": "en", "timezone": "UTC"},
        "storage": {"data_dir": str(tmp_path / "data"), "min_free_mb": 1},
        "hardware": {"profile": "sim"},
    })


@pytest.fixture
def store(sim_config):
    """An open, migrated, encrypted store for one test."""
    from terminal.store.database import open_store

    with open_store(sim_config.storage) as opened:
        yield opened


@pytest.fixture
def config_file(tmp_path: Path) -> str:
    """A simulated terminal's configuration file, as seed-enroll and seed-terminal read it."""
    path = tmp_path / "terminal.toml"
    path.write_text(f'[device]\nid = "door-9"\ntimezone = "UTC"\nlanguage = "en"\n'
                    f'[storage]\ndata_dir = "{tmp_path / "data"}"\n[hardware]\nprofile = "sim"\n')
    return str(path)
