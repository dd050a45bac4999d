"""A month of attendance history for the demo: a few dozen people on a day shift, a night shift and 三班倒.

Made through the product's own paths: employees through the roster, punches through the ingest's
bulk store, records by :func:`central.attendance.services.recompute`. Seeded, so every demo
shows the same month relative to its day.
"""
from __future__ import annotations

import io
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone as dj_timezone
from PIL import Image, ImageDraw

from central.attendance import engine as e
from central.attendance.evidence import prepared
from central.attendance.inputs import load_employees, load_rules
from central.attendance.models import (
    Assignment,
    AttendanceProfile,
    CalendarDay,
    DailyRecord,
    LeaveRecord,
    LeaveType,
    MakeupPunch,
    OvertimeRule,
    Rotation,
    ShiftChange,
    ShiftType,
    SiteCalendar,
)
from central.attendance.selectors import month_end
from central.attendance.services import recompute
from central.ingest.handler import store_punches
from central.people import roster
from central.people.models import Employee, Site

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
DEPARTMENTS = (("行政 Office", "day", 12), ("仓储 Warehouse", "night", 8), ("生产 Production", "rotation", 16))


@dataclass(frozen=True)
class DepartmentSummary:
    department: str
    employees: int
    present: int
    late: int
    late_min: int
    early: int
    early_min: int
    absent: int
    leave: int
    on_duty: int  # days on duty away (公出), counted as worked
    overtime_h: Decimal  # paid: approved, or needing no approval (as the monthly sheet counts it)
    pending_h: Decimal  # waiting for approval


def _shifts() -> dict[str, ShiftType]:
    paid = OvertimeRule.objects.get_or_create(name="默认加班 Standard overtime", defaults={
        "min_minutes": 30, "step_min": 30, "requires_approval": False})[0]
    specs: dict[str, dict[str, Any]] = {
        "白班 Day": {"start": time(8, 30), "end": time(17, 30), "late_grace_min": 5, "early_grace_min": 0,
                    "breaks": [{"start": "12:00", "end": "13:00"}], "half_day_below_h": Decimal("4"),
                    "absent_below_h": Decimal("1"), "checkout_after_min": 240},
        "夜班 Night": {"start": time(20, 30), "end": time(5, 30), "late_grace_min": 5, "early_grace_min": 0,
                      "breaks": [{"start": "00:00", "end": "01:00"}], "checkout_after_min": 180},
        "早班 Early": {"start": time(6), "end": time(14), "late_grace_min": 3, "early_grace_min": 0, "checkout_after_min": 30,
                      "count_on_holidays": True},
        "中班 Middle": {"start": time(14), "end": time(22), "late_grace_min": 3, "early_grace_min": 0,
                       "checkout_after_min": 30, "count_on_holidays": True},
        "晚班 Late": {"start": time(22), "end": time(6), "late_grace_min": 3, "early_grace_min": 0, "checkout_after_min": 30,
                     "count_on_holidays": True},
    }
    return {name: ShiftType.objects.update_or_create(name=name, defaults={**spec, "overtime": paid})[0]
            for name, spec in specs.items()}


def fill_month(site_code: str, today: date, *, seed: int = 2026, device_id: str = "demo-door-01") -> list[DepartmentSummary]:
    """Create the people, schedules and the last 30 days of punches, compute the records, and summarise them."""
    rng = random.Random(seed)
    site = Site.objects.get(code=site_code)
    first, last = today - timedelta(days=30), today - timedelta(days=1)
    shifts = _shifts()
    rotation, _ = Rotation.objects.update_or_create(name="三班倒 Three shifts", defaults={
        "anchor": first, "pattern": [shifts["早班 Early"].pk] * 2 + [shifts["中班 Middle"].pk] * 2
        + [shifts["晚班 Late"].pk] * 2 + [None, None]})
    SiteCalendar.objects.update_or_create(site=site, defaults={"weekly_rest": [5, 6]})
    holiday = next(d for d in (first + timedelta(days=i) for i in range(10, 30)) if d.weekday() < 5)
    CalendarDay.objects.update_or_create(site=site, date=holiday, defaults={"kind": "holiday", "name": "厂庆 Founders' day"})

    records: list[dict[str, Any]] = []
    plan: list[tuple[str, str]] = []
    n = 0
    for dept, kind, count in DEPARTMENTS:
        for _ in range(count):
            n += 1
            number = f"M{n:03d}"
            records.append({"number": number, "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                            "department": dept, "site": site.code})
            plan.append((number, kind))
    roster.upsert_employees(records, actor="demo")
    by_number = {emp.number: emp for emp in Employee.objects.filter(number__in=[r["number"] for r in records])}
    with transaction.atomic():
        for number, kind in plan:
            emp = by_number[number]
            default = shifts["白班 Day"] if kind == "day" else shifts["夜班 Night"] if kind == "night" else None
            AttendanceProfile.objects.update_or_create(employee=emp, defaults={
                "joined": first, "default_shift": default, "exempt": number == "M001",
                "overtime_listed": kind != "day"})
            if kind == "rotation":
                Assignment.objects.get_or_create(employee=emp, rotation=rotation, start=first)
        annual = LeaveType.objects.get_or_create(code="annual", defaults={"name": "年假 Annual leave"})[0]
        leave_day = next(d for d in (first + timedelta(days=i) for i in range(3, 30)) if d.weekday() < 5 and d != holiday)
        DailyRecord.objects.update_or_create(employee=by_number["M002"], date=leave_day, shift_name="", defaults={
            "status": "on_leave", "source": "leave", "leave_type": annual, "final": True, "reason": "年假 annual leave",
            "created_by": "demo"})
        DailyRecord.objects.update_or_create(employee=by_number["M003"], date=leave_day, shift_name="", defaults={
            "status": "half_day", "source": "leave", "half_day": True, "leave_type": annual, "final": True,
            "reason": "上午请假 morning off", "created_by": "demo"})
        # two working days on a business trip (公出), approved: the recompute below lays them down as days worked
        trip = LeaveType.objects.get_or_create(code="trip", defaults={"name": "出差 Business trip", "on_duty": True})[0]
        away = [d for d in (leave_day + timedelta(days=i) for i in range(1, 30)) if d.weekday() < 5 and d != holiday
                and d <= last][:2]
        if away:
            LeaveRecord.objects.get_or_create(employee=by_number["M004"], leave_type=trip, start=away[0], end=away[-1],
                                              defaults={"state": "approved", "approved_by": "demo",
                                                        "approved_at": dj_timezone.now(),
                                                        "reason": "客户现场 At a customer's site"})

    _punch_month(rng, site, [by_number[number] for number, _ in plan], first, last, device_id)
    recompute(first, last, employees=Employee.objects.filter(number__in=list(by_number)), actor="demo")
    return summarise(first, last, list(by_number))


@dataclass(frozen=True)
class DemoRequests:
    leave: LeaveRecord
    makeup: MakeupPunch
    changes: tuple[ShiftChange, ...]  # a rest day worked for a working day off (调班): two requests, or none
    alerts: int

    @property
    def waiting(self) -> int:
        return 2 + len(self.changes)


def file_requests(site_code: str, today: date) -> DemoRequests:
    """The demo's two requests waiting for a decision (:func:`file_waiting_requests`), by two office employees, the
    leave held against five days of annual leave a year."""
    site = Site.objects.get(code=site_code)
    annual = LeaveType.objects.get(code="annual")
    if annual.yearly_days is None:
        annual.yearly_days = Decimal(5)  # the allowance the requests page shows against
        annual.save(update_fields=["yearly_days"])
    office = Employee.objects.filter(site=site, department__name="行政 Office").order_by("number")
    return file_waiting_requests(site, office[4], office[5], annual, today, leave_days=2, changing=office[6])


def day_for_day(employee: Employee, today: date) -> tuple[ShiftChange, ...]:
    """调班 as an employee asks for it: the first rest day of next week worked on the shift of its first working day,
    which becomes a rest day; two requests waiting (none when next week has no such pair)."""
    from central.attendance.shift_changes import file_change, scheduled

    monday = today + timedelta(days=7 - today.weekday())
    plan = scheduled(employee, monday, monday + timedelta(days=6))
    worked = next((d for d, names in plan.items() if len(names) == 1), None)
    rest = next((d for d, names in plan.items() if not names), None)
    if worked is None or rest is None:
        return ()
    shift = ShiftType.objects.get(name=plan[worked][0])
    why = f"{rest:%m-%d} 来加班赶月报，{worked:%m-%d} 休息 / in on {rest:%m-%d} for the month-end report, off on {worked:%m-%d}"
    return (file_change(employee, rest, rest, shift, reason=why, actor=employee.number),
            file_change(employee, worked, worked, None, reason=why, actor=employee.number))


def file_waiting_requests(site: Site, asking: Employee, forgot: Employee, leave_type: LeaveType, today: date, *,
                          leave_days: int, changing: Employee | None = None) -> DemoRequests:
    """Requests waiting for a decision, filed through the product's services as employees would (``asking``: a
    leave of ``leave_days`` from next Monday; ``forgot``: a make-up out punch at 17:40 on the last weekday;
    ``changing``: a rest day worked for a working day off, :func:`day_for_day`), and HR's rule that tells their
    managers at once (alerts evaluated now). The demo's and the screenshots'."""
    from central.alerts.models import AlertRule
    from central.alerts.services import evaluate
    from central.attendance.requests import file_leave, file_makeup_punch

    monday = today + timedelta(days=7 - today.weekday())
    leave = file_leave(asking, leave_type, monday, monday + timedelta(days=leave_days - 1),
                       reason="回老家参加婚礼 a wedding at home", actor=asking.number)
    yesterday = today - timedelta(days=1)
    while yesterday.weekday() >= 5:
        yesterday -= timedelta(days=1)
    out_at = datetime.combine(yesterday, time(17, 40), tzinfo=ZoneInfo(site.time_zone))
    makeup = file_makeup_punch(forgot, out_at, "out", reason="下班忘记打卡 forgot to punch out", actor=forgot.number,
                               evidence=prepared("door-screen.jpg", _phone_photo()))
    changes = day_for_day(changing, today) if changing is not None else ()
    AlertRule.objects.get_or_create(kind=AlertRule.REQUEST_WAITING, threshold=0, site=site,
                                    defaults={"created_by": "demo"})
    return DemoRequests(leave, makeup, changes, len(evaluate(dj_timezone.now())))


@dataclass(frozen=True)
class DemoClosing:
    month: date
    decided: int  # days of overtime HR approved first
    records: int  # records the closed month holds (0: not closed)
    blockers: tuple[str, ...]  # why it could not be closed (empty: it was)


def close_last_month(site_code: str, today: date) -> DemoClosing:
    """HR (a user ``hr`` granted the site) approves the overtime still waiting in last month, then closes it
    (:mod:`central.attendance.closing`); when it cannot be closed yet (a night shift's window still open just after
    midnight on the 1st), the reasons."""
    from central.accounts.models import Role, User
    from central.attendance import closing
    from central.attendance.requests import decide_overtime

    site = Site.objects.get(code=site_code)
    hr, _ = User.objects.get_or_create(username="hr", defaults={"role": Role.HR_ADMIN, "first_name": "人事"})
    hr.sites.add(site)
    month = closing.first_of(today.replace(day=1) - timedelta(days=1))
    waiting = DailyRecord.objects.filter(employee__site=site, date__range=(month, month_end(month)),
                                         overtime_state="pending", overtime_min__gt=0).order_by("date", "pk")
    decided = 0
    for row in waiting:
        decide_overtime(row, approve=True, actor=hr.username, minutes=row.overtime_min)
        decided += 1
    state = closing.readiness(site, month)
    if not state.ready:
        return DemoClosing(month, decided, 0, tuple(state.blockers))
    closing.close_month(hr, site, month, note="演示：加班已审批 demo: overtime decided")
    records = DailyRecord.objects.filter(employee__site=site, date__range=(month, month_end(month))).count()
    return DemoClosing(month, decided, records, ())


def _phone_photo() -> bytes:
    """A photo as a phone takes it, of the door's screen showing the time: with the camera and a GPS position in its
    EXIF, which the product does not keep (central.attendance.evidence)."""
    image = Image.new("RGB", (1600, 1200), (58, 62, 70))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((420, 260, 1180, 940), radius=36, fill=(18, 20, 24))  # the terminal
    draw.rectangle((480, 320, 1120, 760), fill=(32, 120, 200))  # its screen
    draw.ellipse((740, 820, 860, 900), fill=(90, 200, 120))  # the status light
    exif = Image.Exif()
    exif[0x010F] = "Phone"
    exif.get_ifd(0x8825).update({1: "N", 2: (31.0, 13.0, 30.0), 3: "E", 4: (121.0, 28.0, 12.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def _punch_month(rng: random.Random, site: Site, people: list[Employee], first: date, last: date, device_id: str) -> None:
    """Punches as the door would have made them: mostly on time, some late, early, forgotten or absent."""
    zone = ZoneInfo(site.time_zone)
    rules = load_rules(dj_timezone.now())
    now = dj_timezone.now()
    values: list[dict[str, Any]] = []
    batch = str(uuid.uuid4())
    for item in load_employees(rules, people, first, last):
        day = first
        while day <= last:
            for shift, weekly in e.shifts_on(item.schedule, item.person, day):
                if item.schedule.calendar.kind(day, weekly=weekly) != "workday" and rng.random() < 0.8:
                    continue
                roll = rng.random()
                if roll < 0.04:
                    continue  # absent
                start = shift.begins(day) + timedelta(minutes=rng.randint(-25, 2))
                if roll < 0.14:
                    start = shift.begins(day) + timedelta(minutes=rng.randint(6, 40))
                end = shift.ends(day) + timedelta(minutes=rng.randint(0, 20))
                if roll > 0.8:
                    end += timedelta(minutes=rng.randint(30, 150)) if shift.checkout_after_min >= 150 else timedelta(0)
                elif 0.14 <= roll < 0.19:
                    end = shift.ends(day) - timedelta(minutes=rng.randint(10, 90))
                times = [start] if 0.19 <= roll < 0.22 else [start, end]
                for i, local_at in enumerate(times):
                    at = local_at.replace(tzinfo=zone, second=rng.randint(0, 59))
                    values.append({"id": str(uuid.uuid4()), "site": site.code, "device_id": device_id,
                                   "employee_number": item.number, "direction": "in" if i == 0 else "out",
                                   "method": rng.choice(("face", "face", "face", "card", "finger")),
                                   "score": None, "punched_at": at, "boot_id": "history", "monotonic_ns": 0,
                                   "time_source": "ntp", "original_punched_at": None, "restamped_at": None,
                                   "batch_id": batch, "received_at": now})
            day += timedelta(days=1)
    with transaction.atomic():
        for i in range(0, len(values), 500):
            store_punches(values[i:i + 500])


def summarise(first: date, last: date, numbers: list[str]) -> list[DepartmentSummary]:
    """Per department: the engine's records of the range added up."""
    rows = (DailyRecord.objects.filter(employee__number__in=numbers, date__gte=first, date__lte=last)
            .values("employee__department__name")
            .annotate(employees=Count("employee", distinct=True),
                      present=Count("pk", filter=Q(status="present")),
                      late=Count("pk", filter=Q(late=True)), late_min=Sum("late_min"),
                      early=Count("pk", filter=Q(early=True)), early_min=Sum("early_min"),
                      absent=Count("pk", filter=Q(status="absent")),
                      leave=Count("pk", filter=Q(source="leave")),
                      on_duty=Count("pk", filter=Q(source="on_duty")),
                      overtime=Sum("overtime_min", filter=Q(overtime_state__in=("", "approved"))),
                      pending=Sum("overtime_min", filter=Q(overtime_state="pending")))
            .order_by("employee__department__name"))
    return [DepartmentSummary(r["employee__department__name"] or "-", r["employees"], r["present"], r["late"],
                              r["late_min"] or 0, r["early"], r["early_min"] or 0, r["absent"], r["leave"], r["on_duty"],
                              _hours(r["overtime"]), _hours(r["pending"])) for r in rows]


def _hours(minutes: int | None) -> Decimal:
    return (Decimal(minutes or 0) / 60).quantize(Decimal("0.1"))


def summary_table(rows: list[DepartmentSummary]) -> list[str]:
    """The summary as aligned text lines (Chinese first)."""
    head = ("部门 Department", "人数 People", "出勤 Present", "迟到 Late (次/分)", "早退 Early (次/分)", "缺勤 Absent",
            "请假 Leave", "公出 On duty", "加班 Overtime h", "待批加班 Pending h")
    body = [(r.department, str(r.employees), str(r.present), f"{r.late} / {r.late_min}", f"{r.early} / {r.early_min}",
             str(r.absent), str(r.leave), str(r.on_duty), str(r.overtime_h), str(r.pending_h)) for r in rows]
    widths = [max(_width(x) for x in col) for col in zip(head, *body, strict=True)]
    return ["  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(line, widths, strict=True)).rstrip()
            for line in (head, *body)]


def _width(text: str) -> int:
    """Columns a text takes in a terminal: CJK characters take two."""
    return sum(2 if "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 1 for ch in text)

