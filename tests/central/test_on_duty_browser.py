"""A business trip (公出) in a real browser: ``seed-central serve`` (gunicorn) on the test database, driven by headless
Chromium. 李娟, HR admin of 总厂, adds the leave type 出差 with 公出 ticked on the leave types page, then records two
days of a trip on 张伟's month page; those days show as worked (→, 8 hours of 白班 09:00-18:00 less lunch) and the
month's totals say so.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from browser_support import PBKDF2, by_css, submit, wait
from central_support import last_month_at_a_site

from central.console.screenshots import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]



@pytest.fixture
def world(transactional_db, settings) -> dict:
    from browser_support import account

    from central.attendance.models import ShiftType

    settings.PASSWORD_HASHERS = PBKDF2
    site, employee, month = last_month_at_a_site()
    ShiftType.objects.filter(name="白班").update(breaks=[{"start": "12:00", "end": "13:00"}])
    hr = ("hr-li", account("hr-li", role="hr_admin", site_codes=["zongchang"], actor="test"))
    tuesday = month + timedelta(days=(1 - month.weekday()) % 7)
    return {"hr": hr, "employee": employee, "month": month, "tuesday": tuesday}


def test_hr_sets_up_business_trips_and_records_one_that_counts_as_worked(console, browser, world):
    from central.attendance.models import DailyRecord, LeaveType

    sign_in(browser, console.url, *world["hr"])
    browser.get(f"{console.url}/attendance/leave-types/")
    form = "#leave-type-form form"
    by_css(browser, f"{form} [name='code']").send_keys("trip")
    by_css(browser, f"{form} [name='name']").send_keys("出差")
    by_css(browser, f"{form} [name='on_duty']").click()
    submit(browser, form)
    wait(browser, lambda d: "已保存假别" in by_css(d, ".alert-ok").text, what="the leave type saved")
    assert "公出：算出勤" in by_css(browser, "#leave-types-table").text
    trip = LeaveType.objects.get(code="trip")
    assert trip.on_duty and trip.paid

    month, tuesday = world["month"], world["tuesday"]
    browser.get(f"{console.url}/attendance/employees/{world['employee'].pk}/month/?month={month:%Y-%m}")
    form = "#leave-form form"
    by_css(browser, f"{form} select[name='leave-leave_type'] option[value='{trip.pk}']").click()
    for name, day in (("leave-start", tuesday), ("leave-end", tuesday + timedelta(days=1))):
        browser.execute_script("arguments[0].value = arguments[1]", by_css(browser, f"{form} [name='{name}']"),
                               day.isoformat())
    by_css(browser, f"{form} [name='leave-reason']").send_keys("去客户现场调试")
    submit(browser, form)
    wait(browser, lambda d: by_css(d, "#total-on-duty"), what="the month's days on duty away")
    assert "其中公出 2 天" in by_css(browser, "#total-on-duty").text
    cell = by_css(browser, f"#day-{tuesday:%Y-%m-%d}").text
    assert "→" in cell and "8.00 h" in cell and "出差: 去客户现场调试" in cell
    rows = DailyRecord.objects.filter(employee=world["employee"], source="on_duty").order_by("date")
    assert [(r.date, r.status, r.hours) for r in rows] == [(tuesday, "present", Decimal("8.00")),
                                                           (tuesday + timedelta(days=1), "present", Decimal("8.00"))]
