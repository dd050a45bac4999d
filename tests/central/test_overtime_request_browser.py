"""Overtime asked for (加班申请) in a real browser: ``seed-central serve`` (gunicorn) on the test database, driven by
headless Chromium. 张伟 (白班 09:00–18:00) stayed until 20:00 on the first Wednesday of last month: two hours of
overtime wait for a decision. He asks for those two hours on the requests page; 李娟, HR admin of the site, approves
the request, and the day's overtime is approved with it, no second decision.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest
from browser_support import PBKDF2, all_css, by_css, submit, wait
from central_support import last_month_at_a_site

from central.console.screenshots import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHANGHAI = timezone(timedelta(hours=8))


@pytest.fixture
def world(transactional_db, settings) -> dict:
    from browser_support import account

    from central.attendance.models import OvertimeRule, ShiftType
    from central.attendance.services import recompute
    from central.ingest.handler import store_punches

    settings.PASSWORD_HASHERS = PBKDF2
    _site, _employee, month = last_month_at_a_site()
    rule = OvertimeRule.objects.create(name="平时加班", min_minutes=30, step_min=30, requires_approval=True)
    ShiftType.objects.filter(name="白班").update(overtime=rule, checkout_after_min=300)
    wednesday = month + timedelta(days=(2 - month.weekday()) % 7)
    store_punches([{"id": f"p{i}", "site": "zongchang", "device_id": "door", "employee_number": "A001",
                    "direction": way, "method": "card", "score": None,
                    "punched_at": datetime.combine(wednesday, at, SHANGHAI), "boot_id": "b", "monotonic_ns": i,
                    "time_source": "ntp", "original_punched_at": None, "restamped_at": None, "batch_id": "b",
                    "received_at": datetime.combine(wednesday, time(20, 1), SHANGHAI)}
                   for i, (at, way) in enumerate(((time(8, 50), "in"), (time(20), "out")))])
    recompute(wednesday, wednesday, actor="test")
    users = {"zhang": ("zhang", account("zhang", role="employee", employee_number="A001",
                                                                   actor="test")),
             "hr": ("hr-li", account("hr-li", role="hr_admin", site_codes=["zongchang"],
                                                                actor="test"))}
    return {"users": users, "day": wednesday}


def test_overtime_asked_for_and_approved_in_the_browser(console, browser, world):
    from central.attendance.models import DailyRecord, OvertimeRequest

    day, users = world["day"], world["users"]
    record = DailyRecord.objects.get(employee__number="A001", date=day)
    assert (record.overtime_min, record.overtime_state) == (120, "pending")

    sign_in(browser, console.url, *users["zhang"])
    browser.get(f"{console.url}/attendance/requests/")
    form = "#ask-overtime form"
    browser.execute_script("arguments[0].value = arguments[1]", by_css(browser, f"{form} [name='overtime-date']"),
                           day.isoformat())
    by_css(browser, f"{form} [name='overtime-hours']").send_keys("2")
    by_css(browser, f"{form} [name='overtime-reason']").send_keys("月底赶货")
    submit(browser, form)
    assert "的加班申请，等待审批" in by_css(browser, ".alert-ok").text
    asked = OvertimeRequest.objects.get()
    row = f"#request-overtime_request-{asked.pk}"
    assert "120 分钟" in by_css(browser, row).text and "撤回" in by_css(browser, row).text  # his own: he may withdraw it

    browser.delete_all_cookies()  # 李娟 decides
    sign_in(browser, console.url, *users["hr"])
    browser.get(f"{console.url}/attendance/requests/")
    assert by_css(browser, f"#request-overtime-{record.pk}")  # the day's overtime waits too, for now
    by_css(browser, f"{row} button[name='decision'][value='approve']").click()
    wait(browser, lambda d: "已批准 张伟 (A001) 的请求" in by_css(d, ".alert-ok").text, what="the request approved")
    assert not all_css(browser, f"#request-overtime-{record.pk}")  # approved with the request
    record.refresh_from_db()
    assert (record.overtime_min, record.overtime_state) == (120, "approved")
