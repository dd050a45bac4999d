"""Settings for the test suite: the central settings on a throwaway database.

``SEED_CENTRAL_DB`` may name the database; by default a SQLite file in a fresh temporary
folder. The suite's ``--central-db=postgresql`` option swaps in a PostgreSQL cluster the
tests start themselves (see tests/conftest.py).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("SEED_CENTRAL_DB", str(Path(tempfile.mkdtemp(prefix="seed-central-tests-")) / "central.db"))
os.environ.setdefault("SEED_CENTRAL_SECRET_KEY", "tests-only-not-a-secret")

from central.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests; production keeps PBKDF2
