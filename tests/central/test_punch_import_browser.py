"""打卡记录导入 in a real browser: ``seed-central serve`` (gunicorn) on the test database, driven by headless Chromium.
李娟, HR admin of 总厂, goes live with Seed: from 报表 she opens 导入打卡记录, chooses the ZKTeco terminal's USB
download, sees its unreadable line named and nothing to import; chooses the clean download, imports it, and 张伟's last
working day of last month, absent until then, is present with the terminal's times."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from browser_support import PBKDF2, all_css, by_css, submit
from central_support import last_month_at_a_site

from central.console.screenshots import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def world(transactional_db, settings) -> dict:
    from browser_support import account

    from central.attendance.selectors import month_end

    settings.PASSWORD_HASHERS = PBKDF2
    _site, employee, month = last_month_at_a_site()  # 张伟 (A001) on 白班 09:00-18:00, weekends off
    day = month_end(month)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    hr = ("hr-li", account("hr-li", role="hr_admin", site_codes=["zongchang"], actor="test"))
    return {"hr": hr, "employee": employee, "day": day}


def test_hr_imports_a_terminals_usb_download_and_an_absent_day_turns_present(console, browser, world, tmp_path: Path):
    from central.attendance.models import DailyRecord

    day = world["day"]
    assert DailyRecord.objects.get(employee=world["employee"], date=day).status == "absent"
    lines = f"      A001\t{day} 08:57:31\t15\t0\t0\t0\n      A001\t{day} 18:12:09\t15\t1\t0\t0\n"
    (tmp_path / "broken").mkdir()
    broken, clean = tmp_path / "broken" / "1_attlog.dat", tmp_path / "1_attlog.dat"
    broken.write_text(lines + "\x00\x00garbled\n")
    clean.write_text(lines)
    sign_in(browser, console.url, *world["hr"])
    browser.get(f"{console.url}/reports/")
    old = by_css(browser, "html")
    by_css(browser, "#punch-import-link").click()
    assert by_css(browser, "html") != old and by_css(browser, "h1").text == "导入打卡记录"

    by_css(browser, "input[type=file]").send_keys(str(broken))
    submit(browser, "#import-upload form")
    assert [r.get_attribute("data-action") for r in all_css(browser, "#import-rows tbody tr")] == ["add", "add", "error"]
    assert "无法识别的打卡时间" in by_css(browser, "#import-row-3").text
    assert not all_css(browser, "#import-apply")  # nothing to press while a row is wrong

    by_css(browser, "input[type=file]").send_keys(str(clean))
    submit(browser, "#import-upload form")
    assert by_css(browser, "[data-count='add']").text == "新增 2"
    submit(browser, "#import-apply")
    assert "已导入 1_attlog.dat：1 名员工的 2 条打卡" in by_css(browser, ".alert-ok").text
    record = DailyRecord.objects.get(employee=world["employee"], date=day)
    assert (record.status, record.late, record.early, str(record.hours)) == ("present", False, False, "9.24")
