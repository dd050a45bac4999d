"""The raw punch log (原始打卡记录): every punch as it arrived, for disputes — the records as evidence.

One row per stored punch of the covered employees (and, for HR and auditors, of unknown numbers at their
sites' doors), in the site's local time: device, method, direction, match score, the time source, whether
the central re-stamped it (and the time the terminal first gave), its time flag, and when it arrived.
Re-stamped punches are marked ``info``, punches of an unsynchronised clock ``warn``, implausible times ``bad``.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db.models import Q

from central.accounts import scope
from central.people.models import Site
from central.reports.document import Column, Flag, Part, ProgressFn, Report, Row
from central.reports.registry import REPORTS, ReportParams
from central.reports.scoping import company_name, cover, naive_local, stamp

if TYPE_CHECKING:
    from central.accounts.models import User

DIRECTIONS = {"in": "上班 In", "out": "下班 Out"}
TIME_SOURCES = {"ntp": "NTP 同步 NTP", "rtc": "硬件时钟 RTC", "unsynced": "未同步 Unsynced", "restamp": "已校正 Re-stamped",
                "import": "导入 Imported"}
COLUMNS = [
    Column("time", "时间 Time", "datetime", 17),
    Column("number", "工号 Number", "text", 10),
    Column("name", "姓名 Name", "text", 12),
    Column("department", "部门 Department", "text", 12),
    Column("site", "站点 Site", "text", 10),
    Column("device", "设备 Device", "text", 12),
    Column("direction", "方向 Direction", "text", 9),
    Column("method", "方式 Method", "text", 10),
    Column("score", "匹配分 Score", "decimal", 8),
    Column("time_source", "时间来源 Time source", "text", 12),
    Column("restamped", "已校正 Re-stamped", "text", 8),
    Column("original_time", "终端原时间 Terminal's time", "datetime", 17),
    Column("time_flag", "时间存疑 Time flag", "text", 10),
    Column("received", "到达时间 Received", "datetime", 17),
    Column("punch_id", "打卡编号 Punch id", "text", 38),
]


def build(user: User, params: ReportParams, *, now: datetime | None = None,
          progress: ProgressFn | None = None) -> Report:
    coverage = cover(user, params)
    since, until = coverage.utc_span(params.first, params.last)
    people = {number: (name, dept or "", site_id) for number, name, dept, site_id in
              coverage.employees.values_list("number", "name", "department__name", "site_id")}
    rows_q = scope.punches(user).filter(punched_at__gte=since, punched_at__lt=until)
    if coverage.narrowed:
        rows_q = rows_q.filter(employee_number__in=coverage.employees.values("number"))
    else:
        rows_q = rows_q.filter(Q(employee_number__in=coverage.employees.values("number"))
                               | Q(site__in=coverage.site_codes))
    site_zones = {code: coverage.zones.get(pk) for code, pk in Site.objects.values_list("code", "pk")}
    part = Part("punches", "打卡记录 Punches", list(COLUMNS), freeze_columns=3)
    total = rows_q.count()
    for i, p in enumerate(rows_q.order_by("punched_at", "id").iterator(chunk_size=5000), 1):
        name, dept, site_id = people.get(p.employee_number, ("", "", None))
        zone = (coverage.zone(site_id) if site_id is not None else site_zones.get(p.site)) or ZoneInfo("UTC")
        local = naive_local(p.punched_at, zone)
        if local is None or not params.first <= local.date() <= params.last:
            continue
        restamped = p.restamped_at is not None
        flag: Flag = "bad" if p.time_flag else "info" if restamped else "warn" if p.time_source == "unsynced" else ""
        values = (local, p.employee_number, name, dept, p.site, p.device_id, DIRECTIONS.get(p.direction, p.direction),
                  p.method, None if p.score is None else round(p.score, 3), TIME_SOURCES.get(p.time_source, p.time_source),
                  "是 Yes" if restamped else "", naive_local(p.original_punched_at, zone) if restamped else None,
                  "时间存疑 Implausible" if p.time_flag else "", naive_local(p.received_at, zone), p.id)
        flags: tuple[Flag, ...] = ((flag,) * len(values)) if flag else ()
        part.rows.append(Row(values, flags))
        if progress is not None and i % 2000 == 0:
            progress(i, total)
    if progress is not None:
        progress(total, total)
    spec = REPORTS["punches"]
    return Report(name=spec.name, title=spec.title, company=company_name(), scope=coverage.label,
                  first=params.first, last=params.last, generated_at=stamp(now), parts=[part],
                  notes=["时间为各站点当地时间 / Times are each site's local time.",
                         "蓝色：中心已校正时间；黄色：终端时钟未同步；红色：时间存疑，不计考勤 / Blue: re-stamped by the "
                         "central; amber: the terminal's clock was not synchronised; red: implausible time, not counted."])

