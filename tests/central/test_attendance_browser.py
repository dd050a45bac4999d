"""The attendance pages in a real browser: ``seed-central serve`` (gunicorn) on the test database, driven by
headless Chromium. An HR admin of the site creates a shift, then a rotation of it, assigns the whole
department to the rotation, and opens an employee's month: the day worked is present with its punches,
the other past working days are absent, the rest days say so.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from browser_support import PBKDF2, all_css, by_css, submit, wait

from central.console.screenshots import chromium, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def last_weekday(before: date) -> date:
    day = before - timedelta(days=2)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


@pytest.fixture
def world(transactional_db, settings) -> dict:
    """Site 总厂 (Saturday and Sunday off) with 生产部: 张伟 punched in and out on one recent working day."""
    from django.utils import timezone

    from central.attendance.models import SiteCalendar
    from central.ingest.models import Punch
    from central.people import roster
    from central.people.models import Department, Site

    settings.PASSWORD_HASHERS = PBKDF2
    site = Site.objects.create(code="zongchang", name="总厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
    Department.objects.create(site=site, name="生产部")
    roster.upsert_employees([
        {"number": "A001", "name": "张伟", "site": "zongchang", "department": "生产部"},
        {"number": "A002", "name": "王小红", "site": "zongchang", "department": "生产部"},
    ])
    worked = last_weekday(timezone.localdate())
    for n, (at, way) in enumerate([(time(8, 52), "in"), (time(18, 4), "out")]):
        stamp = datetime.combine(worked, at, SHANGHAI)
        Punch.objects.create(id=f"0190f3a0-0000-7000-8000-{n:012d}", site="zongchang", device_id="door-a",
                             employee_number="A001", direction=way, method="face", punched_at=stamp, boot_id="b",
                             monotonic_ns=n, time_source="ntp", batch_id="0190f3a0-0000-7000-8000-0000000000bb",
                             received_at=stamp)
    # the rotation starts on the Monday a week before the day worked: five days of work, two of rest
    anchor = worked - timedelta(days=worked.weekday() + 7)
    return {"site": site, "worked": worked, "anchor": anchor}


@pytest.fixture
def hr_admin(world) -> tuple[str, str]:
    from browser_support import account

    return "hr-li", account("hr-li", role="hr_admin", site_codes=["zongchang"], actor="test")


def set_value(driver, selector: str, value: str) -> None:
    """Date, time and colour inputs take their value the way the browser's own picker sets it."""
    driver.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'))",
                          by_css(driver, selector), value)


def type_into(driver, selector: str, value: str) -> None:
    field = by_css(driver, selector)
    field.clear()
    field.send_keys(value)




def test_hr_admin_sets_up_a_rotation_for_a_department_and_sees_the_month(console, browser, hr_admin, world):
    from selenium.webdriver.support.ui import Select

    from central.attendance.models import Assignment, DailyRecord, Rotation, ShiftType
    from central.people.models import Employee

    url, worked, anchor = console.url, world["worked"], world["anchor"]
    sign_in(browser, url, *hr_admin)
    nav = [a.text.strip() for a in all_css(browser, "nav.sidenav a")]
    assert {"班次", "轮班", "排班", "节假日"} <= set(nav), nav

    # a shift: 09:00-18:00 with an unpaid lunch; first a break outside it, refused beside the break field
    by_css(browser, "nav.sidenav a[href$='/attendance/shifts/']").click()
    wait(browser, lambda d: by_css(d, "h1").text == "班次", what="the shifts page")
    type_into(browser, "[name=name]", "白班")
    set_value(browser, "[name=start]", "09:00")
    set_value(browser, "[name=end]", "18:00")
    type_into(browser, "[name=breaks_text]", "19:00-20:00")
    submit(browser, "#shift-form form")
    assert "不在班次时间内" in by_css(browser, "#field-breaks_text .error").text
    assert not ShiftType.objects.exists()
    type_into(browser, "[name=breaks_text]", "12:00-13:00")
    submit(browser, "#shift-form form")
    assert "白班" in by_css(browser, ".alert-ok").text
    assert "白班" in by_css(browser, "#shift-table").text and "8.00" in by_css(browser, "#shift-table").text
    shift = ShiftType.objects.get(name="白班")
    assert (shift.start, shift.end, shift.breaks) == (time(9), time(18), [{"start": "12:00", "end": "13:00"}])

    # a rotation of it: five working days, two days off, from a Monday
    browser.get(f"{url}/attendance/rotations/")
    type_into(browser, "[name=name]", "五天工作制")
    set_value(browser, "[name=anchor]", anchor.isoformat())
    days = all_css(browser, "select[name=pattern]")
    for i, select in enumerate(days[:7]):
        Select(select).select_by_value(str(shift.pk) if i < 5 else "rest")
    submit(browser, "#rotation-form form")
    wait(browser, lambda d: "/attendance/rotations/preview/" in d.current_url, what="the rotation calendar")
    rotation = Rotation.objects.get(name="五天工作制")
    assert rotation.pattern == [shift.pk] * 5 + [None, None]
    crew = [c.text for c in all_css(browser, "#rotation-grid tbody tr:first-child td")]
    first = first_of_this_month()
    expected = ["休" if (first + timedelta(days=i)).weekday() >= 5 else "白班" for i in range(len(crew))]
    assert crew == expected

    # the whole department on it, from the rotation's first day
    browser.get(f"{url}/attendance/assignments/")
    by_css(browser, "input[name=holder][value=department]").click()
    assert not by_css(browser, "#field-employee").is_displayed()
    Select(by_css(browser, "#assignment-form [name=department]")).select_by_visible_text("生产部")
    Select(by_css(browser, "#assignment-form [name=schedule]")).select_by_visible_text("五天工作制")
    set_value(browser, "[name=start]", anchor.isoformat())
    submit(browser, "#assignment-form form")
    assert "重新计算" in by_css(browser, ".alert-ok").text
    row = Assignment.objects.get()
    assert (row.department.name, row.employee, row.rotation, row.start) == ("生产部", None, rotation, anchor)
    assert "生产部" in by_css(browser, "#assignment-table").text

    # 张伟's month, from his page: present on the day worked, absent on the other past working days
    employee = Employee.objects.get(number="A001")
    browser.get(f"{url}/employees/{employee.pk}/")
    by_css(browser, "#employee-month").click()
    wait(browser, lambda d: all_css(d, "#month-grid"), what="the month page")
    if worked.month != datetime.now(SHANGHAI).month:
        browser.get(f"{url}/attendance/employees/{employee.pk}/month/?month={worked:%Y-%m}")
    cell = by_css(browser, f"#day-{worked.isoformat()}")
    record = cell.find_element("css selector", ".mrec")
    assert record.get_attribute("data-status") == "present"
    kept = DailyRecord.objects.get(employee__number="A001", date=worked)
    assert "出勤" in record.text and f"{kept.hours} h" in record.text and kept.hours > 8
    assert "08:52↓" in record.text and "18:04↑" in record.text
    records = DailyRecord.objects.filter(employee=employee, date__year=worked.year, date__month=worked.month)
    assert records.filter(status="absent").exists()
    for rec in records:
        shown = by_css(browser, f"#day-{rec.date.isoformat()} .mrec").get_attribute("data-status")
        assert shown == rec.status, (rec.date, shown, rec.status)
    saturday = worked + timedelta(days=5 - worked.weekday())
    if saturday.month == worked.month:
        assert "休" in by_css(browser, f"#day-{saturday.isoformat()} .mday-head").text
    assert by_css(browser, "#total-present").text == str(records.filter(status="present").count())
    assert by_css(browser, "#total-absent").text == str(records.filter(status="absent").count())


def first_of_this_month() -> date:
    from django.utils import timezone

    return timezone.localdate().replace(day=1)


def test_an_edit_too_big_to_wait_for_is_recomputed_in_the_background_and_the_page_follows_it(
        console, browser, hr_admin, world):
    """A shift that 330 more people of 生产部 work: changing its grace recomputes 332 people x 63 days, more than a
    page may wait for. The page answers at once and shows the queue; the follower (here run by the test, as
    ``seed-central run`` would) works through it and the page, left open, shows it done."""
    from central.attendance.models import Assignment, DailyRecord, RecomputeJob, ShiftType
    from central.attendance.services import Follower
    from central.people import roster
    from central.people.models import Department

    roster.upsert_employees([{"number": f"B{i:04d}", "name": f"员工{i}", "site": "zongchang", "department": "生产部"}
                             for i in range(330)])
    shift = ShiftType.objects.create(name="白班", start=time(9), end=time(18), checkin_before_min=60,
                                     checkout_after_min=120, late_grace_min=5, early_grace_min=0)
    Assignment.objects.create(department=Department.objects.get(name="生产部"), shift=shift,
                              start=world["worked"] - timedelta(days=70))
    url = console.url
    sign_in(browser, url, *hr_admin)
    browser.get(f"{url}/attendance/shifts/?edit={shift.pk}")
    type_into(browser, "[name=late_grace_min]", "10")
    submit(browser, "#shift-form form")
    assert "白班" in by_css(browser, ".alert-ok").text
    job = RecomputeJob.objects.get()
    assert (job.state, job.total, job.done) == ("pending", 332, 0)
    banner = by_css(browser, "#recompute-jobs .recompute-job")
    assert "正在重算考勤记录" in banner.text and "0 / 332" in banner.text
    assert not DailyRecord.objects.exists()

    follower = Follower()
    for _ in range(60):
        if not RecomputeJob.objects.filter(state__in=("pending", "running")).exists():
            break
        follower.tick()
    job.refresh_from_db()
    assert job.state == "done"
    wait(browser, lambda d: "重算完成" in by_css(d, "#recompute-jobs").text, what="the page to show the recompute done")
    assert "332" in by_css(browser, "#recompute-jobs").text
    worked = DailyRecord.objects.get(employee__number="A001", date=world["worked"])
    assert worked.status == "present" and not worked.late  # 08:52 was never late
    assert DailyRecord.objects.filter(employee__number="B0329", status="absent").exists()


def test_hr_admin_adds_a_leave_type_and_records_a_week_of_leave_that_takes_off_the_working_days(
        console, browser, hr_admin, world):
    from selenium.webdriver.support.ui import Select

    from central.attendance.models import DailyRecord, LeaveType
    from central.people.models import Employee

    url = console.url
    sign_in(browser, url, *hr_admin)
    browser.get(f"{url}/attendance/shifts/")
    by_css(browser, "nav.tabs a[href$='/attendance/leave-types/']").click()
    wait(browser, lambda d: by_css(d, "h1").text == "假别", what="the leave types page")
    type_into(browser, "#leave-type-form [name=code]", "annual")
    type_into(browser, "#leave-type-form [name=name]", "年假")
    type_into(browser, "#leave-type-form [name=yearly_days]", "5")
    submit(browser, "#leave-type-form form")
    assert "年假" in by_css(browser, ".alert-ok").text
    assert "按工作日" in by_css(browser, "#leave-types-table").text and "每年 5 天" in by_css(browser, "#leave-types-table").text
    assert LeaveType.objects.get().counts_rest_days is False

    # 王小红 has no shift: the site's calendar (Saturday and Sunday off) gives her working days
    employee = Employee.objects.get(number="A002")
    monday = world["worked"] - timedelta(days=world["worked"].weekday() + 7)
    browser.get(f"{url}/attendance/employees/{employee.pk}/month/?month={monday:%Y-%m}")
    Select(by_css(browser, "#leave-form [name='leave-leave_type']")).select_by_visible_text("年假 (annual)")
    set_value(browser, "#leave-form [name='leave-start']", monday.isoformat())
    set_value(browser, "#leave-form [name='leave-end']", (monday + timedelta(days=6)).isoformat())
    type_into(browser, "#leave-form [name='leave-reason']", "探亲")
    submit(browser, "#leave-form form")
    assert "请假" in by_css(browser, ".alert-ok").text
    taken = sorted(DailyRecord.objects.filter(employee=employee, status="on_leave").values_list("date", flat=True))
    assert taken == [monday + timedelta(days=i) for i in range(5)]
    shown = [d for d in (monday + timedelta(days=i) for i in range(7)) if d.month == monday.month]
    for day in shown:
        cell = by_css(browser, f"#day-{day.isoformat()}")
        statuses = [r.get_attribute("data-status") for r in cell.find_elements("css selector", ".mrec")]
        assert statuses == (["on_leave"] if day.weekday() < 5 else []), (day, statuses)
    balance = f"#balance-annual-{monday.year}"  # the five working days took the year's five
    assert [c.text for c in all_css(browser, f"{balance} td")] == ["年假", str(monday.year), "5", "5", "0", "0"]
    set_value(browser, "#allowance-form [name='allowance-days']", "8")  # three days carried over from last year
    submit(browser, "#balance-card form")
    assert "假期额度" in by_css(browser, ".alert-ok").text
    assert [c.text for c in all_css(browser, f"{balance} td")] == ["年假", str(monday.year), "8 个人", "5", "0", "3"]

    # her attendance settings, on the same page: exempt from punching from the day she joined
    by_css(browser, "#profile-form [name='profile-exempt']").click()
    set_value(browser, "#profile-form [name='profile-joined']", "2025-03-01")
    submit(browser, "#profile-form form")
    assert "已保存考勤设置" in by_css(browser, ".alert-ok").text
    assert by_css(browser, "#profile-form [name='profile-exempt']").is_selected()
    assert by_css(browser, "#profile-form [name='profile-joined']").get_attribute("value") == "2025-03-01"
    profile = employee.attendance
    profile.refresh_from_db()
    assert (profile.exempt, profile.joined, profile.overtime_listed) == (True, date(2025, 3, 1), False)

    # annual leave by law: she started working in March 2010, so a whole year at 10 days (15 from 20 years)
    set_value(browser, "#profile-form [name='profile-work_started']", "2010-03-01")
    submit(browser, "#profile-form form")
    assert "已保存考勤设置" in by_css(browser, ".alert-ok").text
    set_value(browser, "#allowance-form [name='allowance-days']", "")  # her own 8 days back to the type's
    submit(browser, "#balance-card form")
    browser.get(f"{url}/attendance/leave-types/")
    by_css(browser, "#leave-types-table a.btn").click()
    type_into(browser, "#leave-type-form [name=yearly_days]", "")
    by_css(browser, "#leave-type-form [name=statutory]").click()
    submit(browser, "#leave-type-form form")
    assert "法定年休假：按工龄" in by_css(browser, "#leave-types-table").text
    browser.get(f"{url}/attendance/employees/{employee.pk}/month/?month={monday:%Y-%m}")
    years = monday.year - 2010
    earned = "10" if years < 20 else "15"
    assert [c.text for c in all_css(browser, f"{balance} td")] == [
        "年假", str(monday.year), f"{earned} 法定 · 工龄 {years} 年", "5", "0", str(int(earned) - 5)]

    # last year's days not taken carry over, 3 at most, until the end of March (she took none last year)
    browser.get(f"{url}/attendance/leave-types/")
    by_css(browser, "#leave-types-table a.btn").click()
    type_into(browser, "#leave-type-form [name=carry_over_days]", "3")
    type_into(browser, "#leave-type-form [name=carry_over_until]", "3")
    type_into(browser, "#leave-type-form [name=carry_over_since]", str(monday.year - 1))
    submit(browser, "#leave-type-form form")
    assert "结转最多 3 天，至次年 3 月底" in by_css(browser, "#leave-types-table").text
    browser.get(f"{url}/attendance/employees/{employee.pk}/month/?month={monday:%Y-%m}")
    cells = [c.text for c in all_css(browser, f"{balance} td")]
    # her five days off take carried days first where they fall by 31 March; the carried days lapse after it
    last_day = date(monday.year, 3, 31)
    from_carried = min(3, sum(1 for i in range(5) if monday + timedelta(days=i) <= last_day))
    lapsed = date.today() > last_day and from_carried < 3
    assert cells[2].startswith(f"{earned} 法定 · 工龄 {years} 年 结转 +3 · 至 03-31") and ("已过期" in cells[2]) == lapsed
    assert cells[5] == str(int(earned) - (5 - from_carried) + (0 if date.today() > last_day else 3 - from_carried))


def test_an_employee_asks_for_a_make_up_punch_and_the_manager_approves_it_into_the_month(console, browser, world,
                                                                                        tmp_path):
    """王小红 missed her in punch: she asks for it on the requests page from her phone, her department's manager approves it,
    and her day is computed from it."""
    from browser_support import account
    from django.utils import timezone as dj_timezone
    from PIL import Image
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import Select

    from central.alerts.models import AlertRule
    from central.alerts.services import evaluate
    from central.attendance.models import AttendanceProfile, DailyRecord, LeaveType, MakeupPunch, OvertimeRule, ShiftType
    from central.attendance.services import recompute
    from central.ingest.models import Punch
    from central.people.models import Department, Employee

    url, worked = console.url, world["worked"]
    wang = Employee.objects.get(number="A002")
    shift = ShiftType.objects.create(name="白班", start=time(9), end=time(18), checkin_before_min=60,
                                     checkout_after_min=120, late_grace_min=5, early_grace_min=0)
    AttendanceProfile.objects.create(employee=wang, default_shift=shift)
    employee_pw = account("wang", role="employee", employee_number="A002", actor="test")
    manager_pw = account(
        "boss-zhao", role="manager", department_ids=[Department.objects.get(name="生产部").pk], actor="test")

    with chromium((390, 1000)) as phone:  # she asks from her phone: the page fits its width, nothing scrolls sideways
        sign_in(phone, url, "wang", employee_pw)
        by_css(phone, "#nav-requests").click()
        wait(phone, lambda d: by_css(d, "h1").text == "请求与审批", what="the requests page")
        width, inner = phone.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width <= inner <= 400, (width, inner)
        assert by_css(phone, "#ask-makeup [name='makeup-reason']").rect["width"] <= inner - 24
        set_value(phone, "#ask-makeup [name='makeup-at']", f"{worked.isoformat()}T08:58")
        Select(by_css(phone, "#ask-makeup [name='makeup-direction']")).select_by_value("in")
        submit(phone, "#ask-makeup form")  # no reason: refused on its field
        try:
            wait(phone, lambda d: all_css(d, "#field-makeup-reason .error"), what="the reason's error")
        except TimeoutException:
            raise AssertionError(f"no error on the reason; the page showed {by_css(phone, 'body').text[:500]!r}") from None
        assert "请填写事由" in by_css(phone, "#field-makeup-reason .error").text and not MakeupPunch.objects.exists()
        type_into(phone, "#ask-makeup [name='makeup-reason']", "门禁没识别 The door did not recognise me")
        photo = tmp_path / "gate-screen.jpg"  # a photo of the door's screen, as her phone's camera took it
        Image.new("RGB", (1600, 1200), (20, 90, 160)).save(photo, "JPEG")
        by_css(phone, "#ask-makeup [name='makeup-evidence']").send_keys(str(photo))
        submit(phone, "#ask-makeup form")
        assert "补卡" in by_css(phone, ".alert-ok").text
        punch = MakeupPunch.objects.get()
        assert punch.evidence.name == "gate-screen.jpg" and punch.evidence.size < photo.stat().st_size
        assert (punch.state, punch.at, punch.direction) == ("pending", datetime.combine(worked, time(8, 58), SHANGHAI), "in")
        assert by_css(phone, f"#request-makeup-{punch.pk}")  # hers to take back, not to decide
        assert [b.text for b in all_css(phone, "#pending-requests button")] == ["撤回", "换证明"]
        # a sharper photo instead, from the row itself while it waits
        sharper = tmp_path / "gate-screen-2.png"
        Image.new("RGB", (640, 480), (20, 90, 160)).save(sharper, "PNG")
        by_css(phone, f"#request-makeup-{punch.pk} .attach-form input[type=file]").send_keys(str(sharper))
        submit(phone, f"#request-makeup-{punch.pk} .attach-form")
        assert "已补交证明" in by_css(phone, ".alert-ok").text
        punch.refresh_from_db()
        assert (punch.evidence.name, punch.evidence.content_type) == ("gate-screen-2.png", "image/png")

    # HR's rule tells her manager at once: the notification links to the requests page
    AlertRule.objects.create(kind=AlertRule.REQUEST_WAITING, threshold=0, site=wang.site, created_by="hr")
    [alert] = evaluate(dj_timezone.now())
    sign_in(browser, url, "boss-zhao", manager_pw)
    assert by_css(browser, "#alerts-unread").text == "1"
    by_css(browser, "#nav-alerts").click()
    notice = wait(browser, lambda d: all_css(d, f"#alert-{alert.pk}"), what="the notification")[0]
    assert "待审批：王小红（A002） 的补上班卡" in notice.text
    notice.find_element("link text", "去审批").click()
    wait(browser, lambda d: by_css(d, "h1").text == "请求与审批", what="the requests page")
    row = by_css(browser, f"#request-makeup-{punch.pk}")
    assert "王小红" in row.text and "08:58" in row.text
    # the photo she attached opens in a tab of its own, scaled to 2,000 pixels at most
    page = browser.current_window_handle
    row.find_element("css selector", "a.evidence-link").click()
    wait(browser, lambda d: len(d.window_handles) == 2, what="the evidence's tab")
    browser.switch_to.window([h for h in browser.window_handles if h != page][0])
    size = wait(browser, lambda d: d.execute_script(
        "const i = document.images[0]; return i && i.complete && i.naturalWidth ? [i.naturalWidth, i.naturalHeight] : null"),
        what="the photo to load")
    assert size == [640, 480]
    browser.close()
    browser.switch_to.window(page)
    by_css(browser, "#pick-all").click()  # every request he may decide ticked: hers is the one
    assert [b.is_selected() for b in all_css(browser, "input[name=pick]")] == [True]
    old = by_css(browser, "html")
    by_css(browser, "#decide-many button[value=approve]").click()
    wait(browser, lambda d: by_css(d, "html") != old, what="the page after the decision")
    assert "已批准 1 条请求" in by_css(browser, ".alert-ok").text
    assert "已批" in by_css(browser, f"#decided-makeup-{punch.pk}").text
    record = DailyRecord.objects.get(employee=wang, date=worked)
    assert (record.status, record.first_in, record.late) == ("present", datetime.combine(worked, time(8, 58), SHANGHAI),
                                                            False)
    assert MakeupPunch.objects.get().approved_by == "boss-zhao"

    # she also came in on a Saturday: he gives her the hours as time off in lieu (调休), not as pay
    saturday = worked - timedelta(days=(worked.weekday() - 5) % 7)
    rule = OvertimeRule.objects.create(name="加班", min_minutes=30, step_min=30, requires_approval=True)
    ShiftType.objects.filter(pk=shift.pk).update(overtime=rule, count_on_holidays=True)
    AttendanceProfile.objects.filter(employee=wang).update(overtime_listed=True)
    for n, (at, way) in enumerate([(time(9), "in"), (time(13), "out")]):
        stamp = datetime.combine(saturday, at, SHANGHAI)
        Punch.objects.create(id=f"0190f3a0-0000-7000-8000-{n + 50:012d}", site="zongchang", device_id="door-a",
                             employee_number="A002", direction=way, method="face", punched_at=stamp, boot_id="b",
                             monotonic_ns=n, time_source="ntp", batch_id="0190f3a0-0000-7000-8000-0000000000bc",
                             received_at=stamp)
    recompute(saturday, saturday, employees=Employee.objects.filter(pk=wang.pk))
    LeaveType.objects.create(code="comp", name="调休假", in_lieu=True)
    overtime = DailyRecord.objects.get(employee=wang, date=saturday)
    assert (overtime.overtime_kind, overtime.overtime_min, overtime.overtime_state) == ("rest_day", 240, "pending")
    browser.get(f"{url}/attendance/requests/")
    row = wait(browser, lambda d: all_css(d, f"#request-overtime-{overtime.pk}"), what="the overtime")[0]
    assert "240 分钟" in row.text and "休息日" in row.text
    old = by_css(browser, "html")
    row.find_element("css selector", "button[value=in_lieu]").click()
    wait(browser, lambda d: by_css(d, "html") != old, what="the page after the decision")
    assert "已将 王小红 (A002) 的加班批为调休" in by_css(browser, ".alert-ok").text
    assert DailyRecord.objects.get(pk=overtime.pk).overtime_state == "in_lieu"
    browser.get(f"{url}/attendance/employees/{wang.pk}/month/?month={saturday:%Y-%m}")
    balance = wait(browser, lambda d: all_css(d, f"#balance-comp-{saturday.year}"), what="her time off in lieu")[0]
    assert "调休 · 加班 4.0 小时" in balance.text and balance.find_elements("css selector", "strong")[0].text == "0.5"


def test_an_employee_sees_every_column_of_her_balance_on_her_phone(console, world):
    """Her annual leave carries last year's untaken days: the balance, its chips and what is left fit her phone's
    width without scrolling the table sideways."""
    from decimal import Decimal

    from browser_support import account

    from central.attendance.models import LeaveType

    LeaveType.objects.create(code="annual", name="年假", yearly_days=Decimal(5), carry_over_days=Decimal(3),
                             carry_over_until=3, carry_over_since=date.today().year - 1)
    password = account("wang", role="employee", employee_number="A002", actor="test")
    with chromium((390, 1000)) as phone:
        sign_in(phone, console.url, "wang", password)
        by_css(phone, "#nav-requests").click()
        wait(phone, lambda d: by_css(d, "h1").text == "请求与审批", what="the requests page")
        table = by_css(phone, "#leave-balances")
        wide, room = phone.execute_script("return [arguments[0].scrollWidth, arguments[0].parentElement.clientWidth]",
                                          table)
        assert wide <= room, (wide, room)
        row = by_css(phone, f"#balance-annual-{date.today().year}")
        cells = [c.text.replace("\n", " ") for c in row.find_elements("css selector", "td")]
        assert cells[2].startswith("5 结转 +3") and cells[5] == ("5" if date.today() > date(date.today().year, 3, 31)
                                                                 else "8"), cells
