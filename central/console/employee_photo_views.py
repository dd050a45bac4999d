"""照片导入人脸 Import face photos: upload a .zip of photos named by employee number, see which photos each employee's
face templates would come from (and why a photo cannot be used), then import them; and clear an employee's faces.

Thin over :mod:`central.people.face_photos` (the steps in :mod:`central.console.import_flow`). The check keeps the
computed templates (never the photos) in the user's sign-in session until the import, a new check or signing out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from central.accounts import scope
from central.console import import_flow
from central.console.views import AuthedHttpRequest, console_view, require
from central.people import face_photos
from central.people.importing import ImportFileError


class FacePhotoForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("照片（.zip 压缩包或一张照片） Photos (a .zip, or one photo)"),
                           help_text=gettext_lazy("照片以工号命名（E001.jpg、E001-2.jpg）或放在以工号命名的文件夹里 / "
                                                  "photos named by employee number (E001.jpg, E001-2.jpg) or in a folder "
                                                  "named by it"))
    employee = forms.CharField(required=False, widget=forms.HiddenInput)  # from an employee's page: every photo theirs


@dataclass(frozen=True)
class Checked:
    photos: list[face_photos.Described]
    ignored: list[str]


class FacePhotoImport(import_flow.Import[Checked]):
    def read(self, upload: UploadedFile, data: dict[str, Any]) -> Checked:
        if (upload.size or 0) > face_photos.MAX_UPLOAD_BYTES:
            raise ImportFileError(
                f"文件超过 {face_photos.MAX_UPLOAD_BYTES // 1024 // 1024} MB / The file is over "
                f"{face_photos.MAX_UPLOAD_BYTES // 1024 // 1024} MB")
        found = face_photos.read_upload(upload.name or "", upload.read())
        with face_photos.shared_enroller() as enroller:
            return Checked(face_photos.describe(found, enroller, number=data.get("employee") or ""), found.ignored)

    def check(self, request: AuthedHttpRequest, found: Checked) -> face_photos.FacePlan:
        return face_photos.plan(request.user, found.photos, found.ignored)

    def dump(self, found: Checked) -> Any:
        return {"photos": [d.kept() for d in found.photos], "ignored": found.ignored}

    def load(self, kept: Any) -> Checked:
        return Checked(face_photos.from_kept(kept["photos"]), [str(n) for n in kept["ignored"]])

    def apply(self, request: AuthedHttpRequest, name: str, found: Checked) -> HttpResponse:
        done = face_photos.apply(request.user, found.photos, source=name)
        messages.success(request, _("已导入 %(file)s：%(n)d 名员工的人脸模板共 %(templates)d 个，名册已下发到终端 / %(file)s "
                                    "imported: %(templates)d face templates of %(n)d employees, sent to the terminals")
                         % {"file": name, "n": len(done.employees), "templates": done.templates})
        numbers = {n for d in found.photos for n in d.numbers}
        one = scope.employees(request.user).filter(number=numbers.pop()).first() if len(numbers) == 1 else None
        return redirect("console:employee", pk=one.pk) if one else redirect("console:employees")


PHOTOS = FacePhotoImport("face_photo_import", "console:employee_photos", "console/photo_import.html", FacePhotoForm,
                         face_photos.FacesRefused)


@require_http_methods(["GET", "POST"])
@console_view
def employee_photos(request: AuthedHttpRequest) -> HttpResponse:
    require(scope.can_manage(request.user))
    number = request.POST.get("employee", "") if request.method == "POST" else request.GET.get("employee", "")
    employee = scope.employees(request.user).filter(number=number).first() if number else None
    back = reverse("console:employee", args=[employee.pk]) if employee else reverse("console:employees")
    return import_flow.run(request, PHOTOS, {"nav": "employees", "back": back, "for_employee": employee,
                                             "max_photos": face_photos.MAX_PHOTOS,
                                             "max_templates": face_photos.MAX_TEMPLATES},
                           initial={"employee": employee.number if employee else ""})


@require_POST
@console_view
def employee_faces_clear(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    user = request.user
    employee = get_object_or_404(scope.employees(user), pk=pk)
    require(scope.can_manage(user))
    face_photos.clear_faces(user, employee)
    messages.success(request, _("已清除 %(who)s 的人脸模板，终端将随名册删除 / %(who)s's face templates cleared: the terminals "
                                "delete them with the roster") % {"who": employee})
    return redirect("console:employee", pk=employee.pk)
