"""Start Django for a command or a test: ``setup(database)`` once per process, before any model import."""
from __future__ import annotations

import os
from pathlib import Path


def setup(database: str | Path | None = None) -> None:
    """Point Django at ``database`` (when given) and load the apps; later calls change nothing."""
    if database is not None:
        os.environ["SEED_CENTRAL_DB"] = str(database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def migrate(verbosity: int = 0) -> None:
    """Apply every migration (a new database is created; an older central database is upgraded in place)."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)
