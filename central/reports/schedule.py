"""The schedule (排班表) as a file, to post by the line or send to its leaders: one row per active employee, one
column per day with the shift they work, 休 on a rest day, 假 on a holiday, and a leave's type over the working days
it takes (approved, or still waiting), then how many days each works, rests and is on leave; a second part counts
how many work each day, in all and by shift.

It is the plan as it stands (assignments, rotations, default shifts, approved shift changes and swaps, the site's
calendar, leave), the same one the engine computes attendance against and the team schedule page shows
(:mod:`central.attendance.team_schedule`), not what happened: the monthly sheet is that.
"""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from central.attendance.models import ShiftType
from central.attendance.selectors import Cell
from central.attendance.team_schedule import at_work, planned_rows, staffed
from central.reports import records as rr
from central.reports.document import Column, Flag, LegendItem, Part, ProgressFn, Report, Row
from central.reports.monthly import WEEKDAYS_ZH, day_columns, person_columns, person_values
from central.reports.registry import REPORTS, ReportParams
from central.reports.scoping import company_name, cover, days, stamp

if TYPE_CHECKING:
    from central.accounts.models import User

CHUNK = 500  # employees planned at once
REST, HOLIDAY = "休", "假"
HALF, ONE = Decimal("0.5"), Decimal(1)


def mark(cell: Cell) -> tuple[str, Flag]:
    """What a day's cell says, and how it is marked: a leave's type (info; warn while it waits), a shift, 休 or 假
    (muted), nothing outside employment."""
    if cell.off:
        return "", ""
    if cell.leave:
        return cell.leave, "warn" if cell.leave_waiting else "info"
    if cell.rest:
        return (HOLIDAY if cell.kind == "holiday" else REST), "muted"
    return cell.name, ""


def _leave_days(cells: list[Cell]) -> Decimal:
    """Days of approved leave: a half-day leave counts half."""
    return sum((HALF if c.half_day else ONE for c in cells if c.leave and not c.leave_waiting), Decimal(0))


def build(user: User, params: ReportParams, *, now: datetime | None = None,
          progress: ProgressFn | None = None) -> Report:
    coverage = cover(user, params)
    staff = [s for s in rr.staff(coverage.employees, params.first, params.last) if s.active]
    span = days(params.first, params.last)
    several_sites = len({s.site_id for s in staff}) > 1
    tail = [Column("work_days", "上班天数 Days at work", "int", 8, "sum"),
            Column("rest_days", "休息天数 Rest days", "int", 8, "sum"),
            Column("leave_days", "请假天数 Leave days", "decimal", 8, "sum")]
    sheet = Part("schedule", "排班表 Schedule", person_columns(several_sites) + day_columns(span) + tail,
                 freeze_columns=2)
    at_work_total: Counter[date] = Counter()
    by_shift: dict[date, Counter[str]] = {day: Counter() for day in span}
    for start in range(0, len(staff), CHUNK):
        chunk = staff[start:start + CHUNK]
        rows = planned_rows(chunk, span)
        for s, row in zip(chunk, rows, strict=True):
            values = person_values(s, several_sites)
            flags: list[Flag] = [""] * len(values)
            for cell in row.cells:
                text, flag = mark(cell)
                values.append(text)
                flags.append(flag)
            values += [sum(at_work(c) for c in row.cells), sum(c.rest and not c.off for c in row.cells),
                       _leave_days(row.cells)]
            flags += ["", "", ""]
            sheet.rows.append(Row(tuple(values), tuple(flags)))
        for count in staffed(span, rows):
            at_work_total[count.day] += count.total
            by_shift[count.day].update(dict(count.by_shift))
        if progress is not None:
            progress(start + len(chunk), len(staff))
    shifts = list(ShiftType.objects.order_by("start", "name"))
    worked = [s for s in shifts if any(by_shift[day][s.name] for day in span)]
    counts = Part("staffed", "每日上班人数 At work each day",
                  [Column("date", "日期 Date", "date", 11), Column("weekday", "星期 Weekday", "text", 6),
                   Column("at_work", "上班人数 At work", "int", 8),
                   *[Column(f"shift_{s.pk}", s.name, "int", 8) for s in worked]])
    for day in span:
        counts.rows.append(Row((day, f"周{WEEKDAYS_ZH[day.weekday()]}", at_work_total[day],
                                *[by_shift[day][s.name] for s in worked])))
    spec = REPORTS["schedule"]
    legend = [LegendItem(s.name, f"{s.name} {s.start:%H:%M}–{s.end:%H:%M}") for s in worked]
    legend += [LegendItem(REST, "休息 Rest day", "muted"), LegendItem(HOLIDAY, "节假日 Holiday", "muted"),
               LegendItem("年假", "请假（已批），写假别 Leave, approved: its type", "info"),
               LegendItem("年假", "请假（待批） Leave, waiting for a decision", "warn")]
    return Report(name=spec.name, title=spec.title, company=company_name(), scope=coverage.label,
                  first=params.first, last=params.last, generated_at=stamp(now), parts=[sheet, counts], legend=legend,
                  notes=["按现在的排班计划：排班、轮班、默认班次、已批的调班与换班、节假日和请假；排班改了，计划随之改变 / The plan as "
                         "it stands: assignments, rotations, default shifts, approved shift changes and swaps, holidays "
                         "and leave; it changes when the schedule does.",
                         "上班人数不计已批的全天请假；待批的请假和半天假仍计入 / At work leaves out leave approved for the "
                         "whole day; leave still waiting and half-day leave are counted."])
