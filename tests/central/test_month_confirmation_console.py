"""An employee confirming her month (考勤确认) on her month page, through Django's test client: once last month is
over she confirms it, or disputes it with a note (an empty note is refused on the form); a dispute waiting for HR
keeps the month from being closed, the month-close page says so and counts it; the HR admin of her site answers it on
her page (an empty answer is refused), the month is ready again, and she confirms it. A manager reads the state
without forms and may not post; another employee cannot reach her page; a month not over shows no card; a note too
long is refused on the page, not a 500.

The month is last month by the real clock (the pages use it); the site has no terminals, so once its records are
computed and nothing waits, last month is ready to close."""
from __future__ import annotations

import re
from datetime import date, time, timedelta
from typing import Any

import pytest
from central_support import make_user, text_of
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from central.accounts.models import AuditEntry, Role
from central.attendance import closing
from central.attendance.models import AttendanceProfile, MonthConfirmation, ShiftType, SiteCalendar
from central.attendance.selectors import month_end
from central.attendance.services import recompute
from central.people.models import Department, Employee, Site

pytestmark = [pytest.mark.django_db, pytest.mark.central]
CLOSING = reverse("console:attendance_closing")


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    """总部 (no terminals, Saturday and Sunday off): 张伟 on 白班 with a user of her own, last month's records computed;
    李娟 the HR admin of 总部, a manager of 销售部, 王芳 another employee, and an HR admin of 工厂 beside it."""
    hq = Site.objects.create(code="hq", name="总部", time_zone="Asia/Shanghai")
    plant = Site.objects.create(code="plant", name="工厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=hq, weekly_rest=[5, 6])
    sales = Department.objects.create(site=hq, name="销售部")
    shift = ShiftType.objects.create(name="白班", start=time(9), end=time(18), checkin_before_min=60,
                                     checkout_after_min=120, late_grace_min=5, early_grace_min=0)
    employee = Employee.objects.create(number="E001", name="张伟", site=hq, department=sales)
    other = Employee.objects.create(number="E002", name="王芳", site=hq, department=sales)
    AttendanceProfile.objects.create(employee=employee, default_shift=shift)
    month = closing.first_of(closing.first_of(timezone.localdate()) - timedelta(days=1))
    recompute(month, month_end(month), now=timezone.now(), employees=Employee.objects.filter(pk=employee.pk))
    users = {
        "zhang": make_user("zhang", Role.EMPLOYEE, employee=employee),
        "wang": make_user("wang", Role.EMPLOYEE, employee=other),
        "hr_hq": make_user("hr_hq", Role.HR_ADMIN, sites=[hq], first_name="李娟"),
        "hr_plant": make_user("hr_plant", Role.HR_ADMIN, sites=[plant]),
        "manager": make_user("mg", Role.MANAGER, departments=[sales]),
        "auditor": make_user("au", Role.AUDITOR),
    }
    return {"hq": hq, "employee": employee, "month": month, "users": users,
            "url": reverse("console:attendance_month", args=[employee.pk])}




def client_for(world: dict[str, Any], who: str) -> Client:
    client = Client()
    client.force_login(world["users"][who])
    return client




def card_of(page: str) -> str:
    """The 考勤确认 card, as HTML ("" when the page has none)."""
    found = re.search(r'<section class="card form-card" id="month-confirmation".*?</section>', page, re.S)
    return found.group(0) if found else ""


def closing_row(client: Client, month: date) -> str:
    page = client.get(CLOSING, {"site": "hq"}).content.decode()
    found = re.search(rf'<tr id="month-{month:%Y-%m}".*?</tr>', page, re.S)
    assert found, f"no row for {month:%Y-%m}"
    return found.group(0)


def month_page(client: Client, world: dict[str, Any], month: date | None = None) -> str:
    answer = client.get(world["url"], {"month": f"{month or world['month']:%Y-%m}"})
    assert answer.status_code == 200
    return answer.content.decode()


def post(client: Client, world: dict[str, Any], kind: str, **fields: str) -> Any:
    return client.post(world["url"], {"kind": kind, "month": f"{world['month']:%Y-%m}", **fields})


def test_the_employee_confirms_her_last_month(world: dict[str, Any]) -> None:
    client, month = client_for(world, "zhang"), world["month"]
    card = card_of(month_page(client, world))
    assert "考勤确认" in card and "尚未确认" in card and 'data-state="none"' in card
    assert 'id="confirm-form"' in card and 'id="dispute-form"' in card and 'id="answer-form"' not in card
    assert "Confirm this month" not in card  # Chinese alone

    answer = post(client, world, "confirm")
    assert answer.status_code == 302 and answer["Location"] == f"{world['url']}?month={month:%Y-%m}"
    row = MonthConfirmation.objects.get()
    assert (row.employee, row.month, row.state, row.note) == (world["employee"], month, "confirmed", "")
    entry = AuditEntry.objects.get(action="attendance.month_confirmed")
    assert entry.actor == "zhang" and entry.target == f"E001 {month:%Y-%m}"
    page = client.get(answer["Location"]).content.decode()
    zh, _ = closing.month_text(month)
    assert f"已确认{zh}的考勤无误" in page  # the message
    card = card_of(page)
    when = timezone.localtime(row.at).strftime("%Y-%m-%d %H:%M")
    assert 'data-state="confirmed"' in card and f"已确认 于 {when} 确认无误" in text_of(card)
    assert 'id="confirm-form"' not in card and 'id="dispute-form"' in card  # she may still say it is wrong
    # the closing page counts her, and the audit log names the step
    assert "员工确认 1 / 1" in text_of(closing_row(client_for(world, "hr_hq"), month))
    audit = client_for(world, "auditor").get(reverse("console:audit")).content.decode()
    assert "员工确认月度考勤" in audit


def test_a_dispute_waits_for_hr_keeps_the_month_open_and_once_answered_she_confirms(world: dict[str, Any]) -> None:
    zhang, hr, month = client_for(world, "zhang"), client_for(world, "hr_hq"), world["month"]
    assert 'data-state="ready"' in closing_row(hr, month)

    # no note: refused on its field, nothing saved
    refused = post(zhang, world, "dispute", **{"confirmation-note": "   "})
    assert refused.status_code == 200
    field = re.search(r'<div class="field field-error" id="field-confirmation-note">.*?</div>\s*</div>',
                      refused.content.decode(), re.S)
    assert field and "请写明哪里不对" in text_of(field.group(0))
    assert not MonthConfirmation.objects.exists() and not AuditEntry.objects.filter(action__startswith="attendance.month_").exists()

    answer = post(zhang, world, "dispute", **{"confirmation-note": "15 号我在客户那里，不是缺勤"})
    assert answer.status_code == 302
    row = MonthConfirmation.objects.get()
    assert (row.state, row.note) == ("disputed", "15 号我在客户那里，不是缺勤")
    assert AuditEntry.objects.get(action="attendance.month_disputed").detail == {"note": row.note}
    page = zhang.get(answer["Location"]).content.decode()
    assert "考勤的异议，等待人事答复" in page
    card = card_of(page)
    assert 'data-state="disputed"' in card and "待人事答复" in card and row.note in card and 'id="answer-form"' not in card

    # the month-close page: not ready, the dispute among its reasons, counted
    waiting = closing_row(hr, month)
    assert 'data-state="not_ready"' in waiting and 'value="close"' not in waiting
    shown = text_of(waiting)
    assert "1 位员工对这个月的考勤有异议，待人事答复" in shown and "1 条异议" in shown and "员工确认 0 / 1" in shown

    # HR answers on her page: an empty answer is refused on its field
    card = card_of(month_page(hr, world))
    assert 'id="answer-form"' in card and row.note in card and 'id="dispute-form"' not in card
    refused = post(hr, world, "answer", **{"confirmation-answer": ""})
    assert refused.status_code == 200 and "请填写答复" in text_of(card_of(refused.content.decode()))
    assert MonthConfirmation.objects.get().state == "disputed"
    answer = post(hr, world, "answer", **{"confirmation-answer": "已核对外出登记，15 号改为出勤"})
    assert answer.status_code == 302
    row = MonthConfirmation.objects.get()
    assert (row.state, row.answer, row.answered_by) == ("answered", "已核对外出登记，15 号改为出勤", "hr_hq")
    assert AuditEntry.objects.get(action="attendance.month_answered").actor == "hr_hq"
    page = hr.get(answer["Location"]).content.decode()
    assert "已答复张伟对" in page and 'id="answer-form"' not in card_of(page)

    ready = closing_row(hr, month)
    assert 'data-state="ready"' in ready and "条异议" not in ready and "员工确认 0 / 1" in text_of(ready)

    # she reads the answer and confirms
    card = card_of(month_page(zhang, world))
    when = timezone.localtime(row.answered_at).strftime("%Y-%m-%d %H:%M")
    assert 'data-state="answered"' in card and f"李娟 (hr_hq) 于 {when} 答复" in text_of(card) and row.answer in card
    assert post(zhang, world, "confirm").status_code == 302
    assert MonthConfirmation.objects.get().state == "confirmed"
    assert "员工确认 1 / 1" in text_of(closing_row(hr, month))
    assert [e.action for e in AuditEntry.objects.filter(action__startswith="attendance.month_").order_by("pk")] == [
        "attendance.month_disputed", "attendance.month_answered", "attendance.month_confirmed"]


def test_a_manager_and_an_auditor_read_the_state_without_forms_and_may_not_post(world: dict[str, Any]) -> None:
    assert post(client_for(world, "zhang"), world, "dispute", **{"confirmation-note": "少算了加班"}).status_code == 302
    for who in ("manager", "auditor"):
        client = client_for(world, who)
        card = card_of(month_page(client, world))
        assert 'data-state="disputed"' in card and "少算了加班" in card and "<form" not in card, who
        for kind, fields in (("answer", {"confirmation-answer": "好"}), ("confirm", {}),
                             ("dispute", {"confirmation-note": "x"})):
            assert post(client, world, kind, **fields).status_code == 403, (who, kind)
    assert MonthConfirmation.objects.get().state == "disputed"
    # HR of another site do not see her at all
    assert post(client_for(world, "hr_plant"), world, "answer", **{"confirmation-answer": "好"}).status_code == 404


def test_only_the_employee_herself_confirms_and_she_posts_nothing_else(world: dict[str, Any]) -> None:
    wang = client_for(world, "wang")
    for kind in ("confirm", "dispute"):
        assert post(wang, world, kind, **{"confirmation-note": "不对"}).status_code == 404
    zhang = client_for(world, "zhang")
    assert post(zhang, world, "answer", **{"confirmation-answer": "自己答复"}).status_code == 403
    day = world["month"] + timedelta(days=3)
    assert zhang.post(world["url"], {"month": f"{world['month']:%Y-%m}", "date": day.isoformat(), "status": "present",
                                     "reason": "x"}).status_code == 403  # a record by hand: still HR's
    assert post(zhang, world, "profile", **{"profile-exempt": "on"}).status_code == 403
    assert not MonthConfirmation.objects.exists()
    # HR may answer, not confirm for her
    assert post(client_for(world, "hr_hq"), world, "confirm").status_code == 403


def test_a_month_not_over_shows_no_card_and_cannot_be_confirmed(world: dict[str, Any]) -> None:
    zhang, this_month = client_for(world, "zhang"), closing.first_of(timezone.localdate())
    assert card_of(month_page(zhang, world, this_month)) == ""
    assert card_of(month_page(client_for(world, "hr_hq"), world, this_month)) == ""
    refused = zhang.post(world["url"], {"kind": "confirm", "month": f"{this_month:%Y-%m}"})
    assert refused.status_code == 200
    zh, _ = closing.month_text(this_month)
    assert f"{zh}还没过完" in text_of(card_of(refused.content.decode()))
    assert not MonthConfirmation.objects.exists()


def test_hostile_input_is_refused_or_shown_as_text(world: dict[str, Any]) -> None:
    zhang = client_for(world, "zhang")
    long = post(zhang, world, "dispute", **{"confirmation-note": "错" * 600})
    assert long.status_code == 200 and 'id="field-confirmation-note"' in long.content.decode()
    assert "500" in text_of(card_of(long.content.decode())) and not MonthConfirmation.objects.exists()
    for month in ("99999-99", "2026-13", "\x00"):  # no month: this month, not over yet
        answer = zhang.post(world["url"], {"kind": "confirm", "month": month})
        assert answer.status_code == 200 and not MonthConfirmation.objects.exists()
    assert zhang.post(world["url"], {"kind": ["confirm", "x"], "month": f"{world['month']:%Y-%m}"}).status_code == 403
    note = "<script>alert('x')</script> 少了一天"
    assert post(zhang, world, "dispute", **{"confirmation-note": note}).status_code == 302
    assert post(client_for(world, "hr_hq"), world, "answer", **{"confirmation-answer": "<b>看过了</b>"}).status_code == 302
    card = card_of(month_page(zhang, world))
    assert "<script>" not in card and "&lt;script&gt;" in card and "&lt;b&gt;看过了&lt;/b&gt;" in card


def test_the_card_and_the_closing_count_speak_english_from_the_catalogue(world: dict[str, Any]) -> None:
    zhang = client_for(world, "zhang")
    zhang.cookies["seed_language"] = "en"
    card = card_of(month_page(zhang, world))
    assert "Confirm this month" in card and "Not confirmed yet" in card
    answer = post(zhang, world, "dispute", **{"confirmation-note": "missing overtime"})
    assert f"Your dispute of {world['month']:%B %Y} is sent" in zhang.get(answer["Location"]).content.decode()
    hr = client_for(world, "hr_hq")
    hr.cookies["seed_language"] = "en"
    refused = post(hr, world, "answer", **{"confirmation-answer": ""})
    card = card_of(refused.content.decode())
    assert "An answer is required" in card and "Waiting for HR's answer" in card
    row = text_of(closing_row(hr, world["month"]))
    assert "Confirmed: 0 / 1" in row and "Disputes waiting: 1" in row
    for shown in (text_of(card), row):
        assert not re.findall(r"[\u4e00-\u9fff]+", shown.replace("总部", "")), re.findall(r"[\u4e00-\u9fff]+", shown)
