"""排班导入 in a real browser: ``seed-central serve`` (gunicorn) on the test database, driven by headless Chromium.
李娟, HR admin of 总厂, opens this month's team schedule, clicks 导入, chooses a workbook that puts 张伟 (A001) on 夜班
on the month's first working day, checks it, imports it, and finds the day changed on the team schedule."""
from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest
from browser_support import PBKDF2, by_css, submit
from central_support import last_month_at_a_site

from central.console.screenshots import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def world(transactional_db, settings) -> dict:
    from browser_support import account
    from django.utils import timezone

    from central.attendance.models import ShiftType
    from central.people.models import Department, Employee

    settings.PASSWORD_HASHERS = PBKDF2
    site, zhang, _month = last_month_at_a_site()
    Employee.objects.filter(pk=zhang.pk).update(department=Department.objects.create(site=site, name="生产部"))
    ShiftType.objects.create(name="夜班", start=time(22), end=time(6))
    first = timezone.localdate().replace(day=1)
    workday = next(first + timedelta(days=n) for n in range(7) if (first + timedelta(days=n)).weekday() < 5)
    hr = ("hr-li", account("hr-li", role="hr_admin", site_codes=["zongchang"], actor="test"))
    return {"hr": hr, "zhang": zhang, "workday": workday}


def test_hr_imports_a_schedule_from_the_team_page(console, browser, world, tmp_path: Path):
    import openpyxl

    from central.attendance.models import ShiftChange

    zhang, day = world["zhang"], world["workday"]
    book = openpyxl.Workbook()
    book.active.append(["工号 Number", "姓名 Name", f"{day.day:02d}"])
    book.active.append(["A001", "张伟", "夜班"])
    book.save(tmp_path / "plan.xlsx")
    sign_in(browser, console.url, *world["hr"])
    browser.get(f"{console.url}/attendance/team/")
    cell = f"#team-row-{zhang.pk} td[data-day='{day.isoformat()}']"
    assert by_css(browser, cell).text == "白班"
    old = by_css(browser, "html")
    by_css(browser, "#import-schedule").click()
    assert by_css(browser, "html") != old and by_css(browser, "[name='month']").get_attribute("value") == f"{day:%Y-%m}"
    by_css(browser, "input[type=file]").send_keys(str(tmp_path / "plan.xlsx"))
    submit(browser, "#import-upload form")
    assert by_css(browser, f"[data-run='{day.isoformat()}']").text == f"{day:%m-%d} 夜班"
    submit(browser, "#import-apply")
    assert "已导入排班 plan.xlsx：1 名员工的 1 天改了班" in by_css(browser, ".alert-ok").text
    assert by_css(browser, cell).text == "夜班" and "roster-changed" in by_css(browser, cell).get_attribute("class")
    change = ShiftChange.objects.get()
    assert (change.employee_id, change.start, change.shift.name, change.state) == (zhang.pk, day, "夜班", "approved")
