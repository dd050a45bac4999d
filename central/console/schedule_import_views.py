"""排班导入 Import a schedule: upload an XLSX or CSV of days by employee, see what it would change, then record it.

Thin over :mod:`central.attendance.schedule_import` (the steps in :mod:`central.console.import_flow`)."""
from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from central.accounts import scope
from central.attendance import schedule_import, selectors
from central.console import import_flow
from central.console.views import AuthedHttpRequest, console_view, require


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


class ScheduleImport(import_flow.Import[schedule_import.Grid]):
    def read(self, upload: UploadedFile, data: dict[str, Any]) -> schedule_import.Grid:
        return schedule_import.read_grid(upload.name or "", upload.read(), data["month"])

    def check(self, request: AuthedHttpRequest, found: schedule_import.Grid) -> schedule_import.Plan:
        return schedule_import.plan(request.user, found)

    def dump(self, found: schedule_import.Grid) -> Any:
        return {"days": [d.isoformat() for d in found.days], "rows": found.rows}

    def load(self, kept: Any) -> schedule_import.Grid:
        return schedule_import.Grid([date.fromisoformat(d) for d in kept["days"]],
                                    [(int(line), number, list(cells)) for line, number, cells in kept["rows"]])

    def apply(self, request: AuthedHttpRequest, name: str, found: schedule_import.Grid) -> HttpResponse:
        done = schedule_import.apply(request.user, found, source=name)
        messages.success(request, _("已导入排班 %(file)s：%(n)d 名员工的 %(days)d 天改了班 / Schedule %(file)s imported: "
                                    "%(days)d days of %(n)d employees changed") % {
            "file": name, "n": done.employees, "days": done.days})
        return redirect(f"{reverse('console:attendance_team')}?month={found.days[0]:%Y-%m}")


SCHEDULES = ScheduleImport("schedule_import", "console:attendance_team_import", "console/attendance/schedule_import.html",
                           ScheduleImportForm, schedule_import.ScheduleRefused)


@require_http_methods(["GET", "POST"])
@console_view
def schedule_import_page(request: AuthedHttpRequest) -> HttpResponse:
    require(scope.can_manage(request.user))
    month = selectors.parse_month(request.GET.get("month"))
    return import_flow.run(request, SCHEDULES, {"nav": "attendance_team"}, initial={"month": f"{month:%Y-%m}"})
