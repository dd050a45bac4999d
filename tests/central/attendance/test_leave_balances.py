"""Leave allowances: what a leave takes of them (working days by the employee's schedule, half days, each day in its
own year, pending leave held), a leave beyond what is left refused with the numbers, an employee's own allowance set
and audited, and the pages that show and set them. Read back through the models, the audit log and the pages' HTML."""
from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from central_support import client_for, text_of, token_for
from django.urls import reverse
from django.utils import timezone as dj_timezone

from central.accounts.models import AuditEntry, Role, User
from central.attendance.leave_balances import AllowanceError, balances, balances_of, set_allowance
from central.attendance.models import AttendanceProfile, LeaveRecord, LeaveType, ShiftType, SiteCalendar
from central.attendance.requests import decide_leave, file_leave
from central.attendance.services import AttendanceError
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    """张三 works 09:00–18:00 Monday to Friday; annual leave is 5 days a year, sick leave keeps no allowance."""
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
    dept = Department.objects.create(site=site, name="装配")
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18))
    e1 = Employee.objects.create(number="E1", name="张三", site=site, department=dept)
    AttendanceProfile.objects.create(employee=e1, default_shift=day)
    annual = LeaveType.objects.create(code="annual", name="年假", yearly_days=Decimal(5))
    sick = LeaveType.objects.create(code="sick", name="病假")
    hr = User.objects.create_user("hr", password="x" * 12, role=Role.HR_ADMIN)
    hr.sites.set([site])
    return {"site": site, "dept": dept, "e1": e1, "annual": annual, "sick": sick, "hr": hr}


def left(employee: Employee, year: int, code: str = "annual") -> tuple[str, str, str, str]:
    """(allowance, taken, waiting, left) of one type and year, as text."""
    [found] = [b for b in balances(employee, [year]) if b.leave_type.code == code]
    return tuple(f"{x.normalize():f}" for x in (found.allowance, found.used, found.waiting, found.left))  # type: ignore[return-value]


def test_working_days_half_days_and_pending_leave_count_and_a_leave_beyond_them_is_refused(plant) -> None:
    e1, annual, sick = plant["e1"], plant["annual"], plant["sick"]
    first = file_leave(e1, annual, date(2026, 3, 2), date(2026, 3, 4), reason="探亲", actor="E1")  # Mon–Wed
    assert left(e1, 2026) == ("5", "0", "3", "2")  # asked for: held
    decide_leave(first, approve=True, actor="hr")
    assert left(e1, 2026) == ("5", "3", "0", "2")
    half = file_leave(e1, annual, date(2026, 3, 6), date(2026, 3, 6), half_day=True, reason="体检", actor="E1")
    assert left(e1, 2026) == ("5", "3", "0.5", "1.5")
    with pytest.raises(AttendanceError) as refused:  # Friday to Monday: two working days, the weekend not counted
        file_leave(e1, annual, date(2026, 3, 13), date(2026, 3, 16), reason="回家", actor="E1")
    assert str(refused.value) == ("年假额度不足：2026 年还剩 1.5 天，这次请假要 2 天 / "
                                  "Not enough 年假 left: 1.5 days left in 2026, this leave takes 2")
    assert getattr(refused.value, "field", "") == "end" and LeaveRecord.objects.count() == 2
    file_leave(e1, sick, date(2026, 3, 9), date(2026, 3, 20), reason="住院", actor="E1")  # no allowance kept
    assert [b.leave_type.code for b in balances(e1, [2026])] == ["annual"]
    decide_leave(half, approve=False, actor="hr")  # a rejected leave gives its days back
    assert left(e1, 2026) == ("5", "3", "0", "2")
    # across the new year each day counts in its own year: Wed 30 and Thu 31 Dec, Fri 1 and Mon 4 Jan
    file_leave(e1, annual, date(2026, 12, 30), date(2027, 1, 4), reason="过年", actor="E1")
    assert left(e1, 2026) == ("5", "3", "2", "0") and left(e1, 2027) == ("5", "0", "2", "3")


def test_an_employees_own_allowance_replaces_the_types_and_is_audited(plant) -> None:
    e1, annual, hr = plant["e1"], plant["annual"], plant["hr"]
    set_allowance(hr, e1, annual, 2026, Decimal("12.5"))  # more years of service
    assert left(e1, 2026) == ("12.5", "0", "0", "12.5") and balances(e1, [2026])[0].own
    assert left(e1, 2027) == ("5", "0", "0", "5")  # another year: the type's
    file_leave(e1, annual, date(2026, 3, 2), date(2026, 3, 13), reason="长假", actor="E1")  # 10 working days
    set_allowance(hr, e1, annual, 2026, None)  # back to 5: what was asked stays, the balance shows the debt
    assert left(e1, 2026) == ("5", "0", "10", "-5") and not balances(e1, [2026])[0].own
    assert list(AuditEntry.objects.filter(action="attendance.leave_allowance").order_by("pk")
                .values_list("detail", flat=True)) == [
        {"from": None, "to": "12.5"}, {"from": "12.5", "to": None}]
    for year, days, field in ((1999, Decimal(1), "year"), (2026, Decimal(-1), "days"), (2026, Decimal("367"), "days"),
                              (2026, Decimal("1.25"), "days")):
        with pytest.raises(AllowanceError) as refused:
            set_allowance(hr, e1, annual, year, days)
        assert refused.value.field == field


def this_year_monday() -> date:
    """A Monday in March of the current year (the pages show the current year)."""
    day = date(dj_timezone.localdate().year, 3, 2)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def test_the_employee_sees_what_is_left_and_a_leave_beyond_it_is_refused_on_the_form(plant) -> None:
    e1, year = plant["e1"], dj_timezone.localdate().year
    employee = client_for(User.objects.create_user("e1", password="x" * 12, role=Role.EMPLOYEE, employee=e1))
    page = employee.get(reverse("console:attendance_requests")).content.decode()
    table = page.split('id="leave-balances"')[1].split("</table>")[0]
    assert f'id="balance-annual-{year}"' in table and "剩余" in table and "病假" not in table  # sick leave: no allowance
    monday = this_year_monday()
    answer = employee.post(reverse("console:attendance_requests"), {
        "kind": "leave", "leave-leave_type": str(plant["annual"].pk), "leave-start": monday.isoformat(),
        "leave-end": (monday + timedelta(days=7)).isoformat(), "leave-reason": "旅行"})  # six working days
    assert answer.status_code == 200 and "年假额度不足" in answer.content.decode() and not LeaveRecord.objects.exists()


def test_hr_sets_an_allowance_on_the_month_page_and_bad_input_is_refused_on_its_field(plant) -> None:
    e1, hr = plant["e1"], client_for(plant["hr"])
    url = reverse("console:attendance_month", args=[e1.pk])
    page = hr.get(url, {"month": "2026-03"}).content.decode()
    assert 'id="balance-annual-2026"' in page and 'id="allowance-form"' in page
    body = {"kind": "allowance", "month": "2026-03", "allowance-leave_type": str(plant["annual"].pk),
            "allowance-year": "2026", "allowance-days": "15"}
    assert hr.post(url, body).status_code == 302
    page = hr.get(url, {"month": "2026-03"}).content.decode()
    row = page.split('id="balance-annual-2026"')[1].split("</tr>")[0]
    assert ">15" in row and "个人" in row
    for field, value in (("days", "abc"), ("days", "400"), ("days", "-2"), ("year", "1900"), ("leave_type", "999999")):
        answer = hr.post(url, {**body, f"allowance-{field}": value})
        assert answer.status_code == 200 and f'id="field-allowance-{field}"' in answer.content.decode(), (field, value)
    assert left(e1, 2026) == ("15", "0", "0", "15")
    manager = User.objects.create_user("mg", password="x" * 12, role=Role.MANAGER)
    manager.departments.set([plant["dept"]])
    assert client_for(manager).post(url, {**body, "allowance-days": "99"}).status_code == 403
    assert left(e1, 2026) == ("15", "0", "0", "15")


def test_hr_gives_a_leave_type_its_days_a_year_on_the_leave_types_tab(plant) -> None:
    hr = client_for(plant["hr"])
    url = reverse("console:attendance_leave_types")
    body = {"id": str(plant["sick"].pk), "code": "sick", "name": "病假", "paid": "on", "yearly_days": "12"}
    assert hr.post(url, body).status_code == 302
    assert LeaveType.objects.get(code="sick").yearly_days == Decimal(12)
    assert "每年 12 天" in hr.get(url).content.decode()
    answer = hr.post(url, {**body, "yearly_days": "500"})
    assert answer.status_code == 200 and LeaveType.objects.get(code="sick").yearly_days == Decimal(12)


@pytest.fixture
def statutory(plant) -> LeaveType:
    """年休假 counted by law from the years of working life (central.attendance.annual_leave)."""
    return LeaveType.objects.create(code="al", name="年休假", statutory=True)


def test_statutory_annual_leave_counts_from_the_start_of_working_life(plant, statutory) -> None:
    e1, hr = plant["e1"], plant["hr"]
    AttendanceProfile.objects.filter(employee=e1).update(work_started=date(2016, 3, 15), joined=date(2020, 6, 1))
    # 10 years on 15 March 2026: 73 days × 5 + 292 days × 10 = 3285 / 365 = 9; all of 2025 at 5
    assert left(e1, 2026, "al") == ("9", "0", "0", "9") and left(e1, 2025, "al") == ("5", "0", "0", "5")
    [found] = [b for b in balances(e1, [2026]) if b.leave_type.code == "al"]
    assert (found.basis, found.working_years, found.own) == ("statutory", 10, False)
    with pytest.raises(AllowanceError) as refused:  # Mon 2 - Fri 13 March: 10 working days
        file_leave(e1, statutory, date(2026, 3, 2), date(2026, 3, 13), reason="探亲", actor="E1")
    assert str(refused.value).startswith("年休假额度不足：2026 年还剩 9 天，这次请假要 10 天")
    file_leave(e1, statutory, date(2026, 3, 2), date(2026, 3, 12), reason="探亲", actor="E1")  # 9 days: all of them
    assert left(e1, 2026, "al") == ("9", "0", "9", "0")
    set_allowance(hr, e1, statutory, 2026, Decimal(12))  # 3 days carried over: the own allowance wins
    assert left(e1, 2026, "al") == ("12", "0", "9", "3") and balances(e1, [2026])[0].basis == "own"
    # leaving on 30 June 2027: 181 days × 10 = 1810 / 365 = 4.96 → 4
    AttendanceProfile.objects.filter(employee=e1).update(left=date(2027, 6, 30))
    assert left(e1, 2027, "al") == ("4", "0", "0", "4")


def test_statutory_leave_of_an_employee_without_dates_is_refused_saying_what_is_missing(plant, statutory) -> None:
    e1 = plant["e1"]  # no start of working life and no joining day
    [found] = [b for b in balances(e1, [2026]) if b.leave_type.code == "al"]
    assert (found.basis, found.allowance, found.working_years) == ("unknown", Decimal(0), None)
    with pytest.raises(AllowanceError) as refused:
        file_leave(e1, statutory, date(2026, 3, 2), date(2026, 3, 2), reason="办事", actor="E1")
    assert "没有参加工作时间或入职日期" in str(refused.value) and refused.value.field == "leave_type"
    assert not LeaveRecord.objects.exists()
    AttendanceProfile.objects.filter(employee=e1).update(joined=date(2024, 1, 1))  # from joining: 2 full years
    assert left(e1, 2026, "al") == ("5", "0", "0", "5")


def test_hr_sets_statutory_leave_and_the_start_of_working_life_on_the_pages(plant, statutory) -> None:
    e1, hr = plant["e1"], client_for(plant["hr"])
    url = reverse("console:attendance_leave_types")
    body = {"id": str(plant["annual"].pk), "code": "annual", "name": "年假", "paid": "on", "statutory": "on"}
    for extra, field in (({"yearly_days": "5"}, "yearly_days"), ({"counts_rest_days": "on"}, "counts_rest_days")):
        answer = hr.post(url, {**body, **extra})
        assert answer.status_code == 200 and f'id="field-{field}"' in answer.content.decode(), field
        assert not LeaveType.objects.get(code="annual").statutory
    assert hr.post(url, body).status_code == 302
    annual = LeaveType.objects.get(code="annual")
    assert annual.statutory and annual.yearly_days is None and "法定年休假：按工龄" in hr.get(url).content.decode()
    assert AuditEntry.objects.filter(action="attendance.leave_type.update", detail__statutory=True).exists()

    month = reverse("console:attendance_month", args=[e1.pk])
    profile = {"kind": "profile", "month": "2026-03", "profile-joined": "2020-06-01",
               "profile-default_shift": str(AttendanceProfile.objects.get(employee=e1).default_shift_id)}
    for value in ("2021-01-01", "1900-01-01", "not a date"):  # after joining, before 1940, not a date
        answer = hr.post(month, {**profile, "profile-work_started": value})
        assert answer.status_code == 200 and 'id="field-profile-work_started"' in answer.content.decode(), value
    assert AttendanceProfile.objects.get(employee=e1).work_started is None
    assert hr.post(month, {**profile, "profile-work_started": "2016-03-15"}).status_code == 302
    assert AttendanceProfile.objects.get(employee=e1).work_started == date(2016, 3, 15)
    page = hr.get(month, {"month": "2026-03"}).content.decode()
    row = page.split('id="balance-al-2026"')[1].split("</tr>")[0]
    assert ">9" in row and "工龄 10 年" in row
    hr.post(month, {**profile, "profile-work_started": "2006-03-15"})  # the start corrected: only it changes
    entry = AuditEntry.objects.filter(action="attendance.profile").order_by("pk").last()
    assert entry is not None and entry.detail["changed"] == ["work_started"]
    assert entry.detail["before"]["work_started"] == "2016-03-15" and entry.detail["after"]["work_started"] == "2006-03-15"


def test_unused_days_carry_into_the_next_year_until_their_last_day(plant) -> None:
    e1, annual = plant["e1"], plant["annual"]
    LeaveType.objects.filter(pk=annual.pk).update(carry_over_days=Decimal(3), carry_over_until=3, carry_over_since=2025)
    annual.refresh_from_db()
    decide_leave(file_leave(e1, annual, date(2025, 6, 2), date(2025, 6, 2), reason="办事", actor="E1"),
                 approve=True, actor="hr")  # 1 of 2025's 5 taken: 4 unused, 3 carried into 2026 until 31 March
    [before] = balances_of([e1], [2026], today=date(2026, 2, 1))[e1.pk]
    assert (before.carried, before.carried_left, before.left) == (Decimal(3), Decimal(3), Decimal(8))
    # six working days from 13 April, after the carried days' last day: only the year's own 5 count
    with pytest.raises(AllowanceError) as refused:
        file_leave(e1, annual, date(2026, 4, 13), date(2026, 4, 20), reason="旅行", actor="E1")
    assert str(refused.value) == (
        "年假额度不足：2026 年还剩 5 天，这次请假要 6 天（结转的 3 天只能用到 03-31） / Not enough 年假 left: 5 days left in "
        "2026, this leave takes 6 (the 3 days carried over may be taken until 31 Mar)")
    # the same six days in March take the 3 carried days first, then 3 own ones
    march = file_leave(e1, annual, date(2026, 3, 2), date(2026, 3, 9), reason="旅行", actor="E1")
    [held] = balances_of([e1], [2026], today=date(2026, 3, 10))[e1.pk]
    assert (held.waiting, held.carry.carried_taken, held.carried_left, held.left) == (6, 3, 0, 2)  # type: ignore[union-attr]
    decide_leave(march, approve=False, actor="hr")
    # nothing taken by 31 March: on 1 April the 3 carried days lapse and 2027 gets the 2026 days not taken, at most 3
    assert [(b.left, b.carried_left) for b in balances_of([e1], [2026], today=date(2026, 4, 1))[e1.pk]] == [(5, 0)]
    assert [b.carried for b in balances_of([e1], [2027])[e1.pk]] == [Decimal(3)]


def test_hr_sets_carrying_over_on_the_leave_types_tab_and_sees_it_on_the_month_page(plant) -> None:
    e1, hr = plant["e1"], client_for(plant["hr"])
    url = reverse("console:attendance_leave_types")
    body = {"id": str(plant["annual"].pk), "code": "annual", "name": "年假", "paid": "on", "yearly_days": "5",
            "carry_over_days": "3", "carry_over_until": "3", "carry_over_since": "2025"}
    for extra, field in (({"yearly_days": ""}, "carry_over_days"),  # nothing to carry without an allowance
                         ({"carry_over_until": "13"}, "carry_over_until"), ({"carry_over_days": "0"}, "carry_over_days"),
                         ({"carry_over_since": "1999"}, "carry_over_since")):
        answer = hr.post(url, {**body, **extra})
        assert answer.status_code == 200 and f'id="field-{field}"' in answer.content.decode(), extra
        assert LeaveType.objects.get(code="annual").carry_over_days is None
    assert hr.post(url, body).status_code == 302
    assert "结转最多 3 天，至次年 3 月底（2025 年起）" in hr.get(url).content.decode()
    assert AuditEntry.objects.filter(action="attendance.leave_type.update", detail__carry_over_days="3",
                                     detail__carry_over_until=3, detail__carry_over_since=2025).exists()
    page = hr.get(reverse("console:attendance_month", args=[e1.pk]), {"month": "2026-03"}).content.decode()
    row = page.split('id="balance-annual-2026"')[1].split("</tr>")[0]
    # 2025's 5 unused, 3 carried until 31 March 2026, lapsed untaken by now
    assert 'data-carried="3"' in row and "至 03-31" in row and "已过期" in row
    assert hr.post(url, {**body, "carry_over_since": ""}).status_code == 302  # empty: from this year on
    assert LeaveType.objects.get(code="annual").carry_over_since == dj_timezone.localdate().year
    assert hr.post(url, {**body, "carry_over_days": ""}).status_code == 302  # switched off: the rest goes with it
    annual = LeaveType.objects.get(code="annual")
    assert (annual.carry_over_days, annual.carry_over_until, annual.carry_over_since) == (None, None, None)
    page = hr.get(reverse("console:attendance_month", args=[e1.pk]), {"month": "2026-03"}).content.decode()
    assert "data-carried" not in page.split('id="balance-annual-2026"')[1].split("</tr>")[0]


def sick_for_two_months(plant: dict[str, Any]) -> LeaveType:
    """Sick leave made to count against annual leave, and 44 of 张三's working days of it approved: Mon 2 March to
    Thu 30 April 2026 (8 weeks and 4 days). Two months are 43.5 working days: the 44th day, 30 April, reaches them."""
    sick = plant["sick"]
    sick.forfeits_annual = "sick"
    sick.save()
    leave = file_leave(plant["e1"], sick, date(2026, 3, 2), date(2026, 4, 30), reason="住院", actor="E1")
    decide_leave(leave, approve=True, actor="hr")
    return sick


def test_two_months_of_sick_leave_forfeit_the_years_statutory_leave(plant, statutory, tmp_path: Path) -> None:
    e1 = plant["e1"]
    AttendanceProfile.objects.filter(employee=e1).update(work_started=date(2020, 1, 1))  # 6 years: 5 days a year
    assert left(e1, 2026, "al") == ("5", "0", "0", "5")
    sick = plant["sick"]
    leave = file_leave(e1, sick, date(2026, 3, 2), date(2026, 4, 29), reason="住院", actor="E1")  # 43 days, waiting
    assert left(e1, 2026, "al") == ("5", "0", "0", "5")
    decide_leave(leave, approve=True, actor="hr")
    assert left(e1, 2026, "al") == ("5", "0", "0", "5")  # a type that does not count against annual leave
    sick.forfeits_annual = "sick"
    sick.save()
    assert left(e1, 2026, "al") == ("5", "0", "0", "5")  # 43 working days: short of 43.5
    decide_leave(file_leave(e1, sick, date(2026, 4, 30), date(2026, 4, 30), half_day=True, reason="复查", actor="E1"),
                 approve=True, actor="hr")  # 43.5: "以上" includes the two months themselves
    [found] = [b for b in balances(e1, [2026]) if b.leave_type.code == "al"]
    assert (found.basis, found.allowance, found.left) == ("forfeited", Decimal(0), Decimal(0))
    assert found.forfeit is not None and (found.forfeit.reached, found.forfeit.months) == (date(2026, 4, 30), 2)
    assert left(e1, 2027, "al") == ("5", "0", "0", "5")  # the next year is whole again
    with pytest.raises(AllowanceError) as refused:
        file_leave(e1, statutory, date(2026, 6, 1), date(2026, 6, 1), reason="探亲", actor="E1")
    assert str(refused.value) == ("年休假：2026 年病假累计满 2 个月（04-30），2026 年不享受法定年休假（条例第四条） / 年休假: "
                                  "Sick leave reached 2 months on 2026-04-30: no statutory annual leave in 2026 "
                                  "(article 4)")
    openpyxl = pytest.importorskip("openpyxl")  # the leave report, read back from its workbook
    from central.reports import registry
    from central.reports.registry import ReportParams
    report = registry.build("leave", plant["hr"], ReportParams(date(2026, 6, 1), date(2026, 6, 30)))
    with (tmp_path / "leave.xlsx").open("wb") as out:
        registry.render(report, "xlsx", out)
    sheet = next(ws for ws in openpyxl.load_workbook(tmp_path / "leave.xlsx").worksheets if ws.title.startswith("假期余额"))
    header = [c.value for c in sheet[2]]
    [row] = [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=3, values_only=True) if r[4] == "年休假"]
    assert row["依据 Basis"] == ("不享受：2026 年病假累计满 2 个月（04-30），2026 年不享受法定年休假（条例第四条） Forfeited: "
                                "Sick leave reached 2 months on 2026-04-30: no statutory annual leave in 2026 (article 4)")
    set_allowance(plant["hr"], e1, statutory, 2026, Decimal(3))  # HR agrees otherwise: the own allowance wins
    assert left(e1, 2026, "al") == ("3", "0", "0", "3")


def test_annual_leave_taken_first_forfeits_the_next_year_and_the_pages_and_api_say_why(plant, statutory) -> None:
    e1 = plant["e1"]
    AttendanceProfile.objects.filter(employee=e1).update(work_started=date(2020, 1, 1))
    decide_leave(file_leave(e1, statutory, date(2026, 2, 2), date(2026, 2, 3), reason="探亲", actor="E1"),
                 approve=True, actor="hr")  # Mon-Tue, before the sick leave
    sick_for_two_months(plant)
    assert left(e1, 2026, "al") == ("5", "2", "0", "3")  # what was begun is kept (实施办法 第八条)
    assert left(e1, 2027, "al") == ("0", "0", "0", "0")
    [nxt] = [b for b in balances(e1, [2027]) if b.leave_type.code == "al"]
    assert nxt.basis == "forfeited" and nxt.forfeit is not None and nxt.forfeit.next_year

    hr = client_for(plant["hr"])
    page = hr.get(reverse("console:attendance_month", args=[e1.pk]), {"month": "2027-01"}).content.decode()
    row = text_of(page.split('id="balance-al-2027"')[1].split("</tr>")[0])
    assert "不享受" in row and "2026 年病假累计满 2 个月（04-30），当年已休过年休假，2027 年不享受法定年休假" in row
    hr.post(reverse("console:set_language"), {"language": "en", "next": "/"})
    english = hr.get(reverse("console:attendance_month", args=[e1.pk]), {"month": "2027-01"}).content.decode()
    row = text_of(english.split('id="balance-al-2027"')[1].split("</tr>")[0])
    assert "Forfeited" in row and "after annual leave was taken that year: no statutory annual leave in 2027" in row

    token = token_for("api", Role.HR_ADMIN, sites=[plant["site"]])
    body = hr.get("/api/v1/attendance/leave-balances", {"year": 2027, "employee": "E1"},
                  HTTP_AUTHORIZATION=f"Bearer {token}").json()
    [item] = [i for i in body["items"] if i["leave_type"] == "al"]
    assert (item["basis"], item["allowance"], item["forfeited_by"], item["forfeit_reached"]) == (
        "forfeited", "0", "sick", "2026-04-30")


def test_hr_marks_a_type_as_counting_against_annual_leave_and_bad_combinations_are_refused(plant, statutory) -> None:
    hr = client_for(plant["hr"])
    url = reverse("console:attendance_leave_types")
    personal = LeaveType.objects.create(code="personal", name="事假", paid=False)
    body = {"id": str(personal.pk), "code": "personal", "name": "事假", "forfeits_annual": "personal"}
    answer = hr.post(url, body)  # unpaid personal leave never forfeits (第四条 第二项 asks for pay kept)
    assert answer.status_code == 200 and 'id="field-forfeits_annual"' in answer.content.decode()
    assert "只有不扣工资的事假才影响年休假" in answer.content.decode()
    for other, extra in ((statutory, {"statutory": "on"}), (plant["annual"], {"in_lieu": "on"})):
        answer = hr.post(url, {"id": str(other.pk), "code": other.code, "name": other.name, "paid": "on",
                               "forfeits_annual": "sick", **extra})
        assert answer.status_code == 200 and 'id="field-forfeits_annual"' in answer.content.decode(), other.code
    assert not LeaveType.objects.exclude(forfeits_annual="").exists()
    assert hr.post(url, {**body, "paid": "on"}).status_code == 302
    assert LeaveType.objects.get(code="personal").forfeits_annual == "personal"
    assert "带薪事假满 20 天不享受当年年休假" in hr.get(url).content.decode()
    assert AuditEntry.objects.filter(action="attendance.leave_type.update", detail__forfeits_annual="personal").exists()
