"""员工导入 Import employees: upload an XLSX or CSV, see what each row would do, then import them all at once.

Thin over :mod:`central.people.importing`: the checked rows wait in the session between the preview and the import,
and are checked again when imported (the database may have moved on in between)."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from central.accounts import scope
from central.console.forms import EmployeeImportForm
from central.console.views import AuthedHttpRequest, console_view, require
from central.people import importing

SESSION_KEY = "employee_import"


def _stored(request: AuthedHttpRequest) -> tuple[str, importing.Table] | None:
    kept: dict[str, Any] | None = request.session.get(SESSION_KEY)
    if not kept:
        return None
    rows = [(int(line), dict(cells)) for line, cells in kept["rows"]]
    return kept["name"], importing.Table(rows, list(kept["columns"]), list(kept["ignored"]))


@require_http_methods(["GET", "POST"])
@console_view
def employee_import(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    require(scope.can_manage(user))
    if request.GET.get("template"):
        response = HttpResponse(importing.template_workbook(),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = 'attachment; filename="employees-template.xlsx"'
        return response
    context: dict[str, Any] = {"nav": "employees", "columns": importing.COLUMNS, "form": EmployeeImportForm()}
    if request.method == "POST" and request.POST.get("action") == "import":
        stored = _stored(request)
        if stored is None:
            messages.error(request, _("请先上传文件并检查"))
            return redirect("console:employee_import")
        name, table = stored
        try:
            done = importing.apply(user, table, source=name)
        except importing.ImportRefused as exc:
            context.update(name=name, plan=importing.plan(user, table), refused=str(exc))
            return render(request, "console/employee_import.html", context)
        request.session.pop(SESSION_KEY, None)
        messages.success(request, _("已导入 %(file)s：新增 %(added)d 人，更新 %(changed)d 人，名册已下发到终端")
                         % {"file": name, "added": len(done.added), "changed": len(done.changed)})
        if done.queued:
            messages.info(request, _("这些员工最近的考勤正在后台重新计算"))
        return redirect("console:employees")
    if request.method == "POST":
        form = EmployeeImportForm(request.POST, request.FILES)
        context["form"] = form
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                table = importing.read_table(upload.name, upload.read())
            except importing.ImportFileError as exc:
                form.add_error("file", str(exc))
            else:
                request.session[SESSION_KEY] = {"name": upload.name, "rows": table.rows, "columns": table.columns,
                                                "ignored": table.ignored}
                context.update(name=upload.name, plan=importing.plan(user, table))
    return render(request, "console/employee_import.html", context)
