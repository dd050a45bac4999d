"""Helpers of the central suite: punches and messages as a terminal sends them, and the CLI in-process."""
from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from central.ingest.handler import Ingest
from contract import protocol as p


def punch(device: str = "door-a", **changes: Any) -> dict[str, Any]:
    body = {"id": str(uuid.uuid4()), "device_id": device, "employee_number": "E001", "direction": "in",
            "method": "face", "score": 0.31, "punched_at": "2026-03-02T00:55:00.000000Z", "boot_id": "boot-1",
            "monotonic_ns": 123, "time_source": "ntp", "original_punched_at": None, "restamped_at": None}
    return {**body, **changes}


def store_card_punches(number: str, *punched: tuple[datetime, str], site: str = "s1") -> None:
    """``number``'s card punches at these aware times, each with its direction, through the receiver's own store
    (received now)."""
    from central.ingest.handler import store_punches

    received = datetime.now(timezone.utc)
    store_punches([{"id": f"{number}-{at.isoformat()}-{way}", "site": site, "device_id": "door-a",
                    "employee_number": number, "direction": way, "method": "card", "score": None, "punched_at": at,
                    "boot_id": "b", "monotonic_ns": i, "time_source": "ntp", "original_punched_at": None,
                    "restamped_at": None, "batch_id": "x", "received_at": received} for i, (at, way) in enumerate(punched)])


def send(ingest: Ingest, leaf: str, body: Any, site: str = "s1", device: str = "door-a") -> list[dict[str, Any]]:
    replies = ingest.handle(p.device_topic(site, device, leaf), p.dumps(body))
    return [json.loads(r.payload) for r in replies]


def batch(*punches: dict[str, Any]) -> dict[str, Any]:
    return {"batch": str(uuid.uuid4()), "punches": list(punches)}


def central_cli(*args: str, db: str | None = None) -> tuple[int, str, str]:
    """``seed-central --db DB ARGS`` run by the command line's own ``main`` in this process (its parser, the command,
    its messages and exit codes, without a Python start of 0.4 s), on ``db`` (default: the test database Django is
    on; ``""``: no ``--db``): (exit code, stdout, stderr)."""
    from django.db import connection

    from central.cli import main

    target = str(connection.settings_dict["NAME"]) if db is None else db
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*(["--db", target] if target else []), *args])
    return code, out.getvalue(), err.getvalue()


def evaluate_command(path: Path, *, new_process: bool = False) -> subprocess.CompletedProcess[str]:
    """``seed-central attendance evaluate PATH``: its exit code, stdout and stderr. Run in this process
    (:func:`central_cli`: some 140 scenarios); ``new_process``: as a new process, as an integrator runs it."""
    argv = ["attendance", "evaluate", str(path)]
    if new_process:
        return subprocess.run([sys.executable, "-m", "central.cli", *argv], cwd=Path(__file__).resolve().parents[2],
                              capture_output=True, text=True, timeout=120)
    return subprocess.CompletedProcess(argv, *central_cli(*argv, db=""))


def client_for(user: Any) -> Any:
    """A console client signed in as ``user``."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def make_user(name: str, role: str, *, sites: Any = (), departments: Any = (), employee: Any = None,
              first_name: str = "") -> Any:
    """A console user of ``role`` granted ``sites`` and ``departments`` (an employee's: ``employee``)."""
    from central.accounts.models import User

    user = User.objects.create_user(name, password="x" * 12, role=role, employee=employee, first_name=first_name)
    user.sites.set(sites)
    user.departments.set(departments)
    return user


def token_for(name: str, role: str, *, superuser: bool = False, **grants: Any) -> str:
    """A user as :func:`make_user` makes them (a superuser too, when asked) and an API token of theirs: the token."""
    from central.accounts.services import create_token

    user = make_user(name, role, **grants)
    if superuser:
        user.is_superuser = True
        user.save(update_fields=["is_superuser"])
    return create_token(user, name, actor="test")[1]


def text_of(fragment: str) -> str:
    """A piece of a page as a person reads it: tags gone, entities decoded, spaces folded."""
    import html
    import re

    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


def last_month_at_a_site() -> tuple[Any, Any, Any]:
    """Site 总厂 (code ``zongchang``, no terminals, Saturday and Sunday off) with 张伟 (A001) on 白班 and last month's
    records computed: a month that is over and ready to be confirmed and closed. (site, employee, month's first day)."""
    from datetime import time, timedelta

    from django.utils import timezone

    from central.attendance import closing
    from central.attendance.models import AttendanceProfile, ShiftType, SiteCalendar
    from central.attendance.selectors import month_end
    from central.attendance.services import recompute
    from central.people.models import Employee, Site

    site = Site.objects.create(code="zongchang", name="总厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
    shift = ShiftType.objects.create(name="白班", start=time(9), end=time(18), checkin_before_min=60,
                                     checkout_after_min=120, late_grace_min=5, early_grace_min=0)
    employee = Employee.objects.create(number="A001", name="张伟", site=site)
    AttendanceProfile.objects.create(employee=employee, default_shift=shift)
    month = closing.first_of(closing.first_of(timezone.localdate()) - timedelta(days=1))
    recompute(month, month_end(month), now=timezone.now())
    return site, employee, month


def every_page(get: Callable[..., tuple[int, Any]], **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every item of a keyset-paged API list, following ``next_cursor`` from the first page, and how many pages it
    took; ``get(**params)`` answers (status, body). Each page answers 200 and holds at most ``limit`` items when the
    params give one."""
    items: list[dict[str, Any]] = []
    pages, cursor = 0, None
    while True:
        status, body = get(**params, **({"cursor": cursor} if cursor else {}))
        assert status == 200, body
        assert "limit" not in params or len(body["items"]) <= params["limit"]
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 100
