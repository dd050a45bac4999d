"""Helpers of the roster tests: valid face templates, a central backup and restore, the terminal's roster."""
from __future__ import annotations

import base64
from pathlib import Path

import numpy as np


def face(seed: int) -> str:
    """A valid face template: 128 finite float32 values, base64."""
    return base64.b64encode(np.random.default_rng(seed).random(128, dtype=np.float32).tobytes()).decode()


def employees_with_faces(count: int, faces: int = 5, prefix: str = "R") -> list[dict]:
    return [{"number": f"{prefix}{i:05d}", "name": f"Employee {i}", "department": f"Dept {i % 20}",
             "faces": [face(i * faces + k) for k in range(faces)]} for i in range(count)]


def backup_central(path: Path) -> Path:
    """The whole central database as Django's dumpdata writes it (what an operator's backup holds)."""
    from django.core.management import call_command

    with open(path, "w", encoding="utf-8") as out:
        call_command("dumpdata", natural_foreign=True, natural_primary=True, exclude=["contenttypes", "auth.permission"],
                     stdout=out, verbosity=0)
    return path


def restore_central(path: Path) -> None:
    """Replace the whole central database with a backup (flush, then loaddata)."""
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)
    call_command("loaddata", str(path), verbosity=0)


def terminal_roster(store) -> set[str]:
    """Employee numbers the roster put on this terminal."""
    return {r["number"] for r in store.query("SELECT number FROM employees WHERE roster_version > 0")}


def central_roster_numbers() -> set[str]:
    from central.people.models import Employee

    return set(Employee.objects.values_list("number", flat=True))
