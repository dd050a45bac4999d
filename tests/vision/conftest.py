"""Face models and photo helpers shared by the vision tests (loaded once per session)."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def models():
    from terminal.vision.models import shared_models

    return shared_models()


@pytest.fixture(scope="session")
def analyzer(models):
    from terminal.vision.photos import PhotoAnalyzer

    with PhotoAnalyzer(models) as photo_analyzer:
        yield photo_analyzer


@pytest.fixture(scope="session")
def counter(models):
    from terminal.vision.counting import FaceCounter

    with FaceCounter(models) as face_counter:
        yield face_counter


@pytest.fixture(scope="session")
def people_dir(faces_dir: Path) -> Path:
    return faces_dir / "people"


@pytest.fixture(scope="session")
def groups_dir(faces_dir: Path) -> Path:
    return faces_dir / "groups"
