"""central.attendance.anomalies: the kinds, the states HR reads, local days, filters and scope.

The records, requests and punches are written here by hand, so every expected state follows from
the rules in the module's docstring, not from the code. Runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import pytest

from central.accounts.models import Role, User
from central.attendance.anomalies import anomalies
from central.attendance.models import DailyRecord, LeaveRecord, LeaveType, MakeupPunch
from central.ingest.models import Punch
from central.people import roster
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db
FIRST, LAST = date(2026, 3, 1), date(2026, 3, 31)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def _user(name: str, role: str, *, superuser: bool = False, sites: Any = (), departments: Any = (),
          employee: Employee | None = None) -> User:
    user = User.objects.create(username=name, role=role, is_superuser=superuser, employee=employee)
    user.sites.set(sites)
    user.departments.set(departments)
    return user


def _record(number: str, day: date, **values: Any) -> DailyRecord:
    values.setdefault("status", "present")
    values.setdefault("source", "punches")
    return DailyRecord.objects.create(employee=Employee.objects.get(number=number), date=day,
                                      shift_name=values.pop("shift_name", "白班 Day"), **values)


def _punch(i: int, number: str, at: datetime, flag: str = "", direction: str = "in") -> None:
    Punch.objects.create(id=f"0190f3a0-0000-7000-8000-{i:012d}", site="site-a", device_id="door-a",
                         employee_number=number, direction=direction, method="card", punched_at=at, boot_id="b",
                         monotonic_ns=i, time_source="rtc", batch_id="0190f3a0-0000-7000-8000-0000000000bb",
                         received_at=at, time_flag=flag)


@pytest.fixture
def world() -> dict[str, Any]:
    a = Site.objects.create(code="site-a", name="工厂 A", time_zone="Asia/Shanghai")
    b = Site.objects.create(code="site-b", name="工厂 B", time_zone="Europe/Berlin")
    assembly = Department.objects.create(site=a, name="装配 Assembly")
    Department.objects.create(site=a, name="质检 QA")
    Department.objects.create(site=b, name="仓库 Store")
    roster.upsert_employees([
        {"number": "A001", "name": "张三", "site": "site-a", "department": "装配 Assembly"},
        {"number": "A002", "name": "李四", "site": "site-a", "department": "质检 QA"},
        {"number": "B001", "name": "王五", "site": "site-b", "department": "仓库 Store"},
    ])
    annual = LeaveType.objects.create(code="AL", name="年假 Annual")
    a001, a002 = Employee.objects.get(number="A001"), Employee.objects.get(number="A002")
    ids: dict[str, int] = {}
    ids["late"] = _record("A001", date(2026, 3, 2), late=True, late_min=12, first_in=utc(2026, 3, 2, 1, 12),
                          last_out=utc(2026, 3, 2, 10, 0), final=True, hours=8).pk
    _record("A001", date(2026, 3, 3), status="absent", source="absent")
    ids["pending_leave"] = LeaveRecord.objects.create(employee=a001, leave_type=annual, start=date(2026, 3, 3),
                                                      end=date(2026, 3, 4), state="pending").pk
    _record("A002", date(2026, 3, 3), missing_out=True, first_in=utc(2026, 3, 3, 0, 58))
    ids["approved_makeup"] = MakeupPunch.objects.create(employee=a002, at=utc(2026, 3, 3, 10, 0), direction="out",
                                                        reason="忘记打卡 forgot", state="approved").pk
    ids["manual"] = _record("A002", date(2026, 3, 4), late=True, early=True, late_min=5, early_min=40,
                            source="manual").pk
    _record("A002", date(2026, 3, 5), status="absent", source="absent")
    LeaveRecord.objects.create(employee=a002, leave_type=annual, start=date(2026, 3, 5), end=date(2026, 3, 5),
                               state="rejected")
    # a night shift starting 3/5 22:00 Shanghai; the forgotten out punch is filed for 3/6 06:00 Shanghai
    _record("A001", date(2026, 3, 5), shift_name="夜班 Night", missing_out=True, first_in=utc(2026, 3, 5, 14, 0))
    ids["pending_makeup"] = MakeupPunch.objects.create(employee=a001, at=utc(2026, 3, 5, 22, 0), direction="out",
                                                       reason="忘记打卡 forgot", state="pending").pk
    ids["approved_leave"] = LeaveRecord.objects.create(employee=a001, leave_type=annual, start=date(2026, 3, 9),
                                                       end=date(2026, 3, 9), state="approved").pk
    _record("A001", date(2026, 3, 9), early=True, early_min=90)
    _record("A001", date(2026, 3, 10))  # a good day: nothing
    _record("A001", date(2026, 2, 27), late=True, late_min=3)  # before the range
    _record("B001", date(2026, 3, 2), late=True, late_min=7)
    # 2026-03-06 17:30 UTC is 3/7 01:30 in Shanghai: the punch belongs to the 7th
    _punch(1, "A001", utc(2026, 3, 6, 17, 30), flag="ahead")
    _punch(2, "A001", utc(2026, 3, 6, 1, 0))  # plausible: no anomaly
    _punch(3, "A002", utc(2026, 2, 28, 16, 30), flag="before_floor", direction="out")  # 3/1 Shanghai: in range
    _punch(4, "A002", utc(2026, 3, 31, 16, 30), flag="ahead")  # 4/1 00:30 Shanghai: after the range
    users = {
        "superuser": _user("root", Role.HR_ADMIN, superuser=True),
        "hr_a": _user("hr_a", Role.HR_ADMIN, sites=[a]),
        "manager": _user("mg", Role.MANAGER, departments=[assembly]),
        "employee": _user("em", Role.EMPLOYEE, employee=a002),
    }
    return {"users": users, "ids": ids}


def _keys(found: list[Any]) -> list[tuple[str, date, str, str]]:
    return [(a.number, a.date, a.kind, a.state) for a in found]


def test_every_kind_and_state_for_the_whole_company(world: dict[str, Any]) -> None:
    found = anomalies(world["users"]["superuser"], FIRST, LAST)
    assert _keys(found) == [
        ("A002", date(2026, 3, 1), "time_implausible", "open"),
        ("A001", date(2026, 3, 2), "late", "open"),
        ("B001", date(2026, 3, 2), "late", "open"),
        ("A001", date(2026, 3, 3), "absent", "explained"),
        ("A002", date(2026, 3, 3), "missing_out", "accepted"),
        ("A002", date(2026, 3, 4), "late", "accepted"),
        ("A002", date(2026, 3, 4), "early", "accepted"),
        ("A001", date(2026, 3, 5), "missing_out", "explained"),
        ("A002", date(2026, 3, 5), "absent", "open"),
        ("A001", date(2026, 3, 7), "time_implausible", "open"),
        ("A001", date(2026, 3, 9), "early", "accepted"),
    ]
    ids = world["ids"]
    by = {(a.number, a.date, a.kind): a for a in found}
    late = by[("A001", date(2026, 3, 2), "late")]
    assert (late.minutes, late.final, late.name, late.site, late.department) == (12, True, "张三", "site-a", "装配 Assembly")
    assert late.first_in == datetime(2026, 3, 2, 9, 12) and late.last_out == datetime(2026, 3, 2, 18, 0)
    assert (late.request_kind, late.request_id) == ("", None)
    assert (by[("A001", date(2026, 3, 3), "absent")].request_kind,
            by[("A001", date(2026, 3, 3), "absent")].request_id) == ("leave", ids["pending_leave"])
    assert by[("A002", date(2026, 3, 3), "missing_out")].request_id == ids["approved_makeup"]
    assert by[("A002", date(2026, 3, 3), "missing_out")].request_kind == "makeup"
    manual = by[("A002", date(2026, 3, 4), "early")]
    assert (manual.request_kind, manual.request_id, manual.minutes) == ("manual", ids["manual"], 40)
    night = by[("A001", date(2026, 3, 5), "missing_out")]
    assert (night.shift, night.request_kind, night.request_id) == ("夜班 Night", "makeup", ids["pending_makeup"])
    assert night.first_in == datetime(2026, 3, 5, 22, 0)
    assert by[("A001", date(2026, 3, 9), "early")].request_id == ids["approved_leave"]
    doubtful = by[("A001", date(2026, 3, 7), "time_implausible")]
    assert doubtful.first_in == datetime(2026, 3, 7, 1, 30) and doubtful.last_out is None and not doubtful.final
    assert doubtful.detail.startswith("ahead ")
    out = by[("A002", date(2026, 3, 1), "time_implausible")]
    assert out.last_out == datetime(2026, 3, 1, 0, 30) and out.first_in is None


def test_scope_narrows_what_each_role_sees(world: dict[str, Any]) -> None:
    users = world["users"]
    assert {a.number for a in anomalies(users["hr_a"], FIRST, LAST)} == {"A001", "A002"}
    assert {a.number for a in anomalies(users["manager"], FIRST, LAST)} == {"A001"}
    assert {a.number for a in anomalies(users["employee"], FIRST, LAST)} == {"A002"}
    # asking for another site's employee by number gives nothing, not their rows
    assert anomalies(users["hr_a"], FIRST, LAST, employee="B001") == []
    assert anomalies(users["hr_a"], FIRST, LAST, site="site-b") == []


def test_filters(world: dict[str, Any]) -> None:
    root = world["users"]["superuser"]
    assert _keys(anomalies(root, FIRST, LAST, kinds=("late",), states=("open",))) == [
        ("A001", date(2026, 3, 2), "late", "open"), ("B001", date(2026, 3, 2), "late", "open")]
    assert {a.number for a in anomalies(root, FIRST, LAST, department="质检 QA")} == {"A002"}
    assert {a.number for a in anomalies(root, FIRST, LAST, site="site-b")} == {"B001"}
    assert [a.kind for a in anomalies(root, FIRST, LAST, employee="A001", states=("explained",))] == [
        "absent", "missing_out"]
    assert _keys(anomalies(root, date(2026, 3, 7), date(2026, 3, 7))) == [
        ("A001", date(2026, 3, 7), "time_implausible", "open")]
    assert anomalies(root, FIRST, LAST, kinds=("time_implausible",), employee="A002", states=("accepted",)) == []


def test_a_day_entered_by_hand_accepts_a_doubtful_punch(world: dict[str, Any]) -> None:
    record = _record("A001", date(2026, 3, 7), source="manual", reason="HR 核实 checked")
    found = anomalies(world["users"]["superuser"], date(2026, 3, 7), date(2026, 3, 7))
    assert [(a.kind, a.state, a.request_kind, a.request_id) for a in found] == [
        ("time_implausible", "accepted", "manual", record.pk)]


def test_a_month_of_many_employees_takes_a_few_queries(world: dict[str, Any], django_assert_max_num_queries: Any) -> None:
    roster.upsert_employees([{"number": f"M{i:03d}", "name": f"员工{i}", "site": "site-a",
                              "department": "装配 Assembly"} for i in range(60)])
    people = list(Employee.objects.filter(number__startswith="M"))
    DailyRecord.objects.bulk_create([
        DailyRecord(employee=person, date=date(2026, 3, day), shift_name="白班 Day", status="present", source="punches",
                    late=True, late_min=day) for person in people for day in range(1, 29)])
    annual = LeaveType.objects.get(code="AL")
    LeaveRecord.objects.bulk_create([LeaveRecord(employee=person, leave_type=annual, start=date(2026, 3, 10),
                                                 end=date(2026, 3, 11), state="pending") for person in people])
    with django_assert_max_num_queries(16):  # scope's grants read a few times, then one query per table (the sites'
        # late allowances and their closed months' among them)
        found = anomalies(world["users"]["hr_a"], FIRST, LAST)
    mine = [a for a in found if a.number.startswith("M")]
    assert len(mine) == 60 * 28
    assert sum(1 for a in mine if a.state == "explained") == 60 * 2
