"""The central suite: Django on the test database (SQLite, or PostgreSQL with --central-db=postgresql)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
