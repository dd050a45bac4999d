"""排班导入 Import a schedule: upload an XLSX or CSV of days by employee, see what it would change, then record it.

Thin over :mod:`central.attendance.schedule_import`: the checked file waits in the session between the preview and
the import, and is checked again when imported."""
from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from central.accounts import scope
from central.attendance import schedule_import, selectors
from central.console.views import AuthedHttpRequest, console_view, require
from central.people.importing import ImportFileError

SESSION_KEY = "schedule_import"


class ScheduleImportForm(forms.Form):
    month = forms.CharField(label=gettext_lazy("起始月份 First month"),
                            widget=forms.TextInput(attrs={"type": "month"}),
                            help_text=gettext_lazy("只写日（如 01、1日）的列从这个月算起 / Columns that give only the day (01, 1日) "
                                                   "count from this month"))
    file = forms.FileField(label=gettext_lazy("排班文件（.xlsx 或 .csv） Schedule file (.xlsx or .csv)"),
                           help_text=gettext_lazy("一行一名员工（工号列），一列一天，写班次名称或“休”；空白不改。可用排班表导出的文件 / "
                                                  "a row an employee (a 工号 Number column), a column a day holding a "
                                                  "shift's name or 休 for rest; blank changes nothing. The schedule "
                                                  "report's file will do"))

    def clean_month(self) -> date:
        text = self.cleaned_data["month"]
        try:
            return date.fromisoformat(f"{text}-01")
        except ValueError:
            raise forms.ValidationError(_("月份格式应为 2026-03 / A month is written 2026-03")) from None


def _stored(request: AuthedHttpRequest) -> tuple[str, schedule_import.Grid] | None:
    kept: dict[str, Any] | None = request.session.get(SESSION_KEY)
    if not kept:
        return None
    return kept["name"], schedule_import.Grid([date.fromisoformat(d) for d in kept["days"]],
                                              [(int(line), number, list(cells)) for line, number, cells in kept["rows"]])


@require_http_methods(["GET", "POST"])
@console_view
def schedule_import_page(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    require(scope.can_manage(user))
    month = selectors.parse_month(request.GET.get("month"))
    context: dict[str, Any] = {"nav": "attendance_team", "form": ScheduleImportForm(initial={"month": f"{month:%Y-%m}"})}
    if request.method == "POST" and request.POST.get("action") == "import":
        stored = _stored(request)
        if stored is None:
            messages.error(request, _("请先上传文件并检查 / Upload and check a file first"))
            return redirect("console:attendance_team_import")
        name, grid = stored
        try:
            done = schedule_import.apply(user, grid, source=name)
        except schedule_import.ScheduleRefused as exc:
            context.update(name=name, plan=schedule_import.plan(user, grid), refused=str(exc))
            return render(request, "console/attendance/schedule_import.html", context)
        request.session.pop(SESSION_KEY, None)
        messages.success(request, _("已导入排班 %(file)s：%(n)d 名员工的 %(days)d 天改了班 / Schedule %(file)s imported: "
                                    "%(days)d days of %(n)d employees changed") % {
            "file": name, "n": done.employees, "days": done.days})
        return redirect(f"{reverse('console:attendance_team')}?month={grid.days[0]:%Y-%m}")
    if request.method == "POST":
        form = ScheduleImportForm(request.POST, request.FILES)
        context["form"] = form
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                grid = schedule_import.read_grid(upload.name, upload.read(), form.cleaned_data["month"])
            except ImportFileError as exc:
                form.add_error("file", str(exc))
            else:
                request.session[SESSION_KEY] = {"name": upload.name, "days": [d.isoformat() for d in grid.days],
                                                "rows": grid.rows}
                context.update(name=upload.name, plan=schedule_import.plan(user, grid))
    return render(request, "console/attendance/schedule_import.html", context)
