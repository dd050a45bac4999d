"""The requests page: an employee asks for leave and make-up punches, the manager of their department (or HR) decides,
and what is approved reaches the attendance records; every step audited, nothing outside a person's scope shown or
decided, and bad input refused on its field. Read back through the models, the audit log and the pages' HTML."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from central_support import client_for
from django.urls import reverse
from django.utils import timezone as dj_timezone

from central.accounts.models import AuditEntry, Role, User
from central.attendance.models import (
    AttendanceProfile,
    DailyRecord,
    LeaveRecord,
    LeaveType,
    MakeupPunch,
    OvertimeRule,
    ShiftType,
)
from central.attendance.services import recompute
from central.ingest.handler import store_punches
from central.people.models import Department, Employee, Site
from central.reports.records import staff, with_records
from central.reports.tally import totals_of

pytestmark = pytest.mark.django_db
SHANGHAI = timezone(timedelta(hours=8))
PAGE, DECIDE = reverse("console:attendance_requests"), reverse("console:attendance_request_decide")


def user(name: str, role: str, *, employee: Employee | None = None, departments: Any = (), sites: Any = ()) -> User:
    found = User.objects.create_user(name, password="x" * 12, role=role, employee=employee)
    found.departments.set(departments)
    found.sites.set(sites)
    return found


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    assembly, store = Department.objects.create(site=site, name="装配"), Department.objects.create(site=site, name="仓储")
    rule = OvertimeRule.objects.create(name="平时加班", min_minutes=30, step_min=30, requires_approval=True)
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18), checkin_before_min=60,
                                   checkout_after_min=180, late_grace_min=0, early_grace_min=0, overtime=rule)
    people = {}
    for number, name, dept in (("E1", "张三", assembly), ("E2", "李四", store), ("M1", "王经理", assembly)):
        people[number] = Employee.objects.create(number=number, name=name, site=site, department=dept)
        AttendanceProfile.objects.create(employee=people[number], default_shift=day, overtime_listed=True)
    LeaveType.objects.create(code="annual", name="年假 Annual leave")
    return {"site": site, "people": people, "users": {
        "e1": user("e1", Role.EMPLOYEE, employee=people["E1"]),
        "boss": user("boss", Role.MANAGER, employee=people["M1"], departments=[assembly]),
        "other_boss": user("other_boss", Role.MANAGER, departments=[store]),
        "hr": user("hr", Role.HR_ADMIN, sites=[site]),
    }}


def ask_leave(client: Any, start: date, end: date, reason: str = "探亲 Family visit", **extra: str) -> Any:
    annual = LeaveType.objects.get(code="annual")
    return client.post(PAGE, {"kind": "leave", "leave-leave_type": str(annual.pk), "leave-start": start.isoformat(),
                              "leave-end": end.isoformat(), "leave-reason": reason, **extra})


def decide(client: Any, kind: str, pk: Any, decision: str) -> Any:
    return client.post(DECIDE, {"kind": kind, "id": str(pk), "decision": decision}, follow=True)


def actions(kind: str) -> list[tuple[str, str]]:
    return list(AuditEntry.objects.filter(action__startswith=f"attendance.{kind}").order_by("pk")
                .values_list("action", "actor"))


def test_an_employee_asks_for_leave_and_the_manager_of_the_department_approves_it_onto_the_records(plant) -> None:
    e1, boss = client_for(plant["users"]["e1"]), client_for(plant["users"]["boss"])
    monday = dj_timezone.localdate() - timedelta(days=dj_timezone.localdate().weekday() + 7)  # last week's Monday
    answer = ask_leave(e1, monday, monday + timedelta(days=1))
    assert answer.status_code == 302
    leave = LeaveRecord.objects.get()
    assert (leave.employee.number, leave.state, leave.start, leave.end) == ("E1", "pending", monday, monday + timedelta(days=1))
    page = boss.get(PAGE).content.decode()
    assert f'id="request-leave-{leave.pk}"' in page and "张三" in page and "探亲 Family visit" in page
    shown = decide(boss, "leave", leave.pk, "approve")
    assert "张三 (E1)" in shown.content.decode()  # the success message names who
    leave.refresh_from_db()
    assert (leave.state, leave.approved_by) == ("approved", "boss")
    days = {r.date: (r.status, r.source) for r in DailyRecord.objects.filter(employee=leave.employee)}
    assert days[monday] == days[monday + timedelta(days=1)] == ("on_leave", "leave")
    assert actions("leave") == [("attendance.leave_filed", "e1"), ("attendance.leave_approved", "boss")]
    mine = e1.get(PAGE).content.decode()  # the employee sees it decided, and by whom
    assert f'id="decided-leave-{leave.pk}"' in mine and "boss" in mine and f'id="request-leave-{leave.pk}"' not in mine


def test_a_make_up_punch_is_asked_for_at_the_sites_local_time_and_a_rejected_one_counts_for_nothing(plant) -> None:
    e1, boss = client_for(plant["users"]["e1"]), client_for(plant["users"]["boss"])
    yesterday = dj_timezone.localdate() - timedelta(days=1)
    answer = e1.post(PAGE, {"kind": "makeup", "makeup-at": f"{yesterday:%Y-%m-%d}T18:05", "makeup-direction": "out",
                            "makeup-reason": "忘记打卡 Forgot to punch"})
    assert answer.status_code == 302
    punch = MakeupPunch.objects.get()
    assert punch.at == datetime.combine(yesterday, time(18, 5), SHANGHAI) and punch.direction == "out"
    decide(boss, "makeup", punch.pk, "reject")
    punch.refresh_from_db()
    assert (punch.state, punch.approved_by) == ("rejected", "boss")
    assert not DailyRecord.objects.filter(employee=punch.employee, source="punches").exists()
    assert actions("makeup") == [("attendance.makeup_filed", "e1"), ("attendance.makeup_rejected", "boss")]
    again = decide(boss, "makeup", punch.pk, "approve")  # decided is decided
    assert "already" in again.content.decode() and MakeupPunch.objects.get().state == "rejected"


def test_no_one_decides_a_request_outside_their_scope_nor_their_own(plant) -> None:
    boss, other, hr = (client_for(plant["users"][n]) for n in ("boss", "other_boss", "hr"))
    monday = dj_timezone.localdate() - timedelta(days=dj_timezone.localdate().weekday() + 7)
    ask_leave(client_for(plant["users"]["e1"]), monday, monday)
    theirs = LeaveRecord.objects.get()
    assert f'id="request-leave-{theirs.pk}"' not in other.get(PAGE).content.decode()
    assert decide(other, "leave", theirs.pk, "approve").status_code == 404  # another department's: not there
    assert client_for(plant["users"]["e1"]).post(DECIDE, {"kind": "leave", "id": theirs.pk, "decision": "approve"}
                                                 ).status_code == 403
    ask_leave(boss, monday + timedelta(days=1), monday + timedelta(days=1), reason="体检 Check-up")
    own = LeaveRecord.objects.get(employee__number="M1")
    page = boss.get(PAGE).content.decode()
    assert "自己的请求由他人审批" in page
    refused = decide(boss, "leave", own.pk, "approve").content.decode()
    assert "You cannot decide your own request" in refused
    assert LeaveRecord.objects.get(pk=own.pk).state == "pending"
    decide(hr, "leave", own.pk, "approve")  # HR of the site decides the manager's
    assert LeaveRecord.objects.get(pk=own.pk).state == "approved"
    assert LeaveRecord.objects.get(pk=theirs.pk).state == "pending"


@pytest.mark.parametrize("body, field, message", [
    ({"kind": "leave", "leave-start": "2026-03-04", "leave-end": "2026-03-02", "leave-reason": "x"}, "leave",
     "The end date is before the start date"),
    ({"kind": "leave", "leave-start": "2026-03-02", "leave-end": "not a date", "leave-reason": "x"}, "leave", "date"),
    ({"kind": "leave", "leave-start": "2026-03-02", "leave-end": "2026-03-02", "leave-reason": "   "}, "leave",
     "请填写事由"),
    ({"kind": "makeup", "makeup-at": "2099-01-01T09:00", "makeup-direction": "in", "makeup-reason": "x"}, "makeup",
     "cannot be in the future"),
    ({"kind": "makeup", "makeup-at": "<script>alert(1)</script>", "makeup-direction": "in", "makeup-reason": "x"},
     "makeup", "date"),
    ({"kind": "makeup", "makeup-at": "2026-03-02T09:00", "makeup-direction": "sideways", "makeup-reason": "x"},
     "makeup", "sideways"),
])
def test_bad_requests_are_refused_on_their_fields_and_nothing_is_filed(plant, body, field, message) -> None:
    if field == "leave":
        body = {"leave-leave_type": str(LeaveType.objects.get().pk), **body}
    answer = client_for(plant["users"]["e1"]).post(PAGE, body)
    html = answer.content.decode()
    card = html[html.index(f'id="ask-{field}"'):]
    card = card[:card.index("</section>")]  # the refusal is shown in the form that was sent, as an alert
    assert answer.status_code == 200 and message in card and ('role="alert"' in card or "alert-bad" in card)
    assert not LeaveRecord.objects.exists() and not MakeupPunch.objects.exists()


@pytest.mark.parametrize("body", [{"kind": "leave", "id": "x", "decision": "approve"},
                                  {"kind": "payroll", "id": "1", "decision": "approve"},
                                  {"kind": "leave", "id": "1", "decision": "maybe"}, {}])
def test_a_decision_naming_nothing_decidable_is_not_found(plant, body) -> None:
    ask_leave(client_for(plant["users"]["e1"]), date(2026, 3, 2), date(2026, 3, 2))
    assert client_for(plant["users"]["hr"]).post(DECIDE, body).status_code == 404
    assert LeaveRecord.objects.get().state == "pending"


def test_overtime_waits_for_a_decision_that_stays_while_its_minutes_do(plant) -> None:
    e1 = plant["people"]["E1"]
    now = datetime(2026, 3, 20, tzinfo=timezone.utc)
    store_punches([{"id": f"p{i}", "site": "s1", "device_id": "door-a", "employee_number": "E1", "direction": way,
                    "method": "card", "score": None, "punched_at": at, "boot_id": "b", "monotonic_ns": i,
                    "time_source": "ntp", "original_punched_at": None, "restamped_at": None, "batch_id": "x",
                    "received_at": now} for i, (at, way) in enumerate([
                        (datetime(2026, 3, 2, 8, 55, tzinfo=SHANGHAI), "in"), (datetime(2026, 3, 2, 19, 40, tzinfo=SHANGHAI), "out"),
                        (datetime(2026, 3, 3, 8, 55, tzinfo=SHANGHAI), "in"), (datetime(2026, 3, 3, 19, 10, tzinfo=SHANGHAI), "out")])])
    recompute(date(2026, 3, 2), date(2026, 3, 3), now=now)
    first, second = (DailyRecord.objects.get(employee=e1, date=date(2026, 3, d)) for d in (2, 3))
    assert (first.overtime_min, first.overtime_state, second.overtime_min, second.overtime_state) == (90, "pending", 60, "pending")
    boss = client_for(plant["users"]["boss"])
    page = boss.get(PAGE).content.decode()
    assert f'id="request-overtime-{first.pk}"' in page and "90 分钟" in page
    decide(boss, "overtime", first.pk, "approve")
    decide(boss, "overtime", second.pk, "reject")
    recompute(date(2026, 3, 2), date(2026, 3, 3), now=now)  # the same minutes: the decisions stay
    assert [r.overtime_state for r in DailyRecord.objects.filter(employee=e1).order_by("date")] == ["approved", "rejected"]
    assert actions("overtime") == [("attendance.overtime_approved", "boss"), ("attendance.overtime_rejected", "boss")]
    (_, recs), = with_records(staff(Employee.objects.filter(pk=e1.pk), date(2026, 3, 1), date(2026, 3, 31)),
                              date(2026, 3, 1), date(2026, 3, 31))
    month = totals_of(recs)  # the monthly sheet pays the approved 90 minutes, neither pends nor pays the rejected 60
    assert (month.overtime_min["workday"], month.overtime_pending_min) == (90, 0)
    store_punches([{"id": "p9", "site": "s1", "device_id": "door-a", "employee_number": "E1", "direction": "out",
                    "method": "card", "score": None, "punched_at": datetime(2026, 3, 2, 20, 15, tzinfo=SHANGHAI),
                    "boot_id": "b", "monotonic_ns": 9, "time_source": "ntp", "original_punched_at": None,
                    "restamped_at": None, "batch_id": "y", "received_at": now}])
    recompute(date(2026, 3, 2), date(2026, 3, 2), now=now)  # longer overtime: asked again
    first.refresh_from_db()
    assert (first.overtime_min, first.overtime_state) == (120, "pending")



def punched(number: str, *moments: tuple[datetime, str], batch: str = "x") -> None:
    now = datetime(2026, 3, 20, tzinfo=timezone.utc)
    store_punches([{"id": f"{batch}{i}", "site": "s1", "device_id": "door-a", "employee_number": number,
                    "direction": way, "method": "card", "score": None, "punched_at": at, "boot_id": "b",
                    "monotonic_ns": i, "time_source": "ntp", "original_punched_at": None, "restamped_at": None,
                    "batch_id": batch, "received_at": now} for i, (at, way) in enumerate(moments)])


def test_a_decision_on_minutes_a_recompute_changed_meanwhile_is_not_taken_for_the_new_minutes(
        plant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The manager decides while a pass runs (after its read, before its write) or on a page shown before it: either
    way the new minutes wait for a decision of their own."""
    from central.attendance import services
    from central.attendance.requests import decide_overtime

    e1, now = plant["people"]["E1"], datetime(2026, 3, 20, tzinfo=timezone.utc)
    punched("E1", (datetime(2026, 3, 2, 8, 55, tzinfo=SHANGHAI), "in"), (datetime(2026, 3, 2, 19, 10, tzinfo=SHANGHAI), "out"))
    recompute(date(2026, 3, 2), date(2026, 3, 2), now=now)
    record = DailyRecord.objects.get(employee=e1)
    assert (record.overtime_min, record.overtime_state) == (60, "pending")
    boss = client_for(plant["users"]["boss"])
    assert 'name="minutes" value="60"' in boss.get(PAGE).content.decode()  # the page the manager has open

    punched("E1", (datetime(2026, 3, 2, 20, 15, tzinfo=SHANGHAI), "out"), batch="y")  # she stayed longer
    run_one = services._run_one

    def decided_during_the_pass(rules: Any, item: Any) -> Any:
        if item.employee_id == e1.pk and DailyRecord.objects.get(pk=record.pk).overtime_state == "pending":
            decide_overtime(record, approve=True, actor="boss", minutes=60)  # read as 60 by the pass too
        return run_one(rules, item)

    monkeypatch.setattr(services, "_run_one", decided_during_the_pass)
    recompute(date(2026, 3, 2), date(2026, 3, 2), now=now)
    monkeypatch.undo()
    record.refresh_from_db()
    assert (record.overtime_min, record.overtime_state) == (120, "pending")  # not approved for 120 minutes

    answer = boss.post(DECIDE, {"kind": "overtime", "id": str(record.pk), "decision": "approve", "minutes": "60"},
                       follow=True)
    assert "已从 60 分钟变为 120 分钟" in answer.content.decode()
    record.refresh_from_db()
    assert record.overtime_state == "pending"
    answer = boss.post(DECIDE, {"kind": "overtime", "id": str(record.pk), "decision": "approve", "minutes": "120"},
                       follow=True)
    record.refresh_from_db()
    assert record.overtime_state == "approved" and actions("overtime") == [
        ("attendance.overtime_approved", "boss"), ("attendance.overtime_approved", "boss")]


def test_an_employee_withdraws_their_own_waiting_request_and_nobody_else_can(plant) -> None:
    from decimal import Decimal

    from central.attendance.leave_balances import balances
    from central.webhooks import services as webhooks
    from central.webhooks.models import Delivery

    webhooks.create_hook(User.objects.create_user("root", password="x" * 12, role=Role.HR_ADMIN, is_superuser=True),
                         {"name": "chat", "url": "http://127.0.0.1:9/h", "events": ["request.withdrawn"]})
    LeaveType.objects.filter(code="annual").update(yearly_days=Decimal(5))
    users, e1 = plant["users"], plant["people"]["E1"]
    me, boss = client_for(users["e1"]), client_for(users["boss"])
    monday = dj_timezone.localdate() - timedelta(days=dj_timezone.localdate().weekday() + 7)
    ask_leave(me, monday, monday + timedelta(days=1))
    leave = LeaveRecord.objects.get()
    assert [b.waiting for b in balances(e1, [monday.year])] == [Decimal(2)]
    WITHDRAW = reverse("console:attendance_request_withdraw")
    body = {"kind": "leave", "id": str(leave.pk)}
    assert f'action="{WITHDRAW}"' in me.get(PAGE).content.decode()
    assert f'action="{WITHDRAW}"' not in boss.get(PAGE).content.decode()  # the manager decides it, does not withdraw it
    assert boss.post(WITHDRAW, body).status_code == 403  # sees it, not his
    assert client_for(users["hr"]).post(WITHDRAW, body).status_code == 403  # no employee record
    for hostile in ({"kind": "overtime", "id": str(leave.pk)}, {"kind": "leave", "id": "abc"}, {"kind": "leave"},
                    {"kind": "<script>", "id": "1"}):
        assert me.post(WITHDRAW, hostile).status_code == 404
    assert LeaveRecord.objects.get().state == "pending"

    page = me.post(WITHDRAW, body, follow=True).content.decode()
    assert "已撤回请求" in page and f'id="decided-leave-{leave.pk}"' in page and "已撤回" in page
    leave.refresh_from_db()
    assert (leave.state, leave.approved_by) == ("withdrawn", "e1")
    assert actions("leave") == [("attendance.leave_filed", "e1"), ("attendance.leave_withdrawn", "e1")]
    assert [b.waiting for b in balances(e1, [monday.year])] == [Decimal(0)]  # its days are free again
    assert f'id="request-leave-{leave.pk}"' not in boss.get(PAGE).content.decode()
    assert "已处理" in me.post(WITHDRAW, body, follow=True).content.decode()  # once
    assert "已处理" in decide(boss, "leave", leave.pk, "approve").content.decode()  # and nobody decides it now
    told = Delivery.objects.get(event="request.withdrawn")
    assert (told.data["id"], told.data["withdrawn_by"], told.key) == (leave.pk, "e1", "E1")
    # another employee's request is not there for her
    other = client_for(user("e2", Role.EMPLOYEE, employee=plant["people"]["E2"]))
    ask_leave(other, monday, monday)
    theirs = LeaveRecord.objects.get(employee=plant["people"]["E2"])
    assert me.post(WITHDRAW, {"kind": "leave", "id": str(theirs.pk)}).status_code == 404


def test_a_manager_decides_the_ticked_requests_at_once_and_is_told_which_were_not(plant) -> None:
    users, people = plant["users"], plant["people"]
    e1 = client_for(users["e1"])
    boss = client_for(users["boss"])
    monday = dj_timezone.localdate() - timedelta(days=dj_timezone.localdate().weekday() + 7)
    ask_leave(e1, monday, monday)
    e1.post(PAGE, {"kind": "makeup", "makeup-at": f"{monday:%Y-%m-%d}T18:05", "makeup-direction": "out",
                   "makeup-reason": "忘记打卡 Forgot"})
    punched("E1", (datetime(2026, 3, 2, 8, 55, tzinfo=SHANGHAI), "in"), (datetime(2026, 3, 2, 19, 10, tzinfo=SHANGHAI), "out"),
            (datetime(2026, 3, 3, 8, 55, tzinfo=SHANGHAI), "in"), (datetime(2026, 3, 3, 19, 40, tzinfo=SHANGHAI), "out"))
    recompute(date(2026, 3, 2), date(2026, 3, 3), now=datetime(2026, 3, 20, tzinfo=timezone.utc))
    first, second = DailyRecord.objects.filter(employee=people["E1"]).order_by("date")
    ask_leave(client_for(user("e2", Role.EMPLOYEE, employee=people["E2"])), monday, monday)  # another department's
    leave, theirs = LeaveRecord.objects.get(employee=people["E1"]), LeaveRecord.objects.get(employee=people["E2"])
    makeup = MakeupPunch.objects.get()
    page = boss.get(PAGE).content.decode()
    assert f'value="overtime:{first.pk}:60"' in page and f'value="leave:{leave.pk}"' in page and 'id="pick-all"' in page
    MANY = reverse("console:attendance_request_decide_many")
    picks = [f"leave:{leave.pk}", f"makeup:{makeup.pk}", f"overtime:{first.pk}:60",
             f"overtime:{second.pk}:30",  # shown as 30 minutes, 90 now: not decided
             f"leave:{theirs.pk}", "payroll:1", "leave:abc", "<script>"]
    answer = boss.post(MANY, {"decision": "approve", "pick": picks}, follow=True).content.decode()
    assert "已批准 3 条请求" in answer and "5 条未处理" in answer and "已从 30 分钟变为 90 分钟" in answer
    assert "&lt;script&gt;" in answer and "<script>:" not in answer
    assert (LeaveRecord.objects.get(pk=leave.pk).state, MakeupPunch.objects.get().state) == ("approved", "approved")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.overtime_state, second.overtime_state) == ("approved", "pending")
    assert LeaveRecord.objects.get(pk=theirs.pk).state == "pending"  # not his to see
    assert [a for a, _ in actions("") if a.endswith("_approved")] == [
        "attendance.leave_approved", "attendance.makeup_approved", "attendance.overtime_approved"]
    answer = boss.post(MANY, {"decision": "reject", "pick": [f"overtime:{second.pk}:90"]}, follow=True).content.decode()
    assert "已拒绝 1 条请求" in answer
    assert "请先勾选" in boss.post(MANY, {"decision": "approve"}, follow=True).content.decode()
    assert boss.post(MANY, {"decision": "maybe", "pick": [f"leave:{theirs.pk}"]}).status_code == 404
    assert e1.post(MANY, {"decision": "approve", "pick": [f"leave:{theirs.pk}"]}).status_code == 403
    assert LeaveRecord.objects.get(pk=theirs.pk).state == "pending"
