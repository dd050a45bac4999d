"""The console's report pages: each report with its filters, a preview and downloads; scheduled reports and runs.

Thin views: reports are built by :func:`central.reports.registry.build` (as the signed-in user, within their
scope) and rendered by :func:`central.reports.registry.render`; schedules are read and changed through
:mod:`central.reports.schedules`. Superusers, HR admins, managers and auditors use the report pages; an
employee gets 403.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from central.accounts import scope
from central.console.views import AuthedHttpRequest, console_view, require
from central.reports import registry, schedules
from central.reports.document import Column, Part, Report, Value
from central.reports.forms import ReportFilterForm, ScheduleForm
from central.reports.models import ReportRun, ReportSchedule
from central.reports.registry import ReportError

log = logging.getLogger(__name__)
PREVIEW_ROWS = 50


# -- the preview, as the page shows it -------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    text: str
    css: str


@dataclass(frozen=True)
class PreviewPart:
    key: str
    title: str
    note: str
    columns: list[Column]
    rows: list[tuple[str, list[Cell]]]  # (row css, cells)
    total_rows: int
    totals: list[Cell] | None


def cell_text(value: Value, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if kind == "percent" and isinstance(value, (int, float, Decimal)):
        return f"{Decimal(str(value)) * 100:.1f} %"
    if kind == "decimal" and isinstance(value, (int, float, Decimal)):
        return f"{Decimal(str(value)):.2f}"
    return str(value)


def _css(column: Column, flag: str = "") -> str:
    classes = [f"rc-{column.kind}"]
    if column.kind in ("int", "decimal", "percent"):
        classes.append("num")
    if flag:
        classes.append(f"flag-{flag}")
    return " ".join(classes)


def preview_part(part: Part, limit: int = PREVIEW_ROWS) -> PreviewPart:
    rows = [("row-subtotal" if row.style == "subtotal" else "",
             [Cell(cell_text(value, column.kind), _css(column, row.flag(i)))
              for i, (column, value) in enumerate(zip(part.columns, row.values, strict=True))])
            for row in part.rows[:limit]]
    totals: list[Cell] | None = None
    if part.has_totals():
        totals = [Cell(cell_text(part.column_sum(c.key), c.kind) if c.total == "sum"
                       else (_("合计 Total") if i == 0 else ""), _css(c)) for i, c in enumerate(part.columns)]
    return PreviewPart(part.key, part.title, part.note, part.columns, rows, len(part.rows), totals)


# -- pages -----------------------------------------------------------------------------------------
def _require_staff(request: AuthedHttpRequest) -> None:
    require(schedules.is_staff_reader(request.user))


def _attachment(body: bytes, name: str, content_type: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
    response["Content-Length"] = str(len(body))
    return response


def _download(report: Report, fmt: str) -> HttpResponse:
    with io.BytesIO() as out:
        registry.render(report, fmt, out)
        return _attachment(out.getvalue(), report.filename(fmt), registry.CONTENT_TYPES[fmt])


@require_GET
@console_view
def reports(request: AuthedHttpRequest) -> HttpResponse:
    _require_staff(request)
    name = request.GET.get("report") or next(iter(registry.REPORTS))
    if name not in registry.REPORTS:
        raise Http404("no such report")
    spec = registry.REPORTS[name]
    fmt = request.GET.get("format", "")
    asked = "preview" in request.GET or fmt != ""
    form = ReportFilterForm(request.user, name, request.GET if asked else None)
    preview: list[PreviewPart] = []
    report: Report | None = None
    if asked and form.is_valid():
        try:
            if fmt and fmt not in registry.FORMATS:
                raise ReportError(f"不支持的格式 / unknown format {fmt!r} (one of: {', '.join(registry.FORMATS)})")
            report = registry.build(name, request.user, form.params())
            if fmt:
                return _download(report, fmt)
            preview = [preview_part(part) for part in report.parts]
        except ReportError as exc:
            form.add_error(None, str(exc))
            report = None
    return render(request, "reports/reports.html", {
        "nav": "reports", "reports": list(registry.REPORTS.values()), "spec": spec, "form": form,
        "report": report, "preview": preview, "formats": registry.FORMATS, "preview_rows": PREVIEW_ROWS,
        "can_schedule": schedules.may_manage(request.user), "can_import": scope.can_manage(request.user),
    })


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


@require_http_methods(["GET", "POST"])
@console_view
def report_schedules(request: AuthedHttpRequest) -> HttpResponse:
    _require_staff(request)
    user = request.user
    manage = schedules.may_manage(user)
    editing: ReportSchedule | None = None
    edit_id = _int(request.POST.get("id") if request.method == "POST" else request.GET.get("edit"))
    if edit_id is not None:
        try:
            editing = schedules.schedule_for(user, edit_id)
        except ReportSchedule.DoesNotExist:
            raise Http404("no such schedule") from None
    form: ScheduleForm | None = None
    if request.method == "POST":
        require(manage)
        form = ScheduleForm(user, request.POST, schedule=editing)
        if form.is_valid():
            try:
                saved = schedules.save_schedule(user, form.schedule_input(), editing)
            except schedules.ScheduleError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                messages.success(request, _("定时报表已保存 / Scheduled report saved") + f" (#{saved.pk})")
                return redirect(reverse("console:report_schedules"))
    elif manage:
        form = ScheduleForm(user, schedule=editing)
    now = timezone.now()
    rows = [(s, schedules.next_run_at(s, now)) for s in schedules.visible_schedules(user)]
    return render(request, "reports/schedules.html", {
        "nav": "report_schedules", "schedules": rows, "runs": schedules.visible_runs(user), "form": form,
        "editing": editing, "manage": manage, "zone": timezone.get_current_timezone_name(),
    })


@require_POST
@console_view
def report_schedule_action(request: AuthedHttpRequest) -> HttpResponse:
    _require_staff(request)
    require(schedules.may_manage(request.user))
    action = request.POST.get("action", "")
    pk = _int(request.POST.get("id"))
    if pk is None or action not in ("activate", "deactivate", "delete"):
        raise Http404("no such schedule or action")
    try:
        schedule = schedules.schedule_for(request.user, pk)
    except ReportSchedule.DoesNotExist:
        raise Http404("no such schedule") from None
    if action == "delete":
        schedules.delete_schedule(request.user, schedule)
        messages.success(request, _("定时报表已删除 / Scheduled report deleted") + f" (#{pk})")
    else:
        schedules.set_active(request.user, schedule, action == "activate")
        messages.success(request, (_("定时报表已启用 / Scheduled report activated") if action == "activate"
                                   else _("定时报表已停用 / Scheduled report deactivated")) + f" (#{pk})")
    return redirect(reverse("console:report_schedules"))


@require_GET
@console_view
def report_run_file(request: AuthedHttpRequest) -> HttpResponse:
    _require_staff(request)
    run_id = _int(request.GET.get("run"))
    fmt = request.GET.get("format", "")
    if run_id is None or fmt not in registry.FORMATS:
        raise Http404("no such file")
    try:
        path, name, content_type = schedules.run_file(request.user, run_id, fmt)
    except ReportRun.DoesNotExist:
        raise Http404("no such file") from None
    except ReportError as exc:
        log.error("report files: %s", exc)
        raise PermissionDenied(str(exc)) from None
    with open(path, "rb") as stored:
        return _attachment(stored.read(), name, content_type)
