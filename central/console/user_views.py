"""The accounts pages (用户与权限: who signs in to the console, with which role and grants) and one's own password.

Reads through :mod:`central.accounts.selectors`, writes through :mod:`central.accounts.users`. A one-time password
is in the one response that made it, never stored in clear and never shown again.
"""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from central.accounts import scope, selectors, users
from central.accounts.models import Role, User
from central.accounts.services import AccountError
from central.console.templatetags.console_tags import in_language
from central.console.user_forms import ROLE_LABELS, EmployeeAccountsForm, UserForm, initial_of
from central.console.views import AuthedHttpRequest, console_view, page_of, query_without_page, require
from central.people.models import Employee


def _refused(form: forms.Form, exc: AccountError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, in_language(str(exc)))


@require_http_methods(["GET", "POST"])
@console_view
def users_page(request: AuthedHttpRequest) -> HttpResponse:
    """The accounts the caller sees, and a new one (superuser, HR admin)."""
    user = request.user
    require(user.is_superuser or user.role in (Role.HR_ADMIN, Role.AUDITOR))
    can_change = scope.can_manage(user)
    prefill = {k: request.GET[k] for k in ("employee", "role", "username") if request.GET.get(k)}
    form = UserForm(user, request.POST or None, initial=prefill) if can_change else None
    issued = None
    if request.method == "POST":
        require(can_change)
        assert form is not None
        if form.is_valid():
            try:
                made, password = users.create_user(user, form.user_input())
            except AccountError as exc:
                _refused(form, exc)
            else:
                issued = {"user": made, "password": password}
                form = UserForm(user)
    q, role, state = request.GET.get("q", ""), request.GET.get("role", ""), request.GET.get("state", "")
    departments = list(scope.departments(user).select_related("site").order_by("site__code", "name"))
    asked = request.GET.get("department", "")
    department = next((d for d in departments if str(d.pk) == asked), None)  # one out of scope: no filter
    page = page_of(request, selectors.user_search(user, q, role, state, department))
    changeable = set(scope.users_to_change(user).filter(pk__in=[u.pk for u in page]).values_list("pk", flat=True))
    return render(request, "console/users.html", {
        "nav": "users", "page": page, "q": q, "role": role, "state": state, "roles": list(ROLE_LABELS.items()),
        "departments": departments, "department": department,
        "many_sites": len({d.site_id for d in departments}) > 1,
        "form": form, "issued": issued, "changeable": changeable, "query": query_without_page(request),
        "bulk_form": EmployeeAccountsForm(user) if can_change else None})


@require_POST
@console_view
def employee_accounts(request: AuthedHttpRequest) -> HttpResponse:
    """Self-service accounts for a site's or a department's employees without one; their one-time passwords on a
    page to print and hand out, this once."""
    user = request.user
    require(scope.can_manage(user))
    form = EmployeeAccountsForm(user, request.POST)
    outcome = None
    if form.is_valid():
        rows = Employee.objects.filter(site__code=form.cleaned_data["site"])
        if form.cleaned_data.get("department"):
            rows = rows.filter(department_id=int(form.cleaned_data["department"]))
        try:
            outcome = users.open_employee_accounts(user, rows)
        except AccountError as exc:
            _refused(form, exc)
    return render(request, "console/accounts_opened.html", {"nav": "users", "form": form, "outcome": outcome})


def _target(request: AuthedHttpRequest, username: str) -> User:
    require(scope.can_manage(request.user))
    return get_object_or_404(scope.users_to_change(request.user).select_related("employee"), username=username)


@require_http_methods(["GET", "POST"])
@console_view
def user_edit(request: AuthedHttpRequest, username: str) -> HttpResponse:
    """One account: its role, grants, employee and name; its password reset; deactivated or reactivated."""
    target = _target(request, username)
    form = UserForm(request.user, request.POST or None, target=target, initial=initial_of(target))
    if request.method == "POST" and form.is_valid():
        try:
            users.change_user(request.user, target, form.user_input())
        except AccountError as exc:
            _refused(form, exc)
        else:
            messages.success(request, _("已保存账号 %(user)s") % {"user": target.username})
            return redirect("console:user_edit", username=target.username)
    return _edit_page(request, target, form)


def _edit_page(request: AuthedHttpRequest, target: User, form: UserForm | None = None,
               password: str | None = None) -> HttpResponse:
    form = form or UserForm(request.user, target=target, initial=initial_of(target))
    return render(request, "console/user_edit.html", {"nav": "users", "target": target, "form": form,
                                                      "password": password, "own": target.pk == request.user.pk})


@require_POST
@console_view
def user_password_reset(request: AuthedHttpRequest, username: str) -> HttpResponse:
    target = _target(request, username)
    password = users.reset_password(request.user, target)
    target.refresh_from_db()
    return _edit_page(request, target, password=password)


@require_POST
@console_view
def user_active(request: AuthedHttpRequest, username: str) -> HttpResponse:
    target = _target(request, username)
    active = request.POST.get("active") == "1"
    try:
        users.set_active(request.user, target, active)
    except AccountError as exc:
        messages.error(request, in_language(str(exc)))
    else:
        messages.success(request, (_("已启用账号 %(user)s") if active else _("已停用账号 %(user)s"))
                         % {"user": target.username})
    return redirect("console:user_edit", username=target.username)


@require_http_methods(["GET", "POST"])
@console_view
def password_change(request: AuthedHttpRequest) -> HttpResponse:
    """One's own password: the old one, the new one twice, against the password rules."""
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        update_session_auth_hash(request, form.user)
        users.password_changed(request.user)
        messages.success(request, _("密码已修改"))
        return redirect("console:home")
    return render(request, "console/password.html", {"nav": "password", "form": form,
                                                      "must": request.user.must_change_password})
