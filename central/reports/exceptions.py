"""The exceptions list (异常清单): every anomaly in the range with its state — open, explained by a request,
or accepted — as :mod:`central.attendance.anomalies` finds them.

Two parts: the count per kind and state, and the list, open ones red, explained amber, accepted grey.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

from central.attendance.anomalies import KIND_LABELS, KINDS, REQUEST_LABELS, STATE_LABELS, STATES, anomalies
from central.reports.document import Column, Flag, Part, ProgressFn, Report, Row, Value
from central.reports.registry import REPORTS, ReportParams
from central.reports.scoping import company_name, cover, stamp

if TYPE_CHECKING:
    from central.accounts.models import User

STATE_FLAGS: dict[str, Flag] = {"open": "bad", "explained": "warn", "accepted": "muted"}
LIST_COLUMNS = [
    Column("date", "日期 Date", "date", 10), Column("number", "工号 Number", "text", 9),
    Column("name", "姓名 Name", "text", 10), Column("site", "站点 Site", "text", 8),
    Column("department", "部门 Department", "text", 12), Column("shift", "班次 Shift", "text", 10),
    Column("kind", "异常 Anomaly", "text", 14), Column("minutes", "分钟 Minutes", "int", 7),
    Column("state", "状态 State", "text", 10), Column("request", "依据 Explained by", "text", 14),
    Column("final", "定稿 Final", "text", 6), Column("first_in", "上班 In", "datetime", 16),
    Column("last_out", "下班 Out", "datetime", 16), Column("detail", "说明 Detail", "text", 20),
]


def build(user: User, params: ReportParams, *, now: datetime | None = None,
          progress: ProgressFn | None = None) -> Report:
    coverage = cover(user, params)
    found = anomalies(user, params.first, params.last, site=params.site, department=params.department,
                      employee=params.employee)
    listing = Part("exceptions", "异常清单 Exceptions", list(LIST_COLUMNS), freeze_columns=3)
    counts: Counter[tuple[str, str]] = Counter()
    for i, a in enumerate(found, 1):
        counts[(a.kind, a.state)] += 1
        request = REQUEST_LABELS.get(a.request_kind, "")
        if request and a.request_id is not None:
            request = f"{request} #{a.request_id}"
        values: tuple[Value, ...] = (a.date, a.number, a.name, a.site, a.department, a.shift, a.kind_label,
                                     a.minutes or None, a.state_label, request, "是 Yes" if a.final else "否 No",
                                     a.first_in, a.last_out, a.detail)
        flag = STATE_FLAGS.get(a.state, "")
        listing.rows.append(Row(values, (flag,) * len(values) if flag else ()))
        if progress is not None and i % 1000 == 0:
            progress(i, len(found))
    by_kind = Part("counts", "按类型与状态 By kind and state",
                   [Column("kind", "异常 Anomaly", "text", 16)]
                   + [Column(state, STATE_LABELS[state], "int", 9, "sum") for state in STATES]
                   + [Column("total", "合计 Total", "int", 8, "sum")], freeze_columns=1)
    for kind in KINDS:
        row = [counts[(kind, state)] for state in STATES]
        flags: tuple[Flag, ...] = ("", "bad" if row[0] else "", "", "", "")
        by_kind.rows.append(Row((KIND_LABELS[kind], *row, sum(row)), flags))
    if progress is not None:
        progress(len(found), len(found))
    spec = REPORTS["exceptions"]
    return Report(name=spec.name, title=spec.title, company=company_name(), scope=coverage.label,
                  first=params.first, last=params.last, generated_at=stamp(now), parts=[by_kind, listing],
                  notes=["待处理：无人说明；已说明：有待审批的请假或补卡；已认可：HR 手工定的记录，或已批准的请假、补卡 / Open: nobody "
                         "has explained it; explained: a leave or make-up punch awaits approval; accepted: HR set the day by "
                         "hand, or approved a leave or make-up punch."])
