"""Time off in lieu (调休): rest-day overtime a manager approves as days off instead of pay. Only rest-day overtime may
be (劳动法 第四十四条), only where a leave type takes it; the hours bank half a day for every 4, a leave of that type is
refused beyond them, and the reports pay none of it but show it apart. Read back through the models, the audit log, the
pages' HTML, the API's JSON and the payroll CSV read with the csv module."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from central_support import client_for
from django.test import Client
from django.urls import reverse
from django.utils.timezone import localtime as dj_localtime

from central.accounts.models import AuditEntry, Role, User
from central.accounts.services import create_token
from central.attendance.leave_balances import AllowanceError, balances, balances_of, in_lieu_days, set_allowance
from central.attendance.models import (
    AttendanceProfile,
    CalendarDay,
    DailyRecord,
    LeaveRecord,
    LeaveType,
    OvertimeRule,
    ShiftType,
    SiteCalendar,
)
from central.attendance.requests import decide, decide_leave, file_leave
from central.attendance.services import AttendanceError, ScheduleError, recompute, save_leave_type
from central.ingest.handler import store_punches
from central.people.models import Department, Employee, Site
from central.reports import registry
from central.reports.records import staff, with_records
from central.reports.registry import ReportParams
from central.reports.tally import totals_of
from central.webhooks.models import Delivery
from central.webhooks.services import create_hook

pytestmark = pytest.mark.django_db
SHANGHAI = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 20, tzinfo=timezone.utc)
SAT, SUN, MON, WED = date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9), date(2026, 3, 11)
IN_LIEU_TYPE = {"code": "comp", "name": "调休假", "paid": True, "counts_rest_days": False, "yearly_days": None,
                "statutory": False, "in_lieu": True, "needs_evidence": False, "carry_over_days": None}


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    """张三 works 09:00–18:00 Monday to Friday on the overtime list, overtime needs approval; he came in on Saturday
    09:00–13:30 and Sunday 09:00–12:30, stayed until 19:30 on Monday and worked Wednesday, a public holiday."""
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
    CalendarDay.objects.create(site=site, date=WED, kind="holiday", name="厂庆")
    dept = Department.objects.create(site=site, name="装配")
    rule = OvertimeRule.objects.create(name="加班", min_minutes=30, step_min=30, requires_approval=True)
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18), checkin_before_min=60,
                                   checkout_after_min=180, late_grace_min=0, early_grace_min=0, overtime=rule,
                                   count_on_holidays=True)
    e1 = Employee.objects.create(number="E1", name="张三", site=site, department=dept)
    AttendanceProfile.objects.create(employee=e1, default_shift=day, overtime_listed=True)
    worked = [(SAT, time(9), time(13, 30)), (SUN, time(9), time(12, 30)), (MON, time(8, 55), time(19, 30)),
              (WED, time(9), time(18))]
    punched([(datetime.combine(d, t, SHANGHAI), way) for d, a, b in worked for t, way in ((a, "in"), (b, "out"))])
    recompute(SAT, WED, now=NOW)
    hr = User.objects.create_user("hr", password="x" * 12, role=Role.HR_ADMIN)
    hr.sites.set([site])
    boss = User.objects.create_user("boss", password="x" * 12, role=Role.MANAGER)
    boss.departments.set([dept])
    return {"site": site, "e1": e1, "hr": hr, "boss": boss,
            "days": {d: DailyRecord.objects.get(employee=e1, date=d) for d in (SAT, SUN, MON, WED)}}


def punched(moments: list[tuple[datetime, str]], batch: str = "x") -> None:
    store_punches([{"id": f"{batch}{i}", "site": "s1", "device_id": "door-a", "employee_number": "E1",
                    "direction": way, "method": "card", "score": None, "punched_at": at, "boot_id": "b",
                    "monotonic_ns": i, "time_source": "ntp", "original_punched_at": None, "restamped_at": None,
                    "batch_id": batch, "received_at": NOW} for i, (at, way) in enumerate(moments)])


def in_lieu_type(hr: User) -> LeaveType:
    return save_leave_type(hr, dict(IN_LIEU_TYPE))


def comp_left(employee: Employee, year: int) -> tuple[str, str, str, str, str] | None:
    """(allowance, taken, waiting, left, hours banked) of time off in lieu in ``year``, as text; None: no row."""
    found = [b for b in balances(employee, [year]) if b.leave_type.in_lieu]
    if not found:
        return None
    b = found[0]
    return (*(f"{x.normalize():f}" for x in (b.allowance, b.used, b.waiting, b.left)), f"{b.banked_h}")  # type: ignore[return-value]


def test_the_days_overtime_gives_are_half_a_day_for_every_four_hours() -> None:
    assert [in_lieu_days(m) for m in (0, 239, 240, 479, 480, 750, -30)] == [
        Decimal(0), Decimal(0), Decimal("0.5"), Decimal("0.5"), Decimal(1), Decimal("1.5"), Decimal(0)]


def test_rest_day_overtime_approved_in_lieu_becomes_days_off_that_are_not_paid(plant) -> None:
    e1, hr, boss, days = plant["e1"], plant["hr"], plant["boss"], plant["days"]
    # what the engine made of the four days: all of the weekend's minutes, Monday's after 18:00, the holiday's
    assert [(days[d].overtime_kind, days[d].overtime_min, days[d].overtime_state) for d in (SAT, SUN, MON, WED)] == [
        ("rest_day", 270, "pending"), ("rest_day", 210, "pending"), ("workday", 90, "pending"),
        ("holiday", 540, "pending")]
    comp = in_lieu_type(hr)
    assert comp_left(e1, 2026) is None  # nothing banked, nothing taken: no row
    create_hook(User.objects.create_superuser("root", password="x" * 12),
                {"name": "payroll", "url": "http://127.0.0.1:9/h", "events": ["record.final"]})
    decide(boss, days[SAT], approve=True, in_lieu=True, minutes=270)
    assert DailyRecord.objects.get(pk=days[SAT].pk).overtime_state == "in_lieu"
    told = Delivery.objects.get(event="record.final")  # the day is final: payroll hears it is not to be paid
    assert (told.data["date"], told.data["overtime_min"], told.data["overtime_state"]) == ("2026-03-07", 270, "in_lieu")
    assert comp_left(e1, 2026) == ("0.5", "0", "0", "0.5", "4.5")  # 4.5 h: half a day, the half hour kept
    decide(boss, days[SUN], approve=True, in_lieu=True)
    assert comp_left(e1, 2026) == ("1", "0", "0", "1", "8.0")
    assert list(AuditEntry.objects.filter(action="attendance.overtime_in_lieu").order_by("pk").values_list(
        "actor", "target")) == [
        ("boss", "E1 2026-03-07"), ("boss", "E1 2026-03-08")]

    (_, recs), = with_records(staff(Employee.objects.filter(pk=e1.pk), SAT, WED), SAT, WED)
    month = totals_of(recs)  # not paid as rest-day overtime, not waiting either: apart
    assert (month.overtime_min["rest_day"], month.in_lieu_min, month.in_lieu_h, month.overtime_pending_min) == (
        0, 480, Decimal("8.00"), 630)

    with pytest.raises(AttendanceError) as refused:  # Thursday and Friday: two days against one banked
        file_leave(e1, comp, date(2026, 3, 12), date(2026, 3, 13), reason="调休", actor="E1")
    assert str(refused.value) == ("调休假额度不足：2026 年还剩 1 天，这次请假要 2 天 / "
                                  "Not enough 调休假 left: 1 days left in 2026, this leave takes 2")
    leave = file_leave(e1, comp, date(2026, 3, 13), date(2026, 3, 13), reason="调休", actor="E1")
    decide_leave(leave, approve=True, actor="boss")
    assert comp_left(e1, 2026) == ("1", "1", "0", "0", "8.0")
    assert DailyRecord.objects.get(employee=e1, date=date(2026, 3, 13)).leave_type == comp

    recompute(SAT, WED, now=NOW)  # the same minutes: the decision stays
    assert DailyRecord.objects.get(pk=days[SAT].pk).overtime_state == "in_lieu"
    punched([(datetime.combine(SAT, time(14), SHANGHAI), "out")], batch="y")  # he left at 14:00 after all
    recompute(SAT, SAT, now=NOW)
    saturday = DailyRecord.objects.get(pk=days[SAT].pk)
    assert saturday.overtime_state == "pending"  # other minutes: asked again, and no longer banked
    assert (saturday.overtime_min, comp_left(e1, 2026)) == (300, ("0", "1", "0", "-1", "3.5"))  # the day taken: owed


def test_only_rest_day_overtime_is_taken_in_lieu_and_only_where_a_leave_type_takes_it(plant) -> None:
    days, boss = plant["days"], plant["boss"]
    with pytest.raises(AttendanceError, match="还没有调休假别"):
        decide(boss, days[SAT], approve=True, in_lieu=True)
    in_lieu_type(plant["hr"])
    with pytest.raises(AttendanceError) as workday:
        decide(boss, days[MON], approve=True, in_lieu=True)
    assert str(workday.value) == ("只有休息日加班可以调休，这是工作日加班，须计薪 / Only rest-day overtime can be taken as "
                                  "time off in lieu: this is workday overtime, which is paid")
    with pytest.raises(AttendanceError, match="这是节假日加班.*public holiday overtime"):
        decide(boss, days[WED], approve=True, in_lieu=True)
    with pytest.raises(AttendanceError, match="调休是批准的一种"):
        decide(boss, days[SAT], approve=False, in_lieu=True)
    leave = file_leave(plant["e1"], LeaveType.objects.create(code="sick", name="病假"), date(2026, 3, 16),
                       date(2026, 3, 16), reason="发烧", actor="E1")
    with pytest.raises(AttendanceError, match="只有加班可以调休"):
        decide(boss, leave, approve=True, in_lieu=True)
    assert [r.overtime_state for r in DailyRecord.objects.filter(date__in=(SAT, MON, WED)).order_by("date")] == [
        "pending"] * 3
    assert LeaveRecord.objects.get().state == "pending"
    assert not AuditEntry.objects.filter(action__startswith="attendance.overtime_").exists()


def test_the_leave_type_for_time_off_in_lieu_takes_nothing_but_overtime_and_there_is_one(plant) -> None:
    hr, e1 = plant["hr"], plant["e1"]
    for change, field in (({"yearly_days": Decimal(5)}, "yearly_days"), ({"statutory": True}, "statutory"),
                          ({"carry_over_days": Decimal(2)}, "carry_over_days"),
                          ({"counts_rest_days": True}, "counts_rest_days")):
        with pytest.raises(ScheduleError) as refused:
            save_leave_type(hr, {**IN_LIEU_TYPE, **change})
        assert refused.value.field == field, change
    assert not LeaveType.objects.exists()
    comp = in_lieu_type(hr)
    with pytest.raises(ScheduleError) as second:
        save_leave_type(hr, {**IN_LIEU_TYPE, "code": "comp2", "name": "补休"})
    assert second.value.field == "in_lieu" and "已有调休假别「调休假」（comp）" in str(second.value)
    assert save_leave_type(hr, {**IN_LIEU_TYPE, "name": "调休"}, comp).in_lieu  # the same type saved again
    decide(plant["boss"], plant["days"][SAT], approve=True, in_lieu=True)
    with pytest.raises(ScheduleError) as kept:  # the Saturday would be neither paid nor taken off
        save_leave_type(hr, {**IN_LIEU_TYPE, "in_lieu": False}, comp)
    assert kept.value.field == "in_lieu" and "已有 1 天的加班批为调休" in str(kept.value)
    assert LeaveType.objects.get(pk=comp.pk).in_lieu
    with pytest.raises(AllowanceError, match="不能单独设置"):
        set_allowance(hr, e1, comp, 2026, Decimal(3))


def test_the_pages_the_api_and_payroll_show_time_off_in_lieu(plant) -> None:
    e1, days = plant["e1"], plant["days"]
    boss = client_for(plant["boss"])
    page = boss.get(reverse("console:attendance_requests")).content.decode()
    assert 'value="in_lieu"' not in page  # no leave type takes it yet: not offered
    comp = in_lieu_type(plant["hr"])
    page = boss.get(reverse("console:attendance_requests")).content.decode()
    rows = {d: page.split(f'id="request-overtime-{days[d].pk}"')[1].split("</tr>")[0] for d in (SAT, SUN, MON, WED)}
    assert ['value="in_lieu"' in rows[d] for d in (SAT, SUN, MON, WED)] == [True, True, False, False]
    assert "所选批为调休" in page
    decided = boss.post(reverse("console:attendance_request_decide"), {
        "kind": "overtime", "id": days[SAT].pk, "minutes": 270, "decision": "in_lieu"}, follow=True).content.decode()
    assert "已将 张三 (E1) 的加班批为调休" in decided
    many = boss.post(reverse("console:attendance_request_decide_many"), {
        "decision": "in_lieu", "pick": [f"overtime:{days[SUN].pk}:210", f"overtime:{days[MON].pk}:90"]},
        follow=True).content.decode()
    assert "已将 1 条加班批为调休" in many and "1 条未处理" in many and "这是工作日加班" in many
    assert [DailyRecord.objects.get(pk=days[d].pk).overtime_state for d in (SAT, SUN, MON)] == [
        "in_lieu", "in_lieu", "pending"]

    month = client_for(plant["hr"]).get(reverse("console:attendance_month", args=[e1.pk]) + "?month=2026-03")
    chip = month.content.decode().split('id="balance-comp-2026"')[1].split("</tr>")[0]
    assert 'data-banked="8.0"' in chip and "加班 8.0 小时" in chip

    bearer = {"HTTP_AUTHORIZATION": f"Bearer {create_token(plant['hr'], 'payroll', actor='test')[1]}"}
    api = Client().post(f"/api/v1/attendance/overtime/{days[MON].pk}/decision", {"decision": "in_lieu", "minutes": 90},
                        content_type="application/json", **bearer)
    assert api.status_code == 409 and "workday overtime" in api.json()["detail"]
    found = Client().get("/api/v1/attendance/leave-balances?year=2026&employee=E1", **bearer).json()["items"]
    [lieu] = [b for b in found if b["leave_type"] == comp.code]
    assert (lieu["basis"], lieu["allowance"], lieu["banked_hours"], lieu["left"]) == ("in_lieu", "1", "8", "1")

    leave = registry.build("leave", plant["hr"], ReportParams(date(2026, 3, 1), date(2026, 3, 31)))
    out = io.BytesIO()
    registry.render(leave, "csv", out)
    lines = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
    [comp_row] = [line for line in lines if "调休假" in line]
    assert "调休，加班 8.0 小时 In lieu, 8.0 h of overtime" in comp_row

    def payroll() -> dict[str, str]:
        report = registry.build("payroll", plant["hr"], ReportParams(date(2026, 3, 1), date(2026, 3, 31)))
        out = io.BytesIO()
        registry.render(report, "csv", out)
        [row] = list(csv.DictReader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
        return row

    row = payroll()
    assert list(row)[-6:-3] == ["调休加班小时 overtime_in_lieu_hours", "应休未休年休假天数 annual_leave_untaken_days",
                                "未休调休小时 in_lieu_untaken_hours"]  # after the leave columns: none of them moved
    assert (row["调休加班小时 overtime_in_lieu_hours"], row["休息日加班小时 overtime_rest_day_hours"],
            row["待批加班小时 overtime_pending_hours"], row["未休调休小时 in_lieu_untaken_hours"]) == (
        "8.00", "0.00", "10.50", "0.00")  # kept until taken: nothing to settle while he stays
    AttendanceProfile.objects.filter(employee=e1).update(left=date(2026, 3, 31))
    assert payroll()["未休调休小时 in_lieu_untaken_hours"] == "8.00"  # he leaves with his 8 hours: paid
    leave = file_leave(e1, comp, date(2026, 3, 16), date(2026, 3, 16), half_day=True, reason="调休", actor="E1")
    decide_leave(leave, approve=True, actor="boss")
    assert payroll()["未休调休小时 in_lieu_untaken_hours"] == "4.00"  # half a day taken first: 4 of them


def test_overtime_decisions_are_listed_among_the_requests_decided_recently(plant) -> None:
    """Who decided a day's overtime and when is read back from the requests page's 最近处理 list, each row in the state
    the record now holds; a day whose minutes changed since waits again and leaves the list."""
    hr, boss, days = plant["hr"], plant["boss"], plant["days"]
    in_lieu_type(hr)
    decide(boss, days[SAT], approve=True, in_lieu=True, minutes=270)
    decide(boss, days[MON], approve=False, minutes=90)
    decide(hr, days[WED], approve=True, minutes=540)
    page = client_for(boss).get(reverse("console:attendance_requests")).content.decode()
    decided = page[page.index('id="decided-requests"'):]

    def row(day: date) -> str:
        start = decided.index(f'id="decided-overtime-{days[day].pk}"')
        return decided[start:decided.index("</tr>", start)]

    assert "已批为调休" in row(SAT) and ">boss<" in row(SAT)
    assert "已拒" in row(MON) and ">boss<" in row(MON)
    assert "已批" in row(WED) and ">hr<" in row(WED)
    when = AuditEntry.objects.filter(action="attendance.overtime_approved").get().at
    assert dj_localtime(when).strftime("%Y-%m-%d %H:%M") in row(WED)

    punched([(datetime.combine(SAT, time(14), SHANGHAI), "out")], batch="late")  # Saturday now ends at 14:00
    recompute(SAT, SAT, now=NOW)
    page = client_for(boss).get(reverse("console:attendance_requests")).content.decode()
    assert f'id="decided-overtime-{days[SAT].pk}"' not in page[page.index('id="decided-requests"'):]
    assert f'id="decided-overtime-{days[MON].pk}"' in page


def test_time_off_in_lieu_that_lasts_a_month_lapses_and_is_paid(plant) -> None:
    e1, hr, boss, days = plant["e1"], plant["hr"], plant["boss"], plant["days"]
    values = {**IN_LIEU_TYPE, "in_lieu": False, "in_lieu_months": 1}
    with pytest.raises(ScheduleError) as refused:  # only time off in lieu lasts months
        save_leave_type(hr, values)
    assert refused.value.field == "in_lieu_months"
    comp = save_leave_type(hr, {**values, "in_lieu": True})
    decide(boss, days[SAT], approve=True, in_lieu=True, minutes=270)  # 4.5 h, to take by Tue 7 April
    decide(boss, days[SUN], approve=True, in_lieu=True)  # 3.5 h, by Wed 8 April

    def lieu(today: date) -> Any:
        [found] = [b for b in balances_of([e1], [2026], today=today)[e1.pk] if b.leave_type.in_lieu]
        return found

    before = lieu(date(2026, 3, 20))
    assert (before.allowance, before.left, before.lapsing, before.lapsed_min) == (1, 1, (date(2026, 4, 7), 270), 0)
    with pytest.raises(AllowanceError) as refused:  # Monday 13 April: both days lapsed by then
        file_leave(e1, comp, date(2026, 4, 13), date(2026, 4, 13), reason="调休", actor="E1")
    assert str(refused.value).startswith("调休假额度不足：2026 年还剩 0 天，这次请假要 1 天")
    # a half day on Tuesday 7 April, Saturday's last day: it takes 4 of Saturday's 4.5 hours, the soonest to lapse
    decide_leave(file_leave(e1, comp, date(2026, 4, 7), date(2026, 4, 7), half_day=True, reason="调休", actor="E1"),
                 approve=True, actor="boss")
    after = lieu(date(2026, 4, 20))  # Saturday's last half hour and Sunday's 3.5 hours lapsed: 4 hours
    assert (after.allowance, after.used, after.left, after.lapsing, after.lapsed_min) == (
        Decimal("0.5"), Decimal("0.5"), 0, None, 240)

    def untaken_hours(first: date, last: date, on: datetime) -> str:
        report = registry.build("payroll", hr, ReportParams(first, last), now=on)
        out = io.BytesIO()
        registry.render(report, "csv", out)
        [row] = list(csv.DictReader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
        return row["未休调休小时 in_lieu_untaken_hours"]

    april = (date(2026, 4, 1), date(2026, 4, 30))
    assert untaken_hours(*april, datetime(2026, 5, 2, 9, tzinfo=SHANGHAI)) == "4.00"  # paid in the month they lapsed
    assert untaken_hours(*april, datetime(2026, 4, 8, 9, tzinfo=SHANGHAI)) == "0.50"  # 8 April not over yet
    assert untaken_hours(date(2026, 3, 1), date(2026, 3, 31), datetime(2026, 5, 2, 9, tzinfo=SHANGHAI)) == "0.00"

    page = client_for(hr).get(reverse("console:attendance_month", args=[e1.pk]) + "?month=2026-04").content.decode()
    chip = page.split('id="balance-comp-2026"')[1].split("</tr>")[0]
    assert 'data-lapsed="4.0"' in chip and "已过期 4.0 小时，计薪" in chip
    assert "1 个月内休完，过期计薪" in client_for(hr).get(reverse("console:attendance_leave_types")).content.decode()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {create_token(hr, 'payroll', actor='test')[1]}"}
    [row] = [b for b in Client().get("/api/v1/attendance/leave-balances?year=2026&employee=E1", **bearer).json()["items"]
             if b["leave_type"] == comp.code]
    assert (row["in_lieu_lapsed_hours"], row["in_lieu_lapsing_on"], row["left"]) == ("4", None, "0")
