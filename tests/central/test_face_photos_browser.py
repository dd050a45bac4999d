"""照片导入人脸 in a real browser: ``seed-central serve`` (gunicorn) on the test database, driven by headless Chromium.
李娟, HR admin of 总厂, opens 员工, clicks 导入人脸照片, chooses a .zip of 张伟's photos with one photo that is not his,
checks it and sees that photo named; chooses the corrected .zip, imports it, finds the templates on 张伟's page, and
clears them again there, answering the browser's confirmation."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from browser_support import PBKDF2, all_css, by_css, submit, wait
from central_support import last_month_at_a_site

from central.console.screenshots import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.faces]
SALLEY = ["000179_02159509.jpg", "000183_02159543.jpg"]


@pytest.fixture
def world(transactional_db, settings) -> dict:
    from browser_support import account

    settings.PASSWORD_HASHERS = PBKDF2
    last_month_at_a_site()  # 总厂 (zongchang) with 张伟 (A001)
    hr = ("hr-li", account("hr-li", role="hr_admin", site_codes=["zongchang"], actor="test"))
    return {"hr": hr}


def archive(path: Path, files: dict[str, Path]) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        for name, source in files.items():
            zf.write(source, name)
    return str(path)


def test_hr_checks_photos_imports_them_and_clears_them(console, browser, world, faces_dir, tmp_path: Path):
    from central.people.models import Employee

    people = faces_dir / "people"
    bad = archive(tmp_path / "bad.zip", {"A001.jpg": people / "John_Salley" / SALLEY[0],
                                         "A001-2.jpg": people / "John_Simm" / "000288_00470387.jpg"})
    good = archive(tmp_path / "good.zip", {"A001.jpg": people / "John_Salley" / SALLEY[0],
                                           "A001-2.jpg": people / "John_Salley" / SALLEY[1]})
    sign_in(browser, console.url, *world["hr"])
    browser.get(f"{console.url}/employees/")
    old = by_css(browser, "html")
    by_css(browser, "#import-photos").click()
    wait(browser, lambda d: by_css(d, "html") != old, what="the import page")
    assert by_css(browser, "h1").text == "导入人脸照片"

    by_css(browser, "input[type=file]").send_keys(bad)
    submit(browser, "#import-upload form")
    assert by_css(browser, "#faces-A001").get_attribute("data-ok") == "no"
    assert "照片不是同一个人" in by_css(browser, "#faces-A001").text
    assert by_css(browser, "#import-row-2").get_attribute("data-state") == "error"
    assert not all_css(browser, "#import-apply")  # nothing to press while a photo is wrong

    by_css(browser, "input[type=file]").send_keys(good)
    submit(browser, "#import-upload form")
    assert by_css(browser, "[data-count='templates']").text == "人脸模板 2"
    submit(browser, "#import-apply")
    assert "已导入 good.zip：1 名员工的人脸模板共 2 个" in by_css(browser, ".alert-ok").text
    assert len(Employee.objects.get(number="A001").faces) == 2

    browser.get(f"{console.url}/employees/{Employee.objects.get(number='A001').pk}/")
    assert by_css(browser, "#employee-faces").text.startswith("2")
    old = by_css(browser, "html")
    by_css(browser, "#clear-faces").click()
    dialog = wait(browser, lambda d: d.switch_to.alert, what="the confirmation")
    assert "清除该员工的人脸模板吗" in dialog.text
    dialog.accept()
    wait(browser, lambda d: by_css(d, "html") != old, what="the employee's page again")
    assert by_css(browser, "#employee-faces").text.startswith("0") and not all_css(browser, "#clear-faces")
    assert Employee.objects.get(number="A001").faces == []
