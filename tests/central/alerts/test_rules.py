"""Each alert rule with a clock the test controls: nothing a minute before, one alert at the minute, none after;
a device condition that clears and comes back is a new alert."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from alerts.alert_support import MONDAY, at, event, make_world, punch, rule
from central.alerts.models import Alert, AlertEpisode, AlertRule
from central.alerts.services import evaluate
from central.alerts.texts import describe
from central.attendance.models import DailyRecord, LeaveRecord, LeaveType
from central.people.models import Device

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    return make_world()


def keys(alerts: list[Alert]) -> list[str]:
    return [a.key for a in alerts]


def fires_once_at(moment: datetime, expected: list[str]) -> None:
    """Nothing at moment − 1 min, exactly ``expected`` at the moment, nothing at +1 min and +3 h."""
    assert evaluate(moment - timedelta(minutes=1)) == []
    assert keys(evaluate(moment)) == expected
    assert evaluate(moment + timedelta(minutes=1)) == []
    assert evaluate(moment + timedelta(hours=3)) == []
    assert sorted(Alert.objects.values_list("key", flat=True)) == sorted(expected)


def record(emp: Any, **values: Any) -> DailyRecord:
    return DailyRecord.objects.create(employee=emp, date=MONDAY, shift_name="day", status="present",
                                      source="punches", **values)


def test_late_fires_at_the_late_punch_only_beyond_n_minutes(world: dict[str, Any]) -> None:
    late = rule(AlertRule.LATE, 15, site=world["sh"])
    record(world["E1"], late=True, late_min=16, first_in=at(9, 21))
    record(world["E2"], late=True, late_min=15, first_in=at(9, 20))  # exactly N: not beyond
    DailyRecord.objects.create(employee=world["B1"], date=MONDAY, shift_name="day", status="present",
                               source="punches", late=True, late_min=40, first_in=at(9, 45))  # another site
    fires_once_at(at(9, 21), [f"late:{world['E1'].pk}:{MONDAY.isoformat()}"])
    alert = Alert.objects.get()
    assert (alert.rule, alert.employee, alert.site, alert.department, alert.at) == (
        late, world["E1"], world["sh"], world["ops"], at(9, 21))
    assert alert.detail["late_min"] == 16 and alert.detail["number"] == "E1"


def test_a_department_rule_sees_only_its_department(world: dict[str, Any]) -> None:
    rule(AlertRule.LATE, 0, department=world["sales"])
    record(world["E1"], late=True, late_min=30, first_in=at(9, 35))
    record(world["E2"], late=True, late_min=10, first_in=at(9, 15))
    assert keys(evaluate(at(10))) == [f"late:{world['E2'].pk}:{MONDAY.isoformat()}"]


def test_a_late_record_two_days_old_is_not_news(world: dict[str, Any]) -> None:
    rule(AlertRule.LATE, 5)
    record(world["E1"], late=True, late_min=30, first_in=at(9, 35))
    assert evaluate(at(9, 35) + timedelta(days=2)) == []


def test_missing_out_fires_once_the_window_closed_plus_n(world: dict[str, Any]) -> None:
    rule(AlertRule.MISSING_OUT, 30, site=world["sh"])
    record(world["E1"], first_in=at(8, 55), missing_out=True)
    record(world["E2"], first_in=at(8, 55), last_out=at(18, 5))
    # the day shift ends 18:00, its window closes 120 min later (20:00); N = 30 min after that
    fires_once_at(at(20, 30), [f"missing_out:{world['E1'].pk}:{MONDAY.isoformat()}"])


def test_absent_fires_n_minutes_after_the_start_for_who_has_not_punched(world: dict[str, Any]) -> None:
    rule(AlertRule.ABSENT, 10, site=world["sh"])
    punch(world["E2"], at(8, 55))  # arrived
    fires_once_at(at(9, 10), [f"absent:{world['E1'].pk}:{MONDAY.isoformat()}:day"])
    alert = Alert.objects.get()
    assert alert.at == at(9, 10) and alert.detail["since_start_min"] == 10


def test_absent_on_a_flexible_start_counts_from_its_latest_start(world: dict[str, Any]) -> None:
    from central.attendance.models import ShiftType

    ShiftType.objects.filter(name="day").update(flex_min=30)  # 弹性上班: due by 09:30, not 09:00
    rule(AlertRule.ABSENT, 10, site=world["sh"])
    punch(world["E2"], at(9, 25))  # on time within the flexible range
    fires_once_at(at(9, 40), [f"absent:{world['E1'].pk}:{MONDAY.isoformat()}:day"])
    assert Alert.objects.get().detail["since_start_min"] == 10


def test_absent_leaves_out_approved_leave_and_a_late_arrival_before_n(world: dict[str, Any]) -> None:
    rule(AlertRule.ABSENT, 30, site=world["sh"])
    leave = LeaveType.objects.create(code="AL", name="年假")
    LeaveRecord.objects.create(employee=world["E1"], leave_type=leave, start=MONDAY, end=MONDAY, state="approved")
    punch(world["E2"], at(9, 29))
    assert evaluate(at(9, 30)) == [] and evaluate(at(11)) == []


def test_device_offline_fires_after_n_minutes_and_again_after_it_came_back(world: dict[str, Any]) -> None:
    rule(AlertRule.DEVICE_OFFLINE, 5, site=world["sh"])
    door = world["door"]
    Device.objects.filter(pk=door.pk).update(online=False, last_seen_at=at(9))
    Device.objects.filter(pk=world["door_bj"].pk).update(online=False, last_seen_at=at(9))  # another site
    assert evaluate(at(9, 4)) == []
    raised = evaluate(at(9, 5))
    assert keys(raised) == [f"device_offline:{door.pk}:{AlertEpisode.objects.get().pk}"]
    assert evaluate(at(9, 6)) == [] and evaluate(at(12)) == []
    first = Alert.objects.get()
    assert first.device == door and first.site == world["sh"] and first.employee is None
    Device.objects.filter(pk=door.pk).update(online=True, last_seen_at=at(12, 30))
    assert evaluate(at(12, 31)) == [] and not AlertEpisode.objects.exists()  # back: the episode ends
    Device.objects.filter(pk=door.pk).update(online=False, last_seen_at=at(13))
    assert evaluate(at(13, 4)) == []
    again = evaluate(at(13, 5))
    assert len(again) == 1 and again[0].key != first.key and again[0].device == door
    assert evaluate(at(13, 6)) == [] and Alert.objects.count() == 2


@pytest.mark.parametrize(("kind", "threshold", "status_key", "below", "above", "cleared"), [
    (AlertRule.QUEUE_DEPTH, 40, "queue_depth", 40, 41, 3),
    (AlertRule.CLOCK_OFFSET, 2, "clock_offset_s", -2.0, -2.5, 0.2),
])
def test_a_device_status_above_n_is_one_alert_per_episode(world: dict[str, Any], kind: str, threshold: int,
                                                          status_key: str, below: float, above: float,
                                                          cleared: float) -> None:
    rule(kind, threshold, department=world["ops"])  # a department rule watches its site's doors
    door = world["door"]

    def status(value: float) -> None:
        Device.objects.filter(pk=door.pk).update(status={status_key: value})

    status(below)
    assert evaluate(at(9)) == []
    status(above)
    raised = evaluate(at(9, 1))
    assert len(raised) == 1 and raised[0].device == door and raised[0].detail[status_key] == above
    assert evaluate(at(9, 2)) == [] and evaluate(at(10)) == []
    status(cleared)
    assert evaluate(at(10, 1)) == []
    status(above)
    again = evaluate(at(10, 2))
    assert len(again) == 1 and again[0].key != raised[0].key
    assert Alert.objects.count() == 2


def test_security_events_above_n_in_the_last_hour(world: dict[str, Any]) -> None:
    rule(AlertRule.SECURITY_EVENTS, 2, site=world["sh"])
    door = world["door"]
    event(door, "tailgating", at(9, 0))
    event(door, "spoof_suspected", at(9, 10))
    event(door, "unknown_face", at(9, 15))  # not a security event of this rule
    event(door, "spoof", at(9, 20))
    event(world["door_bj"], "spoof", at(9, 0))
    assert evaluate(at(9, 19)) == []
    raised = evaluate(at(9, 20))
    assert len(raised) == 1 and raised[0].detail["count"] == 3
    assert evaluate(at(9, 21)) == [] and evaluate(at(10)) == []
    assert evaluate(at(10, 1)) == []  # 9:00 left the hour: two remain, the episode ends
    assert not AlertEpisode.objects.exists()
    event(door, "spoof_attempt", at(10, 5))
    again = evaluate(at(10, 5))
    assert len(again) == 1 and again[0].key != raised[0].key and again[0].detail["count"] == 3


def test_a_disabled_rule_raises_nothing(world: dict[str, Any]) -> None:
    late = rule(AlertRule.LATE, 0)
    AlertRule.objects.filter(pk=late.pk).update(enabled=False)
    record(world["E1"], late=True, late_min=30, first_in=at(9, 35))
    assert evaluate(at(10)) == []


def test_overtime_in_a_month_above_n_hours_fires_once_per_employee_and_month(world: dict[str, Any]) -> None:
    """Counted as the monthly line counts it: waiting and approved minutes in, rejected and unpaid out; the previous
    month is still watched after it turned (its last days' overtime may be decided later)."""
    over = rule(AlertRule.OVERTIME_MONTH, 10, site=world["sh"])

    def worked(emp: Any, day: int, minutes: int, state: str, month: int = 3) -> None:
        DailyRecord.objects.create(employee=emp, date=MONDAY.replace(month=month, day=day), shift_name="day",
                                   status="present", source="punches", overtime_min=minutes, overtime_state=state)

    worked(world["E1"], 2, 300, "approved")
    worked(world["E1"], 3, 300, "pending")
    worked(world["E1"], 4, 600, "rejected")
    worked(world["E2"], 2, 600, "approved")  # exactly 10 h: not above
    worked(world["E2"], 3, 120, "unpaid")
    worked(world["B1"], 2, 900, "approved")  # another site
    assert evaluate(at(9)) == []  # E1: 600 min, not above 10 h yet
    worked(world["E1"], 5, 30, "in_lieu")
    raised = evaluate(at(10))
    assert [a.key for a in raised] == [f"overtime_month:{world['E1'].pk}:2026-03"]
    assert raised[0].rule == over and raised[0].employee == world["E1"]
    assert raised[0].detail["hours"] == "10.50"
    assert describe(raised[0].kind, raised[0].detail) == (
        "加班超时：张三（E1） 2026-03 加班已达 10.50 小时，超过 10 小时（每月上限 36 小时）",
        "Overtime: 张三 (E1) has 10.50 h of overtime in 2026-03, above 10 h (the monthly line is 36 h)")
    worked(world["E1"], 6, 300, "approved")
    assert evaluate(at(11)) == []  # the same month again: once is enough
    worked(world["E2"], 31, 60, "approved")  # the last day of March, decided on April 1st
    april = at(9, day=MONDAY.replace(month=4, day=1))
    assert [a.key for a in evaluate(april)] == [f"overtime_month:{world['E2'].pk}:2026-03"]
