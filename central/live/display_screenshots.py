"""The wall display's picture for ``docs/screenshots/``: what the TV at the plant gate shows, at 1920×1080.

    python -m central.live.display_screenshots [--out docs/screenshots]

On its own it builds the console's demo data (:func:`central.console.screenshots.build_demo`: 总厂, its
employees, doors and shifts) in a fresh SQLite database in a temporary folder, gives the demo a shift that is
in progress now with a few of today's punches, serves the console for real and saves ``wall-display.png``;
everything is stopped and removed at the end. :func:`wall_display_shot` is the part ``make screenshots`` can
call with a console server and a Chromium it already runs.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from central.console.screenshots import REPO, ConsoleServer, ScreenshotError, build_demo, chromium

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

SIZE = (1920, 1080)
NAME = "wall-display.png"


def make_display_token(site_code: str = "zongchang", name: str = "东门电视") -> str:
    """A display token for the demo site (Django set up on the demo database); returns the clear token."""
    from central.accounts.models import User
    from central.live.display_services import create_display
    from central.people.models import Site

    admin = User.objects.filter(is_superuser=True).order_by("pk").first()
    if admin is None:
        raise ScreenshotError("the demo database has no superuser to make a display token with")
    _, clear = create_display(admin, Site.objects.get(code=site_code), name)
    return clear


def demo_shift_now(site_code: str = "zongchang") -> None:
    """A shift that began two hours ago for 生产部, with most of it punched in (some late), so the numbers are lively."""
    import uuid

    from django.utils import timezone

    from central.attendance import services as attendance
    from central.attendance.models import CalendarDay, LeaveRecord, LeaveType, ShiftType
    from central.ingest.models import Punch
    from central.live.display_selectors import site_zone
    from central.people.models import Employee, Site

    site = Site.objects.get(code=site_code)
    now = timezone.now()
    begins = now.astimezone(site_zone(site)).replace(second=0, microsecond=0) - timedelta(hours=2)
    shift = ShiftType.objects.create(name="大门演示班", start=begins.time(), end=(begins + timedelta(hours=8)).time(),
                                     checkin_before_min=60, checkout_after_min=120, late_grace_min=5, color="#1565c0")
    from central.accounts.models import User

    admin = User.objects.filter(is_superuser=True).order_by("pk").first()
    # the picture is of a working day whatever day it is made on
    CalendarDay.objects.update_or_create(site=site, date=begins.date(), defaults={"kind": "workday", "name": "演示工作日"})
    staff = list(Employee.objects.filter(site=site, active=True).order_by("number"))
    for emp in staff:
        attendance.create_assignment(admin, start=begins.date(), end=None, employee=emp, shift=shift)
    punches = []
    for i, emp in enumerate(staff):
        if i % 9 == 8:
            continue  # not arrived yet
        at = begins + timedelta(minutes=-25 + (i * 7) % 24 + (14 if i % 6 == 5 else 0))  # a few late
        punches.append(Punch(id=str(uuid.uuid4()), site=site.code, device_id="zc-gate-01", employee_number=emp.number,
                             direction="in", method="face", score=0.3, punched_at=at, boot_id="boot-1",
                             monotonic_ns=i, time_source="ntp", batch_id="batch-wall", received_at=at))
        if i % 10 == 3:  # went out again
            out = at + timedelta(minutes=70)
            punches.append(Punch(id=str(uuid.uuid4()), site=site.code, device_id="zc-gate-01",
                                 employee_number=emp.number, direction="out", method="face", score=0.3,
                                 punched_at=out, boot_id="boot-1", monotonic_ns=100 + i, time_source="ntp",
                                 batch_id="batch-wall", received_at=out))
    Punch.objects.bulk_create(punches)
    if len(staff) > 8:  # one of those not arrived is on approved leave
        kind, _ = LeaveType.objects.get_or_create(code="annual", defaults={"name": "年假"})
        LeaveRecord.objects.create(employee=staff[8], leave_type=kind, start=begins.date(), end=begins.date(),
                                   state="approved", approved_by=admin.username if admin else "")


def wall_display_shot(driver: WebDriver, base_url: str, token: str, out: Path) -> Path:
    """Open ``token``'s wall display on the running console at ``base_url`` and save ``out/wall-display.png``.

    ``driver``: a Chromium from :func:`central.console.screenshots.chromium`; the page is drawn at 1920×1080.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": SIZE[0], "height": SIZE[1], "deviceScaleFactor": 1, "mobile": False})
    try:
        driver.get(f"{base_url}/display/{token}/")
        WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#n-on_site"))
        WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.fonts.status") == "loaded")
        out.mkdir(parents=True, exist_ok=True)
        path = out / NAME
        if not driver.save_screenshot(str(path)):
            raise ScreenshotError(f"Chromium could not save {path}")
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m central.live.display_screenshots",
                                     description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots", help="output folder")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    folder = Path(tempfile.mkdtemp(prefix="seed-wall-shot-"))
    try:
        build_demo(folder / "central.db")
        demo_shift_now()
        token = make_display_token()
        from django.db import connections

        connections.close_all()  # the server process owns the database from here
        with ConsoleServer(str(folder / "central.db"), folder / "console.log") as server, chromium(SIZE) as driver:
            try:
                path = wall_display_shot(driver, server.url, token, out)
            except Exception:
                print(server.log_tail(), file=sys.stderr)
                raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
