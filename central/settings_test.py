"""Settings for the test suite: the central settings on a throwaway database.

``SEED_CENTRAL_DB`` may name the database; by default a SQLite file in a fresh temporary
folder. The suite's ``--central-db=postgresql`` option swaps in a PostgreSQL cluster the
tests start themselves (see tests/conftest.py).
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

if "SEED_CENTRAL_DB" not in os.environ:
    _folder = tempfile.mkdtemp(prefix="seed-central-tests-")
    atexit.register(shutil.rmtree, _folder, True)  # gone with the process that made it (ignore_errors)
    os.environ["SEED_CENTRAL_DB"] = str(Path(_folder) / "central.db")
os.environ.setdefault("SEED_CENTRAL_SECRET_KEY", "tests-only-not-a-secret")

from central.settings import *  # noqa: E402,F403

# fast logins in tests; production keeps PBKDF2 (one-time passwords: central/accounts/hashers.py)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", "central.accounts.hashers.OneTimePasswordHasher"]
