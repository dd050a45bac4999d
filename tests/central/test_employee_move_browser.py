"""A move between departments (调动) in a real browser: ``seed-central serve`` (gunicorn) on the test database, driven
by headless Chromium. 张伟 worked last month in 夜班组 (night shift 22:00–06:00); 李娟, HR admin of 总厂, moves him
to 白班组 (09:00–18:00) from the month's 15th on the employee form. A day after today is refused beside its field;
the move saved is listed on his page, and his month keeps the night shift before the 15th and has the day shift
from it.
"""
from __future__ import annotations

from datetime import time, timedelta

import pytest
from browser_support import PBKDF2, all_css, by_css, submit, wait
from central_support import last_month_at_a_site

from central.console.screenshots import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]



@pytest.fixture
def world(transactional_db, settings) -> dict:
    from browser_support import account
    from django.utils import timezone

    from central.attendance.models import Assignment, ShiftType
    from central.attendance.selectors import month_end
    from central.attendance.services import recompute
    from central.people.models import Department

    settings.PASSWORD_HASHERS = PBKDF2
    site, employee, month = last_month_at_a_site()
    night = ShiftType.objects.create(name="夜班", start=time(22), end=time(6), checkin_before_min=60,
                                     checkout_after_min=120)
    nights = Department.objects.create(site=site, name="夜班组")
    days = Department.objects.create(site=site, name="白班组")
    Assignment.objects.create(department=nights, shift=night, start=month)
    Assignment.objects.create(department=days, shift=ShiftType.objects.get(name="白班"), start=month)
    employee.department = nights
    employee.save()
    recompute(month, month_end(month), now=timezone.now())
    hr = ("hr-li", account("hr-li", role="hr_admin", site_codes=["zongchang"], actor="test"))
    return {"hr": hr, "employee": employee, "month": month, "days": days}


def test_hr_moves_an_employee_to_another_department_from_a_day_last_month(console, browser, world):
    from django.utils import timezone

    from central.attendance.models import DailyRecord
    from central.people.models import EmployeeMove

    employee, month = world["employee"], world["month"]
    moved = month.replace(day=15)
    sign_in(browser, console.url, *world["hr"])
    browser.get(f"{console.url}/employees/{employee.pk}/edit/")
    form = "form.form"
    by_css(browser, f"{form} select[name='department'] option[value='{world['days'].pk}']").click()

    def moved_on(day: str) -> None:
        browser.execute_script("arguments[0].value = arguments[1]", by_css(browser, f"{form} [name='moved_on']"), day)

    moved_on((timezone.localdate() + timedelta(days=3)).isoformat())
    submit(browser, form)
    errors = all_css(browser, "#field-moved_on .error")  # what the page said instead, should it say nothing here
    assert errors and "调动生效日期不能晚于今天" in errors[0].text, (browser.current_url, by_css(browser, "body").text[:1500])
    assert not EmployeeMove.objects.exists()

    moved_on(moved.isoformat())
    submit(browser, form)
    wait(browser, lambda d: "已保存" in by_css(d, ".alert-ok").text, what="the employee saved")
    table = by_css(browser, "#employee-moves").text
    assert moved.isoformat() in table and "夜班组" in table and "白班组" in table
    shifts = {r.date: r.shift_name for r in DailyRecord.objects.filter(employee=employee, date__gte=month,
                                                                      date__lte=month + timedelta(days=27))}
    before = {shifts[d] for d in shifts if d < moved}
    after = {shifts[d] for d in shifts if d >= moved}
    assert before == {"夜班"} and after == {"白班"}, shifts
