"""A generated day for the dashboard's tests: two sites, three departments, punches sent through ingest as
terminals send them, approved leave, the engine's records recomputed, two doors of which one has not
reported an empty outbox since yesterday morning, and events.

The moment is Tuesday 2026-03-10 10:00 in Shanghai (``NOW``), or any other moment (the browser tests use the
real clock): the shift then starts an hour before it and every time below moves with it. What each person did,
and so what the dashboard must show (the day shift is 09:00-18:00, late beyond 5 minutes, window 08:00-20:00;
no weekly rest day, so any weekday works):

| who | dept | today | yesterday (Monday) |
| --- | --- | --- | --- |
| A1 | 装配 | in 08:50 (on site) | in and out |
| A2 | 装配 | in 09:12 (late 12) | in only: missing out |
| A3 | 装配 | in 09:30 (late 30) | nothing |
| A4 | 装配 | nothing: waiting | nothing |
| A5 | 装配 | approved leave | nothing |
| Q1 | 质检 | in 08:55, out 09:40 (arrived, gone) | in and out |
| Q2 | 质检 | in 08:45 (on site) | in only: missing out |
| Q3, Q4 | 质检 | nothing: waiting | nothing |
| Q5 | 质检 | no shift; in Monday 19:30, no out: on site, stale | |
| W1 | 仓储 (site s2) | in 08:55 | |
| W2 | 仓储 (site s2) | nothing: waiting | |

The four Tuesdays before: A1 in 09:10 (late 10) and out, Q1 on time and out; everyone else with a shift absent.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from central_support import batch, punch, send

from central.attendance.models import AttendanceProfile, LeaveRecord, LeaveType, ShiftType, SiteCalendar
from central.attendance.services import recompute
from central.ingest.handler import Ingest
from central.ingest.models import Event
from central.people.models import Department, Device, Employee, Site

UTC = timezone.utc
SHANGHAI = timedelta(hours=8)
TUESDAY = date(2026, 3, 10)
MONDAY = date(2026, 3, 9)
NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def build_day(now: datetime = NOW) -> dict[str, Any]:
    """The generated day at ``now`` (aware): its shift began an hour before ``now``."""
    began = (now + SHANGHAI).replace(tzinfo=None, second=0, microsecond=0) - timedelta(hours=1)
    today, start = began.date(), began.time()
    yesterday = today - timedelta(days=1)

    def at(day: date, hhmm: str) -> datetime:
        """Shanghai wall time ``hhmm`` of the fixed scenario (shift at 09:00), moved to this shift's start."""
        fixed = datetime.combine(day, time.fromisoformat(hhmm)) - datetime.combine(day, time(9))
        return datetime.combine(day, start).replace(tzinfo=UTC) + fixed - SHANGHAI

    def stamp(day: date, hhmm: str) -> str:
        return at(day, hhmm).strftime("%Y-%m-%dT%H:%M:%S.000000Z")

    s1 = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    s2 = Site.objects.create(code="s2", name="二厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=s1, weekly_rest=[], final_wait_h=72)
    SiteCalendar.objects.create(site=s2, weekly_rest=[], final_wait_h=72)
    assembly = Department.objects.create(site=s1, name="装配")
    quality = Department.objects.create(site=s1, name="质检")
    store = Department.objects.create(site=s2, name="仓储")
    day = ShiftType.objects.create(name="白班", start=start, end=(began + timedelta(hours=9)).time(), checkin_before_min=60,
                                   checkout_after_min=120, late_grace_min=5, early_grace_min=0)
    people: dict[str, Employee] = {}
    names = {"A1": "张伟", "A2": "王芳", "A3": "李娜", "A4": "刘洋", "A5": "陈静", "Q1": "杨磊", "Q2": "黄敏",
             "Q3": "赵军", "Q4": "吴艳", "Q5": "周杰", "W1": "徐涛", "W2": "孙明"}
    for number, name in names.items():
        dept = {"A": assembly, "Q": quality, "W": store}[number[0]]
        emp = Employee.objects.create(number=number, name=name, site=dept.site, department=dept)
        if number != "Q5":
            AttendanceProfile.objects.create(employee=emp, default_shift=day)
        people[number] = emp
    Employee.objects.create(number="A9", name="已离职", site=s1, department=assembly, active=False)
    annual = LeaveType.objects.create(code="annual", name="年假")
    LeaveRecord.objects.create(employee=people["A5"], leave_type=annual, start=today, end=today, state="approved")

    sent: list[tuple[str, str, date, str, str]] = [  # (site, number, day, time, direction)
        ("s1", "A1", today, "08:50", "in"), ("s1", "A2", today, "09:12", "in"), ("s1", "A3", today, "09:30", "in"),
        ("s1", "Q1", today, "08:55", "in"), ("s1", "Q1", today, "09:40", "out"), ("s1", "Q2", today, "08:45", "in"),
        ("s2", "W1", today, "08:55", "in"),
        ("s1", "A1", yesterday, "08:55", "in"), ("s1", "A1", yesterday, "18:05", "out"), ("s1", "A2", yesterday, "09:00", "in"),
        ("s1", "Q1", yesterday, "08:58", "in"), ("s1", "Q1", yesterday, "18:10", "out"), ("s1", "Q2", yesterday, "08:50", "in"),
        ("s1", "Q5", yesterday, "19:30", "in"),
    ]
    for weeks in range(1, 5):
        tuesday = today - timedelta(days=7 * weeks)
        sent += [("s1", "A1", tuesday, "09:10", "in"), ("s1", "A1", tuesday, "18:02", "out"),
                 ("s1", "Q1", tuesday, "08:50", "in"), ("s1", "Q1", tuesday, "18:01", "out")]
    ingest = Ingest()
    for site in ("s1", "s2"):
        door = "door-1" if site == "s1" else "door-w"
        send(ingest, "punches", batch(*[punch(device=door, employee_number=n, punched_at=stamp(d, t), direction=w)
                                        for s, n, d, t, w in sent if s == site]), site=site, device=door)
    Device.objects.filter(device_id="door-w").delete()  # s2 has no terminal: nothing more can arrive there
    Device.objects.update_or_create(device_id="door-1", defaults={
        "site": s1, "name": "东门", "online": False, "status": {"queue_depth": 12, "clock_offset_s": 3.5},
        "last_seen_at": now - timedelta(hours=3), "drained_at": at(yesterday, "12:00")})
    Device.objects.update_or_create(device_id="door-2", defaults={
        "site": s1, "name": "西门", "online": True, "status": {"queue_depth": 0, "clock_offset_s": 0.1},
        "last_seen_at": now - timedelta(seconds=20), "drained_at": at(today, "09:59")})
    for i, (device, kind, ago) in enumerate([("door-2", "tailgating", 20), ("door-2", "tailgating", 40),
                                             ("door-2", "unknown_face", 5), ("door-1", "spoof_suspected", 130),
                                             ("door-2", "roster_applied", 10)]):
        Event.objects.create(id=f"0190f3a0-0000-7000-8000-0000000000{i:02d}", site="s1", device_id=device, kind=kind,
                             severity="warning", at=now - timedelta(minutes=ago), payload={},
                             received_at=now - timedelta(minutes=ago))
    recompute(today - timedelta(days=35), today, now=now)
    return {"today": today, "yesterday": yesterday,
            "s1": s1, "s2": s2, "assembly": assembly, "quality": quality, "store": store, "people": people}
