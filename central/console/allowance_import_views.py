"""额度导入 Import leave allowances: upload an XLSX or CSV of each employee's own allowance of a year, see what each
row would set, then set them all at once. Thin over :mod:`central.attendance.allowance_import` (the steps in
:mod:`central.console.import_flow`)."""
from __future__ import annotations

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
from central.attendance import allowance_import
from central.console import import_flow
from central.console.views import AuthedHttpRequest, console_view, require
from central.people import importing


class AllowanceImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("额度文件（.xlsx 或 .csv） Allowance file (.xlsx or .csv)"),
                           help_text=gettext_lazy("一行一名员工的一个假别和年份；额度替换假别的每年额度或法定天数 / a row an "
                                                  "employee's leave type and year; the days replace the type's days "
                                                  "a year or the statutory days"))


class AllowanceImport(import_flow.TableImport):
    def read(self, upload: UploadedFile, data: dict[str, Any]) -> importing.Table:
        return allowance_import.read(upload.name or "", upload.read())

    def check(self, request: AuthedHttpRequest, found: importing.Table) -> importing.Plan:
        return allowance_import.plan(request.user, found)

    def apply(self, request: AuthedHttpRequest, name: str, found: importing.Table) -> HttpResponse:
        done = allowance_import.apply(request.user, found)
        messages.success(request, _("已导入 %(file)s：设置了 %(n)d 项假期额度 / %(file)s imported: %(n)d allowances set")
                         % {"file": name, "n": done})
        return redirect("console:attendance_leave_types")


ALLOWANCES = AllowanceImport("allowance_import", "console:attendance_allowance_import", "console/row_import.html",
                             AllowanceImportForm, importing.ImportRefused)


@require_http_methods(["GET", "POST"])
@console_view
def allowance_import_page(request: AuthedHttpRequest) -> HttpResponse:
    require(scope.can_manage(request.user))
    return import_flow.run(request, ALLOWANCES, {
        "nav": "attendance_leave_types", "columns": allowance_import.COLUMNS,
        "title": _("导入假期额度 Import leave allowances"), "back": reverse("console:attendance_leave_types"),
        "apply_help": _("全部导入或全部不导入；每项额度都记入审计日志。 All rows are imported or none; each allowance is "
                        "audited.")})
