"""The console's report pages as each role, with Django's test client.

Site A (上海工厂) holds a generated month (``fill_month``: 36 people, punches, records); site B holds one
employee whose name and number are markers. Whatever an HR admin of site A asks for, no preview and no
download holds site B's rows; a download is read back with csv / openpyxl / pdftotext; an employee gets 403.
"""
from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from central_support import client_for
from django.urls import reverse

from central.accounts.models import Role, User
from central.attendance.demo_history import fill_month
from central.attendance.models import AttendanceProfile, DailyRecord, ShiftType
from central.attendance.services import recompute
from central.people import roster
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db
MARCH = {"first": "2026-03-01", "last": "2026-03-31"}
B_MARKERS = ("乙厂专员", "B-SECRET-1")
ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    sh = Site.objects.create(code="sh", name="上海工厂", time_zone="Asia/Shanghai")
    fill_month("sh", date(2026, 4, 3), device_id="gate-1")  # records 2026-03-04 .. 2026-04-02
    bj = Site.objects.create(code="bj", name="北京乙厂", time_zone="Asia/Shanghai")
    roster.upsert_employees([{"number": "B-SECRET-1", "name": "乙厂专员", "department": "乙厂专员部", "site": "bj"}])
    secret = Employee.objects.get(number="B-SECRET-1")
    AttendanceProfile.objects.create(employee=secret, joined=date(2026, 3, 1),
                                     default_shift=ShiftType.objects.get(name="白班 Day"))
    recompute(date(2026, 3, 1), date(2026, 3, 31), employees=Employee.objects.filter(pk=secret.pk), actor="test")
    office = Department.objects.get(site=sh, name="行政 Office")
    users = {
        "superuser": User.objects.create_superuser("boss", password="x" * 12),
        "hr_admin": _user("hr", Role.HR_ADMIN, sites=[sh]),
        "manager": _user("mg", Role.MANAGER, departments=[office]),
        "auditor": _user("au", Role.AUDITOR, sites=[sh]),
        "employee": _user("em", Role.EMPLOYEE, employee=Employee.objects.get(number="M005")),
    }
    return {"sh": sh, "bj": bj, "office": office, "users": users}


def _user(name: str, role: str, *, sites: Any = (), departments: Any = (), employee: Any = None) -> User:
    user = User.objects.create_user(name, password="x" * 12, role=role, employee=employee)
    user.sites.set(sites)
    user.departments.set(departments)
    return user



def _get(user: User, **params: str) -> Any:
    return client_for(user).get(reverse("console:reports"), params)


@pytest.mark.parametrize("role", ["superuser", "hr_admin", "manager", "auditor"])
def test_staff_roles_open_every_report_with_its_filters(world: dict[str, Any], role: str) -> None:
    for name in ("monthly", "daily", "summary", "exceptions", "punches", "payroll", "schedule", "leave"):
        page = _get(world["users"][role], report=name)
        assert page.status_code == 200, (role, name)
        text = page.content.decode()
        assert 'name="first"' in text and 'name="site"' in text and 'id="download-csv"' in text
        for marker in B_MARKERS:
            assert marker not in text or role == "superuser"


def test_the_default_range_is_last_month_for_the_sheet_and_yesterday_for_the_daily_report(world: dict[str, Any]) -> None:
    from django.utils import timezone

    today = timezone.localdate()
    boss = world["users"]["superuser"]
    daily = _get(boss, report="daily").context["form"]
    monthly = _get(boss, report="monthly").context["form"]
    yesterday = date.fromordinal(today.toordinal() - 1)
    assert daily["first"].value() == yesterday and daily["last"].value() == yesterday
    first, last = monthly["first"].value(), monthly["last"].value()
    assert first.day == 1 and last.month == first.month and last.month != today.month
    assert date.fromordinal(last.toordinal() + 1) == today.replace(day=1)
    plan = _get(boss, report="schedule").context["form"]  # a plan: this month, its first to its last day
    first, last = plan["first"].value(), plan["last"].value()
    assert first == today.replace(day=1) and last.month == today.month
    assert date.fromordinal(last.toordinal() + 1).day == 1


def test_an_employee_gets_403_on_every_report_page(world: dict[str, Any]) -> None:
    client = client_for(world["users"]["employee"])
    assert client.get(reverse("console:reports")).status_code == 403
    assert client.get(reverse("console:reports"), {"report": "monthly", "preview": "1", **MARCH}).status_code == 403
    assert client.get(reverse("console:reports"), {"report": "monthly", "format": "csv", **MARCH}).status_code == 403
    assert client.get(reverse("console:report_schedules")).status_code == 403
    assert "nav-reports" not in client.get(reverse("console:home")).content.decode()


def test_the_monthly_preview_shows_the_sites_rows_flags_totals_and_legend(world: dict[str, Any]) -> None:
    page = _get(world["users"]["hr_admin"], report="monthly", preview="1", **MARCH)
    assert page.status_code == 200
    text = page.content.decode()
    for marker in B_MARKERS:
        assert marker not in text
    people = Employee.objects.filter(site__code="sh").count()
    assert f"共 {people} 行" in text
    assert 'class="rc-symbol flag-bad"' in text  # an absence or a late day, in red
    assert 'id="totals-sheet"' in text and 'id="report-legend"' in text
    # the preview shows at most 50 rows of a part
    part = page.context["preview"][0]
    assert len(part.rows) == min(people, 50)
    # the totals row: late times of the month, counted here from the engine's records
    late = DailyRecord.objects.filter(employee__site__code="sh", date__range=(date(2026, 3, 1), date(2026, 3, 31)),
                                      late=True).count()
    assert late > 0
    late_cell = part.totals[[c.key for c in part.columns].index("late")]
    assert late_cell.text == str(late)
    assert f'<td class="rc-int num">{late}</td>' in text


def test_an_hr_admin_asking_for_site_b_is_refused_on_the_form(world: dict[str, Any]) -> None:
    page = _get(world["users"]["hr_admin"], report="monthly", preview="1", site="bj", **MARCH)
    assert page.status_code == 200 and "site" in page.context["form"].errors
    assert page.context["report"] is None
    for marker in B_MARKERS:
        assert marker not in page.content.decode()
    download = _get(world["users"]["hr_admin"], report="punches", format="csv", site="bj", **MARCH)
    assert download.status_code == 200 and "Content-Disposition" not in download
    assert "乙厂专员" not in download.content.decode()


def test_a_manager_sees_only_their_department(world: dict[str, Any]) -> None:
    page = _get(world["users"]["manager"], report="monthly", preview="1", **MARCH)
    numbers = {cells[0].text for _, cells in page.context["preview"][0].rows}
    expected = set(Employee.objects.filter(department=world["office"]).values_list("number", flat=True))
    assert numbers == expected and len(expected) > 1


def test_the_superuser_sees_both_sites(world: dict[str, Any]) -> None:
    page = _get(world["users"]["superuser"], report="monthly", preview="1", **MARCH)
    assert "乙厂专员" in page.content.decode()


def test_a_report_error_is_shown_on_the_form_not_a_500(world: dict[str, Any]) -> None:
    backwards = _get(world["users"]["hr_admin"], report="monthly", preview="1", first="2026-03-31", last="2026-03-01")
    assert backwards.status_code == 200
    assert "结束日期早于开始日期" in backwards.content.decode() and 'id="report-error"' in backwards.content.decode()
    too_long = _get(world["users"]["hr_admin"], report="monthly", format="csv", first="2026-01-01", last="2026-12-31")
    assert too_long.status_code == 200 and "Content-Disposition" not in too_long
    assert "日期范围过长" in too_long.content.decode()
    unknown = _get(world["users"]["hr_admin"], report="monthly", format="docx", **MARCH)
    assert unknown.status_code == 200 and "不支持的格式" in unknown.content.decode()
    assert _get(world["users"]["hr_admin"], report="nonsense").status_code == 404


def _expected_numbers(site: str) -> set[str]:
    return set(Employee.objects.filter(site__code=site).values_list("number", flat=True))


def test_a_csv_download_read_back_holds_only_the_callers_site(world: dict[str, Any]) -> None:
    answer = _get(world["users"]["hr_admin"], report="monthly", format="csv", **MARCH)
    assert answer.status_code == 200
    assert answer["Content-Disposition"] == 'attachment; filename="seed-monthly-2026-03-01_2026-03-31.csv"'
    assert answer["Content-Type"].startswith("text/csv")
    text = answer.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    numbers = {row[0] for row in rows[1:] if row and row[0].startswith(("M", "B", "X"))}
    assert numbers == _expected_numbers("sh")
    assert "乙厂专员" not in text
    late = header.index("迟到次数 Late (times)")
    expected_late = DailyRecord.objects.filter(employee__number="M010", date__range=(date(2026, 3, 1), date(2026, 3, 31)),
                                               late=True).count()
    assert next(int(r[late]) for r in rows[1:] if r and r[0] == "M010") == expected_late


def test_an_xlsx_download_read_back_with_openpyxl(world: dict[str, Any]) -> None:
    import openpyxl

    answer = _get(world["users"]["hr_admin"], report="monthly", format="xlsx", **MARCH)
    assert answer.status_code == 200, answer.content[:500]
    assert answer["Content-Disposition"] == 'attachment; filename="seed-monthly-2026-03-01_2026-03-31.xlsx"'
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    cells = {str(c.value) for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value is not None}
    assert _expected_numbers("sh") <= cells
    assert not any("乙厂专员" in c or "B-SECRET" in c for c in cells)


def test_a_pdf_download_read_back_with_pdftotext(world: dict[str, Any], tmp_path: Any) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    answer = _get(world["users"]["hr_admin"], report="punches", format="pdf", first="2026-03-10", last="2026-03-12")
    assert answer.status_code == 200, answer.content[:500]
    assert answer.content.startswith(b"%PDF")
    (tmp_path / "r.pdf").write_bytes(answer.content)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "r.pdf"), "-"], capture_output=True, check=True,
                          text=True).stdout
    assert "M010" in text and "乙厂专员" not in text and "B-SECRET" not in text


def test_punch_log_download_as_superuser_holds_site_b(world: dict[str, Any]) -> None:
    from central.ingest.handler import store_punches

    at = datetime(2026, 3, 10, 8, 55, tzinfo=ZONE)
    store_punches([{"id": "0190f3a0-0000-7000-8000-00000000b001", "site": "bj", "device_id": "door-b",
                    "employee_number": "B-SECRET-1", "direction": "in", "method": "card", "score": None,
                    "punched_at": at, "boot_id": "b", "monotonic_ns": 0, "time_source": "ntp",
                    "original_punched_at": None, "restamped_at": None,
                    "batch_id": "0190f3a0-0000-7000-8000-0000000000bb", "received_at": at}])
    params = {"report": "punches", "format": "csv", "first": "2026-03-10", "last": "2026-03-10"}
    boss = _get(world["users"]["superuser"], **params).content.decode("utf-8-sig")
    hr = _get(world["users"]["hr_admin"], **params).content.decode("utf-8-sig")
    assert "B-SECRET-1" in boss and "B-SECRET-1" not in hr
    assert "M010" in hr


def test_the_pages_speak_chinese_first_and_english_from_the_apps_catalogue(world: dict[str, Any]) -> None:
    client = client_for(world["users"]["hr_admin"])
    chinese = client.get(reverse("console:reports"), {"report": "monthly"}).content.decode()
    assert ">预览</button>" in chinese and "定时报表</a>" in chinese
    client.cookies["seed_language"] = "en"
    english = client.get(reverse("console:reports"), {"report": "monthly"}).content.decode()
    assert ">Preview</button>" in english and "Scheduled reports</a>" in english and "预览" not in english
    schedules_page = client.get(reverse("console:report_schedules")).content.decode()
    assert "No scheduled reports yet." in schedules_page and "还没有定时报表" not in schedules_page
