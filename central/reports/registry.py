"""The reports by name: what each needs, how it is built, and the formats it renders to.

    build("monthly", user, ReportParams(first, last, site="sh"), progress=bar) -> Report
    render(report, "xlsx", out)                                                 -> bytes written to ``out``

Every builder reads through :mod:`central.accounts.scope`, so a report never holds a row the caller may
not see; :class:`ReportParams` narrows it further (a site, a department, one employee).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, TYPE_CHECKING, Literal, Protocol

from central.reports.document import ProgressFn, Report

if TYPE_CHECKING:
    from central.accounts.models import User

Format = Literal["xlsx", "pdf", "csv"]
FORMATS: tuple[Format, ...] = ("xlsx", "pdf", "csv")
CONTENT_TYPES: dict[str, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
}
MAX_DAYS = 366


class ReportError(ValueError):
    """A report cannot be made as asked (unknown name, dates out of order, a site outside the caller's scope…)."""


@dataclass(frozen=True)
class ReportParams:
    """What a report covers: dates (inclusive, the site's local days) and an optional narrower scope."""
    first: date
    last: date
    site: str = ""  # a site code
    department: str = ""  # a department name (within ``site`` when given)
    employee: str = ""  # an employee number

    def check(self, max_days: int = MAX_DAYS) -> None:
        if self.last < self.first:
            raise ReportError(f"结束日期早于开始日期 / the end date {self.last} is before the start {self.first}")
        if (self.last - self.first).days + 1 > max_days:
            raise ReportError(f"日期范围过长 / at most {max_days} days per report "
                              f"({self.first} – {self.last} is {(self.last - self.first).days + 1})")


class Builder(Protocol):
    def __call__(self, user: User, params: ReportParams, *, now: datetime | None = None,
                 progress: ProgressFn | None = None) -> Report: ...


class Writer(Protocol):
    def __call__(self, report: Report, out: IO[bytes], *, progress: ProgressFn | None = None) -> None: ...


@dataclass(frozen=True)
class ReportSpec:
    name: str
    title: str
    module: str  # the builder's module; its ``build`` function is the :class:`Builder`
    max_days: int = MAX_DAYS
    description: str = ""

    def builder(self) -> Builder:
        return importlib.import_module(self.module).build  # type: ignore[no-any-return]


REPORTS: dict[str, ReportSpec] = {spec.name: spec for spec in (
    ReportSpec("monthly", "考勤月报 Monthly attendance sheet", "central.reports.monthly", 62,
               "每人一行、每天一列的状态符号与合计 / one row per employee, a symbol per day, then the totals"),
    ReportSpec("daily", "考勤日报 Daily report", "central.reports.daily", 31,
               "出勤、迟到、缺勤、请假、缺卡，按部门，附打卡 / who came, late, absent, on leave, missing out, per department"),
    ReportSpec("summary", "考勤汇总 Attendance summary", "central.reports.summary", MAX_DAYS,
               "按部门与站点的出勤率、迟到率、加班及趋势图 / attendance and late rates, overtime, with charts"),
    ReportSpec("exceptions", "异常清单 Exceptions", "central.reports.exceptions", MAX_DAYS,
               "期间内每条异常及其状态 / every anomaly in the range with its state"),
    ReportSpec("punches", "原始打卡记录 Raw punch log", "central.reports.punches", 62,
               "设备、方式、时间来源、是否校正 / device, method, time source, re-stamped or not"),
    ReportSpec("payroll", "薪资导出 Payroll export", "central.reports.payroll", 62,
               "每人每期一行的固定列 / one row per employee per period, stable columns"),
    ReportSpec("schedule", "排班表 Schedule", "central.reports.schedule", 62,
               "每人一行、每天一列的班次、休息与请假，及每天各班上班人数 / one row per employee, each day's shift, rest or "
               "leave, and how many work each shift each day"),
    ReportSpec("leave", "假期报表 Leave report", "central.reports.leave", MAX_DAYS,
               "各假别的额度、已休、待批、剩余（含法定年休假）与期间内的请假明细 / each leave type's allowance, taken, "
               "waiting and left (statutory annual leave too), and every leave in the period"),
)}


def spec(name: str) -> ReportSpec:
    try:
        return REPORTS[name]
    except KeyError:
        raise ReportError(f"没有这个报表 / no report named {name!r} (one of: {', '.join(REPORTS)})") from None


def build(name: str, user: User, params: ReportParams, *, now: datetime | None = None,
          progress: ProgressFn | None = None) -> Report:
    found = spec(name)
    params.check(found.max_days)
    return found.builder()(user, params, now=now, progress=progress)


def writer(fmt: str) -> Writer:
    modules = {"xlsx": "central.reports.xlsx_writer", "pdf": "central.reports.pdf_writer",
               "csv": "central.reports.csv_writer"}
    if fmt not in modules:
        raise ReportError(f"不支持的格式 / unknown format {fmt!r} (one of: {', '.join(FORMATS)})")
    return importlib.import_module(modules[fmt]).write  # type: ignore[no-any-return]


def render(report: Report, fmt: str, out: IO[bytes], *, progress: ProgressFn | None = None) -> None:
    writer(fmt)(report, out, progress=progress)


