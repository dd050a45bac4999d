"""Confirming a month (考勤确认) in a real browser: ``seed-central serve`` (gunicorn) on the test database, driven by
headless Chromium. 张伟 opens 我的月历, goes back to last month and disputes it with a note; the HR admin of her site
sees the month held back on the month-close page and answers on her month page; 张伟 reads the answer and confirms.
"""
from __future__ import annotations

import pytest
from browser_support import PBKDF2, by_css, submit, wait
from central_support import last_month_at_a_site

from central.console.screenshots import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]



@pytest.fixture
def world(transactional_db, settings) -> dict:
    """Site 总厂 (no terminals, Saturday and Sunday off): 张伟 on 白班 with a user of her own, last month's records
    computed; 李娟 the HR admin of 总厂."""
    from browser_support import account

    from central.accounts.models import User

    settings.PASSWORD_HASHERS = PBKDF2
    _, employee, month = last_month_at_a_site()
    zhang = account("zhang", role="employee", employee_number="A001", actor="test")
    hr = account("hr-li", role="hr_admin", site_codes=["zongchang"], actor="test")
    User.objects.filter(username="hr-li").update(first_name="李娟")
    return {"employee": employee, "month": month, "zhang": ("zhang", zhang), "hr": ("hr-li", hr)}




def test_the_employee_disputes_last_month_hr_answers_and_she_confirms(console, browser, world):
    from central.attendance.models import MonthConfirmation

    month, page = world["month"], f"{console.url}/attendance/employees/{world['employee'].pk}/month/"
    sign_in(browser, console.url, *world["zhang"])
    by_css(browser, "nav.sidenav a[href$='/month/']").click()  # 我的月历, then the month before
    wait(browser, lambda d: "张伟" in by_css(d, "h1").text, what="her month")
    by_css(browser, "#month-previous").click()
    wait(browser, lambda d: f"{month:%Y-%m}" in by_css(d, "h1").text, what="last month")
    assert "尚未确认" in by_css(browser, "#confirmation-state").text
    by_css(browser, "#dispute-form [name='confirmation-note']").send_keys("15 号我在客户那里，不是缺勤")
    submit(browser, "#dispute-form")
    assert "等待人事答复" in by_css(browser, ".alert-ok").text
    assert by_css(browser, "#month-confirmation").get_attribute("data-state") == "disputed"

    browser.delete_all_cookies()  # the HR admin: the month waits for her answer
    sign_in(browser, console.url, *world["hr"])
    browser.get(f"{console.url}/attendance/closing/?site=zongchang")
    row = wait(browser, lambda d: by_css(d, f"#month-{month:%Y-%m}"), what="the month-close page")
    assert row.get_attribute("data-state") == "not_ready" and "1 条异议待答复" in row.text
    browser.get(f"{page}?month={month:%Y-%m}")
    assert "15 号我在客户那里" in wait(browser, lambda d: by_css(d, "#month-confirmation"), what="her month").text
    by_css(browser, "#answer-form [name='confirmation-answer']").send_keys("已核对外出登记，15 号改为出勤")
    submit(browser, "#answer-form")
    assert "已答复张伟" in by_css(browser, ".alert-ok").text
    assert by_css(browser, "#month-confirmation").get_attribute("data-state") == "answered"

    browser.delete_all_cookies()  # 张伟 reads the answer and confirms
    sign_in(browser, console.url, *world["zhang"])
    browser.get(f"{page}?month={month:%Y-%m}")
    state = wait(browser, lambda d: by_css(d, "#confirmation-state"), what="her month").text
    assert "李娟 (hr-li)" in state and "15 号改为出勤" in state
    submit(browser, "#confirm-form")
    assert "考勤无误" in by_css(browser, ".alert-ok").text
    assert by_css(browser, "#month-confirmation").get_attribute("data-state") == "confirmed"
    assert MonthConfirmation.objects.get().state == "confirmed"
