"""``make screenshots``: the web console's main pages, rendered by a real headless Chromium, saved as PNG.

    python -m central.console.screenshots [--out docs/screenshots] [--size 1280x800]

A small demo site (总厂, two departments, about thirty employees, two doors, punches, events,
audit entries, shifts, a rotation, holidays, a month of attendance and last month closed) is built in a fresh SQLite
database in a temporary folder, the console is
served for real (``seed-central serve``, gunicorn, a free loopback port) and a headless
Chromium signs in and saves ``console-*.png`` and the wall display's ``wall-display.png``. Everything is
stopped and removed at the end.
Nothing is downloaded: Debian's ``chromium`` and ``chromium-driver`` are used directly.

The helpers here (:func:`chromium`, :class:`ConsoleServer`, :func:`sign_in`) are also used
by the console's browser tests.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from central.demo_stack import free_port

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SEED_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SEED_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                  "--no-first-run", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1")
ADMIN = "admin"


class ScreenshotError(RuntimeError):
    """The browser or the console could not be started; the message says why."""



def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.05,
             what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


# -- the browser -------------------------------------------------------------------------------------
@contextlib.contextmanager
def chromium(size: tuple[int, int] = (1280, 800), *, accept_language: str = "zh-CN,zh",
             trusted_keys: Sequence[str] = ()) -> Iterator[WebDriver]:
    """A headless Chromium driven by Debian's chromedriver (never Selenium Manager), in a fresh profile.

    ``accept_language`` is what the browser asks pages for, as a user's browser set to that language.
    ``trusted_keys``: base64 SHA-256 hashes of server keys (SPKI) the browser trusts as if their certificate's CA
    were installed, as an office's browsers trust the site CA; any other certificate error still stops a page.
    The browser and its driver are stopped, and the profile removed, on exit.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for binary in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(binary):
            raise ScreenshotError(f"{binary} not found (apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="seed-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    options.add_argument(f"--lang={accept_language.split(',')[0]}")
    if trusted_keys:
        options.add_argument(f"--ignore-certificate-errors-spki-list={','.join(trusted_keys)}")
    options.add_experimental_option("prefs", {"intl.accept_languages": accept_language})
    driver = None
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(30)
        # the window includes the (invisible) browser frame: make the page itself exactly ``size``
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False})
        yield driver
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# -- the console, served for real ----------------------------------------------------------------------
def seed_central() -> list[str]:
    """The ``seed-central`` command of this interpreter's environment."""
    script = Path(sys.executable).with_name("seed-central")
    return [str(script)] if script.exists() else [sys.executable, "-m", "central.cli"]


class ConsoleServer:
    """``seed-central --db DB serve --bind 127.0.0.1:PORT`` (gunicorn) in its own process group.

    ``stop()`` sends SIGTERM to the whole group (as systemd does: the command and its gunicorn
    master and workers) and waits; SIGKILL only if it does not stop within ``timeout``. (Not SIGQUIT, gunicorn's
    quick shutdown: a threaded worker that gets it while handing a request to its threads waits forever on a lock
    it holds itself.)
    """

    def __init__(self, database: str, log_file: Path, *, workers: int = 2, env: dict | None = None,
                 args: Sequence[str] = (), ca_file: Path | None = None, code: Path | None = None):
        self.database = database
        # ``code``: another checkout whose seed-central is run (``python -m`` in that folder), to compare versions
        self.code = code
        self.log_file = Path(log_file)
        self.workers = workers
        self.args = list(args)  # more of serve's options (--tls, --certfile …)
        self.port = free_port()
        # HTTPS when ``ca_file`` is given: the server's certificate is checked against it, as a browser would
        self.ssl_context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
        self.url = f"{'https' if ca_file else 'http'}://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "central.settings", "PYTHONUNBUFFERED": "1",
                    **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> ConsoleServer:
        program = [sys.executable, "-m", "central.cli"] if self.code else seed_central()
        command = [*program, "--db", self.database, "serve", "--bind", f"127.0.0.1:{self.port}",
                   "--workers", str(self.workers), *self.args]
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=log, env=self.env, cwd=self.code or REPO,
                                         start_new_session=True)
        try:
            wait_for(self._answers, timeout, interval=0.05, what=f"the console on {self.url}")
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise ScreenshotError(f"seed-central serve exited ({self.proc.returncode}): {self.log_tail()}")
        try:
            with urllib.request.urlopen(f"{self.url}/login/", timeout=2, context=self.ssl_context) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        pgid = self.proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            code = self.proc.wait(10)
        # gunicorn's master and workers are in the same group: wait until none is left
        with contextlib.suppress(TimeoutError):
            wait_for(lambda: not _group_alive(pgid), timeout, interval=0.1, what="gunicorn to exit")
        if _group_alive(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        return code

    def __enter__(self) -> ConsoleServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# how long a page may take to come back: seconds on a loaded 2-core machine, never the limit on a working one
PAGE_WAIT_S = 30


def sign_in(driver: WebDriver, base_url: str, username: str, password: str) -> None:
    """Fill the console's sign-in form and wait until the overview page is shown."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    if "/login/" not in driver.current_url:
        driver.get(f"{base_url}/login/")
    driver.find_element(By.NAME, "username").clear()
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
    WebDriverWait(driver, PAGE_WAIT_S).until(ec.presence_of_element_located((By.CSS_SELECTOR, "nav.sidenav")),
                                             f"no console menu {PAGE_WAIT_S} s after signing in as {username}")


def switch_language(driver: WebDriver, code: str) -> None:
    """Press the page's own language button and wait for the page to come back in that language."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, f".lang-switch button[value='{code}']").click()
    WebDriverWait(driver, PAGE_WAIT_S, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: d.find_element(By.TAG_NAME, "html") != old and d.find_element(By.TAG_NAME, "html")
        .get_attribute("lang") == code)


# -- demo data -------------------------------------------------------------------------------------
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹"
GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
         "超", "秀兰", "霞", "平", "刚", "桂英", "晓东", "春梅", "建华", "志强", "海燕", "文博", "雨涵")


def demo_names(n: int) -> list[str]:
    return [SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)] for i in range(n)]


def build_demo(database: Path, employees: int = 30) -> str:
    """Create the demo database (Django is started on it in this process); returns the admin's password."""
    from central.django_setup import migrate, setup

    setup(database)
    migrate()
    from django.utils import timezone

    from central.accounts import audit
    from central.accounts.models import User
    from central.accounts.services import create_user_with_one_time_password
    from central.ingest.commands import request_command
    from central.ingest.models import Event, Punch
    from central.people import roster, services
    from central.people.models import Department, Device, Site
    from central.people.services import EmployeeInput

    site = Site.objects.create(code="zongchang", name="总厂", time_zone="Asia/Shanghai")
    for name in ("生产部", "质检部"):
        Department.objects.create(site=site, name=name)
    password = create_user_with_one_time_password(ADMIN, role="superuser", actor="cli:root")
    admin = User.objects.get(username=ADMIN)
    admin.first_name = "陈主管"
    admin.must_change_password = False  # the pictures are of an admin who signed in before and set their own
    admin.save(update_fields=["first_name", "must_change_password"])

    names = demo_names(employees)
    records: list[dict[str, Any]] = [{"number": f"{1001 + i}", "name": names[i], "site": site.code,
                "department": "生产部" if i % 3 else "质检部", "card": str(4318030 + i * 17),
                "verify_mode": ("any", "face", "card+pin", "face+card")[i % 4] if i % 4 != 2 else "any",
                "active": i not in (7, 19), "allowed_devices": []} for i in range(employees - 2)]
    roster.upsert_employees(records, actor="cli:root")
    # the last two through the console's service, as an HR admin adds them (audited)
    for i in range(employees - 2, employees):
        services.save_employee(admin, EmployeeInput(
            number=f"{1001 + i}", name=names[i], site=site.code, department="质检部", card=None, pin="2468",
            verify_mode="card+pin", role="employee", allowed_devices=[], active=True), creating=True)

    now = timezone.now()
    version = roster.current_version()
    doors = [
        Device.objects.create(device_id="zc-gate-01", site=site, name="东门闸机", online=True,
                              status={"queue_depth": 0, "clock_offset_s": 0.012, "employees": employees},
                              first_seen_at=now - timedelta(days=30), last_seen_at=now - timedelta(seconds=20),
                              roster_version=version),
        Device.objects.create(device_id="zc-plant-02", site=site, name="车间入口", online=False,
                              status={"queue_depth": 37, "clock_offset_s": 3.4, "employees": employees - 2},
                              first_seen_at=now - timedelta(days=30), last_seen_at=now - timedelta(hours=3, minutes=12),
                              roster_version=version - 2),
    ]
    start = timezone.localtime(now).replace(hour=7, minute=40, second=0, microsecond=0)
    if start > now:
        start -= timedelta(days=1)
    punches = []
    for i in range(24):
        at = start + timedelta(minutes=i * 2, seconds=(i * 13) % 60)
        door = doors[i % 2]
        punches.append(Punch(id=f"0190c0de-0000-7000-8000-{i:012d}", site=site.code, device_id=door.device_id,
                             employee_number=f"{1001 + (i % employees)}", direction="in" if i < 20 else "out",
                             method=("face", "card", "face+card")[i % 3], score=0.3, punched_at=at,
                             boot_id="boot-1", monotonic_ns=i, time_source="ntp", batch_id=f"batch-{i // 6}",
                             received_at=at + timedelta(seconds=2)))
    Punch.objects.bulk_create(punches)
    events = [("zc-gate-01", "unknown_card", "info", 50), ("zc-plant-02", "clock_offset", "warning", 200),
              ("zc-gate-01", "tailgating", "warning", 95), ("zc-plant-02", "camera_gone", "error", 190),
              ("zc-gate-01", "roster_applied", "info", 30)]
    Event.objects.bulk_create([
        Event(id=f"0190c0de-0000-7000-9000-{i:012d}", site=site.code, device_id=device, kind=kind, severity=severity,
              at=now - timedelta(minutes=minutes), payload={}, received_at=now - timedelta(minutes=minutes))
        for i, (device, kind, severity, minutes) in enumerate(events)])
    command = request_command(site.code, "zc-gate-01", "open_door", {}, actor=ADMIN)
    audit.record(ADMIN, "device.command", "zc-gate-01", {"cmd": "open_door", "id": command.id})
    demo_attendance(site, admin)
    demo_live_day(site)
    demo_closed_month(site)
    demo_accounts(site, admin)
    return password


def demo_accounts(site: Any, admin: Any) -> None:
    """The company's console accounts: an HR admin, a manager of 生产部 who is one of its employees, and 质检部's
    employees' self-service accounts opened in one go (still on their one-time passwords)."""
    from central.accounts.models import User
    from central.accounts.users import UserInput, create_user, open_employee_accounts
    from central.people.models import Department, Employee

    production = Department.objects.get(site=site, name="生产部")
    create_user(admin, UserInput("hr.li", "hr_admin", name="李娟", sites=(site.code,)))
    own = Employee.objects.filter(department=production).order_by("number").first()  # the manager is one of its staff
    manager, _ = create_user(admin, UserInput("mgr.1002", "manager", name=own.name if own else "",
                                              departments=(production.pk,), employee=own.number if own else ""))
    open_employee_accounts(admin, Employee.objects.filter(site=site, department__name="质检部"))
    User.objects.filter(username__in=["hr.li", manager.username]).update(must_change_password=False)


def demo_closed_month(site: Any) -> None:
    """Last month closed (月结) by the admin a few days into this one, with two changes found after closing and
    held on it: 车间入口, offline, delivered a missed day of punches and a late evening out."""
    from datetime import datetime, time

    from django.utils import timezone

    from central.attendance.closing import first_of
    from central.attendance.models import ClosedMonth, DailyRecord
    from central.attendance.selectors import month_end

    zone = ZoneInfo(site.time_zone)
    now = timezone.now()
    this_month = first_of(timezone.localdate(now))
    month = first_of(this_month - timedelta(days=1))
    records = DailyRecord.objects.filter(employee__site=site, employee__department__name="生产部",
                                         date__range=(month, month_end(month))).order_by("date", "employee__number")
    absent = records.filter(status="absent", day_kind="workday").first()
    present = records.filter(status="present", overtime_min=0)
    if absent is not None:
        present = present.exclude(employee=absent.employee)
    held = []
    for rec, to, hours, overtime in ((absent, "present", "8.00", 0), (present.last(), "present", None, 90)):
        if rec is None:
            continue
        held.append({"employee": rec.employee.number, "date": rec.date.isoformat(), "shift": rec.shift_name,
                     "from": rec.status, "to": to, "hours_from": str(rec.hours),
                     "hours_to": hours or str(rec.hours + Decimal("1.50")), "overtime_from": rec.overtime_min,
                     "overtime_to": overtime})
    row = ClosedMonth.objects.create(site=site, month=month, closed_by=ADMIN, note="工资已按此核对发放",
                                     held=sorted(held, key=lambda x: (x["date"], x["employee"])))
    closed_at = min(now - timedelta(hours=2), datetime.combine(this_month + timedelta(days=2), time(10, 12), zone))
    ClosedMonth.objects.filter(pk=row.pk).update(closed_at=closed_at)


def demo_live_day(site: Any) -> None:
    """A crew whose shift is in progress whenever the screenshots are taken, for the live dashboard: 包装部 on
    a shift that began an hour ago, some in on time, two late, three not arrived yet, one without an out punch
    yesterday; the records of yesterday and today recomputed."""
    from datetime import datetime

    from django.utils import timezone

    from central.attendance import services as attendance
    from central.attendance.models import AttendanceProfile, CalendarDay, ShiftType
    from central.ingest.models import Event, Punch
    from central.people import roster
    from central.people.models import Department

    zone = ZoneInfo(site.time_zone)
    now = timezone.now()
    began = now.astimezone(zone).replace(second=0, microsecond=0) - timedelta(hours=1)
    began = began.replace(minute=0 if began.minute < 30 else 30)
    shift = ShiftType.objects.create(name="包装班", start=began.time(), end=(began + timedelta(hours=8)).time(),
                                     checkin_before_min=60, checkout_after_min=120, late_grace_min=5, color="#00838f")
    Department.objects.create(site=site, name="包装部")
    if began.weekday() in (5, 6):  # a weekend: the site works it (调休), so the crew is expected
        CalendarDay.objects.get_or_create(site=site, date=began.date(), defaults={"kind": "workday", "name": "调休"})
    names = demo_names(60)[40:52]
    roster.upsert_employees([{"number": f"{2001 + i}", "name": name, "site": site.code, "department": "包装部"}
                             for i, name in enumerate(names)], actor="cli:root")
    for i in range(len(names)):
        AttendanceProfile.objects.update_or_create(employee=roster_employee(f"{2001 + i}"), defaults={"default_shift": shift})
    # minutes from the start of today's shift (None: not arrived yet); late beyond 5 minutes
    today = [-25, -18, -12, -9, -6, -3, -1, 14, 27, None, None, None]
    punches, n = [], 0
    for i, minutes in enumerate(today):
        days: list[tuple[datetime, str]] = [(began - timedelta(days=1) + timedelta(minutes=-10 + i), "in")]
        if i != 4:
            days.append((began - timedelta(days=1) + timedelta(hours=8, minutes=5 + i), "out"))
        if minutes is not None:
            days.append((began + timedelta(minutes=minutes), "in"))
        for at, way in days:
            n += 1
            punches.append(Punch(id=f"0190c0de-0000-7000-b000-{n:012d}", site=site.code, device_id="zc-gate-01",
                                 employee_number=f"{2001 + i}", direction=way, method="face", score=0.3, punched_at=at,
                                 boot_id="boot-1", monotonic_ns=n, time_source="ntp", batch_id="batch-live",
                                 received_at=min(at + timedelta(seconds=2), now)))
    Punch.objects.bulk_create(punches)
    Event.objects.bulk_create([
        Event(id=f"0190c0de-0000-7000-c000-{i:012d}", site=site.code, device_id="zc-gate-01", kind=kind,
              severity="warning", at=now - timedelta(minutes=minutes), payload={},
              received_at=now - timedelta(minutes=minutes))
        for i, (kind, minutes) in enumerate([("tailgating", 12), ("tailgating", 31), ("unknown_face", 7)])])
    attendance.recompute(began.date() - timedelta(days=1), began.date(), actor=ADMIN)


def roster_employee(number: str) -> Any:
    from central.people.models import Employee

    return Employee.objects.get(number=number)


def demo_attendance(site: Any, admin: Any) -> None:
    """Shifts, a three-shift rotation, the two departments assigned, the site's calendar, a month of punches
    for a few employees of 生产部 (some late, one day missed), recomputed into daily records, and a manual record."""
    from datetime import date, datetime, time

    from django.utils import timezone

    from central.attendance import services as attendance
    from central.attendance.models import CalendarDay, SiteCalendar
    from central.ingest.models import Punch
    from central.people.models import Department, Employee

    today = timezone.localdate()
    rule = attendance.save_overtime_rule(admin, {"name": "标准加班", "min_minutes": 30, "step_min": 30, "before_start": False,
                                                 "requires_approval": True, "listed_only": False})
    values = {"checkin_before_min": 60, "checkout_after_min": 120, "late_grace_min": 5, "early_grace_min": 0, "flex_min": 0,
              "hours": "first_last", "direction": "alternate", "half_day_below_h": Decimal("4"),
              "absent_below_h": Decimal("1"), "count_on_holidays": False, "rounding_min": None, "rounding_in": "up",
              "rounding_out": "down", "overtime": rule}
    day = attendance.save_shift(admin, {**values, "name": "白班", "start": time(8, 30), "end": time(17, 30),
                                        "color": "#2e7d32", "breaks": [{"start": time(12), "end": time(13)}],
                                        "count_on_holidays": True})  # a Saturday worked is rest-day overtime
    night = attendance.save_shift(admin, {**values, "name": "夜班", "start": time(20, 30), "end": time(5, 30),
                                          "color": "#4527a0", "breaks": [{"start": time(0), "end": time(0, 30)}]})
    attendance.save_shift(admin, {**values, "name": "中班", "start": time(14), "end": time(22), "color": "#ef6c00",
                                  "overtime": None, "breaks": []})
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6], final_wait_h=72)
    first = (today - timedelta(days=45)).replace(day=1)
    rotation = attendance.save_rotation(admin, "两班倒", first, [day.pk, day.pk, night.pk, night.pk, None, None])
    holiday = today - timedelta(days=9)
    while holiday.weekday() >= 5:
        holiday -= timedelta(days=1)
    CalendarDay.objects.create(site=site, date=holiday, kind="holiday", name="厂庆日")
    CalendarDay.objects.create(site=site, date=date(today.year, 10, 1), kind="holiday", name="国庆节")
    CalendarDay.objects.create(site=site, date=date(today.year, 10, 11), kind="workday", name="国庆调休")
    production = Department.objects.get(site=site, name="生产部")
    quality = Department.objects.get(site=site, name="质检部")
    start = today - timedelta(days=40)
    attendance.create_assignment(admin, start=start, end=None, department=production, shift=day)
    attendance.create_assignment(admin, start=start, end=None, department=quality, rotation=rotation)
    zone = ZoneInfo(site.time_zone)
    punches, n = [], 0
    workers = list(Employee.objects.filter(department=production, active=True).order_by("number")[:6])
    for k, emp in enumerate(workers):
        when = start
        while when < today:
            skip = when.weekday() >= 5 or when == holiday or (k == 0 and when.day % 11 == 3)
            if not skip:
                late = 6 + (when.day * 7 + k) % 20 if (when.day + k) % 5 == 0 else 0
                times = [datetime.combine(when, time(8, 10), zone) + timedelta(minutes=(when.day + k * 3) % 20 + late),
                         datetime.combine(when, time(17, 30), zone) + timedelta(minutes=(when.day * 3 + k) % 50)]
                if (when.day + k) % 9 == 0:
                    times[1] = datetime.combine(when, time(19, 5), zone)  # overtime
                for at, way in zip(times, ("in", "out"), strict=True):
                    n += 1
                    punches.append(Punch(id=f"0190c0de-0000-7000-a000-{n:012d}", site=site.code, device_id="zc-gate-01",
                                         employee_number=emp.number, direction=way, method="face", score=0.3,
                                         punched_at=at, boot_id="boot-1", monotonic_ns=n, time_source="ntp",
                                         batch_id="batch-att", received_at=at + timedelta(seconds=2)))
            when += timedelta(days=1)
    saturday = today - timedelta(days=(today.weekday() - 5) % 7 or 7)
    for emp in workers[3:4]:  # came in on the last Saturday: overtime to approve, paid or as time off in lieu
        for clock, way in ((time(8, 55), "in"), (time(13, 2), "out")):
            n += 1
            stamp = datetime.combine(saturday, clock, zone)
            punches.append(Punch(id=f"0190c0de-0000-7000-a000-{n:012d}", site=site.code, device_id="zc-gate-01",
                                 employee_number=emp.number, direction=way, method="face", score=0.3, punched_at=stamp,
                                 boot_id="boot-1", monotonic_ns=n, time_source="ntp", batch_id="batch-att",
                                 received_at=stamp + timedelta(seconds=2)))
    Punch.objects.bulk_create(punches)
    attendance.recompute(start, today, actor=ADMIN)
    kinds = {code: attendance.save_leave_type(admin, {"code": code, "name": name, "paid": paid, "counts_rest_days": natural,
                                                      "yearly_days": days, "carry_over_days": carry,
                                                      "carry_over_until": 3 if carry else None})
             for code, name, paid, natural, days, carry in (("annual", "年假", True, False, Decimal(5), Decimal(3)),
                                                            ("sick", "病假", True, False, None, None),
                                                            ("personal", "事假", False, False, None, None),
                                                            ("maternity", "产假", True, True, Decimal(158), None))}
    attendance.save_leave_type(admin, {"code": "comp", "name": "调休假", "paid": True, "counts_rest_days": False,
                                       "in_lieu": True})
    if workers:
        from central.attendance.requests import record_leave

        sick = today - timedelta(days=3)
        while sick.weekday() >= 5:
            sick -= timedelta(days=1)
        record_leave(workers[0], kinds["sick"], sick, sick, reason="已交医院证明", actor=ADMIN)
        trip = attendance.save_leave_type(admin, {"code": "trip", "name": "出差", "paid": True, "counts_rest_days": False,
                                                  "on_duty": True})
        away = sick - timedelta(days=2)
        while away.weekday() >= 5:
            away -= timedelta(days=1)
        record_leave(workers[0], trip, away, away, reason="客户现场调试", actor=ADMIN)
    if len(workers) >= 3:  # requests waiting, and HR's rule that tells their managers at once
        from central.attendance.demo_history import file_waiting_requests

        file_waiting_requests(site, workers[1], workers[2], kinds["annual"], today, leave_days=3,
                              changing=workers[5] if len(workers) > 5 else None)


# -- the tour --------------------------------------------------------------------------------------
def take(driver: WebDriver, out: Path, name: str, written: list[Path]) -> None:
    driver.execute_script("document.activeElement && document.activeElement.blur && document.activeElement.blur()")
    path = out / f"{name}.png"
    if not driver.save_screenshot(str(path)):
        raise ScreenshotError(f"Chromium could not save {path}")
    written.append(path)


def tour(driver: WebDriver, base_url: str, password: str, out: Path) -> list[Path]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    written: list[Path] = []
    driver.get(f"{base_url}/login/")
    take(driver, out, "console-login", written)
    sign_in(driver, base_url, ADMIN, password)
    take(driver, out, "console-home", written)
    take_dashboard(driver, base_url, out, "console-dashboard-zh", written)
    driver.get(f"{base_url}/employees/")
    take(driver, out, "console-employees", written)
    driver.get(f"{base_url}/employees/new/")
    driver.find_element(By.NAME, "number").send_keys("1031")
    driver.find_element(By.NAME, "name").send_keys("王小明")
    Select(driver.find_element(By.NAME, "department")).select_by_visible_text("生产部")
    driver.find_element(By.NAME, "card").send_keys("0041E3FF")
    take(driver, out, "console-employee-form", written)
    # a card no reader could produce: refused, the reason beside the card field
    driver.find_element(By.NAME, "card").clear()
    driver.find_element(By.NAME, "card").send_keys("12G4!")
    driver.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
    WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#field-card .error"))
    take(driver, out, "console-employee-refused", written)
    driver.get(f"{base_url}/devices/")
    take(driver, out, "console-devices", written)
    driver.get(f"{base_url}/audit/")
    take(driver, out, "console-audit", written)
    driver.get(f"{base_url}/users/")
    take(driver, out, "console-users", written)
    month = f"{base_url}/attendance/employees/{attendance_demo_employee()}/month/"
    for path, name in (("/attendance/shifts/", "console-attendance-shifts"),
                       ("/attendance/rotations/preview/", "console-attendance-rotation"),
                       ("/attendance/assignments/", "console-attendance-assignments"),
                       ("/attendance/team/", "console-attendance-team"),
                       ("/attendance/calendars/", "console-attendance-holidays"),
                       ("/attendance/leave-types/", "console-attendance-leave-types")):
        driver.get(f"{base_url}{path}")
        take(driver, out, name, written)
    driver.get(f"{base_url}/attendance/closing/")  # last month closed, the changes held on it opened
    driver.execute_script("document.querySelectorAll('details.held').forEach(function (d) { d.open = true; })")
    take(driver, out, "console-month-close", written)
    for path, name in (("/attendance/requests/", "console-requests"), ("/alerts/", "console-notifications")):
        driver.get(f"{base_url}{path}")
        take(driver, out, name, written)
    driver.get(f"{base_url}/attendance/requests/")  # the Saturday worked: paid, or time off in lieu
    driver.execute_script("const b = document.querySelector('#pending-requests tr button[value=in_lieu]');"
                          "b && b.closest('tr').scrollIntoView({block: 'center'})")
    take(driver, out, "console-requests-in-lieu", written)
    driver.get(month)
    take(driver, out, "console-attendance-month", written)
    first, last = demo_month()
    driver.get(f"{base_url}/reports/?report=monthly&first={first}&last={last}&department=生产部&preview=1")
    take(driver, out, "console-reports", written)
    driver.get(f"{base_url}/employees/")
    switch_language(driver, "en")
    take(driver, out, "console-employees-en", written)
    driver.get(month)
    take(driver, out, "console-attendance-month-en", written)
    driver.get(f"{base_url}/attendance/shifts/")
    take(driver, out, "console-attendance-shifts-en", written)
    take_dashboard(driver, base_url, out, "console-dashboard-en", written)
    from central.live.display_screenshots import make_display_token, wall_display_shot

    written.append(wall_display_shot(driver, base_url, make_display_token(), out))
    return written


def take_dashboard(driver: WebDriver, base_url: str, out: Path, name: str, written: list[Path]) -> None:
    """The whole live dashboard (the window made as tall as the page, then put back)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base_url}/")
    WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#stat-on-site"))
    width, height = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    tall = min(int(driver.execute_script("return document.documentElement.scrollHeight")), 3000)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": tall, "deviceScaleFactor": 1, "mobile": False})
    try:
        time.sleep(0.3)
        take(driver, out, name, written)
    finally:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def demo_month() -> tuple[str, str]:
    """Last month, which demo_attendance fills whole (its punches run from 40 days back), as the report form's dates."""
    from django.utils import timezone

    last = timezone.localdate().replace(day=1) - timedelta(days=1)
    first = last.replace(day=1)
    return first.isoformat(), last.isoformat()


def attendance_demo_employee() -> int:
    """The employee whose month the tour shows: the first of 生产部 in the demo (punches, a late day, a leave)."""
    from central.people.models import Employee

    first = Employee.objects.filter(department__name="生产部", active=True).order_by("number").first()
    return first.pk if first else 0


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x800, got {text!r}") from None
    if not (640 <= width <= 3840 and 480 <= height <= 3840):
        raise argparse.ArgumentTypeError(f"size {text} is out of range")
    return width, height


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m central.console.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots", help="output folder")
    parser.add_argument("--size", type=parse_size, default=(1280, 800), help="browser window (default 1280x800)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="seed-console-shots-"))
    try:
        database = folder / "central.db"
        password = build_demo(database)
        from django.db import connections

        connections.close_all()  # the server process owns the database from here
        with ConsoleServer(str(database), folder / "console.log") as server, chromium(args.size) as driver:
            try:
                written = tour(driver, server.url, password, out)
            except Exception:
                print(server.log_tail(), file=sys.stderr)
                raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for path in written:
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
