"""员工导入 in a real browser: ``seed-central serve`` (gunicorn) on the test database, driven by headless Chromium.
李娟, HR admin of 总厂, opens 员工, clicks 导入员工, chooses a workbook of two new employees and one row with a shift
nobody has, checks it and sees the bad row named; then chooses the corrected workbook, imports it and finds both on
the employees page."""
from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import PBKDF2, all_css, by_css, submit
from central_support import last_month_at_a_site

from central.console.screenshots import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
HEADER = ["工号 Number", "姓名 Name", "站点 Site", "默认班次 Default shift"]


@pytest.fixture
def world(transactional_db, settings) -> dict:
    from browser_support import account

    settings.PASSWORD_HASHERS = PBKDF2
    last_month_at_a_site()  # 总厂 (zongchang) with 白班
    hr = ("hr-li", account("hr-li", role="hr_admin", site_codes=["zongchang"], actor="test"))
    return {"hr": hr}


def workbook(path: Path, rows: list[list[str]]) -> str:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(HEADER)
    for row in rows:
        book.active.append(row)
    book.save(path)
    return str(path)


def test_hr_checks_a_workbook_then_imports_it(console, browser, world, tmp_path: Path):
    from central.people.models import Employee

    bad = workbook(tmp_path / "bad.xlsx", [["A101", "周杰", "zongchang", "白班"], ["A102", "吴敏", "zongchang", "中班"]])
    good = workbook(tmp_path / "good.xlsx", [["A101", "周杰", "zongchang", "白班"], ["A102", "吴敏", "zongchang", "白班"]])
    sign_in(browser, console.url, *world["hr"])
    browser.get(f"{console.url}/employees/")
    old = by_css(browser, "html")
    by_css(browser, "a[href='/employees/import/']").click()
    assert by_css(browser, "html") != old and by_css(browser, "h1").text == "导入员工"

    by_css(browser, "input[type=file]").send_keys(bad)
    submit(browser, "#import-upload form")
    assert [r.get_attribute("data-action") for r in all_css(browser, "#import-rows tbody tr")] == ["add", "error"]
    assert "没有名为 中班 的班次" in by_css(browser, "#import-row-3").text
    assert not all_css(browser, "#import-apply")  # nothing to press while a row is wrong

    by_css(browser, "input[type=file]").send_keys(good)
    submit(browser, "#import-upload form")
    assert by_css(browser, "[data-count='add']").text == "新增 2"
    submit(browser, "#import-apply")
    assert "已导入 good.xlsx：新增 2 人，更新 0 人" in by_css(browser, ".alert-ok").text
    assert "A101" in by_css(browser, "#employee-results").text and "吴敏" in by_css(browser, "#employee-results").text
    assert list(Employee.objects.filter(number__in=["A101", "A102"]).values_list("attendance__default_shift__name",
                                                                                  flat=True)) == ["白班", "白班"]
