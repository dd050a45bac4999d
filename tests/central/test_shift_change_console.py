"""The requests page for shift changes (调班) and swaps (换班): an employee asks, the colleague answers on the same page,
the department's manager decides, and the records of both follow; bad input refused on its field, nobody acting on
what is not theirs. Read back through the models, the audit log and the pages' HTML."""
from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import pytest
from central_support import client_for, make_user, text_of
from django.urls import reverse
from django.utils import timezone as dj_timezone

from central.accounts.models import AuditEntry
from central.attendance.models import AttendanceProfile, DailyRecord, ShiftChange, ShiftType, SiteCalendar
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db
PAGE = reverse("console:attendance_requests")
ANSWER, DECIDE = reverse("console:attendance_request_answer"), reverse("console:attendance_request_decide")
WITHDRAW = reverse("console:attendance_request_withdraw")


def last_wednesday() -> date:
    today = dj_timezone.localdate()
    return today - timedelta(days=today.weekday() + 5)  # the Wednesday of last week


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
    assembly = Department.objects.create(site=site, name="装配")
    day = ShiftType.objects.create(name="白班", start=time(9), end=time(18), checkin_before_min=60, checkout_after_min=120)
    night = ShiftType.objects.create(name="夜班", start=time(22), end=time(6), checkin_before_min=60,
                                     checkout_after_min=120)
    people = {}
    for number, name, shift in (("E1", "张三", day), ("E2", "李四", night), ("M1", "王经理", day)):
        people[number] = Employee.objects.create(number=number, name=name, site=site, department=assembly)
        AttendanceProfile.objects.create(employee=people[number], default_shift=shift)
    return {"site": site, "day": day, "night": night, "people": people, "users": {
        "e1": make_user("e1", "employee", employee=people["E1"]),
        "e2": make_user("e2", "employee", employee=people["E2"]),
        "boss": make_user("boss", "manager", employee=people["M1"], departments=[assembly])}}


def ask(client: Any, **fields: str) -> Any:
    return client.post(PAGE, {"kind": "shift", **{f"shift-{k}": v for k, v in fields.items()}}, follow=True)


def row_text(page: Any, change: ShiftChange) -> str:
    html = page.content.decode()
    start = html.index(f'id="request-shift_change-{change.pk}"')
    return text_of(html[start:html.index("</tr>", start)])


def test_a_swap_asked_agreed_and_approved_on_the_page(plant: dict[str, Any]) -> None:
    e1, e2, boss = (client_for(plant["users"][u]) for u in ("e1", "e2", "boss"))
    wednesday = last_wednesday()
    answer = ask(e1, mode="swap", start=wednesday.isoformat(), partner="E2", reason="孩子白天生病 child ill by day")
    assert "已向同事发出换班邀请" in answer.content.decode()
    swap = ShiftChange.objects.get()
    assert (swap.employee.number, swap.partner, swap.shift, swap.partner_shift) == ("E1", plant["people"]["E2"],
                                                                                   plant["night"], plant["day"])
    shown = row_text(boss.get(PAGE), swap)
    assert "换班" in shown and "张三 夜班 ⇄ 李四 E2 白班" in shown and "待同事同意" in shown
    assert "等同事同意后审批" in shown and 'value="shift_change:' not in boss.get(PAGE).content.decode()
    refused = boss.post(DECIDE, {"kind": "shift_change", "id": str(swap.pk), "decision": "approve"}, follow=True)
    assert "has not agreed" in refused.content.decode()
    assert e1.post(ANSWER, {"kind": "shift_change", "id": str(swap.pk), "agree": "yes"}).status_code == 403
    assert boss.post(ANSWER, {"kind": "shift_change", "id": str(swap.pk), "agree": "yes"}).status_code == 403
    asked = e2.get(PAGE)
    assert "同意换班" in row_text(asked, swap)
    assert '<span class="badge badge-warn" id="swaps-asked"' in asked.content.decode()  # the menu tells 李四
    assert 'id="swaps-asked"' not in e1.get(PAGE).content.decode()
    agreed = e2.post(ANSWER, {"kind": "shift_change", "id": str(swap.pk), "agree": "yes"}, follow=True)
    assert "已同意换班" in agreed.content.decode() and 'id="swaps-asked"' not in agreed.content.decode()
    assert "同事已同意" in row_text(boss.get(PAGE), swap)
    approved = boss.post(DECIDE, {"kind": "shift_change", "id": str(swap.pk), "decision": "approve"}, follow=True)
    assert "已批准 张三 (E1) 的请求" in approved.content.decode()
    worked = {r.employee.number: (r.shift_name, r.status) for r in DailyRecord.objects.filter(date=wednesday)}
    assert worked == {"E1": ("夜班", "absent"), "E2": ("白班", "absent")}, "the two who swapped, recomputed at once"
    html = boss.get(PAGE).content.decode()
    assert f'id="decided-shift_change-{swap.pk}"' in html
    month = boss.get(reverse("console:attendance_month", args=[swap.employee.pk]) + f"?month={wednesday:%Y-%m}")
    assert month.content.decode().count('class="mday-changed"') == 1, "the month marks the one day swapped"
    assert list(AuditEntry.objects.filter(action__startswith="attendance.shift_").order_by("seq")
                .values_list("action", "actor")) == [("attendance.shift_swap_filed", "e1"),
                                                     ("attendance.shift_swap_agreed", "e2"),
                                                     ("attendance.shift_change_approved", "boss")]


def test_a_change_to_rest_asked_and_withdrawn(plant: dict[str, Any]) -> None:
    e1 = client_for(plant["users"]["e1"])
    wednesday = last_wednesday()
    answer = ask(e1, mode="change", start=wednesday.isoformat(), shift="", reason="家中有事 family matter")
    assert "已提交调班申请" in answer.content.decode()
    change = ShiftChange.objects.get()
    assert (change.start, change.end, change.shift, change.was) == (wednesday, wednesday, None, "白班")
    shown = row_text(e1.get(PAGE), change)
    assert "调班" in shown and "白班 → 休息" in shown and "撤回" in shown
    assert "补交证明" not in shown, "a shift change takes no evidence"
    # the colleague neither sees nor answers nor withdraws it
    e2 = client_for(plant["users"]["e2"])
    assert f"request-shift_change-{change.pk}" not in e2.get(PAGE).content.decode()
    assert e2.post(ANSWER, {"kind": "shift_change", "id": str(change.pk), "agree": "yes"}).status_code == 404
    assert e2.post(WITHDRAW, {"kind": "shift_change", "id": str(change.pk)}).status_code == 404
    done = e1.post(WITHDRAW, {"kind": "shift_change", "id": str(change.pk)}, follow=True)
    assert "已撤回请求" in done.content.decode()
    assert ShiftChange.objects.get().state == "withdrawn"


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"mode": "swap", "partner": "E404"}, "partner", "本地点没有这个工号的在职同事"),
    ({"mode": "swap", "partner": ""}, "partner", "换班请填写同事的工号"),
    ({"mode": "swap", "partner": "E2", "end": "+1"}, "end", "换班只换一天"),
    ({"mode": "swap", "partner": "E1"}, None, "cannot swap with yourself"),
    ({"mode": "change", "shift": "999999"}, "shift", ""),
    ({"mode": "change", "shift": "", "end": "+40"}, None, "at most 31 days"),
    ({"mode": "change", "shift": "", "end": "-2"}, None, "before the start"),
    ({"mode": "change", "shift": "day"}, None, "already 白班"),
    ({"mode": "sideways"}, "mode", ""),
    ({"mode": "change", "shift": "", "reason": "   "}, "reason", "请填写事由"),
    ({"mode": "change", "shift": "", "start": "2026-02-30"}, "start", ""),
    ({"mode": "change", "shift": "", "reason": "<script>alert(1)</script>" * 40}, "reason", ""),
])
def test_bad_requests_are_refused_on_their_field(plant: dict[str, Any], fields: dict[str, str], field: str | None,
                                                 message: str) -> None:
    wednesday = last_wednesday()
    data = {"start": wednesday.isoformat(), "reason": "x", **fields}
    if data.get("end", "").startswith(("+", "-")):
        data["end"] = (wednesday + timedelta(days=int(data["end"]))).isoformat()
    if data.get("shift") == "day":
        data["shift"] = str(plant["day"].pk)
    page = ask(client_for(plant["users"]["e1"]), **data)
    assert page.status_code == 200
    form = page.context["shift_form"]
    errors = form.errors.get(field or "__all__", [])
    assert errors, form.errors
    assert message in " ".join(errors)
    assert not ShiftChange.objects.exists()
    assert "<script>alert(1)</script>" not in page.content.decode()


def test_the_page_in_english_names_the_new_kinds(plant: dict[str, Any]) -> None:
    e1 = client_for(plant["users"]["e1"])
    e1.post(reverse("console:set_language"), {"language": "en", "next": PAGE})
    html = e1.get(PAGE).content.decode()
    assert "Change or swap a shift" in html and "Colleague&#x27;s number" in html


def test_the_rotation_preview_marks_the_day_a_change_decides(plant: dict[str, Any]) -> None:
    from central.attendance.models import Assignment, Rotation
    from central.attendance.shift_changes import decide_change, file_change

    day, night = plant["day"], plant["night"]
    rotation = Rotation.objects.create(name="两班倒", anchor=date(2026, 3, 1), pattern=[day.pk, day.pk, night.pk, None])
    zhang = plant["people"]["E1"]
    Assignment.objects.create(employee=zhang, rotation=rotation, start=date(2026, 3, 1))
    # 3 March is a night by the pattern: worked as a day shift instead
    decide_change(file_change(zhang, date(2026, 3, 3), date(2026, 3, 3), day, reason="x", actor="e1"), approve=True,
                  actor="boss")
    hr = client_for(make_user("hr", "hr_admin", sites=[plant["site"]]))
    html = hr.get(reverse("console:attendance_rotation_preview"), {"rotation": rotation.pk, "month": "2026-03"}).content
    row = html.decode().split("张三", 1)[1].split("</tr>", 1)[0]
    cells = [text_of("<td" + c) for c in row.split("<td")[1:]]
    assert cells[:5] == ['白班', '白班', '白班', '休', '白班'], "the 3rd follows the change, the days around the pattern"
    assert row.count("roster-changed") == 1 and "已批准的调班或换班" in row.split("roster-changed", 1)[1].split(">", 1)[0]


def test_hr_records_an_agreed_change_on_the_month_page(plant: dict[str, Any]) -> None:
    zhang, wednesday = plant["people"]["E1"], last_wednesday()
    page = reverse("console:attendance_month", args=[zhang.pk])
    hr = client_for(make_user("hr", "hr_admin", sites=[plant["site"]]))
    assert 'id="change-form"' in hr.get(page).content.decode()
    body = {"kind": "shift", "month": f"{wednesday:%Y-%m}", "shift-start": wednesday.isoformat(),
            "shift-end": (wednesday + timedelta(days=1)).isoformat(), "shift-shift": str(plant["night"].pk),
            "shift-reason": "夜班缺人，经理同意 the night is short of hands"}
    done = hr.post(page, body, follow=True)
    assert f"已登记 {wednesday} 至 {wednesday + timedelta(days=1)} 的调班" in done.content.decode()
    change = ShiftChange.objects.get()
    assert (change.state, change.approved_by, change.shift) == ("approved", "hr", plant["night"])
    assert [(r.date, r.shift_name) for r in DailyRecord.objects.filter(employee=zhang).order_by("date")] == [
        (wednesday, "夜班"), (wednesday + timedelta(days=1), "夜班")]
    assert done.content.decode().count('class="mday-changed"') == 2
    assert list(AuditEntry.objects.filter(action__startswith="attendance.shift_").order_by("seq")
                .values_list("action", flat=True)) == ["attendance.shift_change_filed", "attendance.shift_change_approved"]
    # the same days again: refused on the form, nothing more written
    again = hr.post(page, body)
    assert "Those days are already 夜班" in " ".join(again.context["change_form"].non_field_errors())
    again = hr.post(page, {**body, "shift-shift": ""})
    assert "already has a shift change" in " ".join(again.context["change_form"].non_field_errors())
    assert ShiftChange.objects.count() == 1
    # a manager sees the month but records nothing; the employee neither
    assert client_for(plant["users"]["boss"]).post(page, body).status_code == 403
    assert client_for(plant["users"]["e1"]).post(page, body).status_code == 403
