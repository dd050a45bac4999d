"""Closing a month in a real browser: ``seed-central serve`` (gunicorn) on the test database, driven by headless
Chromium. An HR admin of the site opens 考勤 → 月结, closes last month (ready: the site has no terminals, its records
are computed and nothing waits), sees it closed by her, and reopens it with a reason.
"""
from __future__ import annotations

import pytest
from browser_support import PBKDF2, by_css, submit, wait
from central_support import last_month_at_a_site

from central.console.screenshots import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]



@pytest.fixture
def world(transactional_db, settings) -> dict:
    """Site 总厂 (no terminals, Saturday and Sunday off): 张伟 on 白班, last month's records computed."""
    settings.PASSWORD_HASHERS = PBKDF2
    site, _, month = last_month_at_a_site()
    return {"site": site, "month": month}


@pytest.fixture
def hr_admin(world) -> tuple[str, str]:
    from browser_support import account

    from central.accounts.models import User

    password = account("hr-li", role="hr_admin", site_codes=["zongchang"], actor="test")
    User.objects.filter(username="hr-li").update(first_name="李娟")
    return "hr-li", password




def test_hr_admin_closes_last_month_and_reopens_it_with_a_reason(console, browser, hr_admin, world):
    from central.attendance.models import ClosedMonth, RecomputeJob

    row = f"#month-{world['month']:%Y-%m}"
    sign_in(browser, console.url, *hr_admin)
    by_css(browser, "nav.sidenav a[href$='/attendance/shifts/']").click()  # 考勤 → 班次, then the 月结 tab
    wait(browser, lambda d: by_css(d, "h1").text == "班次", what="the shifts page")
    by_css(browser, "#tab-closing").click()
    wait(browser, lambda d: by_css(d, "h1").text.startswith("月结"), what="the month-close page")
    assert by_css(browser, row).get_attribute("data-state") == "ready"
    assert "可月结" in by_css(browser, row).text

    by_css(browser, f"{row} .close-form [name=note]").send_keys("工资已核")
    submit(browser, f"{row} .close-form")
    assert "已月结" in by_css(browser, ".alert-ok").text
    closed = by_css(browser, row)
    assert closed.get_attribute("data-state") == "closed"
    assert "已月结" in closed.text and "李娟 (hr-li)" in closed.text and "工资已核" in closed.text
    assert ClosedMonth.objects.get().closed_by == "hr-li"

    by_css(browser, f"{row} .reopen-form [name=reason]").send_keys("补录一天的请假")
    submit(browser, f"{row} .reopen-form")
    assert "已重新开放" in by_css(browser, ".alert-ok").text
    assert by_css(browser, row).get_attribute("data-state") == "not_ready"  # until its recompute has run
    assert "这个月的重新计算还没完成" in by_css(browser, row).text
    assert not ClosedMonth.objects.exists() and RecomputeJob.objects.get().reason.endswith("补录一天的请假")
    assert by_css(browser, "#recompute-jobs .recompute-job")  # the queued recompute, shown above the page
