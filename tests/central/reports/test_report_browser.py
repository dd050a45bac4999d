"""The report pages in a real browser: ``seed-central serve`` (gunicorn) on the test database, driven by
headless Chromium. An HR admin signs in, opens 报表 from the menu, previews March's monthly sheet and sees
a flagged day in red, the legend and the totals row, whose late count is the engine's, counted here.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from browser_support import PBKDF2, all_css, by_css, wait

from central.console.screenshots import ConsoleServer, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def world(transactional_db: Any, settings: Any) -> dict[str, Any]:
    from central.attendance.demo_history import fill_month
    from central.people.models import Site

    settings.PASSWORD_HASHERS = PBKDF2
    Site.objects.create(code="sh", name="上海工厂", time_zone="Asia/Shanghai")
    fill_month("sh", date(2026, 4, 3), device_id="gate-1")  # records 2026-03-04 .. 2026-04-02
    return {}


@pytest.fixture
def hr_admin(world: dict[str, Any]) -> tuple[str, str]:
    from browser_support import account

    return "hr-li", account("hr-li", role="hr_admin", site_codes=["sh"], actor="test")


def set_value(driver: Any, selector: str, value: str) -> None:
    driver.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'))",
                          by_css(driver, selector), value)


def test_hr_admin_previews_the_monthly_sheet_with_flags_and_totals(console: ConsoleServer, browser: Any,
                                                                   hr_admin: tuple[str, str]) -> None:
    from central.attendance.models import DailyRecord
    from central.people.models import Employee

    sign_in(browser, console.url, *hr_admin)
    by_css(browser, "#nav-reports").click()
    wait(browser, lambda d: by_css(d, "h1").text == "报表", what="the reports page")
    by_css(browser, "#tab-monthly").click()
    wait(browser, lambda d: "tab-active" in by_css(d, "#tab-monthly").get_attribute("class"), what="the monthly tab")
    set_value(browser, "#report-form [name=first]", "2026-03-01")
    set_value(browser, "#report-form [name=last]", "2026-03-31")
    by_css(browser, "#report-preview").click()
    wait(browser, lambda d: all_css(d, "#report-preview-card"), what="the preview")

    people = Employee.objects.filter(site__code="sh").count()
    assert by_css(browser, "#count-sheet").text == f"共 {people} 行"
    flagged = all_css(browser, "#part-sheet td.rc-symbol.flag-bad")
    assert flagged, "no flagged day in the sheet"
    assert flagged[0].text.strip() != ""
    assert by_css(browser, "#part-sheet td.flag-bad").value_of_css_property("background-color") == "rgba(253, 236, 234, 1)"
    assert "缺勤 Absent" in by_css(browser, "#report-legend").text

    late = DailyRecord.objects.filter(employee__site__code="sh", date__range=(date(2026, 3, 1), date(2026, 3, 31)),
                                      late=True).count()
    headers = [th.text.strip() for th in all_css(browser, "#part-sheet thead th")]
    totals = [td.text.strip() for td in all_css(browser, "#totals-sheet td")]
    assert totals[0] == "合计"
    assert totals[headers.index("迟到次数 Late (times)")] == str(late) and late > 0
