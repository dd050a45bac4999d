"""The attendance summary (考勤汇总): rates per department and per site, and their trend, with charts.

* **Attendance rate** = days worked ÷ working days due (days worked + absent days; leave is left out of
  both), as :mod:`central.reports.tally` counts them. Empty when nothing was due. Days on duty away (公出: business
  trips, field work) are worked days, so they count as attended; they are not leave, and have their own column
  (公出天数 On duty, the last).
* **Late rate** = records marked late ÷ records with time worked on a working day; a late arrival its site lets go
  (人性化迟到) is not late here, as on the monthly sheet and payroll.
* **Overtime** = paid overtime hours of every kind (approved, or needing no approval).

Parts: by department (with a bar per department), by site, and the trend per day — per ISO week when
the range is longer than 62 days — with a line chart of both rates.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from central.reports import records as rr
from central.reports.document import Chart, Column, Flag, Part, ProgressFn, Report, Row, Value
from central.reports.registry import REPORTS, ReportParams
from central.reports.scoping import company_name, cover, days, stamp
from central.reports.tally import OVERTIME_KINDS, Rec, Totals, add, worked_share

if TYPE_CHECKING:
    from central.accounts.models import User

DAILY_TREND_MAX_DAYS = 62
RATE_COLUMNS = [
    Column("expected", "应出勤天数 Days due", "decimal", 9, "sum"),
    Column("worked", "出勤天数 Days worked", "decimal", 9, "sum"),
    Column("rate", "出勤率 Attendance rate", "percent", 9),
    Column("late", "迟到次数 Late (times)", "int", 8, "sum"),
    Column("late_rate", "迟到率 Late rate", "percent", 8),
    Column("early", "早退次数 Early (times)", "int", 8, "sum"),
    Column("absent", "缺勤天数 Absent (days)", "decimal", 8, "sum"),
    Column("leave", "请假天数 Leave (days)", "decimal", 8, "sum"),
    Column("overtime_h", "加班小时 Overtime (h)", "decimal", 9, "sum"),
    Column("hours", "工时 Hours", "decimal", 9, "sum"),
    Column("on_duty", "公出天数 On duty (days)", "decimal", 8, "sum"),
]


@dataclass
class Group:
    members: set[int] = field(default_factory=set)
    totals: Totals = field(default_factory=Totals)
    attended: int = 0  # records with time worked on a working day (the late rate's denominator)

    def add(self, rec: Rec) -> None:
        add(self.totals, rec)
        if worked_share(rec) > 0:
            self.attended += 1


def rate(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001")) if whole else None


def rate_values(group: Group) -> list[Value]:
    t = group.totals
    overtime = sum((t.overtime_h(kind) for kind in OVERTIME_KINDS), Decimal("0.00"))
    return [t.expected, t.days_worked, rate(t.days_worked, t.expected), t.late, rate(t.late, group.attended), t.early,
            t.absent_days, t.leave_total, overtime, t.hours, t.on_duty_total]


def rate_flags(values: list[Value], lead: int) -> tuple[Flag, ...]:
    rate_value, late_rate = values[lead + 2], values[lead + 4]
    flags: list[Flag] = [""] * len(values)
    if isinstance(rate_value, Decimal) and rate_value < Decimal("0.95"):
        flags[lead + 2] = "bad"
    if isinstance(late_rate, Decimal) and late_rate > Decimal("0.05"):
        flags[lead + 4] = "bad"
    return tuple(flags)


def periods(first: date, last: date) -> list[tuple[str, date, date]]:
    """The trend's categories: each day, or each ISO week (cut to the range) when the range is long."""
    if (last - first).days + 1 <= DAILY_TREND_MAX_DAYS:
        return [(f"{d:%m-%d}", d, d) for d in days(first, last)]
    found = []
    start = first
    while start <= last:
        end = min(start + timedelta(days=6 - start.weekday()), last)
        year, week, _ = start.isocalendar()
        found.append((f"{year}-W{week:02d}", start, end))
        start = end + timedelta(days=1)
    return found


K = TypeVar("K", str, int, tuple[str, str])


def _groups(keys: Iterable[K]) -> dict[K, Group]:
    return {key: Group() for key in keys}


def build(user: User, params: ReportParams, *, now: datetime | None = None,
          progress: ProgressFn | None = None) -> Report:
    coverage = cover(user, params)
    staff = rr.staff(coverage.employees, params.first, params.last)
    spans = periods(params.first, params.last)
    period_of = {d: i for i, (_, start, end) in enumerate(spans) for d in days(start, end)}
    departments = _groups((s.site, s.department) for s in staff)
    sites = _groups(s.site for s in staff)
    trend = _groups(i for i in range(len(spans)))
    for i, (s, recs) in enumerate(rr.with_records(staff, params.first, params.last), 1):
        departments[(s.site, s.department)].members.add(s.pk)
        sites[s.site].members.add(s.pk)
        for rec in recs:
            departments[(s.site, s.department)].add(rec)
            sites[s.site].add(rec)
            trend[period_of[rec.date]].add(rec)
        if progress is not None and i % 1000 == 0:
            progress(i, len(staff))
    head = [Column("site", "站点 Site", "text", 10), Column("department", "部门 Department", "text", 14),
            Column("employees", "人数 Employees", "int", 7, "sum")]
    by_department = Part("departments", "按部门 By department", head + RATE_COLUMNS, freeze_columns=2, charts=[
        Chart("bar", "各部门出勤率 Attendance rate by department", "department", ("rate",), percent=True,
              y_title="出勤率 Attendance rate")])
    for (site, department), group in sorted(departments.items()):
        values: list[Value] = [site, department or "—", len(group.members), *rate_values(group)]
        by_department.rows.append(Row(tuple(values), rate_flags(values, 3)))
    by_site = Part("sites", "按站点 By site", [head[0], head[2], *RATE_COLUMNS], freeze_columns=1)
    for site, group in sorted(sites.items()):
        values = [site, len(group.members), *rate_values(group)]
        by_site.rows.append(Row(tuple(values), rate_flags(values, 2)))
    weekly = (params.last - params.first).days + 1 > DAILY_TREND_MAX_DAYS
    trend_part = Part("trend", "趋势（按周）Trend by week" if weekly else "趋势（按日）Trend by day",
                      [Column("period", "周 Week" if weekly else "日期 Date", "text", 10), *RATE_COLUMNS],
                      freeze_columns=1, charts=[
                          Chart("line", "出勤率与迟到率趋势 Attendance and late rates", "period", ("rate", "late_rate"),
                                percent=True, y_title="比率 Rate")])
    for i, (label, _, _) in enumerate(spans):
        values = [label, *rate_values(trend[i])]
        trend_part.rows.append(Row(tuple(values), rate_flags(values, 1)))
    if progress is not None:
        progress(len(staff), len(staff))
    spec = REPORTS["summary"]
    whole = Group()
    for group in sites.values():
        whole.totals.days_worked += group.totals.days_worked
        whole.totals.expected += group.totals.expected
    overall = rate(whole.totals.days_worked, whole.totals.expected)
    return Report(name=spec.name, title=spec.title, company=company_name(), scope=coverage.label,
                  first=params.first, last=params.last, generated_at=stamp(now),
                  parts=[by_department, by_site, trend_part],
                  notes=[f"整体出勤率 Overall attendance rate: {'—' if overall is None else f'{overall:.1%}'}",
                         "出勤率 = 出勤天数 ÷ 应出勤天数（出勤 + 缺勤，不含请假；公出算出勤）/ Attendance rate = days worked ÷ "
                         "days due (worked + absent; leave left out; days on duty away are worked).",
                         "迟到率 = 迟到次数 ÷ 有出勤的记录数 / Late rate = late records ÷ records with time worked.",
                         *rr.allowance_notes(staff, params.first, params.last),
                         "出勤率低于 95% 或迟到率高于 5% 标红 / Red: attendance under 95 % or late rate over 5 %."])
