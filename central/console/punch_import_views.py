"""打卡记录导入 Import punches: upload another system's punches (an XLSX or CSV export, a ZKTeco USB attlog.dat), see
what each row would add, then add them all and have their days recomputed. Thin over
:mod:`central.attendance.punch_import` (the steps in :mod:`central.console.import_flow`)."""
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
from central.attendance import punch_import
from central.attendance.models import RecomputeJob
from central.console import import_flow
from central.console.views import AuthedHttpRequest, console_view, require
from central.people import importing


class PunchImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("打卡文件（.xlsx、.csv 或 attlog.dat） Punch file (.xlsx, .csv or attlog.dat)"),
                           help_text=gettext_lazy("一行一条打卡，时间为员工所在站点的当地时间；最多 20000 行，更多请用命令 seed-central "
                                                  "attendance import-punches / a punch a row, in the site's local time; "
                                                  "at most 20,000 rows (more: the command)"))


class PunchImport(import_flow.TableImport):
    def read(self, upload: UploadedFile, data: dict[str, Any]) -> importing.Table:
        return punch_import.read(upload.name or "", upload.read())

    def check(self, request: AuthedHttpRequest, found: importing.Table) -> importing.Plan:
        return punch_import.plan(request.user, found)

    def apply(self, request: AuthedHttpRequest, name: str, found: importing.Table) -> HttpResponse:
        done = punch_import.apply(request.user, found, source=name, actor=request.user.username)
        messages.success(request, _("已导入 %(file)s：%(employees)d 名员工的 %(n)d 条打卡 / %(file)s imported: %(n)d punches "
                                    "of %(employees)d employees") % {"file": name, "n": done.punches,
                                                                     "employees": done.employees})
        if isinstance(done.recomputed, RecomputeJob):
            messages.info(request, _("这些员工的考勤正在后台重新计算"))
        return redirect("console:attendance_punch_import")


PUNCHES = PunchImport("punch_import", "console:attendance_punch_import", "console/row_import.html", PunchImportForm,
                      importing.ImportRefused)


@require_http_methods(["GET", "POST"])
@console_view
def punch_import_page(request: AuthedHttpRequest) -> HttpResponse:
    require(scope.can_manage(request.user))
    if request.GET.get("template"):
        response = HttpResponse(punch_import.template(),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = 'attachment; filename="punches-template.xlsx"'
        return response
    return import_flow.run(request, PUNCHES, {
        "template_url": "?template=1",
        "nav": "reports", "columns": punch_import.COLUMNS,
        "title": _("导入打卡记录 Import punches"), "back": reverse("console:reports"),
        "apply_help": _("全部导入或全部不导入；导入的打卡标为「导入」，所在的日子重新计算考勤。 All rows are imported or none; "
                        "imported punches are marked as such and their days recomputed."),
        "refuse_help": _("请改正有错误的行后重新上传；在此之前不会导入任何打卡。")})
