"""The receiver keeps attendance current: a terminal's punches through the real broker become daily records."""
from __future__ import annotations

from datetime import date, time

from sync_support import wait_for


def test_punches_from_a_terminal_become_records_within_seconds(central, terminal_a, agent_factory):
    from central.attendance.models import AttendanceProfile, DailyRecord, ShiftType
    from central.people.models import Employee, Site

    site = Site.objects.create(code="test", name="测试厂", time_zone="Asia/Shanghai")
    shift = ShiftType.objects.create(name="day", start=time(8), end=time(17), checkin_before_min=60,
                                     checkout_after_min=120, late_grace_min=5, early_grace_min=0)
    for i in range(3):
        emp = Employee.objects.create(number=f"E{i:03d}", name=f"员工{i}", site=site)
        AttendanceProfile.objects.create(employee=emp, default_shift=shift)
    terminal_a.punch(2)  # E000 and E001 at 08:30 Shanghai on 2 March (the terminal's clock)
    agent_factory(terminal_a.config)
    wait_for(lambda: DailyRecord.objects.filter(date=date(2026, 3, 2)).count() >= 2, timeout=20,
             what="records made by the receiver's attendance follower")
    rows = {r.employee.number: r for r in DailyRecord.objects.filter(date=date(2026, 3, 2))}
    assert rows["E000"].status == "present" and rows["E000"].late and rows["E000"].late_min == 30
    assert rows["E000"].missing_out and rows["E000"].punch_ids == [terminal_a.ids[0]]
    assert rows["E001"].punch_ids == [terminal_a.ids[1]]
    assert central.attendance is not None and central.attendance.errors == 0
