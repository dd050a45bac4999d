"""A swap of shifts (换班) in a real browser: ``seed-central serve`` (gunicorn) on the test database, driven by headless
Chromium. 张伟 (白班) asks 王强 (夜班) on the requests page to swap the first Wednesday of last month; 王强 agrees on
the same page; 李娟, HR admin of the site, approves it; the two days' records then follow the swapped shifts.
"""
from __future__ import annotations

from datetime import time, timedelta

import pytest
from browser_support import PBKDF2, by_css, submit, wait
from central_support import last_month_at_a_site

from central.console.screenshots import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]



@pytest.fixture
def world(transactional_db, settings) -> dict:
    """Site 总厂 (no terminals, Saturday and Sunday off): 张伟 (A001) on 白班 and 王强 (A002) on 夜班, each with a
    user of their own; 李娟 the HR admin of 总厂."""
    from browser_support import account

    from central.accounts.models import User
    from central.attendance.models import AttendanceProfile, ShiftType
    from central.people.models import Employee

    settings.PASSWORD_HASHERS = PBKDF2
    site, _, month = last_month_at_a_site()
    night = ShiftType.objects.create(name="夜班", start=time(22), end=time(6), checkin_before_min=60,
                                     checkout_after_min=120)
    AttendanceProfile.objects.create(employee=Employee.objects.create(number="A002", name="王强", site=site),
                                     default_shift=night)
    users = {name: (name, account(name, role="employee", employee_number=number,
                                                             actor="test"))
             for name, number in (("zhang", "A001"), ("wang", "A002"))}
    users["hr"] = ("hr-li", account("hr-li", role="hr_admin", site_codes=["zongchang"],
                                                              actor="test"))
    User.objects.filter(username="hr-li").update(first_name="李娟")
    wednesday = month + timedelta(days=(2 - month.weekday()) % 7)
    return {"users": users, "day": wednesday}


def open_requests(browser, console) -> None:
    by_css(browser, "nav.sidenav a[href$='/attendance/requests/']").click()
    wait(browser, lambda d: by_css(d, "#pending-requests"), what="the requests page")


def test_a_swap_asked_agreed_and_approved_in_the_browser(console, browser, world):
    from central.attendance.models import DailyRecord, ShiftChange

    day, users = world["day"], world["users"]
    sign_in(browser, console.url, *users["zhang"])
    open_requests(browser, console)
    by_css(browser, "#ask-shift input[name='shift-mode'][value='swap']").click()
    browser.execute_script("arguments[0].value = arguments[1]", by_css(browser, "#ask-shift [name='shift-start']"),
                           day.isoformat())
    by_css(browser, "#ask-shift [name='shift-partner']").send_keys("A002")
    by_css(browser, "#ask-shift [name='shift-reason']").send_keys("那天白天要陪家人看病")
    submit(browser, "#ask-shift form")
    assert "已向同事发出换班邀请" in by_css(browser, ".alert-ok").text
    swap = ShiftChange.objects.get()
    row = f"#request-shift_change-{swap.pk}"
    assert "待同事同意" in by_css(browser, row).text

    browser.delete_all_cookies()  # 王强 agrees
    sign_in(browser, console.url, *users["wang"])
    open_requests(browser, console)
    assert "张伟 夜班 ⇄ 王强" in by_css(browser, row).text
    by_css(browser, f"{row} button[name='agree'][value='yes']").click()
    wait(browser, lambda d: "已同意换班" in by_css(d, ".alert-ok").text, what="the swap agreed")

    browser.delete_all_cookies()  # 李娟 approves
    sign_in(browser, console.url, *users["hr"])
    open_requests(browser, console)
    assert "同事已同意" in by_css(browser, row).text
    by_css(browser, f"{row} button[name='decision'][value='approve']").click()
    wait(browser, lambda d: "已批准 张伟 (A001) 的请求" in by_css(d, ".alert-ok").text, what="the swap approved")
    assert by_css(browser, f"#decided-shift_change-{swap.pk}")
    worked = {r.employee.number: r.shift_name for r in DailyRecord.objects.filter(date=day)}
    assert worked == {"A001": "夜班", "A002": "白班"}
