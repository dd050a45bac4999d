"""/reports: the list of reports, and one report as JSON or as a file (XLSX, PDF, CSV).

A report is built by :func:`central.reports.registry.build`, which reads through
:mod:`central.accounts.scope`: a report never holds a row the caller may not see, and a site,
department or employee outside the caller's scope is a 400 naming it.

Without ``format`` the answer is JSON (:class:`~central.api.attendance_schemas.ReportOut`): each
part's columns and rows keyed by column key. Values are JSON-safe: dates ``YYYY-MM-DD``, times
``YYYY-MM-DDTHH:MM:SS`` (the site's local wall time, no zone), **Decimals as strings** (``"7.50"``,
exact), percentages as numbers 0–1, integers as numbers. With ``format`` the answer is the file,
written to a temporary file first and streamed from it (a large workbook is not held in memory twice).
"""
from __future__ import annotations

import logging
import tempfile
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import FileResponse
from ninja import Query, Router

from central.api.attendance_schemas import ReportInfo, ReportOut
from central.api.auth import caller
from central.api.errors import ApiError
from central.api.routers.attendance import FROM_REQUIRED, TO_REQUIRED, span
from central.api.routers.common import CODE, NUMBER, TEXT
from central.api.schemas import ERRORS
from central.reports import registry
from central.reports.document import Part, Report, Value

log = logging.getLogger(__name__)
router = Router(tags=["reports 报表"])
Format = Literal["xlsx", "pdf", "csv"]
FORMAT = Query(None, alias="format", example="xlsx", description="文件格式；不填返回 JSON / file format; leave out for JSON")
FILE_TYPES = {fmt: {"schema": {"type": "string", "format": "binary"}} for fmt in registry.FORMATS}


def json_value(value: Value | bool) -> str | int | float | bool | None:
    """A report value as JSON: dates and times ISO, Decimals as exact strings, numbers as numbers."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _part(part: Part) -> dict[str, Any]:
    return {"key": part.key, "title": part.title,
            "columns": [{"key": c.key, "title": c.title, "kind": c.kind} for c in part.columns],
            "rows": [{k: json_value(v) for k, v in row.items()} for row in part.records()],
            "totals": {c.key: json_value(part.column_sum(c.key)) for c in part.columns if c.total == "sum"}}


def report_json(report: Report) -> dict[str, Any]:
    return {"name": report.name, "title": report.title, "company": report.company, "scope": report.scope,
            "first": report.first.isoformat(), "last": report.last.isoformat(),
            "generated_at": report.generated_at.isoformat(timespec="seconds"),
            "legend": [{"symbol": item.symbol, "label": item.label} for item in report.legend],
            "notes": list(report.notes), "parts": [_part(part) for part in report.parts]}


@router.get("/reports", response={200: list[ReportInfo], **ERRORS}, summary="报表列表 / the reports")
def list_reports(request):
    return [{"name": spec.name, "title": spec.title, "description": spec.description, "formats": list(registry.FORMATS),
             "max_days": spec.max_days} for spec in registry.REPORTS.values()]


@router.get("/reports/{name}", response={200: ReportOut, **ERRORS},
            summary="生成报表（JSON 或文件）/ a report as JSON, or as a file with format=",
            description="不带 format 返回 JSON；format=xlsx、pdf 或 csv 返回附件文件。Decimal 值为字符串，日期为 ISO 文本 / "
                        "without format: JSON; with format=xlsx, pdf or csv: the file as an attachment. Decimal values "
                        "are strings (\"7.50\"), dates ISO text, times the site's local wall time.",
            openapi_extra={"responses": {200: {"content": {registry.CONTENT_TYPES[fmt]: FILE_TYPES[fmt]
                                                           for fmt in registry.FORMATS}}}})
def get_report(request, name: str,
               first: str = FROM_REQUIRED, last: str = TO_REQUIRED,
               site: str | None = Query(None, pattern=CODE, example="sh-plant", description="站点代码 / site code"),
               department: str | None = Query(None, max_length=100, pattern=TEXT, example="装配 Assembly",
                                              description="部门名称 / department name"),
               employee: str | None = Query(None, pattern=NUMBER, example="A001", description="工号 / employee number"),
               fmt: Format | None = FORMAT):
    if name not in registry.REPORTS:
        raise ApiError(404, f"没有这个报表 / no report named {name[:64]!r}; 可用 / one of: {', '.join(registry.REPORTS)}")
    start, end = span(first, last)
    assert start is not None and end is not None  # both required
    params = registry.ReportParams(start, end, site=site or "", department=department or "", employee=employee or "")
    try:
        report = registry.build(name, caller(request), params)
    except registry.ReportError as exc:
        raise ApiError(400, str(exc)) from None
    if fmt is None:
        return report_json(report)
    return _file(report, fmt)


def _file(report: Report, fmt: str) -> FileResponse:
    write = registry.writer(fmt)
    # the response closes (and so deletes) the temporary file once it is sent; closed here if writing fails
    out = tempfile.TemporaryFile(prefix="seed-report-")
    try:
        write(report, out)
        size = out.tell()
        out.seek(0)
    except BaseException:
        out.close()
        raise
    log.info("report %s %s: %s bytes", report.name, fmt, size)
    response = FileResponse(out, as_attachment=True, filename=report.filename(fmt),
                            content_type=registry.CONTENT_TYPES[fmt])
    response["Content-Length"] = str(size)
    return response
