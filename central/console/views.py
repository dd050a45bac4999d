"""Console pages. Each view is thin: it reads through :mod:`central.accounts.scope` and writes
through the services. A row outside the caller's scope is a 404, an action the role may not
do a 403, and an auditor's every page view is written to the audit log.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec, TypeGuard

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone as dj_timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from central import backup, recovery
from central.accounts import audit, scope, sign_in
from central.accounts.models import ApiToken, Role, User
from central.accounts.services import create_token, revoke_token
from central.console import selectors
from central.console.forms import DepartmentForm, EmployeeForm, EventFilterForm, SiteForm, TokenForm
from central.ingest.commands import request_command
from central.ingest.selectors import parse_since
from central.people import roster, services
from central.people.models import Device, Employee
from central.people.services import EmployeeInput, PeopleError

PAGE_SIZE = 25
CONSOLE_COMMANDS = ("open_door", "resync")
FIELD_ALIASES = {"pin_hash": "pin"}  # a roster rule's field → the form field a person types into


P = ParamSpec("P")


class AuthedHttpRequest(HttpRequest):
    """A console request that :func:`console_view` let through: its user is a signed-in :class:`User`.

    ``htmx`` is set on every request by django-htmx's middleware.
    """
    user: User
    htmx: HtmxDetails


def signed_in(request: HttpRequest) -> TypeGuard[AuthedHttpRequest]:
    """True once a person has signed in; the type checker then knows ``request.user`` is a :class:`User`."""
    return isinstance(request.user, User) and request.user.is_authenticated


def console_view(view: Callable[Concatenate[AuthedHttpRequest, P], HttpResponse]
                 ) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """Login required; a scope refusal becomes 403; an auditor's page views are recorded."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        if not signed_in(request):  # login_required has sent everyone else to the sign-in page
            raise PermissionDenied
        user = request.user
        if request.method == "GET" and user.role == Role.AUDITOR and not user.is_superuser:
            audit.record(user.username, "view", request.path)
        try:
            return view(request, *args, **kwargs)
        except scope.ScopeDenied as exc:
            raise PermissionDenied(str(exc)) from None

    return wrapper


def require(condition: bool) -> None:
    if not condition:
        raise PermissionDenied


def page_of(request: HttpRequest, rows, size: int = PAGE_SIZE):
    return Paginator(rows, size).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


# -- sign in ---------------------------------------------------------------------------------------
class LoginView(auth_views.LoginView):
    """Sign in; a name or an address that keeps guessing waits (:mod:`central.accounts.sign_in`), and while it waits
    no password is checked at all."""
    template_name = "console/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        username = str(request.POST.get("username", ""))
        minutes = sign_in.wait_minutes(username, _address(request), dj_timezone.now())
        if minutes:
            form = AuthenticationForm(request, initial={"username": username[:150]})  # unbound: nothing is checked
            return self.render_to_response(self.get_context_data(form=form, wait_minutes=minutes), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        username = str(form.data.get("username", ""))
        now = dj_timezone.now()
        sign_in.refused(username, _address(self.request), now)
        return self.render_to_response(self.get_context_data(
            form=form, wait_minutes=sign_in.wait_minutes(username, _address(self.request), now)))

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        sign_in.accepted(form.get_user().username)
        return super().form_valid(form)


def _address(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "")


class LogoutView(auth_views.LogoutView):
    pass


# -- home ------------------------------------------------------------------------------------------
@require_GET
@console_view
def home(request: AuthedHttpRequest) -> HttpResponse:
    """The live dashboard of the caller's scope (central.live): its live part re-reads itself every 2 s."""
    from central.live.views import dashboard_context  # central.live's views build on this module

    return render(request, "console/home.html", dashboard_context(request))


# -- sites and departments -------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@console_view
def sites(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    form = None
    if user.is_superuser:
        form = SiteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            site = services.save_site(user, form.cleaned_data["code"], form.cleaned_data["name"],
                                      form.cleaned_data["time_zone"])
            messages.success(request, _("已添加站点 %(site)s") % {"site": site})
            return redirect("console:sites")
    elif request.method == "POST":
        raise PermissionDenied
    return render(request, "console/sites.html", {"nav": "sites", "sites": selectors.sites_with_counts(user),
                                                  "form": form})


@require_http_methods(["GET", "POST"])
@console_view
def departments(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    form = None
    if scope.can_manage(user):
        form = DepartmentForm(user, request.POST or None)
        if request.method == "POST" and form.is_valid():
            site = get_object_or_404(scope.sites(user), pk=form.cleaned_data["site"])
            try:
                department = services.save_department(user, site, form.cleaned_data["name"])
            except PeopleError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            except scope.ScopeDenied:
                form.add_error("site", _("您不能在这个站点添加部门"))
            else:
                messages.success(request, _("已添加部门 %(name)s") % {"name": department.name})
                return redirect("console:departments")
    elif request.method == "POST":
        raise PermissionDenied
    rows = scope.departments(user).select_related("site").annotate(
        n_employees=Count("employees", filter=Q(employees__active=True))).order_by("site__code", "name")
    return render(request, "console/departments.html", {"nav": "departments", "departments": rows, "form": form})


# -- employees -------------------------------------------------------------------------------------
@require_GET
@console_view
def employees(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    q = request.GET.get("q", "")
    status = request.GET.get("status", "")
    site = request.GET.get("site", "")
    if request.GET.get("export") == "xlsx":  # the list as the import reads it: edited, it comes back in
        from central.people.importing import export_workbook

        found = selectors.employee_search(user, q, status, site).select_related("attendance", "attendance__default_shift")
        response = HttpResponse(export_workbook(found.iterator(chunk_size=2000)),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = 'attachment; filename="employees.xlsx"'
        return response
    page = page_of(request, selectors.employee_search(user, q, status, site))
    context = {"nav": "employees", "page": page, "q": q, "status": status, "site": site,
               "sites": scope.sites(user), "can_manage": scope.can_manage(user),
               "query": query_without_page(request)}
    partial = bool(request.htmx and request.htmx.target == "employee-results")
    response = render(request, "console/_employee_results.html" if partial else "console/employees.html", context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def _employee_input(form: EmployeeForm, *, keep_devices: list[str], active: bool) -> EmployeeInput:
    data = form.cleaned_data
    return EmployeeInput(
        number=data["number"].strip(), name=data["name"].strip(), site=data["site"],
        department=data.get("department") or "", card=(data.get("card") or "").strip() or None,
        pin=form.pin_value(), verify_mode=data["verify_mode"], role=data["role"],
        allowed_devices=sorted(set(data.get("allowed_devices") or []) | set(keep_devices)), active=active,
        moved_on=data.get("moved_on"))


def _save(request: AuthedHttpRequest, form: EmployeeForm, data: EmployeeInput, *, creating: bool) -> Employee | None:
    try:
        return services.save_employee(request.user, data, creating=creating)
    except PeopleError as exc:
        field = FIELD_ALIASES.get(exc.field, exc.field)
        form.add_error(field if field in form.fields else None, str(exc))
        return None


@require_http_methods(["GET", "POST"])
@console_view
def employee_add(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    require(scope.can_manage(user))
    form = EmployeeForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        saved = _save(request, form, _employee_input(form, keep_devices=[], active=True), creating=True)
        if saved is not None:
            messages.success(request, _("已添加员工 %(who)s，名册已下发到终端") % {"who": saved})
            return redirect("console:employee", pk=saved.pk)
    return render(request, "console/employee_form.html", {"nav": "employees", "form": form, "employee": None})


@require_GET
@console_view
def employee_detail(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    user = request.user
    employee = get_object_or_404(scope.employees(user).select_related("site", "department"), pk=pk)
    doors = {d.device_id: d for d in scope.devices(user).filter(device_id__in=employee.allowed_devices)}
    punches = scope.punches(user).filter(employee_number=employee.number).order_by("-punched_at")[:20]
    account = scope.users(user).filter(employee=employee).first()  # their console account, when the caller sees it
    return render(request, "console/employee_detail.html", {
        "nav": "employees", "employee": employee, "can_manage": scope.can_manage(user), "account": account,
        "account_changeable": account is not None and scope.users_to_change(user).filter(pk=account.pk).exists(),
        "doors": [doors.get(d, d) for d in employee.allowed_devices], "punches": punches,
        "roster_version": roster.current_version(),
        "moves": employee.moves.select_related("from_site", "from_department", "to_site", "to_department")
        .order_by("-since", "-pk")})


@require_http_methods(["GET", "POST"])
@console_view
def employee_edit(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    user = request.user
    employee = get_object_or_404(scope.employees(user).select_related("site", "department"), pk=pk)
    require(scope.can_manage(user))
    initial = {"number": employee.number, "name": employee.name, "site": employee.site.code,
               "department": str(employee.department_id or ""), "card": employee.card or "",
               "verify_mode": employee.verify_mode, "role": employee.role,
               "allowed_devices": list(employee.allowed_devices), "active": employee.active}
    form = EmployeeForm(user, request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        # doors outside this user's scope are not shown as choices: keep them as they were
        visible = set(scope.devices(user).values_list("device_id", flat=True))
        hidden = [d for d in employee.allowed_devices if d not in visible]
        data = _employee_input(form, keep_devices=hidden, active=form.cleaned_data.get("active", employee.active))
        saved = _save(request, form, data, creating=False)
        if saved is not None:
            messages.success(request, _("已保存 %(who)s，名册已下发到终端") % {"who": saved})
            return redirect("console:employee", pk=saved.pk)
    return render(request, "console/employee_form.html", {
        "nav": "employees", "form": form, "employee": employee, "has_pin": bool(employee.pin_hash)})


@require_POST
@console_view
def employee_deactivate(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    user = request.user
    employee = get_object_or_404(scope.employees(user), pk=pk)
    require(scope.can_manage(user))
    try:
        services.deactivate_employee(user, employee)
    except PeopleError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("%(who)s 已设为离职，所有门禁将拒绝其打卡") % {"who": employee})
    return redirect("console:employee", pk=employee.pk)


# -- devices ---------------------------------------------------------------------------------------
@require_GET
@console_view
def devices(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    rows = scope.devices(user).select_related("site")
    context: dict[str, object] = {"nav": "devices", "devices": rows, "roster_version": roster.current_version()}
    if user.is_superuser:  # the database's backups, and terminals still asked for punches after a restore
        context["backups"] = backup.standing()
        context["recoveries"] = recovery.open_recoveries()
    return render(request, "console/devices.html", context)


def _device_context(request: AuthedHttpRequest, device: Device) -> dict[str, object]:
    user = request.user
    commands = list(scope.commands(user).filter(device_id=device.device_id).order_by("-issued_at")[:30])
    return {"nav": "devices", "device": device, "commands": commands, "can_manage": scope.can_manage(user),
            "pending": any(c.result_at is None for c in commands), "roster_version": roster.current_version()}


@require_GET
@console_view
def device_detail(request: AuthedHttpRequest, device_id: str) -> HttpResponse:
    device = get_object_or_404(scope.devices(request.user).select_related("site"), device_id=device_id)
    return render(request, "console/device_detail.html", _device_context(request, device))


@require_GET
@console_view
def device_commands(request: AuthedHttpRequest, device_id: str) -> HttpResponse:
    """The command history alone (htmx refreshes it while a command waits for its result)."""
    device = get_object_or_404(scope.devices(request.user).select_related("site"), device_id=device_id)
    return render(request, "console/_command_panel.html", _device_context(request, device))


@require_POST
@console_view
def device_command(request: AuthedHttpRequest, device_id: str) -> HttpResponse:
    user = request.user
    device = get_object_or_404(scope.devices(user).select_related("site"), device_id=device_id)
    require(scope.can_manage(user))
    cmd = request.POST.get("cmd", "")
    if cmd not in CONSOLE_COMMANDS:
        return HttpResponseBadRequest(_("未知的命令"))
    with transaction.atomic():  # the command and its audit entry, both or neither
        command = request_command(device.site.code, device.device_id, cmd, {}, actor=user.username)
        audit.record(user.username, "device.command", device.device_id, {"cmd": cmd, "id": command.id})
    notice = _("命令已排队，签名后发送给终端：%(cmd)s") % {"cmd": command_label(cmd)}
    if request.htmx:
        return render(request, "console/_command_panel.html", {**_device_context(request, device), "notice": notice})
    messages.success(request, notice)
    return redirect("console:device", device_id=device.device_id)


def command_label(cmd: str) -> str:
    return {"open_door": _("远程开门"), "resync": _("重新同步名册"), "purge_employee": _("清除员工"),
            "set_setting": _("修改设置")}.get(cmd, cmd)


# -- events and audit ------------------------------------------------------------------------------
@require_GET
@console_view
def events(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    device_choices = [(d.device_id, d.name or d.device_id) for d in scope.devices(user)]
    form = EventFilterForm(device_choices, selectors.event_kinds(user), request.GET or None)
    since = None
    if form.is_valid():
        if form.cleaned_data["since"]:
            try:
                since = parse_since(form.cleaned_data["since"])
            except ValueError:
                form.add_error("since", _("请输入 24h、7d 这样的时长，或 2026-03-01 这样的日期"))
        rows = selectors.events(user, form.cleaned_data["device"], form.cleaned_data["kind"], since)
    else:
        rows = selectors.events(user)
    return render(request, "console/events.html", {
        "nav": "events", "form": form, "page": page_of(request, rows, 50), "query": query_without_page(request)})


@require_GET
@console_view
def audit_log(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    require(scope.can_see_audit(user))
    rows = scope.audit_entries(user)
    actor = request.GET.get("actor", "").strip()
    action = request.GET.get("action", "").strip()
    if actor:
        rows = rows.filter(actor=actor)
    if action:
        rows = rows.filter(action__startswith=action)
    return render(request, "console/audit.html", {
        "nav": "audit", "check": audit.verify(), "page": page_of(request, rows.order_by("-seq"), 50),
        "actor": actor, "action": action, "query": query_without_page(request)})


# -- API tokens (each user's own) ------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@console_view
def tokens(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    form = TokenForm(request.POST or None)
    clear = None
    if request.method == "POST" and form.is_valid():
        token, clear = create_token(user, form.cleaned_data["name"], actor=user.username)
        form = TokenForm()
    rows = ApiToken.objects.filter(user=user).order_by("-created_at")
    # the clear token is in this one response only: never stored, never shown again
    return render(request, "console/tokens.html", {"nav": "tokens", "form": form, "tokens": rows, "clear": clear})


@require_POST
@console_view
def token_revoke(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=pk, user=request.user)
    revoke_token(token, actor=request.user.username)
    messages.success(request, _("令牌 %(name)s 已吊销") % {"name": token.name})
    return redirect(reverse("console:tokens"))
