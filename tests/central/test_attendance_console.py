"""The attendance console pages through Django's test client: shifts and overtime rules, rotations and their
calendar preview, assignments (one employee or a whole department), holiday calendars and each employee's
month with manual records. Every form's happy path and its refusals; scope (another site's HR admin gets
404), hostile input, and the month page's numbers against the records ``recompute`` made from punches.
"""
from __future__ import annotations

import html
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from central.accounts.models import AuditEntry, Role, User
from central.attendance.models import (
    Assignment,
    AttendanceProfile,
    CalendarDay,
    DailyRecord,
    LeaveType,
    OvertimeRule,
    Rotation,
    ShiftType,
    SiteCalendar,
)
from central.ingest.models import Punch
from central.people.models import Department, Employee, Site

pytestmark = [pytest.mark.django_db, pytest.mark.central]
SHANGHAI = ZoneInfo("Asia/Shanghai")
PASSWORD = "correct-horse-battery"


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    hq = Site.objects.create(code="hq", name="总部", time_zone="Asia/Shanghai")
    plant = Site.objects.create(code="plant", name="工厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=hq, weekly_rest=[5, 6])
    sales = Department.objects.create(site=hq, name="销售部")
    line = Department.objects.create(site=plant, name="生产一线")
    people = {
        "E001": Employee.objects.create(number="E001", name="张伟", site=hq, department=sales),
        "E002": Employee.objects.create(number="E002", name="王芳", site=hq, department=sales),
        "P001": Employee.objects.create(number="P001", name="李娜", site=plant, department=line),
    }
    users = {
        "root": _user("root", Role.HR_ADMIN, superuser=True),
        "hr_hq": _user("hr_hq", Role.HR_ADMIN, sites=[hq]),
        "hr_plant": _user("hr_plant", Role.HR_ADMIN, sites=[plant]),
        "manager": _user("mg", Role.MANAGER, departments=[sales]),
        "auditor": _user("au", Role.AUDITOR),
        "employee": _user("em", Role.EMPLOYEE, employee=people["E001"]),
    }
    return {"hq": hq, "plant": plant, "sales": sales, "line": line, "people": people, "users": users}


def _user(name: str, role: str, *, sites: Any = (), departments: Any = (), employee: Any = None,
          superuser: bool = False) -> User:
    user = User.objects.create_user(name, password=PASSWORD, role=role, is_superuser=superuser, employee=employee)
    user.sites.set(sites)
    user.departments.set(departments)
    return user


def client_for(world: dict[str, Any], who: str) -> Client:
    client = Client()
    client.force_login(world["users"][who])
    return client


def shift_post(**changes: Any) -> dict[str, Any]:
    data = {"name": "白班", "start": "09:00", "end": "18:00", "color": "#2e7d32", "checkin_before_min": "60",
            "checkout_after_min": "120", "late_grace_min": "5", "early_grace_min": "0", "hours": "first_last",
            "direction": "alternate", "half_day_below_h": "", "absent_below_h": "", "rounding_min": "",
            "rounding_in": "up", "rounding_out": "down", "overtime": "", "breaks_text": "12:00-13:00"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def day_shift(**changes: Any) -> ShiftType:
    values = {"name": "白班", "start": time(9), "end": time(18), "checkin_before_min": 60, "checkout_after_min": 120,
              "late_grace_min": 5, "early_grace_min": 0, "breaks": [{"start": "12:00", "end": "13:00"}],
              "color": "#2e7d32"}
    values.update(changes)
    return ShiftType.objects.create(**values)


def errors_of(body: bytes, field: str) -> list[str]:
    """The error texts shown beside one field of a re-rendered form."""
    text = body.decode()
    block = re.search(rf'id="field-{field}".*?(?=<div class="field|<div class="form-actions|</form>)', text, re.S)
    assert block, f"no field {field} on the page"
    return [html.unescape(e) for e in re.findall(r'<div class="error" role="alert">(.*?)</div>', block.group(0), re.S)]


def recent_workday(today: date | None = None) -> date:
    """A Monday-to-Friday day at least two days ago (so its shift and window are long over)."""
    day = (today or timezone.localdate()) - timedelta(days=2)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def make_punch(number: str, site: str, local: datetime, direction: str, n: int) -> Punch:
    at = local.replace(tzinfo=SHANGHAI).astimezone(ZoneInfo("UTC"))
    return Punch.objects.create(id=f"0190f3a0-0000-7000-8000-{n:012d}", site=site, device_id="door-hq",
                                employee_number=number, direction=direction, method="face", punched_at=at,
                                boot_id="b", monotonic_ns=n, time_source="ntp",
                                batch_id="0190f3a0-0000-7000-8000-0000000000bb", received_at=at)


def audit_actions() -> list[str]:
    return list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))


# -- shifts and overtime rules ---------------------------------------------------------------------
def test_shift_form_saves_every_field_and_edits_are_audited(world: dict[str, Any]) -> None:
    hr = client_for(world, "hr_hq")
    url = reverse("console:attendance_shifts")
    rule = hr.post(reverse("console:attendance_overtime"), {"name": "标准加班", "min_minutes": "30", "step_min": "15",
                                                            "requires_approval": "on"})
    assert rule.status_code == 302
    ot = OvertimeRule.objects.get(name="标准加班")
    assert (ot.min_minutes, ot.step_min, ot.requires_approval, ot.before_start) == (30, 15, True, False)

    answer = hr.post(url, shift_post(name="夜班", start="22:00", end="06:00", breaks_text="02:00-02:30, 04:00–04:15",
                                     late_grace_min="", half_day_below_h="6", absent_below_h="2.5", rounding_min="15",
                                     rounding_in="nearest", overtime=str(ot.pk), count_on_holidays="on",
                                     direction="as_punched", hours="pairs"))
    assert answer.status_code == 302, errors_of(answer.content, "breaks_text")
    night = ShiftType.objects.get(name="夜班")
    assert (night.start, night.end, night.late_grace_min, night.early_grace_min) == (time(22), time(6), None, 0)
    assert night.breaks == [{"start": "02:00", "end": "02:30"}, {"start": "04:00", "end": "04:15"}]
    assert (night.half_day_below_h, night.absent_below_h, night.rounding_min, night.rounding_in) == (
        Decimal("6.00"), Decimal("2.50"), 15, "nearest")
    assert (night.overtime, night.count_on_holidays, night.direction, night.hours, night.color) == (
        ot, True, "as_punched", "pairs", "#2e7d32")

    page = hr.get(url)
    text = page.content.decode()
    assert "夜班" in text and "22:00–06:00" in text and "02:00-02:30, 04:00-04:15" in text and "标准加班" in text
    assert "7.25" in text  # 8 h less 45 min of breaks

    edit = hr.get(url, {"edit": night.pk})
    assert f'name="id" value="{night.pk}"' in edit.content.decode()
    assert 'value="02:00-02:30, 04:00-04:15"' in edit.content.decode()
    answer = hr.post(url, shift_post(id=str(night.pk), name="夜班", start="22:00", end="07:00", breaks_text=""))
    assert answer.status_code == 302
    night.refresh_from_db()
    assert (night.end, night.breaks) == (time(7), [])
    assert ShiftType.objects.count() == 1
    actions = audit_actions()
    assert actions[:3] == ["attendance.overtime_rule.create", "attendance.shift.create", "attendance.shift.update"]
    entry = AuditEntry.objects.get(action="attendance.shift.update")
    assert (entry.actor, entry.target, entry.detail["end"]) == ("hr_hq", "夜班", "07:00")


@pytest.mark.parametrize(("changes", "field", "says"), [
    ({"end": "09:00"}, "end", "不能等于上班时间"),
    ({"breaks_text": "19:00-19:30"}, "breaks_text", "不在班次时间内"),
    ({"breaks_text": "08:00-09:30"}, "breaks_text", "不在班次时间内"),
    ({"breaks_text": "12:00-13:00, 12:30-13:30"}, "breaks_text", "重叠"),
    ({"breaks_text": "noon to one"}, "breaks_text", "12:00-13:00"),
    ({"breaks_text": "12:00-25:00"}, "breaks_text", "时间无效"),
    ({"name": "班" * 10_000}, "name", "100"),
    ({"name": "   "}, "name", ""),
    ({"start": "9 o'clock"}, "start", ""),
    ({"late_grace_min": "-5"}, "late_grace_min", ""),
    ({"checkin_before_min": "100000"}, "checkin_before_min", ""),
    ({"half_day_below_h": "4", "absent_below_h": "6"}, "absent_below_h", "缺勤阈值"),
    ({"half_day_below_h": "12"}, "half_day_below_h", "超过班次时长"),
    ({"rounding_min": "0"}, "rounding_min", ""),
    ({"color": "url(x"}, "color", "#RRGGBB"),
    ({"overtime": "99999"}, "overtime", ""),
])
def test_shift_form_refuses_on_the_field_and_saves_nothing(world: dict[str, Any], changes: dict[str, str], field: str,
                                                           says: str) -> None:
    hr = client_for(world, "hr_hq")
    answer = hr.post(reverse("console:attendance_shifts"), shift_post(**changes))
    assert answer.status_code == 200
    errors = errors_of(answer.content, field)
    assert errors and says in " ".join(errors), errors
    assert not ShiftType.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="attendance.shift").exists()


def test_shift_names_are_unique_and_the_night_shift_break_after_midnight_is_inside(world: dict[str, Any]) -> None:
    hr = client_for(world, "hr_hq")
    url = reverse("console:attendance_shifts")
    assert hr.post(url, shift_post()).status_code == 302
    again = hr.post(url, shift_post(start="08:00"))
    assert "已有名为 白班 的班次" in " ".join(errors_of(again.content, "name"))
    assert hr.post(url, shift_post(name="夜", start="22:00", end="06:00", breaks_text="23:30-00:30")).status_code == 302
    assert ShiftType.objects.get(name="夜").breaks == [{"start": "23:30", "end": "00:30"}]


def test_who_may_change_shifts(world: dict[str, Any]) -> None:
    url = reverse("console:attendance_shifts")
    for who in ("manager", "auditor"):
        client = client_for(world, who)
        page = client.get(url)
        assert page.status_code == 200 and 'name="breaks_text"' not in page.content.decode()
        assert client.post(url, shift_post()).status_code == 403
    employee = client_for(world, "employee")
    assert employee.get(url).status_code == 403
    assert employee.post(url, shift_post()).status_code == 403
    assert not ShiftType.objects.exists()
    assert client_for(world, "hr_hq").get(url, {"edit": 99999}).status_code == 404


# -- rotations -------------------------------------------------------------------------------------
def test_rotation_pattern_is_saved_in_order_and_previewed_by_crew_and_employee(world: dict[str, Any]) -> None:
    day = day_shift()
    night = day_shift(name="夜班", start=time(22), end=time(6), breaks=[], color="#4527a0")
    hr = client_for(world, "hr_hq")
    url = reverse("console:attendance_rotations")
    form = hr.get(url).content.decode()
    assert form.count('name="pattern"') == 14
    anchor = date(2026, 3, 1)
    answer = hr.post(url, {"name": "两班倒", "anchor": anchor.isoformat(),
                           "pattern": [str(day.pk), str(day.pk), str(night.pk), str(night.pk), "rest", "rest", "", ""]})
    assert answer.status_code == 302
    rotation = Rotation.objects.get(name="两班倒")
    assert rotation.pattern == [day.pk, day.pk, night.pk, night.pk, None, None]
    assert answer["Location"].endswith(f"?rotation={rotation.pk}")
    assert AuditEntry.objects.filter(action="attendance.rotation.create", target="两班倒").exists()

    listing = hr.get(url).content.decode()
    assert "两班倒" in listing and listing.count('class="pday pday-rest"') == 2

    Assignment.objects.create(employee=world["people"]["E002"], rotation=rotation, start=anchor)
    Assignment.objects.create(employee=world["people"]["P001"], rotation=rotation, start=anchor)  # another site
    preview = hr.get(reverse("console:attendance_rotation_preview"), {"rotation": rotation.pk, "month": "2026-03"})
    assert preview.status_code == 200
    text = preview.content.decode()
    body = text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr[^>]*>\s*<th class=\"roster-who\">(.*?)</tr>", body, re.S)
    assert len(rows) == 4  # three crews (6 days / a first run of 2), then the one employee hr_hq can see
    assert "王芳" in rows[3] and "李娜" not in text

    def cells(row: str) -> list[str]:
        return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td class=\"roster-cell[^\"]*\"[^>]*>(.*?)</td>", row)]

    crew1, crew2 = cells(rows[0]), cells(rows[1])
    assert len(crew1) == 31
    assert crew1[:7] == ["白班", "白班", "夜班", "夜班", "休", "休", "白班"]
    assert crew2[:4] == ["休", "休", "白班", "白班"]  # the pattern started two days later
    assert cells(rows[3]) == crew1  # the employee follows the rotation from its anchor

    # the month links move by a month; an htmx request gets the grid alone
    assert "month=2026-02" in text and "month=2026-04" in text
    partial = hr.get(reverse("console:attendance_rotation_preview"), {"rotation": rotation.pk, "month": "2026-04"},
                     HTTP_HX_REQUEST="true", HTTP_HX_TARGET="preview")
    assert b"<html" not in partial.content and b"rotation-grid" in partial.content
    assert hr.get(reverse("console:attendance_rotation_preview"), {"rotation": 99999}).status_code == 404


@pytest.mark.parametrize(("pattern", "field", "says"), [
    (["99999", "rest"], "pattern", "没有编号为 99999 的班次"),
    (["abc"], "pattern", "无效"),
    (["", ""], "pattern", "至少"),
    (["rest", "rest"], "pattern", "至少要有一个班次"),
])
def test_rotation_refusals(world: dict[str, Any], pattern: list[str], field: str, says: str) -> None:
    day_shift()
    hr = client_for(world, "hr_hq")
    answer = hr.post(reverse("console:attendance_rotations"), {"name": "轮", "anchor": "2026-03-01", "pattern": pattern})
    assert answer.status_code == 200
    assert says in " ".join(errors_of(answer.content, field))
    assert not Rotation.objects.exists()


def test_rotation_name_and_anchor_refusals(world: dict[str, Any]) -> None:
    shift = day_shift()
    hr = client_for(world, "hr_hq")
    url = reverse("console:attendance_rotations")
    answer = hr.post(url, {"name": "轮" * 10_000, "anchor": "not a day", "pattern": [str(shift.pk)]})
    assert errors_of(answer.content, "name") and errors_of(answer.content, "anchor")
    assert not Rotation.objects.exists()
    assert client_for(world, "manager").post(url, {"name": "x", "anchor": "2026-03-01", "pattern": [str(shift.pk)]}
                                             ).status_code == 403


# -- assignments, recompute and the month page ------------------------------------------------------
def test_department_assignment_recomputes_and_the_month_shows_the_records(world: dict[str, Any]) -> None:
    shift = day_shift()
    worked = recent_workday()
    start = worked - timedelta(days=6)
    make_punch("E001", "hq", datetime.combine(worked, time(9, 7)), "in", 1)
    make_punch("E001", "hq", datetime.combine(worked, time(18, 30)), "out", 2)
    hr = client_for(world, "hr_hq")
    answer = hr.post(reverse("console:attendance_assignments"), {
        "holder": "department", "department": str(world["sales"].pk), "employee": "", "schedule": f"shift-{shift.pk}",
        "start": start.isoformat(), "end": ""})
    assert answer.status_code == 302
    row = Assignment.objects.get()
    assert (row.department, row.employee, row.shift, row.start, row.end, row.created_by) == (
        world["sales"], None, shift, start, None, "hr_hq")
    assert {"attendance.assignment.create", "attendance.recompute"} <= set(audit_actions())

    # recompute made the records: E001 present and late on the day worked, both absent on other past weekdays
    rec = DailyRecord.objects.get(employee__number="E001", date=worked)
    assert (rec.status, rec.late, rec.late_min, rec.hours, rec.final, rec.shift_name) == (
        "present", True, 7, Decimal("8.38"), True, "白班")
    absent = DailyRecord.objects.filter(employee__number="E002", status="absent", date__lt=worked)
    assert absent.exists() and all(r.date.weekday() < 5 for r in absent)
    assert not DailyRecord.objects.filter(employee__number="P001").exists()

    listing = hr.get(reverse("console:attendance_assignments")).content.decode()
    assert "整个部门" in listing and "销售部" in listing

    # the month page of the worked day: its numbers are those of the records
    month = hr.get(reverse("console:attendance_month", args=[world["people"]["E001"].pk]), {"month": f"{worked:%Y-%m}"})
    assert month.status_code == 200
    text = month.content.decode()
    first = worked.replace(day=1)
    rows = DailyRecord.objects.filter(employee__number="E001", date__gte=first,
                                      date__lt=(first + timedelta(days=32)).replace(day=1))
    assert _stat(text, "total-present") == str(rows.filter(status="present").count())
    assert _stat(text, "total-absent") == str(rows.filter(status="absent").count())
    assert _stat(text, "total-hours") == str(sum((r.hours for r in rows), Decimal("0.00")))
    cell = _day_cell(text, worked)
    assert 'data-status="present"' in cell and "8.38 h" in cell and "迟到 7 分" in cell
    assert "09:07↓" in cell and "18:30↑" in cell  # the punches, in Shanghai time
    assert "mark-final" in cell
    for r in rows.filter(status="absent"):
        assert 'data-status="absent"' in _day_cell(text, r.date)


def test_the_month_says_how_many_of_its_days_are_not_final_yet(world: dict[str, Any]) -> None:
    """Said on its own line under the hours (it was "N provisional" in the overtime card, read as overtime)."""
    emp = world["people"]["E001"]
    url = reverse("console:attendance_month", args=[emp.pk])
    hr = client_for(world, "hr_hq")
    for day, final in ((date(2026, 3, 2), True), (date(2026, 3, 3), False)):
        DailyRecord.objects.create(employee=emp, date=day, shift_name="白班", status="present", source="punches",
                                   hours=Decimal("8.00"), final=final)
    page = hr.get(url, {"month": "2026-03"}).content.decode()
    assert _stat(page, "total-provisional") == "1 天未定稿，数字可能还会变"
    assert "条待定" not in page
    DailyRecord.objects.create(employee=emp, date=date(2026, 3, 4), shift_name="白班", status="present",
                               source="punches", hours=Decimal("8.00"), final=False)
    hr.cookies["seed_language"] = "en"
    page = hr.get(url, {"month": "2026-03"}).content.decode()
    assert _stat(page, "total-provisional") == "2 days not final yet: the numbers may still change"
    DailyRecord.objects.filter(employee=emp).update(final=True)
    assert 'id="total-provisional"' not in hr.get(url, {"month": "2026-03"}).content.decode()


def _stat(text: str, ident: str) -> str:
    found = re.search(rf'id="{ident}">([^<]*)<', text)
    assert found, ident
    return found.group(1).strip()


def _day_cell(text: str, day: date) -> str:
    found = re.search(rf'id="day-{day.isoformat()}">(.*?)</td>', text, re.S)
    assert found, day
    return found.group(1)


def test_employee_assignment_refusals_and_scope(world: dict[str, Any]) -> None:
    shift = day_shift()
    url = reverse("console:attendance_assignments")
    base = {"holder": "employee", "employee": "E001", "department": "", "schedule": f"shift-{shift.pk}",
            "start": "2026-03-10", "end": "2026-03-01"}
    hr = client_for(world, "hr_hq")
    answer = hr.post(url, base)
    assert "结束日期早于开始日期" in " ".join(errors_of(answer.content, "end"))
    answer = hr.post(url, {**base, "end": "", "employee": "E" * 10_000})
    assert errors_of(answer.content, "employee")
    answer = hr.post(url, {**base, "end": "", "schedule": "shift-99999"})
    assert errors_of(answer.content, "schedule")
    answer = hr.post(url, {**base, "end": "", "schedule": ""})
    assert errors_of(answer.content, "schedule")
    # another site's HR admin: the employee and the department are not there for them
    other = client_for(world, "hr_plant")
    answer = other.post(url, {**base, "end": ""})
    assert "没有工号为 E001 的员工" in " ".join(errors_of(answer.content, "employee"))
    answer = other.post(url, {**base, "end": "", "holder": "department", "department": str(world["sales"].pk)})
    assert errors_of(answer.content, "department")
    assert "销售部" not in answer.content.decode()
    assert client_for(world, "manager").post(url, {**base, "end": ""}).status_code == 403
    assert not Assignment.objects.exists()

    # a good one, then removal: only within scope
    assert hr.post(url, {**base, "end": "2026-03-20"}).status_code == 302
    row = Assignment.objects.get()
    assert (row.employee.number, row.start, row.end) == ("E001", date(2026, 3, 10), date(2026, 3, 20))
    delete = reverse("console:attendance_assignment_delete")
    assert other.post(delete, {"id": row.pk}).status_code == 404
    assert client_for(world, "manager").post(delete, {"id": row.pk}).status_code == 403
    assert other.get(url).content.decode().count("E001") == 0
    assert hr.post(delete, {"id": row.pk}).status_code == 302
    assert not Assignment.objects.exists()
    assert AuditEntry.objects.filter(action="attendance.assignment.delete", target="E001").exists()


def test_removing_an_assignment_removes_the_records_it_made(world: dict[str, Any]) -> None:
    shift = day_shift()
    start = recent_workday() - timedelta(days=3)
    hr = client_for(world, "hr_hq")
    hr.post(reverse("console:attendance_assignments"), {"holder": "employee", "employee": "E002",
                                                        "schedule": f"shift-{shift.pk}", "start": start.isoformat()})
    assert DailyRecord.objects.filter(employee__number="E002", status="absent").exists()
    hr.post(reverse("console:attendance_assignment_delete"), {"id": Assignment.objects.get().pk})
    assert not DailyRecord.objects.filter(employee__number="E002").exists()


def test_assignment_filters(world: dict[str, Any]) -> None:
    shift = day_shift()
    night = day_shift(name="夜班", start=time(22), end=time(6), breaks=[])
    Assignment.objects.create(employee=world["people"]["E001"], shift=shift, start=date(2026, 1, 1))
    Assignment.objects.create(employee=world["people"]["P001"], shift=night, start=date(2026, 1, 1))
    root = client_for(world, "root")
    url = reverse("console:attendance_assignments")
    assert "李娜" in root.get(url).content.decode() and "张伟" in root.get(url).content.decode()
    only = root.get(url, {"site": "plant"}).content.decode()
    assert "李娜" in only and "张伟" not in only
    only = root.get(url, {"schedule": f"shift-{shift.pk}"}).content.decode()
    assert "张伟" in only and "李娜" not in only
    partial = root.get(url, {"q": "李"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="assignment-results")
    assert b"<html" not in partial.content and "李娜" in partial.content.decode()
    manager = client_for(world, "manager").get(url).content.decode()
    assert "张伟" in manager and "李娜" not in manager and 'name="holder"' not in manager


# -- holiday calendars -----------------------------------------------------------------------------
def test_calendar_settings_and_days_recompute_the_site(world: dict[str, Any]) -> None:
    shift = day_shift()
    worked = recent_workday()
    make_punch("E001", "hq", datetime.combine(worked, time(8, 55)), "in", 1)
    make_punch("E001", "hq", datetime.combine(worked, time(18, 5)), "out", 2)
    Assignment.objects.create(employee=world["people"]["E001"], shift=shift, start=worked - timedelta(days=1))
    hr = client_for(world, "hr_hq")
    url = reverse("console:attendance_calendars")
    page = hr.get(url, {"site": "hq"}).content.decode()
    assert 'name="weekly_rest" value="5"' in page and "checked" in page

    # a holiday on the day worked: punches on a holiday make no record for this shift
    answer = hr.post(url, {"site": "hq", "action": "add_day", "date": worked.isoformat(), "kind": "holiday",
                           "name": "<b>厂庆</b>"})
    assert answer.status_code == 302
    assert CalendarDay.objects.get(site=world["hq"], date=worked).name == "<b>厂庆</b>"
    assert not DailyRecord.objects.filter(employee__number="E001", date=worked).exists()
    page = hr.get(url, {"site": "hq", "year": worked.year}).content.decode()
    assert "&lt;b&gt;厂庆&lt;/b&gt;" in page and "<b>厂庆</b>" not in page

    # removed again: the day is worked again
    day_row = CalendarDay.objects.get()
    assert hr.post(url, {"site": "hq", "action": "remove_day", "id": day_row.pk}).status_code == 302
    assert DailyRecord.objects.get(employee__number="E001", date=worked).status == "present"

    # the worked weekday made a weekly rest day: the fixed shift rests then, and nobody is absent on it
    rest = hr.post(url, {"site": "hq", "action": "settings", "weekly_rest": [str(worked.weekday()), "6"],
                         "final_wait_h": "48"})
    assert rest.status_code == 302
    calendar = SiteCalendar.objects.get(site=world["hq"])
    assert (calendar.weekly_rest, calendar.final_wait_h) == (sorted([worked.weekday(), 6]), 48)
    assert not DailyRecord.objects.filter(employee__number="E001", date=worked).exists()
    actions = audit_actions()
    assert {"attendance.calendar_day.save", "attendance.calendar_day.remove", "attendance.calendar.update"} <= set(actions)

    bad = hr.post(url, {"site": "hq", "action": "settings", "weekly_rest": ["9"], "final_wait_h": "0"})
    assert bad.status_code == 200 and errors_of(bad.content, "weekly_rest") and errors_of(bad.content, "final_wait_h")
    bad = hr.post(url, {"site": "hq", "action": "add_day", "date": "2026-02-30", "kind": "holiday"})
    assert errors_of(bad.content, "date")


def test_calendars_are_scoped_by_site(world: dict[str, Any]) -> None:
    url = reverse("console:attendance_calendars")
    other = client_for(world, "hr_plant")
    assert other.get(url, {"site": "hq"}).status_code == 404
    assert other.post(url, {"site": "hq", "action": "add_day", "date": "2026-03-02", "kind": "holiday"}).status_code == 404
    page = other.get(url).content.decode()
    assert "工厂" in page and "总部" not in page
    manager = client_for(world, "manager")
    assert manager.get(url).status_code == 200 and 'name="action"' not in manager.get(url).content.decode()
    assert manager.post(url, {"site": "hq", "action": "add_day", "date": "2026-03-02", "kind": "holiday"}
                        ).status_code == 403
    assert client_for(world, "employee").get(url).status_code == 403
    assert not CalendarDay.objects.exists()


# -- the month and manual records -------------------------------------------------------------------
def test_manual_record_appears_escaped_and_is_audited(world: dict[str, Any]) -> None:
    shift = day_shift()
    emp = world["people"]["E001"]
    url = reverse("console:attendance_month", args=[emp.pk])
    hr = client_for(world, "hr_hq")
    day = date(2026, 3, 4)
    refused = hr.post(url, {"date": day.isoformat(), "status": "present", "shift": "", "reason": "   "})
    assert refused.status_code == 200 and errors_of(refused.content, "reason")
    refused = hr.post(url, {"date": day.isoformat(), "status": "asleep", "reason": "x"})
    assert errors_of(refused.content, "status")
    assert not DailyRecord.objects.exists()

    reason = "<script>alert('x')</script> 外出培训"
    answer = hr.post(url, {"date": day.isoformat(), "status": "present", "shift": str(shift.pk), "reason": reason,
                           "month": "2026-03"})
    assert answer.status_code == 302 and answer["Location"].endswith("?month=2026-03")
    row = DailyRecord.objects.get(employee=emp, date=day)
    assert (row.status, row.source, row.shift_name, row.reason, row.created_by) == (
        "present", "manual", "白班", reason, "hr_hq")
    entry = AuditEntry.objects.get(action="attendance.manual_record")
    assert (entry.actor, entry.target, entry.detail["reason"]) == ("hr_hq", "E001 2026-03-04", reason)

    page = hr.get(url, {"month": "2026-03"}).content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; 外出培训" in page
    assert 'data-status="present"' in _day_cell(page, day)
    assert _stat(page, "total-present") == "1"

    # others see it, and no form
    for who in ("manager", "auditor", "employee"):
        seen = client_for(world, who).get(url, {"month": "2026-03"})
        assert seen.status_code == 200 and "外出培训" in seen.content.decode()
        assert 'name="reason"' not in seen.content.decode()
        assert client_for(world, who).post(url, {"date": "2026-03-05", "status": "absent", "reason": "x"}
                                           ).status_code == 403
    assert DailyRecord.objects.count() == 1


def test_month_page_scope_and_navigation(world: dict[str, Any]) -> None:
    e1, e2, p1 = (world["people"][n] for n in ("E001", "E002", "P001"))
    employee = client_for(world, "employee")
    own = employee.get(reverse("console:attendance_month", args=[e1.pk]), {"month": "2026-01"})
    assert own.status_code == 200
    text = own.content.decode()
    assert "month=2025-12" in text and "month=2026-02" in text
    assert len(re.findall(r'class="mday[ "]', text)) == 5 * 7  # 2026-01: Monday 2025-12-29 to Sunday 2026-02-01
    assert employee.get(reverse("console:attendance_month", args=[e2.pk])).status_code == 404
    assert client_for(world, "hr_plant").get(reverse("console:attendance_month", args=[e1.pk])).status_code == 404
    assert client_for(world, "hr_plant").post(reverse("console:attendance_month", args=[e1.pk]), {
        "date": "2026-01-05", "status": "present", "reason": "x"}).status_code == 404
    assert client_for(world, "manager").get(reverse("console:attendance_month", args=[p1.pk])).status_code == 404
    # a month nobody could mean is this month
    assert client_for(world, "root").get(reverse("console:attendance_month", args=[p1.pk]),
                                         {"month": "99999-99"}).status_code == 200
    detail = client_for(world, "hr_hq").get(reverse("console:employee", args=[e1.pk])).content.decode()
    assert reverse("console:attendance_month", args=[e1.pk]) in detail


def test_pages_render_in_english_for_every_staff_role(world: dict[str, Any]) -> None:
    day_shift()
    for who in ("root", "hr_hq", "manager", "auditor"):
        client = client_for(world, who)
        client.cookies["seed_language"] = "en"
        for name in ("attendance_shifts", "attendance_overtime", "attendance_rotations", "attendance_rotation_preview",
                     "attendance_assignments", "attendance_calendars"):
            page = client.get(reverse(f"console:{name}"))
            assert page.status_code == 200, (who, name)
            heading = re.search(r"<h1>(.*?)</h1>", page.content.decode(), re.S)
            assert heading and not re.search(r"[\u4e00-\u9fff]", re.sub(r"<span.*?</span>", "", heading.group(1))), (
                who, name, heading)


# -- edits too big to recompute before the page answers ----------------------------------------------------
def _records_snapshot() -> list[tuple[Any, ...]]:
    return list(DailyRecord.objects.order_by("employee__number", "date", "shift_name").values_list(
        "employee__number", "date", "shift_name", "status", "hours", "late_min", "final"))


def test_a_big_edit_is_queued_and_the_follower_works_through_it_a_chunk_at_a_time(
        world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from central.attendance import services
    from central.attendance.inputs import load_rules
    from central.attendance.models import RecomputeJob

    monkeypatch.setattr(services, "INLINE_EMPLOYEE_DAYS", 10)  # the department's 2 people x 7 days are "big"
    monkeypatch.setattr(services, "CHUNK", 1)
    shift = day_shift()
    worked = recent_workday()
    make_punch("E001", "hq", datetime.combine(worked, time(9, 7)), "in", 1)
    make_punch("E001", "hq", datetime.combine(worked, time(18, 30)), "out", 2)
    hr = client_for(world, "hr_hq")
    answer = hr.post(reverse("console:attendance_assignments"), {
        "holder": "department", "department": str(world["sales"].pk), "employee": "", "schedule": f"shift-{shift.pk}",
        "start": (worked - timedelta(days=6)).isoformat(), "end": ""})
    assert answer.status_code == 302  # the page answered without the recompute
    job = RecomputeJob.objects.get()
    assert (job.state, job.done, job.total, job.actor) == ("pending", 0, 2, "hr_hq")
    assert not DailyRecord.objects.exists()
    assert "attendance.recompute_queued" in audit_actions() and "attendance.recompute" not in audit_actions()
    page = hr.get(reverse("console:attendance_shifts")).content.decode()
    assert "正在后台重新计算" in page  # the message after saving says so
    assert "正在重算考勤记录" in page and "0 / 2" in page and 'hx-trigger="every 2s"' in page

    now = timezone.now()
    services.run_queued(load_rules(now), now, budget_s=0)  # one chunk: the first employee
    job.refresh_from_db()
    assert (job.state, job.done) == ("running", 1)
    assert DailyRecord.objects.filter(employee__number="E001").exists()
    assert not DailyRecord.objects.filter(employee__number="E002").exists()
    partial = hr.get(reverse("console:attendance_recompute_jobs")).content.decode()
    assert "1 / 2" in partial and 'hx-trigger="every 2s"' in partial

    services.Follower().tick()  # the follower's pass finishes it
    job.refresh_from_db()
    assert (job.state, job.done, job.total, job.employees) == ("done", 2, 2, [])  # the id list is not kept
    assert job.written >= DailyRecord.objects.filter(employee__number="E002").count() > 0  # (the tick's other work too)
    assert audit_actions()[-1] == "attendance.recompute"
    done = hr.get(reverse("console:attendance_recompute_jobs")).content.decode()
    assert "重算完成" in done and "hx-trigger" not in done  # nothing left to follow: the page stops asking

    # the same records as the recompute run at once
    queued = _records_snapshot()
    rec = DailyRecord.objects.get(employee__number="E001", date=worked)
    assert (rec.status, rec.late_min, rec.hours) == ("present", 7, Decimal("8.38"))
    DailyRecord.objects.all().delete()
    services.recompute(worked - timedelta(days=6), timezone.localdate(), employees=Employee.objects.filter(
        department=world["sales"]))
    assert _records_snapshot() == queued


def test_a_queued_recompute_that_cannot_run_fails_with_its_reason_and_the_queue_goes_on(world: dict[str, Any]) -> None:
    from central.attendance import services
    from central.attendance.inputs import load_rules
    from central.attendance.models import RecomputeJob

    day_shift()
    today = timezone.localdate()
    broken = RecomputeJob.objects.create(actor="hr_hq", reason="班次 白班 / shift 白班", first=today - timedelta(days=3),
                                         last=today, employees=["not-an-id"], total=1)
    fine = RecomputeJob.objects.create(actor="hr_hq", reason="轮班 / rotation", first=today - timedelta(days=3),
                                       last=today, employees=[world["people"]["E001"].pk], total=1)
    now = timezone.now()
    services.run_queued(load_rules(now), now)
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert broken.state == "failed" and "not-an-id" in broken.error and broken.done == 0
    assert fine.state == "done"
    page = client_for(world, "hr_hq").get(reverse("console:attendance_shifts")).content.decode()
    assert "重算失败" in page and "not-an-id" in page
    # a month later both are gone from the queue's table (the audit log keeps the summary)
    later = now + timedelta(days=31)
    assert services.prune_jobs(later) == 2  # the follower's, once an hour
    assert not RecomputeJob.objects.exists()


def test_a_recompute_queued_with_no_follower_running_says_so(world: dict[str, Any]) -> None:
    from central.attendance.models import RecomputeJob

    today = timezone.localdate()
    job = RecomputeJob.objects.create(actor="hr_hq", reason="班次 白班 / shift 白班", first=today, last=today,
                                      employees=[world["people"]["E001"].pk], total=1)
    hr = client_for(world, "hr_hq")
    assert "seed-central run" not in hr.get(reverse("console:attendance_recompute_jobs")).content.decode()
    RecomputeJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    text = hr.get(reverse("console:attendance_recompute_jobs")).content.decode()
    assert "seed-central run" in text and "0 / 1" in text and "（班次 白班）" in text
    hr.cookies["seed_language"] = "en"  # and in English, the Chinese left out
    english = hr.get(reverse("console:attendance_recompute_jobs")).content.decode()
    assert "Recomputing daily records (shift 白班): 0 of 1 employees" in english
    assert "is the attendance service (seed-central run) running?" in english and "排队" not in english
    assert client_for(world, "employee").get(reverse("console:attendance_recompute_jobs")).status_code == 403


# -- leave types and leave recorded by HR ------------------------------------------------------------------
def leave_type_post(**changes: Any) -> dict[str, Any]:
    data = {"code": "annual", "name": "年假 Annual leave", "paid": "on"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_leave_types_are_added_edited_and_refused_on_their_fields(world: dict[str, Any]) -> None:
    url = reverse("console:attendance_leave_types")
    hr = client_for(world, "hr_hq")
    assert hr.post(url, leave_type_post()).status_code == 302
    maternity = hr.post(url, leave_type_post(code="maternity", name="<b>产假</b> Maternity", paid="on",
                                             counts_rest_days="on"))
    assert maternity.status_code == 302
    assert sorted(LeaveType.objects.values_list("code", "paid", "counts_rest_days")) == [
        ("annual", True, False), ("maternity", True, True)]
    assert errors_of(hr.post(url, leave_type_post(name="又一个")).content, "code")  # the code is taken
    assert errors_of(hr.post(url, leave_type_post(code="x" * 17)).content, "code")
    assert errors_of(hr.post(url, leave_type_post(code="personal", name="   ")).content, "name")
    assert LeaveType.objects.count() == 2

    annual = LeaveType.objects.get(code="annual")
    editing = hr.get(url, {"edit": annual.pk}).content.decode()
    assert f'name="id" value="{annual.pk}"' in editing and f'href="{url}"' in editing and 'value="annual"' in editing
    assert hr.post(url, leave_type_post(id=str(annual.pk), name="年假", paid=None)).status_code == 302
    annual.refresh_from_db()
    assert (annual.name, annual.paid) == ("年假", False)
    assert [a for a in audit_actions() if a.startswith("attendance.leave_type")] == [
        "attendance.leave_type.create", "attendance.leave_type.create", "attendance.leave_type.update"]

    page = client_for(world, "auditor").get(url).content.decode()
    assert "&lt;b&gt;产假&lt;/b&gt; Maternity" in page and "<b>产假</b>" not in page and 'name="code"' not in page
    for who in ("manager", "auditor"):
        assert client_for(world, who).post(url, leave_type_post(code="sick", name="病假")).status_code == 403
    assert not LeaveType.objects.filter(code="sick").exists()


def test_hr_records_a_leave_on_the_month_page_and_it_takes_off_the_working_days(world: dict[str, Any]) -> None:
    """E001 has no shift: the site's calendar (Saturday and Sunday off) says which days are working days."""
    annual = LeaveType.objects.create(code="annual", name="年假 Annual leave")
    maternity = LeaveType.objects.create(code="maternity", name="产假 Maternity leave", counts_rest_days=True)
    e1, e2 = world["people"]["E001"], world["people"]["E002"]
    hr = client_for(world, "hr_hq")

    def record(emp: Employee, **fields: str) -> Any:
        data = {"kind": "leave", "month": "2026-03", "leave-leave_type": str(annual.pk), "leave-start": "2026-03-02",
                "leave-end": "2026-03-08", "leave-reason": "探亲 Family visit", **fields}
        return hr.post(reverse("console:attendance_month", args=[emp.pk]), data)

    refused = record(e1, **{"leave-start": "2026-03-07"})  # Saturday and Sunday only
    assert refused.status_code == 200 and "no working day" in refused.content.decode()
    assert errors_of(record(e1, **{"leave-reason": "  "}).content, "leave-reason")
    assert errors_of(record(e1, **{"leave-leave_type": "999"}).content, "leave-leave_type")
    assert "before the start" in record(e1, **{"leave-end": "2026-03-01"}).content.decode()
    assert not DailyRecord.objects.exists() and not AuditEntry.objects.filter(action__startswith="attendance.leave").exists()

    answer = record(e1)
    assert answer.status_code == 302 and answer["Location"].endswith("?month=2026-03")
    assert sorted(DailyRecord.objects.filter(employee=e1, status="on_leave").values_list("date__day", flat=True)) == [
        2, 3, 4, 5, 6]
    assert record(e2, **{"leave-leave_type": str(maternity.pk)}).status_code == 302
    assert DailyRecord.objects.filter(employee=e2, status="on_leave").count() == 7
    assert [a for a in audit_actions() if a.startswith("attendance.leave")] == [
        "attendance.leave_filed", "attendance.leave_approved", "attendance.leave_filed", "attendance.leave_approved"]
    assert AuditEntry.objects.filter(action="attendance.leave_approved").first().actor == "hr_hq"  # type: ignore[union-attr]

    page = hr.get(reverse("console:attendance_month", args=[e1.pk]), {"month": "2026-03"}).content.decode()
    assert 'data-status="on_leave"' in _day_cell(page, date(2026, 3, 6))
    assert "年假 Annual leave: 探亲 Family visit" in _day_cell(page, date(2026, 3, 6))  # the leave's type and reason
    assert 'data-status="on_leave"' not in _day_cell(page, date(2026, 3, 7))
    assert page.count('id="field-reason"') == 1 and page.count('id="field-leave-reason"') == 1
    assert client_for(world, "manager").post(reverse("console:attendance_month", args=[e1.pk]), {
        "kind": "leave", "leave-leave_type": str(annual.pk), "leave-start": "2026-03-09", "leave-end": "2026-03-09",
        "leave-reason": "x"}).status_code == 403


def test_hr_keeps_an_employees_attendance_settings_on_the_month_page(world: dict[str, Any]) -> None:
    """高管免刷 and the overtime list can be set where HR looks at the employee's days; the past days follow."""
    day = ShiftType.objects.create(name="白班 Day", start=time(9), end=time(18), checkin_before_min=60,
                                   checkout_after_min=120)
    e1 = world["people"]["E001"]
    hr = client_for(world, "hr_hq")
    url = reverse("console:attendance_month", args=[e1.pk])

    def save(**fields: str) -> Any:
        data = {"kind": "profile", "month": "2026-03", "profile-joined": "2025-01-01", "profile-left": "",
                "profile-default_shift": str(day.pk), "profile-exempt": "on", **fields}
        return hr.post(url, {k: v for k, v in data.items() if v is not None})

    assert errors_of(save(**{"profile-left": "2024-12-31"}).content, "profile-left")  # before joining
    assert errors_of(save(**{"profile-default_shift": "999"}).content, "profile-default_shift")
    assert errors_of(save(**{"profile-joined": "2026-13-01"}).content, "profile-joined")
    assert not AttendanceProfile.objects.exists() and not DailyRecord.objects.exists()

    answer = save()
    assert answer.status_code == 302 and answer["Location"].endswith("?month=2026-03")
    profile = AttendanceProfile.objects.get(employee=e1)
    assert (profile.joined, profile.left, profile.default_shift, profile.exempt, profile.overtime_listed) == (
        date(2025, 1, 1), None, day, True, False)
    entry = AuditEntry.objects.get(action="attendance.profile")
    assert (entry.actor, entry.target) == ("hr_hq", "E001")
    assert entry.detail["changed"] == ["joined", "default_shift", "exempt"]
    # exempt: present on each past working day of the last 62 (Monday to Friday here), with no punch at all
    today = timezone.localdate()
    weekdays = [today - timedelta(days=k) for k in range(1, 62) if (today - timedelta(days=k)).weekday() < 5]
    present = set(DailyRecord.objects.filter(employee=e1, status="present", source="exempt").values_list("date", flat=True))
    assert set(weekdays) <= present and all(d.weekday() < 5 for d in present)

    page = hr.get(url, {"month": "2026-03"}).content.decode()
    assert re.search(r'name="profile-exempt"[^>]*checked', page)
    assert f'<option value="{day.pk}" selected>' in page

    assert save(**{"profile-exempt": None, "profile-overtime_listed": "on"}).status_code == 302
    assert not DailyRecord.objects.filter(employee=e1, source="exempt").exists()
    absent = set(DailyRecord.objects.filter(employee=e1, status="absent").values_list("date", flat=True))
    assert set(weekdays) <= absent  # punching again, and no punch on those days
    assert AuditEntry.objects.filter(action="attendance.profile").count() == 2
    assert client_for(world, "manager").post(url, {"kind": "profile", "profile-exempt": "on"}).status_code == 403
