"""Accounts in a real browser: ``seed-central serve`` (gunicorn) on the test database, driven by headless Chromium.
陈主管, superuser, opens 张伟's page, clicks 开通自助账号 and opens his account; 张伟 signs in on his phone with the
one-time password, is held on 修改密码 until he sets his own, and gets in. 陈主管 resets it: the phone is signed
out. Someone guessing 张伟's password on the phone is told to wait after the fifth try. Then the rest of 总厂 gets
its accounts in one go, on slips to print."""
from __future__ import annotations

import pytest
from browser_support import PBKDF2, all_css, by_css, submit, wait
from central_support import last_month_at_a_site
from selenium.webdriver.support.ui import Select

from central.console.screenshots import chromium, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
OWN = "zhang-wei-own-2026"


@pytest.fixture
def world(transactional_db, settings) -> dict:
    from central.accounts.models import User
    from central.people.models import Employee

    settings.PASSWORD_HASHERS = PBKDF2
    site, employee, _ = last_month_at_a_site()  # 总厂 (zongchang) with 张伟 (A001)
    Employee.objects.create(number="A002", name="王芳", site=site)
    User.objects.create_user("chen", password="chen-own-password-1", is_superuser=True, first_name="陈主管")
    return {"root": ("chen", "chen-own-password-1"), "employee": employee}


def test_an_account_opened_from_the_employees_page_is_his_once_he_sets_his_own_password(console, browser, world):
    from central.accounts.models import User

    url = console.url
    sign_in(browser, url, *world["root"])
    browser.get(f"{url}/employees/{world['employee'].pk}/")
    assert by_css(browser, "#employee-account").text == "开通自助账号"
    old = by_css(browser, "html")
    by_css(browser, "#open-account").click()
    wait(browser, lambda d: by_css(d, "html") != old, what="the accounts page")
    assert by_css(browser, "h1").text == "用户与权限"
    assert by_css(browser, "#id_username").get_attribute("value") == "A001"
    assert by_css(browser, "#id_employee").get_attribute("value") == "A001"
    assert by_css(browser, "#id_role option:checked").text == "员工"
    submit(browser, "#new-user form")
    one_time = by_css(browser, "#one-time-password").text
    assert "账号 A001 已开通" in by_css(browser, "#issued").text and len(one_time) >= 12
    assert "待改密码" in by_css(browser, "tr[data-user='A001']").text

    with chromium((390, 844)) as phone:
        sign_in(phone, url, "A001", one_time)
        assert phone.current_url == f"{url}/account/password/"
        assert "一次性密码" in by_css(phone, "#must-change").text
        phone.get(f"{url}/attendance/requests/")  # anything else: back to the password page
        assert phone.current_url == f"{url}/account/password/"
        by_css(phone, "#id_old_password").send_keys(one_time)
        by_css(phone, "#id_new_password1").send_keys("A001")  # too short, and his user name
        by_css(phone, "#id_new_password2").send_keys("A001")
        submit(phone, "form.form")
        assert all_css(phone, ".field-error") and phone.current_url == f"{url}/account/password/"
        by_css(phone, "#id_old_password").send_keys(one_time)
        by_css(phone, "#id_new_password1").send_keys(OWN)
        by_css(phone, "#id_new_password2").send_keys(OWN)
        submit(phone, "form.form")
        assert phone.current_url == f"{url}/" and "密码已修改" in by_css(phone, ".messages").text
        phone.get(f"{url}/attendance/requests/")
        assert by_css(phone, "h1").text == "请求与审批"
        assert not User.objects.get(username="A001").must_change_password

        # the superuser resets it (answering the browser's confirmation): the phone is signed out
        browser.get(f"{url}/users/A001/")
        old = by_css(browser, "html")
        by_css(browser, "#reset-password").click()
        dialog = wait(browser, lambda d: d.switch_to.alert, what="the confirmation")
        assert "旧密码立即失效" in dialog.text
        dialog.accept()
        wait(browser, lambda d: by_css(d, "html") != old, what="the account page again")
        reset_to = by_css(browser, "#one-time-password").text
        assert reset_to not in ("", one_time)
        assert "待改密码" in by_css(browser, "#account-state").text
        phone.get(f"{url}/attendance/requests/")
        assert "/login/" in phone.current_url

        # someone guessing on the phone: the fifth wrong password says to wait, and the right one waits too
        for attempt in range(5):
            by_css(phone, "input[name=username]").clear()
            by_css(phone, "input[name=username]").send_keys("A001")
            by_css(phone, "input[name=password]").send_keys(f"guess-{attempt}")
            submit(phone, "form.form")
        assert "尝试次数过多，请 15 分钟后再试" in by_css(phone, "#sign-in-wait").text
        by_css(phone, "input[name=password]").send_keys(reset_to)
        submit(phone, "form.form")
        assert all_css(phone, "#sign-in-wait") and not all_css(phone, "nav.sidenav")

    # the rest of the site in one go: 王芳's slip, 张伟 already has his account
    browser.get(f"{url}/users/")
    Select(by_css(browser, "#employee-accounts select[name=site]")).select_by_value("zongchang")
    submit(browser, "#employee-accounts form")
    assert "已开通 1 个账号" in by_css(browser, "#opened-summary").text and "1 名员工已有账号" in by_css(
        browser, "#opened-summary").text
    slip = by_css(browser, ".slip[data-number='A002']")
    password = by_css(slip, ".slip-password").text
    assert "王芳" in slip.text and by_css(slip, ".slip-user").text == "A002" and len(password) >= 12
    assert all_css(browser, "#print-slips") and not all_css(browser, ".slip[data-number='A001']")
    assert User.objects.get(username="A002").employee.name == "王芳"
