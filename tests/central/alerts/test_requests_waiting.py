"""The "request waiting" rule: a leave or make-up punch still pending N hours after it was filed raises one alert,
seen by whoever sees the employee (their manager, HR) and mailed to the rule's addresses; a request decided in time,
another site's and an inactive employee's raise nothing."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from central_support import client_for
from django.urls import reverse

from alerts.alert_support import MONDAY, at, make_world, rule, smtp_server
from alerts.test_fan_out import use_smtp
from central.accounts.models import Role, User
from central.alerts import mail
from central.alerts.models import Alert, AlertRule
from central.alerts.services import evaluate
from central.alerts.texts import describe
from central.attendance.models import AttendanceProfile, LeaveRecord, LeaveType, MakeupPunch
from central.attendance.requests import decide_leave, file_leave, file_makeup_punch

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    """E1 (生产部, site sh) asks for leave at 09:00, E2 (销售部, sh) for a make-up punch at 09:30, B1 (site bj) for
    leave at 09:00."""
    world = make_world()
    annual = LeaveType.objects.create(code="annual", name="年假")
    later = MONDAY + timedelta(days=3)
    world["leave"] = file_leave(world["E1"], annual, later, later + timedelta(days=1), reason="探亲", actor="E1")
    world["makeup"] = file_makeup_punch(world["E2"], at(18, 5), "out", reason="忘打卡", actor="E2")
    world["far"] = file_leave(world["B1"], annual, later, later, reason="x", actor="B1")
    LeaveRecord.objects.filter(pk__in=[world["leave"].pk, world["far"].pk]).update(created_at=at(9))
    MakeupPunch.objects.filter(pk=world["makeup"].pk).update(created_at=at(9, 30))
    return world


def keys(alerts: list[Alert]) -> list[str]:
    return [a.key for a in alerts]


def test_a_request_pending_n_hours_raises_one_alert_for_the_sites_requests_only(world: dict[str, Any]) -> None:
    rule(AlertRule.REQUEST_WAITING, 2, site=world["sh"])
    leave, makeup = world["leave"], world["makeup"]
    assert evaluate(at(10, 59)) == []
    assert keys(evaluate(at(11))) == [f"request:leave:{leave.pk}"]
    assert evaluate(at(11, 29)) == []
    assert keys(evaluate(at(11, 30))) == [f"request:makeup_punch:{makeup.pk}"]
    assert evaluate(at(11, 31)) == [] and evaluate(at(20)) == []  # once per request, B1 of site bj never
    first = Alert.objects.get(key=f"request:leave:{leave.pk}")
    assert (first.employee, first.site, first.department, first.at) == (world["E1"], world["sh"], world["ops"], at(11))
    assert {k: first.detail[k] for k in ("kind", "id", "leave_type", "start", "end", "filed_at", "hours")} == {
        "kind": "leave", "id": leave.pk, "leave_type": "年假", "start": "2026-03-12", "end": "2026-03-13",
        "filed_at": "2026-03-09 09:00", "hours": 2}
    zh, en = describe(first.kind, first.detail)
    assert zh == "待审批：张三（E1） 的年假请假 2026-03-12 至 2026-03-13（2026-03-09 09:00 提交，已等待 2 小时）"
    assert en == ("Waiting for a decision: 张三 (E1)'s leave (年假) from 2026-03-12 to 2026-03-13 "
                  "(filed 2026-03-09 09:00, waiting 2 h)")
    second = Alert.objects.get(key=f"request:makeup_punch:{makeup.pk}")
    zh, en = describe(second.kind, second.detail)
    assert "补下班卡 2026-03-09 18:05" in zh and "make-up out punch at 2026-03-09 18:05" in en  # the site's clock
    assert "探亲" not in str(first.detail) and "忘打卡" not in str(second.detail)  # the reason stays on the page


def test_decided_in_time_inactive_and_other_departments_raise_nothing(world: dict[str, Any]) -> None:
    rule(AlertRule.REQUEST_WAITING, 1, department=world["ops"])
    decide_leave(world["leave"], approve=False, actor="mg", now=at(9, 50))
    assert evaluate(at(12)) == []  # E1's leave decided; E2's make-up punch is another department's
    rule(AlertRule.REQUEST_WAITING, 0, department=world["sales"])
    world["E2"].active = False
    world["E2"].save()
    assert evaluate(at(12, 1)) == []
    world["E2"].active = True
    world["E2"].save()
    [alert] = evaluate(at(12, 2))
    assert alert.key == f"request:makeup_punch:{world['makeup'].pk}" and alert.at == at(9, 30)  # N = 0: when filed
    assert "已等待" not in describe(alert.kind, alert.detail)[0]


def test_the_manager_of_the_department_sees_it_with_a_link_to_decide(world: dict[str, Any]) -> None:
    rule(AlertRule.REQUEST_WAITING, 0, site=world["sh"])
    assert len(evaluate(at(10))) == 2

    def manager(name: str, department: Any) -> User:
        found = User.objects.create_user(name, password="x" * 12, role=Role.MANAGER)
        found.departments.set([department])
        return found

    page = client_for(manager("ops-lead", world["ops"])).get(reverse("console:alerts")).content.decode()
    assert "待审批：张三（E1）" in page and "李四" not in page
    assert f'href="{reverse("console:attendance_requests")}#pending-requests"' in page and "去审批" in page
    page = client_for(manager("sales-lead", world["sales"])).get(reverse("console:alerts")).content.decode()
    assert "待审批：李四（E2）" in page and "张三" not in page


def test_the_notification_names_the_rules_hours_not_n(world: dict[str, Any]) -> None:
    rule(AlertRule.REQUEST_WAITING, 4, site=world["sh"])
    assert len(evaluate(at(13, 30))) == 2
    hr = client_for(User.objects.create_user("hr-sh", password="x" * 12, role=Role.HR_ADMIN, is_superuser=True))
    zh = hr.get(reverse("console:alerts")).content.decode()
    assert zh.count("申请待审批超过 4 小时") == 2 and "超过 N 小时" not in zh
    hr.cookies["seed_language"] = "en"
    en = hr.get(reverse("console:alerts")).content.decode()
    assert en.count("Request waiting 4 hours for a decision") == 2 and "waiting N hours" not in en


def test_the_rules_addresses_get_a_mail_chinese_first(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    rule(AlertRule.REQUEST_WAITING, 4, department=world["ops"], emails=["ops-lead@example.test"])
    with smtp_server() as (box, port):
        use_smtp(monkeypatch, port)
        moment: datetime = at(13)
        [alert] = evaluate(moment)
        assert mail.send_due(moment) == 1 and box.wait_for(1)
    message = box.messages[0]
    subject, body = str(message["subject"]), message.get_content()
    assert box.recipients == [["ops-lead@example.test"]]
    assert "待审批" in subject and "张三" in subject
    assert body.index("待审批") < body.index("Waiting for a decision") and "已等待 4 小时" in body
    assert f"/alerts/?alert={alert.pk}" in body and "探亲" not in body


def test_overtime_waiting_n_hours_after_its_last_punch_raises_an_alert_and_again_when_its_minutes_change(
        world: dict[str, Any]) -> None:
    """张三 stays until 19:30 on a shift ending at 18:00, and the overtime needs approval: his manager hears of it two
    hours after he left; a later out punch (20:00) makes it other minutes, which wait anew; approved, nothing more."""
    from alerts.alert_support import punch
    from central.attendance.models import DailyRecord, OvertimeRule
    from central.attendance.requests import decide_overtime
    from central.attendance.services import recompute
    from central.people.models import Employee

    e1 = world["E1"]
    world["day"].overtime = OvertimeRule.objects.create(name="加班", min_minutes=30, step_min=30, requires_approval=True)
    world["day"].save()
    AttendanceProfile.objects.filter(employee=e1).update(overtime_listed=True)
    punch(e1, at(8, 55))
    punch(e1, at(19, 30), "out")
    recompute(MONDAY, MONDAY, employees=Employee.objects.filter(pk=e1.pk), now=at(19, 31))
    record = DailyRecord.objects.get(employee=e1, date=MONDAY)
    assert (record.overtime_min, record.overtime_state) == (90, "pending")
    rule(AlertRule.REQUEST_WAITING, 2, site=world["sh"])
    evaluate(at(12))  # the fixture's leave and make-up punch
    assert evaluate(at(21, 29)) == []
    [alert] = evaluate(at(21, 30))
    assert (alert.key, alert.employee, alert.at) == (f"request:overtime:{record.pk}:90", e1, at(21, 30))
    zh, en = describe(alert.kind, alert.detail)
    assert zh == "待审批：张三（E1） 2026-03-09 day 的加班 90 分钟（工作到 2026-03-09 19:30，已等待 2 小时）"
    assert en == ("Waiting for a decision: 张三 (E1)'s overtime of 90 min on 2026-03-09 (day, worked until "
                  "2026-03-09 19:30, waiting 2 h)")
    assert evaluate(at(23)) == []  # once
    punch(e1, at(20), "out")  # he came back for his phone and punched out again, as the window closed
    recompute(MONDAY, MONDAY, employees=Employee.objects.filter(pk=e1.pk), now=at(20, 1))
    assert evaluate(at(21, 59)) == []  # other minutes: they wait two hours from 20:00
    assert keys(evaluate(at(22))) == [f"request:overtime:{record.pk}:120"]
    decide_overtime(DailyRecord.objects.get(pk=record.pk), approve=True, actor="boss", minutes=120)
    assert evaluate(at(23, 59)) == []


def test_a_shift_change_waits_like_a_request_and_a_swap_only_once_the_colleague_agreed(world: dict[str, Any]) -> None:
    from datetime import time

    from central.attendance.models import Assignment, ShiftChange, ShiftType
    from central.attendance.shift_changes import answer_swap, file_change, file_swap

    later = MONDAY + timedelta(days=3)
    night = ShiftType.objects.create(name="night", start=time(22), end=time(6), checkin_before_min=60,
                                     checkout_after_min=120)
    Assignment.objects.create(employee=world["E2"], shift=night, start=later, end=later)
    change = file_change(world["E1"], later + timedelta(days=1), later + timedelta(days=1), None, reason="私事",
                         actor="E1")
    swap = file_swap(world["E1"], world["E2"], later, reason="看病", actor="E1")
    ShiftChange.objects.update(created_at=at(9))
    rule(AlertRule.REQUEST_WAITING, 1, site=world["sh"])
    LeaveRecord.objects.update(state="withdrawn")
    MakeupPunch.objects.update(state="withdrawn")
    [alert] = evaluate(at(10, 30))
    assert alert.key == f"request:shift_change:{change.pk}"
    zh, en = describe(alert.kind, alert.detail)
    assert zh == "待审批：张三（E1） 的调班 2026-03-13：改为 休息（2026-03-09 09:00 提交，已等待 1 小时）"
    assert en == ("Waiting for a decision: 张三 (E1)'s shift change on 2026-03-13 to rest (filed 2026-03-09 09:00, "
                  "waiting 1 h)")
    assert evaluate(at(11)) == [], "the swap waits for 李四 first: no manager can decide it yet"
    answer_swap(User.objects.create_user("li", password="x" * 12, role=Role.EMPLOYEE, employee=world["E2"]), swap,
                agree=True)
    [alert] = evaluate(at(11, 1))
    assert alert.key == f"request:shift_change:{swap.pk}"
    zh, en = describe(alert.kind, alert.detail)
    assert "换班 2026-03-12：与 李四（E2） 对换（改上 night，同事已同意）" in zh
    assert "swap on 2026-03-12 with 李四 (E2) (to work night; the colleague agreed)" in en
    assert "看病" not in str(alert.detail)


def test_overtime_asked_for_waits_like_a_request(world: dict[str, Any]) -> None:
    from central.attendance.models import OvertimeRequest
    from central.attendance.overtime_requests import file_overtime

    rule(AlertRule.REQUEST_WAITING, 3, site=world["sh"])
    asked = file_overtime(world["E2"], MONDAY + timedelta(days=2), 150, reason="盘点", actor="E2")
    OvertimeRequest.objects.filter(pk=asked.pk).update(created_at=at(12))
    evaluate(at(14, 59))  # the leave and the make-up punch of the fixture
    assert keys(evaluate(at(15))) == [f"request:overtime_request:{asked.pk}"]
    alert = Alert.objects.get(key=f"request:overtime_request:{asked.pk}")
    assert describe(alert.kind, alert.detail) == (
        "待审批：李四（E2） 的加班申请 2026-03-11 150 分钟（2026-03-09 12:00 提交，已等待 3 小时）",
        "Waiting for a decision: 李四 (E2)'s overtime of 150 min asked for 2026-03-11 (filed 2026-03-09 12:00, waiting 3 h)")
