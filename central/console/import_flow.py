"""What the console's imports share: upload a file, see what it would do (nothing written), then do it.

An :class:`Import` names its session key, page and form, and how to read an upload, check it, keep it between the two
requests (plain JSON in the session) and apply it. :func:`run` is the view: ``action=check`` with a file reads and
checks it and keeps what was read; ``action=import`` checks the kept file again and applies it, or shows the
refusal beside the rows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django import forms
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from central.console.views import AuthedHttpRequest
from central.people.importing import ImportFileError, Table

T = TypeVar("T")


@dataclass(frozen=True)
class Import(Generic[T]):
    key: str  # the session key the checked file waits under
    url_name: str  # the page, for a redirect back to it
    template: str
    form: type[forms.Form]  # a file field named ``file``, and whatever else ``read`` needs
    refused: type[Exception]  # what ``apply`` raises when a row is wrong: shown above the rows

    def read(self, upload: UploadedFile, data: dict[str, Any]) -> T:
        raise NotImplementedError

    def check(self, request: AuthedHttpRequest, found: T) -> Any:
        raise NotImplementedError

    def dump(self, found: T) -> Any:
        raise NotImplementedError

    def load(self, kept: Any) -> T:
        raise NotImplementedError

    def apply(self, request: AuthedHttpRequest, name: str, found: T) -> HttpResponse:
        """Do it, tell the user, and answer with the page to go to."""
        raise NotImplementedError


def run(request: AuthedHttpRequest, spec: Import[Any], context: dict[str, Any], initial: dict[str, Any] | None = None
        ) -> HttpResponse:
    context = {**context, "form": spec.form(initial=initial)}
    if request.method == "POST" and request.POST.get("action") == "import":
        kept: dict[str, Any] | None = request.session.get(spec.key)
        if not kept:
            messages.error(request, _("请先上传文件并检查"))
            return redirect(spec.url_name)
        found = spec.load(kept["data"])
        try:
            answer = spec.apply(request, kept["name"], found)
        except spec.refused as exc:
            context.update(name=kept["name"], plan=spec.check(request, found), refused=str(exc))
            return render(request, spec.template, context)
        request.session.pop(spec.key, None)
        return answer
    if request.method == "POST":
        form = spec.form(request.POST, request.FILES)
        context["form"] = form
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                found = spec.read(upload, form.cleaned_data)
            except ImportFileError as exc:
                form.add_error("file", str(exc))
            else:
                request.session[spec.key] = {"name": upload.name, "data": spec.dump(found)}
                context.update(name=upload.name, plan=spec.check(request, found))
    return render(request, spec.template, context)


class TableImport(Import[Table]):
    """An import of rows of columns (:class:`central.people.importing.Table`), kept as the table itself."""

    def dump(self, found: Table) -> Any:
        return found.kept()

    def load(self, kept: Any) -> Table:
        return Table.from_kept(kept)
