"""The payroll export (薪资导出): one row per employee per period, with columns that do not move.

Meant to be mapped once into a payroll system and then imported every month: the column titles are
``中文 key`` where ``key`` is the stable field name listed in ``docs/reports.md``; new columns are only
ever added at the end. Leave is one column per leave type, ``leave_<code>_days``, in the order of the
types' codes; a type of days on duty away (公出) keeps its column there, titled 公出天数, and gives its days on duty
away, which are worked days (in ``days_worked``, not in ``leave_days_total``), totalled at the end in
``on_duty_days_total``. The numbers are counted by :mod:`central.reports.tally`, as on the monthly sheet: late arrivals
a site lets go (人性化迟到) are not in ``late_count`` / ``late_minutes`` but in ``late_let_go_count``.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import timezone as dj_timezone

from central.attendance import leave_balances
from central.reports import records as rr
from central.reports.document import Column, Flag, Part, ProgressFn, Report, Row, Value
from central.reports.registry import REPORTS, ReportParams
from central.reports.scoping import closed_sites, company_name, cover, stamp
from central.reports.tally import totals_of

if TYPE_CHECKING:
    from central.accounts.models import User

FIXED: tuple[tuple[str, str, str], ...] = (  # key, Chinese title, kind
    ("period_start", "期间开始", "date"),
    ("period_end", "期间结束", "date"),
    ("employee_number", "工号", "text"),
    ("employee_name", "姓名", "text"),
    ("site", "站点", "text"),
    ("department", "部门", "text"),
    ("days_worked", "出勤天数", "decimal"),
    ("hours_worked", "工时", "decimal"),
    ("late_count", "迟到次数", "int"),
    ("late_minutes", "迟到分钟", "int"),
    ("early_count", "早退次数", "int"),
    ("early_minutes", "早退分钟", "int"),
    ("absent_days", "缺勤天数", "decimal"),
    ("missing_out_count", "缺卡次数", "int"),
    ("leave_days_total", "请假天数合计", "decimal"),
    ("overtime_workday_hours", "工作日加班小时", "decimal"),
    ("overtime_rest_day_hours", "休息日加班小时", "decimal"),
    ("overtime_holiday_hours", "节假日加班小时", "decimal"),
    ("overtime_pending_hours", "待批加班小时", "decimal"),
    ("provisional_days", "未定稿记录数", "int"),
    ("all_final", "全部定稿", "text"),
)
TRAILING: tuple[tuple[str, str, str], ...] = (  # added after the leave columns, so none before them moved
    ("overtime_in_lieu_hours", "调休加班小时", "decimal"),
    ("annual_leave_untaken_days", "应休未休年休假天数", "decimal"),
    ("in_lieu_untaken_hours", "未休调休小时", "decimal"),
    ("month_closed", "已月结", "text"),
    ("on_duty_days_total", "公出天数合计", "decimal"),
    ("late_let_go_count", "宽限迟到次数", "int"),
)


def _keyed(spec: tuple[tuple[str, str, str], ...]) -> list[Column]:
    """Columns titled ``中文 key``."""
    return [Column(key, f"{zh} {key}", kind, max(10, len(key) + 2))  # type: ignore[arg-type]
            for key, zh, kind in spec]


def columns(leave_codes: list[str], on_duty_codes: frozenset[str] = frozenset()) -> list[Column]:
    """The export's columns; a leave type whose code is in ``on_duty_codes`` is one of days on duty away (公出)."""
    leave = [Column(f"leave_{code}_days", f"{'公出天数' if code in on_duty_codes else '请假天数'} leave_{code}_days",
                    "decimal", len(code) + 12) for code in leave_codes]
    return [*_keyed(FIXED), *leave, *_keyed(TRAILING)]


def build(user: User, params: ReportParams, *, now: datetime | None = None,
          progress: ProgressFn | None = None) -> Report:
    coverage = cover(user, params)
    staff = rr.staff(coverage.employees, params.first, params.last)
    types = rr.leave_types()
    away = frozenset(t.code for t in types.values() if t.on_duty)
    part = Part("payroll", "薪资导出 Payroll", columns([t.code for t in types.values()], away), freeze_columns=4)
    untaken: dict[int, leave_balances.Untaken] = {}
    nothing = leave_balances.Untaken(Decimal("0.0"), Decimal("0.00"))
    signed = closed_sites({s.site_id for s in staff}, params.first, params.last)
    today = dj_timezone.localdate(now) if now is not None else None  # what lapsed by then is paid
    for i, (s, recs) in enumerate(rr.with_records(staff, params.first, params.last), 1):
        if (i - 1) % rr.CHUNK == 0:  # the leave these employees settle in the period, a chunk at a time
            untaken = leave_balances.untaken([x.pk for x in staff[i - 1:i - 1 + rr.CHUNK]], params.first, params.last,
                                             today)
        totals = totals_of(recs)
        values: list[Value] = [
            params.first, params.last, s.number, s.name, s.site, s.department, totals.days_worked, totals.hours,
            totals.late, totals.late_min, totals.early, totals.early_min, totals.absent_days, totals.missing_out,
            totals.leave_total, totals.overtime_h("workday"), totals.overtime_h("rest_day"), totals.overtime_h("holiday"),
            totals.overtime_pending_h, totals.provisional, "N" if totals.provisional else "Y"]
        values += [(totals.on_duty_days if t.on_duty else totals.leave_days).get(pk, Decimal("0"))
                   for pk, t in types.items()]
        settled = untaken.get(s.pk, nothing)
        values += [totals.in_lieu_h, settled.annual_days, settled.in_lieu_hours, "Y" if s.site_id in signed else "N",
                   totals.on_duty_total, totals.late_let_go]
        warn: Flag = "warn"
        flags: tuple[Flag, ...] = (warn,) * len(values) if totals.provisional else ()
        part.rows.append(Row(tuple(values), flags))
        if progress is not None and i % 500 == 0:
            progress(i, len(staff))
    if progress is not None:
        progress(len(staff), len(staff))
    spec = REPORTS["payroll"]
    return Report(name=spec.name, title=spec.title, company=company_name(), scope=coverage.label,
                  first=params.first, last=params.last, generated_at=stamp(now), parts=[part],
                  notes=["列说明见 docs/reports.md；all_final 为 N 的行含未定稿记录，数字可能还会变；month_closed 为 Y 的行，"
                         "期间每个月都已在其站点月结 / Columns: see docs/reports.md. Rows with all_final N hold "
                         "provisional records and may still change; rows with month_closed Y are of sites where every "
                         "month of the period is closed.",
                         "公出（出差、外勤）算出勤：计入 days_worked，不计入 leave_days_total，合计见 on_duty_days_total / "
                         "Days on duty away (business trips, field work) are worked: in days_worked, not in "
                         "leave_days_total; their total is on_duty_days_total.",
                         *rr.allowance_notes(staff, params.first, params.last)])
