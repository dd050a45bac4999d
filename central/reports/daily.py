"""The daily report (考勤日报): who came, who was late, absent, on leave, on duty away or missing an out punch, per
department, with the punches behind each line.

Two parts: the count per department (the day's, or the range's, records), and the details, one line per
record with its first in, last out and every punch it used (time and door, in the site's local time);
anomalies are red, leave and days on duty away blue, provisional lines amber.

A day on duty away (公出: a business trip, field work; records of source ``on_duty``) is worked: it is scheduled
(应出勤), but neither came (to the site) nor on leave; it has its own count, 公出 On duty. Half a day on duty away
whose other half was worked at the site also counts as came, as a half-day leave's does.

A late arrival its site lets go (人性化迟到, :mod:`central.attendance.late_allowance`) is not counted late, as on the
sheets HR signs; its line keeps its minutes, says 宽限迟到 Late let go and is not red.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from central.attendance.models import DailyRecord, MakeupPunch
from central.ingest.models import Punch
from central.reports import records as rr
from central.reports.document import Column, Flag, Part, ProgressFn, Report, Row, Value
from central.reports.registry import REPORTS, ReportParams
from central.reports.scoping import company_name, cover, naive_local, stamp
from central.reports.tally import Rec, Totals, add, on_duty

if TYPE_CHECKING:
    from central.accounts.models import User

STATUS = {"present": "出勤 Present", "absent": "缺勤 Absent", "half_day": "半天 Half day", "on_leave": "请假 On leave"}
ON_DUTY = "公出 On duty away"  # the status of a whole day on duty away
DEPARTMENT_COLUMNS = [
    Column("site", "站点 Site", "text", 10), Column("department", "部门 Department", "text", 14),
    Column("employees", "人数 Employees", "int", 7, "sum"), Column("records", "应出勤 Scheduled", "int", 7, "sum"),
    Column("came", "已出勤 Came", "int", 7, "sum"), Column("late", "迟到 Late", "int", 7, "sum"),
    Column("early", "早退 Early", "int", 7, "sum"), Column("absent", "缺勤 Absent", "int", 7, "sum"),
    Column("on_leave", "请假 On leave", "int", 7, "sum"), Column("on_duty", "公出 On duty", "int", 7, "sum"),
    Column("missing_out", "缺卡 Missing out", "int", 7, "sum"),
    Column("provisional", "未定稿 Provisional", "int", 7, "sum"),
]
DETAIL_COLUMNS = [
    Column("date", "日期 Date", "date", 10), Column("number", "工号 Number", "text", 9),
    Column("name", "姓名 Name", "text", 10), Column("department", "部门 Department", "text", 12),
    Column("shift", "班次 Shift", "text", 10), Column("status", "状态 Status", "text", 10),
    Column("leave", "假别 Leave type", "text", 10), Column("first_in", "上班 In", "datetime", 16),
    Column("last_out", "下班 Out", "datetime", 16), Column("late_min", "迟到分钟 Late (min)", "int", 7, "sum"),
    Column("early_min", "早退分钟 Early (min)", "int", 7, "sum"), Column("hours", "工时 Hours", "decimal", 7, "sum"),
    Column("remarks", "备注 Remarks", "text", 16), Column("punches", "打卡 Punches", "text", 30),
]


def _remarks(rec: Rec) -> tuple[str, Flag]:
    notes: list[str] = []
    flag: Flag = ""
    let_go = rec.late and rec.late_let_go  # let go (人性化迟到): said, not an anomaly
    if rec.late and not let_go:
        notes.append("迟到 Late")
    if rec.early:
        notes.append("早退 Early")
    if rec.missing_out:
        notes.append("缺下班卡 Missing out")
    if rec.status in ("absent", "half_day") and rec.leave_type is None and not on_duty(rec):
        flag = "bad"
    if notes:
        flag = "bad"
    if let_go:
        notes.insert(0, "宽限迟到 Late let go")
    if not flag and (rec.status == "on_leave" or rec.leave_type is not None or on_duty(rec)):
        flag = "info"
    if not rec.final:
        notes.append("未定稿 Provisional")
        flag = flag or "warn"
    return "，".join(notes), flag


def build(user: User, params: ReportParams, *, now: datetime | None = None,
          progress: ProgressFn | None = None) -> Report:
    coverage = cover(user, params)
    staff = {s.pk: s for s in rr.staff(coverage.employees, params.first, params.last)}
    types = rr.leave_types()
    rows = list(DailyRecord.objects.filter(employee__in=coverage.employees.values("pk"), date__gte=params.first,
                                           date__lte=params.last)
                .order_by("employee__site__code", "employee__department__name", "employee__number", "date", "shift_name")
                .values_list("first_in", "last_out", "punch_ids", *rr.REC_FIELDS))
    punch_ids = {pid for _, _, ids, *_ in rows for pid in ids or []}
    doors: dict[str, tuple[datetime, str]] = {}
    listed = sorted(pid for pid in punch_ids if not pid.startswith("makeup-"))
    for i in range(0, len(listed), 900):
        for pid, at, device in Punch.objects.filter(id__in=listed[i:i + 900]).values_list("id", "punched_at", "device_id"):
            doors[pid] = (at, device)
    makeups = [int(pid.split("-", 1)[1]) for pid in punch_ids if pid.startswith("makeup-") and pid[7:].isdigit()]
    for mid, at in MakeupPunch.objects.filter(pk__in=makeups).values_list("pk", "at"):
        doors[f"makeup-{mid}"] = (at, "补卡 make-up")
    let_go = rr.let_go(list(staff.values()), params.first, params.last)
    groups: dict[tuple[str, str], tuple[set[int], Totals, dict[str, int]]] = {}
    for member in staff.values():
        groups.setdefault((member.site, member.department), (set(), Totals(), defaultdict(int)))[0].add(member.pk)
    details = Part("details", "明细 Details", list(DETAIL_COLUMNS), freeze_columns=3)
    total = len(rows)
    for i, (first_in, last_out, ids, *fields) in enumerate(rows, 1):
        rec = Rec(*fields)
        s = staff.get(rec.employee_id)
        if s is None:
            continue
        if rec.late and (rec.date, rec.shift) in let_go.get(rec.employee_id, ()):
            rec = rec._replace(late_let_go=True)
        zone = coverage.zone(s.site_id)
        used = sorted((doors[pid] for pid in ids or [] if pid in doors), key=lambda d: d[0])
        punches = " · ".join(f"{naive_local(at, zone):%H:%M} {device}" for at, device in used)
        remarks, flag = _remarks(rec)
        leave = types[rec.leave_type].name if rec.leave_type in types else ""
        status = ON_DUTY if on_duty(rec) and rec.status == "present" else STATUS.get(rec.status, rec.status)
        values: tuple[Value, ...] = (
            rec.date, s.number, s.name, s.department, rec.shift, status, leave,
            naive_local(first_in, zone), naive_local(last_out, zone), rec.late_min, rec.early_min,
            Decimal(rec.hours), remarks, punches)
        details.rows.append(Row(values, (flag,) * len(values) if flag else ()))
        _, totals, counts = groups.setdefault((s.site, s.department), (set(), Totals(), defaultdict(int)))
        add(totals, rec)
        counts["records"] += rec.day_kind == "workday" and rec.status != "on_leave"
        away = on_duty(rec)
        counts["came"] += (rec.status in ("present", "half_day") and rec.leave_type is None and not away
                           or rec.other_half == "present")
        counts["absent"] += rec.status == "absent"
        counts["on_leave"] += rec.leave_type is not None and not away
        counts["on_duty"] += away
        if progress is not None and i % 1000 == 0:
            progress(i, total)
    by_department = Part("departments", "按部门 By department", list(DEPARTMENT_COLUMNS), freeze_columns=2)
    for (site, department), (members, totals, counts) in sorted(groups.items()):
        values = (site, department or "—", len(members), counts["records"], counts["came"], totals.late, totals.early,
                  counts["absent"], counts["on_leave"], counts["on_duty"], totals.missing_out, totals.provisional)
        flags: tuple[Flag, ...] = tuple("bad" if c.key in ("late", "early", "absent", "missing_out") and v else ""
                                        for c, v in zip(DEPARTMENT_COLUMNS, values, strict=True))
        by_department.rows.append(Row(values, flags))
    if progress is not None:
        progress(total, total)
    spec = REPORTS["daily"]
    return Report(name=spec.name, title=spec.title, company=company_name(), scope=coverage.label,
                  first=params.first, last=params.last, generated_at=stamp(now), parts=[by_department, details],
                  notes=["应出勤：工作日的记录，不含请假；公出算出勤，计入应出勤，但不算已出勤（不在现场）/ Scheduled: "
                         "working-day records, leave left out; a day on duty away is worked and scheduled, but not "
                         "came (it was not at the site).",
                         *rr.allowance_notes(list(staff.values()), params.first, params.last),
                         "时间为各站点当地时间 / Times are each site's local time."])

