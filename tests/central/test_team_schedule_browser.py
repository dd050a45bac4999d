"""The team schedule (排班表) in a real browser: ``seed-central serve`` (gunicorn) on the test database, driven by
headless Chromium. 生产部 of 总厂 has 张伟 (A001) and 王芳 (A002) on 白班, Saturday and Sunday off. 李娟, HR admin of the
site, opens this month's schedule, clicks 王芳's first working day of the month, gives her the day off from the
form the click opened, and the cell shows the rest day as a change.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from browser_support import PBKDF2, all_css, by_css, submit
from central_support import last_month_at_a_site

from central.console.screenshots import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def world(transactional_db, settings) -> dict:
    from browser_support import account
    from django.utils import timezone

    from central.attendance.models import AttendanceProfile
    from central.people.models import Department, Employee

    settings.PASSWORD_HASHERS = PBKDF2
    site, zhang, _month = last_month_at_a_site()
    production = Department.objects.create(site=site, name="生产部")
    Employee.objects.filter(pk=zhang.pk).update(department=production)
    wang = Employee.objects.create(number="A002", name="王芳", site=site, department=production)
    AttendanceProfile.objects.create(employee=wang, default_shift=AttendanceProfile.objects.get(employee=zhang).default_shift)
    first = timezone.localdate().replace(day=1)
    workday = next(first + timedelta(days=n) for n in range(7) if (first + timedelta(days=n)).weekday() < 5)
    hr = ("hr-li", account("hr-li", role="hr_admin", site_codes=["zongchang"], actor="test"))
    return {"hr": hr, "zhang": zhang, "wang": wang, "workday": workday}


def test_hr_gives_a_day_off_from_the_team_schedule(console, browser, world):
    from central.attendance.models import ShiftChange

    wang, day = world["wang"], world["workday"]
    sign_in(browser, console.url, *world["hr"])
    browser.get(f"{console.url}/attendance/team/")
    assert "生产部" in by_css(browser, ".month-title").text
    assert [row.get_attribute("id") for row in all_css(browser, "#team-grid tbody tr")] == [
        f"team-row-{world['zhang'].pk}", f"team-row-{wang.pk}"]  # 张伟 then 王芳, by number
    cell = f"#team-row-{wang.pk} td[data-day='{day.isoformat()}']"
    assert by_css(browser, cell).text == "白班"
    by_css(browser, f"{cell} a.roster-link").click()
    assert by_css(browser, "#change-form [name='change-employee'] option:checked").text == "A002 王芳"
    assert by_css(browser, "#change-form [name='change-start']").get_attribute("value") == day.isoformat()
    by_css(browser, "#change-form [name='change-shift'] option[value='']").click()  # 休息 Rest
    by_css(browser, "#change-form [name='change-reason']").send_keys("调休一天")
    submit(browser, "#change-form form")
    assert f"已为 王芳 登记 {day.isoformat()} 至 {day.isoformat()} 的调班" in by_css(browser, ".alert-ok").text
    assert by_css(browser, cell).text == "休" and "roster-changed" in by_css(browser, cell).get_attribute("class")
    change = ShiftChange.objects.get()
    assert (change.employee_id, change.start, change.shift, change.state) == (wang.pk, day, None, "approved")
