"""The monthly attendance sheet (考勤月报): one row per employee, a symbol per day, then the month's totals.

Symbols (the legend of every sheet): √ present, 迟 late, 早 early (迟早 both), × absent, ½ half day,
a leave type's first character (年 annual, 病 sick …; the same for a type of days on duty away, 出 for 出差 a business
trip, which are worked days), 休 rest day, 节 holiday, 缺 missing out punch;
``?`` after a symbol: provisional (a terminal of the site has not reported since). Two shifts on one day
show both symbols, ``/`` between. A day with no record shows what was planned: 休 or 节, else nothing
(not employed, no shift, or not yet final). Anomalies are red, leave and days on duty away blue, rest grey,
provisional amber. The totals are counted by :mod:`central.reports.tally`: a type of days on duty away (公出) has its
days-column like a leave type's, titled 公出 / On duty, totalling its days on duty away (not leave). A late arrival its
site lets go (人性化迟到) is marked as present (√, not red), left out of the late columns and counted in 宽限迟到 Late
let go; a note under the sheet gives each covered site's allowance.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import timezone

from central.attendance import engine as e
from central.attendance import overtime_limit
from central.attendance.inputs import load_rules, plans
from central.attendance.models import LeaveType
from central.reports import records as rr
from central.reports.document import Column, Flag, LegendItem, Part, ProgressFn, Report, Row, Value
from central.reports.registry import REPORTS, ReportParams
from central.reports.scoping import closing_note, company_name, cover, days, stamp
from central.reports.tally import Rec, Totals, on_duty, totals_of

if TYPE_CHECKING:
    from central.accounts.models import User

WEEKDAYS_ZH = "一二三四五六日"
PRESENT, LATE, EARLY, ABSENT, HALF, REST, HOLIDAY, MISSING, PROVISIONAL = "√", "迟", "早", "×", "½", "休", "节", "缺", "?"
OVERTIME_KEYS = frozenset({"ot_workday_h", "ot_rest_day_h", "ot_holiday_h", "ot_pending_h", "in_lieu_h"})
SEVERITY: dict[Flag, int] = {"": 0, "muted": 1, "info": 2, "warn": 3, "bad": 4}


def leave_symbols(types: dict[int, LeaveType]) -> dict[int, str]:
    """Each leave type's mark: the first character of its name, or its code when two names share one."""
    taken = {PRESENT, LATE, EARLY, ABSENT, HALF, REST, HOLIDAY, MISSING}
    found: dict[int, str] = {}
    for pk, t in types.items():
        mark = (t.name.strip() or t.code)[:1]
        if mark in taken:
            mark = t.code
        taken.add(mark)
        found[pk] = mark
    return found


def record_symbol(rec: Rec, leave_marks: dict[int, str]) -> tuple[str, Flag]:
    """One record's mark and flag."""
    flag: Flag = ""
    if on_duty(rec):  # worked away: the type's mark, as leave is marked
        mark, flag = (leave_marks.get(rec.leave_type, "公") if rec.leave_type else "公"), "info"
        if rec.status == "half_day" or rec.half_day:
            mark += HALF
            if rec.other_half == "absent":
                flag = "bad"
    elif rec.status == "on_leave":
        mark, flag = (leave_marks.get(rec.leave_type, "假") if rec.leave_type else "假"), "info"
    elif rec.status == "absent":
        mark, flag = ABSENT, "bad"
    elif rec.status == "half_day" and rec.leave_type is not None:
        mark, flag = leave_marks.get(rec.leave_type, "假") + HALF, "info"
        if rec.other_half == "absent":
            flag = "bad"
    elif rec.status == "half_day":
        mark, flag = HALF, "bad"
    elif rec.day_kind != "workday":
        mark, flag = (HOLIDAY if rec.day_kind == "holiday" else REST) + PRESENT, "info"
    else:
        late = rec.late and not rec.late_let_go  # a late arrival let go (人性化迟到) shows as present
        mark = (LATE if late else "") + (EARLY if rec.early else "") or PRESENT
        if late or rec.early:
            flag = "bad"
    if rec.missing_out:
        mark, flag = mark + MISSING, "bad"
    if not rec.final:
        mark += PROVISIONAL
        if SEVERITY[flag] < SEVERITY["warn"]:
            flag = "warn"
    return mark, flag


def planned_symbol(schedule: e.Schedule, person: e.Person, day: date) -> tuple[str, Flag]:
    """The mark of a day without a record: 休 or 节 when the employee does not work it, else nothing."""
    if not person.employed_on(day):
        return "", "muted"
    planned = e.shifts_on(schedule, person, day)
    if planned:
        kind = schedule.calendar.kind(day, weekly=planned[0][1])
    elif person.default_shift or any(a.covers(day) for a in schedule.assignments):
        kind = "holiday" if schedule.calendar.kind(day, weekly=False) == "holiday" else "rest_day"
    else:
        return "", ""
    if kind == "holiday":
        return HOLIDAY, "muted"
    if kind == "rest_day":
        return REST, "muted"
    return "", ""


def legend(types: dict[int, LeaveType], marks: dict[int, str]) -> list[LegendItem]:
    items = [LegendItem(PRESENT, "出勤 Present"), LegendItem(LATE, "迟到 Late", "bad"), LegendItem(EARLY, "早退 Early leave", "bad"),
             LegendItem(ABSENT, "缺勤 Absent", "bad"), LegendItem(HALF, "半天 Half day", "bad"),
             LegendItem(MISSING, "缺下班卡 Missing out punch", "bad"), LegendItem(REST, "休息日 Rest day", "muted"),
             LegendItem(HOLIDAY, "节假日 Holiday", "muted"),
             LegendItem(REST + PRESENT + " / " + HOLIDAY + PRESENT, "休息日 / 节假日加班 Worked on a rest day / holiday", "info")]
    items += [LegendItem(marks[pk], f"{t.name}（公出，算出勤 On duty away, worked）" if t.on_duty
                         else f"{t.name}（请假 Leave）", "info") for pk, t in types.items()]
    items.append(LegendItem(PROVISIONAL, "未定稿：终端尚未全部上报 Provisional: not every terminal has reported", "warn"))
    return items


def total_columns(types: dict[int, LeaveType]) -> list[Column]:
    cols = [Column("days_worked", "出勤天数 Days worked", "decimal", 8, "sum"),
            Column("late", "迟到次数 Late (times)", "int", 7, "sum"),
            Column("late_min", "迟到分钟 Late (min)", "int", 7, "sum"),
            Column("late_let_go", "宽限迟到 Late let go", "int", 7, "sum"),
            Column("early", "早退次数 Early (times)", "int", 7, "sum"),
            Column("early_min", "早退分钟 Early (min)", "int", 7, "sum"),
            Column("absent_days", "缺勤天数 Absent (days)", "decimal", 7, "sum"),
            Column("missing_out", "缺卡次数 Missing out", "int", 7, "sum")]
    cols += [Column(f"leave_{t.code}", f"{t.name} 公出天 On duty: {t.code} (days)" if t.on_duty
                    else f"{t.name} 天 Leave: {t.code} (days)", "decimal", 8, "sum") for t in types.values()]
    cols += [Column("ot_workday_h", "工作日加班 OT workday (h)", "decimal", 8, "sum"),
             Column("ot_rest_day_h", "休息日加班 OT rest day (h)", "decimal", 8, "sum"),
             Column("ot_holiday_h", "节假日加班 OT holiday (h)", "decimal", 8, "sum"),
             Column("ot_pending_h", "待批加班 OT pending (h)", "decimal", 8, "sum"),
             Column("in_lieu_h", "调休加班 OT in lieu (h)", "decimal", 8, "sum"),
             Column("hours", "工时 Hours worked", "decimal", 8, "sum"),
             Column("provisional", "未定稿 Provisional", "int", 7, "sum")]
    return cols


def total_values(totals: Totals, types: dict[int, LeaveType]) -> list[Value]:
    values: list[Value] = [totals.days_worked, totals.late, totals.late_min, totals.late_let_go, totals.early,
                           totals.early_min, totals.absent_days, totals.missing_out]
    values += [(totals.on_duty_days if t.on_duty else totals.leave_days).get(pk, Decimal("0"))
               for pk, t in types.items()]
    values += [totals.overtime_h("workday"), totals.overtime_h("rest_day"), totals.overtime_h("holiday"),
               totals.overtime_pending_h, totals.in_lieu_h, totals.hours, totals.provisional]
    return values


def person_columns(several_sites: bool) -> list[Column]:
    """The columns a sheet of one row per employee starts with; the site's only when the sheet covers several."""
    head = [Column("number", "工号 Number", "text", 9), Column("name", "姓名 Name", "text", 10)]
    if several_sites:
        head.append(Column("site", "站点 Site", "text", 10))
    return [*head, Column("department", "部门 Department", "text", 10)]


def person_values(s: rr.Staff, several_sites: bool) -> list[Value]:
    """An employee's values under :func:`person_columns`."""
    return [s.number, s.name, *([s.site, s.department] if several_sites else [s.department])]


def day_columns(span: list[date]) -> list[Column]:
    """One narrow column a day, keyed ``d2026-03-01`` and titled ``01 日``."""
    return [Column(f"d{d:%Y-%m-%d}", f"{d.day:02d} {WEEKDAYS_ZH[d.weekday()]}", "symbol", 4) for d in span]


def build(user: User, params: ReportParams, *, now: datetime | None = None,
          progress: ProgressFn | None = None) -> Report:
    coverage = cover(user, params)
    staff = rr.staff(coverage.employees, params.first, params.last)
    types = rr.leave_types()
    marks = leave_symbols(types)
    planned = plans(load_rules(now or timezone.now()), [s.row() for s in staff])
    span = days(params.first, params.last)
    # the monthly overtime line (《劳动法》 第四十一条) is a month's: measured when the sheet covers one month at most
    one_month = (params.first.year, params.first.month) == (params.last.year, params.last.month)
    line_min = overtime_limit.limit_h() * 60 if one_month else 0
    several_sites = len({s.site_id for s in staff}) > 1
    part = Part("sheet", "考勤月报 Monthly sheet",
                person_columns(several_sites) + day_columns(span) + total_columns(types), freeze_columns=2)
    for i, (s, recs) in enumerate(rr.with_records(staff, params.first, params.last), 1):
        person, schedule = planned[s.pk]
        on_day: dict[date, list[Rec]] = {}
        for rec in recs:
            on_day.setdefault(rec.date, []).append(rec)
        values = person_values(s, several_sites)
        flags: list[Flag] = [""] * len(values)
        for day in span:
            todays = on_day.get(day)
            if todays:
                marked = [record_symbol(rec, marks) for rec in todays]
                values.append("/".join(m for m, _ in marked))
                flags.append(max((f for _, f in marked), key=SEVERITY.__getitem__))
            else:
                mark, flag = planned_symbol(schedule, person, day)
                values.append(mark)
                flags.append(flag)
        totals = totals_of(recs)
        tail = total_values(totals, types)
        values += tail
        over_line = bool(line_min) and totals.counted_overtime_min > line_min
        flags += ["bad" if col.key in ("late", "late_min", "early", "early_min", "absent_days", "missing_out") and v
                  else "bad" if over_line and col.key in OVERTIME_KEYS and v
                  else "warn" if col.key == "provisional" and v else ""
                  for col, v in zip(part.columns[-len(tail):], tail, strict=True)]
        part.rows.append(Row(tuple(values), tuple(flags)))
        if progress is not None and i % 500 == 0:
            progress(i, len(staff))
    if progress is not None:
        progress(len(staff), len(staff))
    spec = REPORTS["monthly"]
    return Report(name=spec.name, title=spec.title, company=company_name(), scope=coverage.label,
                  first=params.first, last=params.last, generated_at=stamp(now), parts=[part],
                  legend=legend(types, marks),
                  notes=["出勤天数只计工作日；休息日、节假日上班计入加班 / Days worked count working days only; work on a rest "
                         "day or holiday counts as overtime.",
                         "公出（出差、外勤）算出勤，计入出勤天数，不算请假 / Days on duty away (business trips, field "
                         "work) are worked: they count in days worked, not as leave.",
                         "加班只计无需审批或已批准的；批为调休的休息日加班不计薪，另列 / Overtime counts only when approved "
                         "or needing no approval; rest-day overtime approved as time off in lieu is not paid and has "
                         "its own column.",
                         *([f"加班（含待批和调休）超过每月 {line_min // 60} 小时的，加班数标红（《劳动法》第四十一条） / "
                            f"Overtime cells are red where overtime (waiting and in lieu included) passes "
                            f"{line_min // 60} h in the month (Labour Law, article 41)."] if line_min else []),
                         *rr.allowance_notes(staff, params.first, params.last),
                         "夜班记在上班那天 / A night shift counts on the day it starts.",
                         closing_note(coverage, params.first, params.last)])
