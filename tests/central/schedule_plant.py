"""A hand-worked March 2026 of planned shifts that the team schedule page and the schedule report are both checked
against.

Site 一厂 rests on Saturdays and Sundays. 装配 has 张三 (E1, day shift 09:00-18:00 by default; HR changed Saturday
14 March to a day shift), 李四 (E2, on nights 22:00-06:00 from 9 to 13 March by an assignment, days otherwise),
王五 (E3, days; annual leave approved on 10-11 March and asked for on 12 March) and 赵六 (E5, inactive). 包装 has
钱七 (E4). March 2026 begins on a Sunday.
"""
from __future__ import annotations

from datetime import date, time
from typing import Any

from central.attendance import shift_changes
from central.attendance.models import Assignment, AttendanceProfile, LeaveType, ShiftType, SiteCalendar
from central.attendance.requests import file_leave, record_leave
from central.people.models import Department, Employee, Site


def march_plant() -> dict[str, Any]:
    """The site, its departments, shifts and people (by number) above, in the database."""
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
    assembly = Department.objects.create(site=site, name="装配")
    packing = Department.objects.create(site=site, name="包装")
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18), color="#2e7d32")
    night = ShiftType.objects.create(name="night", start=time(22), end=time(6), color="#4527a0")
    people = {}
    for number, name, dept, active in (("E1", "张三", assembly, True), ("E2", "李四", assembly, True),
                                       ("E3", "王五", assembly, True), ("E4", "钱七", packing, True),
                                       ("E5", "赵六", assembly, False)):
        people[number] = Employee.objects.create(number=number, name=name, site=site, department=dept, active=active)
        AttendanceProfile.objects.create(employee=people[number], default_shift=day)
    Assignment.objects.create(employee=people["E2"], shift=night, start=date(2026, 3, 9), end=date(2026, 3, 13))
    annual = LeaveType.objects.create(code="annual", name="年假")
    record_leave(people["E3"], annual, date(2026, 3, 10), date(2026, 3, 11), reason="回家 Home", actor="hr")
    file_leave(people["E3"], annual, date(2026, 3, 12), date(2026, 3, 12), reason="回家 Home", actor="e3")
    shift_changes.record_change(people["E1"], date(2026, 3, 14), date(2026, 3, 14), day, reason="盘点 Stock-take",
                                actor="hr")
    return {"site": site, "assembly": assembly, "packing": packing, "day": day, "night": night, "people": people}
