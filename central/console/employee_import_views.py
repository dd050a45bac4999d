"""员工导入 Import employees: upload an XLSX or CSV, see what each row would do, then import them all at once.

Thin over :mod:`central.people.importing` (the steps in :mod:`central.console.import_flow`)."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from central.accounts import scope
from central.console import import_flow
from central.console.forms import EmployeeImportForm
from central.console.views import AuthedHttpRequest, console_view, require
from central.people import importing


class EmployeeImport(import_flow.TableImport):
    def read(self, upload: UploadedFile, data: dict[str, Any]) -> importing.Table:
        return importing.read_table(upload.name or "", upload.read())

    def check(self, request: AuthedHttpRequest, found: importing.Table) -> importing.Plan:
        return importing.plan(request.user, found)

    def apply(self, request: AuthedHttpRequest, name: str, found: importing.Table) -> HttpResponse:
        done = importing.apply(request.user, found, source=name)
        messages.success(request, _("已导入 %(file)s：新增 %(added)d 人，更新 %(changed)d 人，名册已下发到终端")
                         % {"file": name, "added": len(done.added), "changed": len(done.changed)})
        if done.queued:
            messages.info(request, _("这些员工最近的考勤正在后台重新计算"))
        return redirect("console:employees")


EMPLOYEES = EmployeeImport("employee_import", "console:employee_import", "console/row_import.html",
                           EmployeeImportForm, importing.ImportRefused)


@require_http_methods(["GET", "POST"])
@console_view
def employee_import(request: AuthedHttpRequest) -> HttpResponse:
    require(scope.can_manage(request.user))
    if request.GET.get("template"):
        response = HttpResponse(importing.template_workbook(),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = 'attachment; filename="employees-template.xlsx"'
        return response
    return import_flow.run(request, EMPLOYEES, {
        "nav": "employees", "columns": importing.COLUMNS, "title": _("导入员工"), "back": reverse("console:employees"),
        "template_url": "?template=1", "apply_help": _("全部导入或全部不导入；部门或站点变了的员工从今天起调动。")})
