"""Attendance console pages: shifts and overtime rules, rotations and their calendar preview, assignments,
holiday calendars, each employee's month, and requests (leave, make-up punches, overtime) with their approval.
Thin views: reads through :mod:`central.attendance.selectors`
(people through :mod:`central.accounts.scope`), writes through :mod:`central.attendance.services`.

Shift types, overtime rules and rotations are company-wide: every staff role reads them, superusers and HR
admins change them. Assignments, calendars and months are about people and sites, so scope applies: a row
outside it is a 404, an action the role may not take a 403.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from central.accounts import scope
from central.accounts.models import Role, User
from central.attendance import (
    closing,
    confirmations,
    evidence,
    leave_balances,
    leave_returns,
    makeup_rules,
    request_selectors,
    selectors,
    services,
    shift_changes,
)
from central.attendance import team_schedule as team
from central.attendance.forms import (
    MAX_PATTERN_DAYS,
    REST,
    WEEKDAY_LABELS,
    AllowanceForm,
    AssignmentForm,
    AttendanceProfileForm,
    CalendarDayForm,
    CalendarForm,
    EvidenceForm,
    LeaveEntryForm,
    LeaveReturnForm,
    LeaveTypeForm,
    MakeupRequestForm,
    ManualRecordForm,
    OvertimeAskForm,
    OvertimeRuleForm,
    RotationForm,
    ShiftChangeEntryForm,
    ShiftChangeForm,
    ShiftForm,
    TeamDayForm,
    uploaded_evidence,
)
from central.attendance.models import (
    CalendarDay,
    ClosedMonth,
    DailyRecord,
    LeaveRecord,
    LeaveType,
    MakeupPunch,
    MonthConfirmation,
    OvertimeRequest,
    OvertimeRule,
    Rotation,
    ShiftChange,
    ShiftType,
)
from central.attendance.overtime_requests import file_overtime
from central.attendance.requests import (
    DECISIONS,
    DecisionRefused,
    attach_evidence,
    decide_as,
    file_leave,
    file_makeup_punch,
    record_leave,
    withdraw,
)
from central.attendance.services import AttendanceError, ScheduleError
from central.console.templatetags.console_tags import in_language
from central.console.views import AuthedHttpRequest, console_view, page_of, query_without_page, require
from central.people.models import Employee, Site

STAFF_ROLES = (Role.HR_ADMIN, Role.MANAGER, Role.AUDITOR)
M = TypeVar("M", ShiftType, OvertimeRule, Rotation, LeaveType)
F = TypeVar("F", bound=forms.BaseForm)


def _require_staff(request: AuthedHttpRequest) -> None:
    """Schedules are for staff: an employee sees only their own month."""
    user = request.user
    require(user.is_superuser or user.role in STAFF_ROLES)


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


def _refused(form: forms.BaseForm, exc: Exception) -> None:
    field = getattr(exc, "field", "")
    aliases = {"breaks": "breaks_text", "shift": "schedule", "rotation": "schedule"}
    field = aliases.get(field, field)
    form.add_error(field if field in form.fields else None, str(exc))



def _editing(request: AuthedHttpRequest, model: type[M]) -> M | None:
    """The company-wide row a form edits (``?edit=`` on GET, ``id`` on POST), or None for a new one."""
    edit_id = _int(request.POST.get("id") if request.method == "POST" else request.GET.get("edit"))
    return None if edit_id is None else get_object_or_404(model, pk=edit_id)


def _saved(request: AuthedHttpRequest, form: F | None, save: Callable[[F], Any], message: str,
           to: Callable[[Any], str]) -> HttpResponse | None:
    """Save a valid company-wide form and redirect; None renders the page again (a refusal shows on its field).

    ``form`` is None for roles that only read: their POST is refused.
    """
    if form is None:
        if request.method == "POST":
            raise PermissionDenied
        return None
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        saved = save(form)
    except (ScheduleError, scope.ScopeDenied) as exc:
        _refused(form, exc)
        return None
    messages.success(request, message % {"name": saved.name})
    return redirect(to(saved))


# -- shifts and overtime rules ---------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@console_view
def shifts(request: AuthedHttpRequest) -> HttpResponse:
    _require_staff(request)
    user = request.user
    editing = _editing(request, ShiftType)
    form = ShiftForm(request.POST or None, instance=editing or ShiftType()) if scope.can_manage(user) else None
    done = _saved(request, form, lambda f: services.save_shift(user, f.values(), editing),
                  _("已保存班次 %(name)s / Shift %(name)s saved"), lambda _row: reverse("console:attendance_shifts"))
    if done:
        return done
    rows = [{"shift": s, "length": selectors.shift_length_h(s), "breaks": selectors.breaks_text(s.breaks)}
            for s in selectors.shift_list()]
    return render(request, "console/attendance/shifts.html", {
        "nav": "attendance_shifts", "rows": rows, "form": form, "editing": editing})


@require_http_methods(["GET", "POST"])
@console_view
def overtime(request: AuthedHttpRequest) -> HttpResponse:
    _require_staff(request)
    user = request.user
    editing = _editing(request, OvertimeRule)
    form = OvertimeRuleForm(request.POST or None, instance=editing or OvertimeRule()) if scope.can_manage(user) else None
    done = _saved(request, form, lambda f: services.save_overtime_rule(user, f.cleaned_data, editing),
                  _("已保存加班规则 %(name)s / Overtime rule %(name)s saved"),
                  lambda _row: reverse("console:attendance_overtime"))
    if done:
        return done
    return render(request, "console/attendance/overtime.html", {
        "nav": "attendance_shifts", "rules": selectors.overtime_rules(), "form": form, "editing": editing})


@require_http_methods(["GET", "POST"])
@console_view
def leave_types(request: AuthedHttpRequest) -> HttpResponse:
    _require_staff(request)
    user = request.user
    editing = _editing(request, LeaveType)
    form = LeaveTypeForm(request.POST or None, instance=editing or LeaveType()) if scope.can_manage(user) else None
    done = _saved(request, form, lambda f: services.save_leave_type(user, f.cleaned_data, editing),
                  _("已保存假别 %(name)s / Leave type %(name)s saved"),
                  lambda _row: reverse("console:attendance_leave_types"))
    if done:
        return done
    return render(request, "console/attendance/leave_types.html", {
        "nav": "attendance_shifts", "types": selectors.leave_types(), "form": form, "editing": editing})


# -- rotations -----------------------------------------------------------------------------------------
def _pattern_slots(request: AuthedHttpRequest, form: RotationForm, editing: Rotation | None) -> list[str]:
    """The value of each day's select: what was typed, else the rotation's pattern, then empty days to add."""
    if form.is_bound:
        values = [v for v in request.POST.getlist("pattern") if v]
    elif editing is not None:
        values = [REST if x is None else str(x) for x in editing.pattern or []]
    else:
        values = []
    wanted = _int(request.GET.get("days")) or 0
    count = min(MAX_PATTERN_DAYS, max(len(values) + 4, 14, wanted))
    return (values + [""] * count)[:max(count, len(values))]


@require_http_methods(["GET", "POST"])
@console_view
def rotations(request: AuthedHttpRequest) -> HttpResponse:
    _require_staff(request)
    user = request.user
    editing = _editing(request, Rotation)
    form = None
    if scope.can_manage(user):
        initial = {"name": editing.name, "anchor": editing.anchor} if editing else {"anchor": timezone.localdate()}
        form = RotationForm(request.POST or None, initial=initial)
    done = _saved(request, form, lambda f: services.save_rotation(user, f.cleaned_data["name"], f.cleaned_data["anchor"],
                                                                  f.cleaned_data["pattern"], editing),
                  _("已保存轮班 %(name)s / Rotation %(name)s saved"),
                  lambda row: f"{reverse('console:attendance_rotation_preview')}?rotation={row.pk}")
    if done:
        return done
    context: dict[str, Any] = {"nav": "attendance_rotations", "rows": selectors.rotation_list(), "form": form,
                               "editing": editing, "shifts": list(ShiftType.objects.order_by("start", "name")),
                               "rest": REST}
    if form is not None:
        context["slots"] = _pattern_slots(request, form, editing)
    return render(request, "console/attendance/rotations.html", context)


@require_GET
@console_view
def rotation_preview(request: AuthedHttpRequest) -> HttpResponse:
    _require_staff(request)
    all_rotations = list(Rotation.objects.order_by("name"))
    chosen = _int(request.GET.get("rotation"))
    rotation = next((r for r in all_rotations if r.pk == chosen), None)
    if chosen is not None and rotation is None:
        raise Http404
    rotation = rotation or (all_rotations[0] if all_rotations else None)
    first = selectors.parse_month(request.GET.get("month"))
    context: dict[str, Any] = {"nav": "attendance_rotations", "rotations": all_rotations, "rotation": rotation,
                               "first": first, "previous": selectors.shift_month(first, -1),
                               "next": selectors.shift_month(first, 1)}
    if rotation is not None:
        context["preview"] = preview = selectors.rotation_preview(request.user, rotation, first)
        context["day_heads"] = [(d, WEEKDAY_LABELS[d.weekday()][1]) for d in preview["days"]]
    partial = bool(request.htmx and request.htmx.target == "preview")
    response = render(request, "console/attendance/_preview.html" if partial else "console/attendance/rotation_preview.html",
                      context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def _change_recorded(form: ShiftChangeEntryForm, employee: Employee, actor: str) -> bool:
    """Record the agreed shift change a valid form gives for ``employee``; a refusal lands on the form (False)."""
    data = form.cleaned_data
    try:
        shift_changes.record_change(employee, data["start"], data["end"], form.chosen_shift, reason=data["reason"],
                                    actor=actor)
    except AttendanceError as exc:
        _refused(form, exc)
        return False
    return True


# -- a department's schedule (排班表) -----------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@console_view
def team_schedule(request: AuthedHttpRequest) -> HttpResponse:
    """A department's month as planned; HR changes a day of an employee from it (a shift change recorded as agreed).
    A cell links to its day: the form below opens on that employee and day."""
    _require_staff(request)
    user = request.user
    params = request.POST if request.method == "POST" else request.GET
    departments = team.departments(user)
    chosen = _int(params.get("department"))
    department = next((d for d in departments if d.pk == chosen), None)
    if chosen is not None and department is None:
        raise Http404
    department = department or (departments[0] if departments else None)
    first = selectors.parse_month(params.get("month"))
    form = None
    staff = team.team_employees(user, department) if department is not None else []
    if department is not None and scope.can_manage(user):
        managed: dict[tuple[int, int | None], bool] = {}  # one scope check per site and department, not per person
        for emp in staff:
            if (emp.site_id, emp.department_id) not in managed:
                managed[emp.site_id, emp.department_id] = _manages_employee(user, emp)
        day = request.GET.get("day", "")
        form = TeamDayForm([emp for emp in staff if managed[emp.site_id, emp.department_id]], request.POST or None,
                           prefix="change", initial={
            "employee": request.GET.get("edit", ""), "start": day if day[:7] == f"{first:%Y-%m}" else ""})
        if request.method == "POST" and form.is_valid() and _change_recorded(form, form.chosen_employee, user.username):
            data, employee = form.cleaned_data, form.chosen_employee
            messages.success(request, _("已为 %(name)s 登记 %(start)s 至 %(end)s 的调班 / Shift change recorded for "
                                        "%(name)s from %(start)s to %(end)s") % {
                "name": employee.name, "start": data["start"].isoformat(), "end": data["end"].isoformat()})
            return redirect(f"{reverse('console:attendance_team')}?department={department.pk}&month={data['start']:%Y-%m}")
    elif request.method == "POST":
        raise PermissionDenied
    context: dict[str, Any] = {"nav": "attendance_team", "departments": departments, "department": department,
                               "first": first, "previous": selectors.shift_month(first, -1),
                               "next": selectors.shift_month(first, 1), "form": form}
    if department is not None:
        context["month"] = month = team.team_month(user, department, first, staff)
        context["day_heads"] = [(d, WEEKDAY_LABELS[d.weekday()][1]) for d in month.days]
    return render(request, "console/attendance/team_schedule.html", context)


# -- assignments ---------------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@console_view
def assignments(request: AuthedHttpRequest) -> HttpResponse:
    _require_staff(request)
    user = request.user
    form = None
    if scope.can_manage(user):
        form = AssignmentForm(user, request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            began = timezone.now()
            try:
                services.create_assignment(user, start=data["start"], end=data.get("end"),
                                           employee=data.get("employee_row"), department=data.get("department_row"),
                                           shift=data.get("shift_row"), rotation=data.get("rotation_row"))
            except (ScheduleError, scope.ScopeDenied) as exc:
                _refused(form, exc)
            else:
                messages.success(request, _("已排班，过去的考勤正在后台重新计算，进度见上方 / Assigned; past days are being "
                                            "recomputed in the background, the progress is shown above")
                                 if selectors.recompute_queued(user.username, began)
                                 else _("已排班，过去的考勤已重新计算 / Assigned; past days were recomputed"))
                return redirect("console:attendance_assignments")
    elif request.method == "POST":
        raise PermissionDenied
    q = request.GET.get("q", "")[:100]
    site = request.GET.get("site", "")[:64]
    department = request.GET.get("department", "")[:12]
    schedule = request.GET.get("schedule", "")[:20]
    rows = selectors.assignments(user, q=q, site=site, department=department, schedule=schedule)
    context = {"nav": "attendance_assignments", "form": form, "page": page_of(request, rows),
               "q": q, "site": site, "department": department, "schedule": schedule,
               "sites": scope.sites(user), "departments": scope.departments(user).select_related("site")
               .order_by("site__code", "name"),
               "schedule_choices": [(f"shift-{s.pk}", s.name) for s in ShiftType.objects.order_by("start", "name")]
               + [(f"rotation-{r.pk}", r.name) for r in Rotation.objects.order_by("name")],
               "can_manage": scope.can_manage(user), "query": query_without_page(request),
               "hx_target": "assignment-results"}
    partial = bool(request.htmx and request.htmx.target == "assignment-results")
    response = render(request, "console/attendance/_assignment_results.html" if partial
                      else "console/attendance/assignments.html", context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


@require_POST
@console_view
def assignment_delete(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    pk = _int(request.POST.get("id"))
    row = selectors.assignment_in_scope(user, pk) if pk is not None else None
    if row is None:
        raise Http404
    require(scope.can_manage(user))
    began = timezone.now()
    try:
        services.delete_assignment(user, row)
    except ScheduleError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("已删除排班，过去的考勤正在后台重新计算，进度见上方 / Assignment removed; past days "
                                    "are being recomputed in the background, the progress is shown above")
                         if selectors.recompute_queued(user.username, began)
                         else _("已删除排班，过去的考勤已重新计算 / Assignment removed; past days were recomputed"))
    return redirect("console:attendance_assignments")


# -- holiday calendars ---------------------------------------------------------------------------------
def _picked_site(request: AuthedHttpRequest) -> tuple[list[Site], Site | None]:
    """The sites the user sees, and the one a page of one site shows: the one named by ``site`` (404 when it is not
    among them, or when a POST names none), else the first."""
    visible = list(scope.sites(request.user).order_by("code"))
    code = (request.POST.get("site") if request.method == "POST" else request.GET.get("site")) or ""
    site = next((s for s in visible if s.code == code), None)
    if (code or request.method == "POST") and site is None:
        raise Http404
    return visible, site or (visible[0] if visible else None)


@require_http_methods(["GET", "POST"])
@console_view
def calendars(request: AuthedHttpRequest) -> HttpResponse:
    _require_staff(request)
    user = request.user
    visible, site = _picked_site(request)
    year = _int(request.GET.get("year")) or timezone.localdate().year
    year = year if 2000 <= year <= 2100 else timezone.localdate().year
    manage = site is not None and _manages_site(user, site)
    calendar = selectors.calendar_of(site) if site else None
    settings_form = day_form = None
    if manage and site is not None and calendar is not None:
        action = request.POST.get("action") if request.method == "POST" else ""
        settings_form = CalendarForm(request.POST if action == "settings" else None,
                                     initial={"weekly_rest": calendar.weekly_rest, "final_wait_h": calendar.final_wait_h,
                                              "late_allowance_times": calendar.late_allowance_times,
                                              "late_allowance_min": calendar.late_allowance_min,
                                              "makeup_per_month": calendar.makeup_per_month,
                                              "makeup_within_days": calendar.makeup_within_days})
        day_form = CalendarDayForm(request.POST if action == "add_day" else None)
        back = f"{reverse('console:attendance_calendars')}?site={site.code}&year={year}"
        try:
            if action == "settings" and settings_form.is_valid():
                chosen = settings_form.cleaned_data
                services.save_site_calendar(user, site, chosen["weekly_rest"], chosen["final_wait_h"],
                                            late_allowance=(chosen["late_allowance_times"] or 0,  # empty: none
                                                            chosen["late_allowance_min"] or 0),
                                            makeup_limits=(chosen["makeup_per_month"] or 0,
                                                           chosen["makeup_within_days"] or 0))
                messages.success(request, _("已保存 %(site)s 的日历 / Calendar of %(site)s saved") % {"site": site})
                return redirect(back)
            if action == "add_day" and day_form.is_valid():
                saved = services.add_calendar_day(user, site, day_form.cleaned_data["date"], day_form.cleaned_data["kind"],
                                                  day_form.cleaned_data["name"])
                messages.success(request, _("已添加 %(day)s / %(day)s added") % {"day": saved.date.isoformat()})
                return redirect(f"{reverse('console:attendance_calendars')}?site={site.code}&year={saved.date.year}")
            if action == "remove_day":
                row = get_object_or_404(CalendarDay, pk=_int(request.POST.get("id")) or 0, site=site)
                services.remove_calendar_day(user, row)
                messages.success(request, _("已删除 %(day)s / %(day)s removed") % {"day": row.date.isoformat()})
                return redirect(back)
        except ScheduleError as exc:
            _refused(day_form if action == "add_day" else settings_form, exc)
    elif request.method == "POST":
        raise PermissionDenied
    return render(request, "console/attendance/calendars.html", {
        "nav": "attendance_calendars", "sites": visible, "site": site, "calendar": calendar, "year": year,
        "days": selectors.calendar_days(site, year) if site else [], "settings_form": settings_form,
        "day_form": day_form, "manage": manage, "rest_labels": _rest_labels(calendar)})


# -- closing a month (月结) ----------------------------------------------------------------------------------
class MonthCloseForm(forms.Form):
    """One row's button on the month-close page: close a month (with an optional note) or reopen it (the reason is
    required by :func:`central.attendance.closing.reopen_month`, whose refusal lands on the reason)."""
    action = forms.ChoiceField(choices=[("close", "close"), ("reopen", "reopen")])
    month = forms.CharField(required=False)  # what it may be: clean_month, which says so for anything else
    note = forms.CharField(max_length=500, required=False, strip=True)
    reason = forms.CharField(max_length=200, required=False, strip=True)

    def clean_month(self) -> date:
        """``YYYY-MM`` (or a day of the month, ``YYYY-MM-DD``) as the month's first day."""
        parts = self.cleaned_data["month"].strip()[:11].split("-")
        if len(parts) in (2, 3) and all(p.isascii() and p.isdigit() and len(p) <= 4 for p in parts):
            year, month = int(parts[0]), int(parts[1])
            if 2000 <= year <= 2100 and 1 <= month <= 12:
                try:
                    return date(year, month, int(parts[2]) if len(parts) == 3 else 1).replace(day=1)
                except ValueError:
                    pass
        raise forms.ValidationError(_("月份无效，应为 YYYY-MM / Not a valid month: use YYYY-MM"))


HELD_STATUS = dict(DailyRecord.STATUSES)


def _held_line(line: dict[str, Any]) -> dict[str, Any]:
    """A held change as the page lists it: the statuses as words (None: no record)."""
    def status(value: Any) -> str:
        return str(HELD_STATUS.get(value, value)) if value else _("无记录 No record")

    return {**line, "from_label": status(line.get("from")), "to_label": status(line.get("to"))}


def _closing_rows(states: list[closing.Readiness], form: MonthCloseForm | None) -> list[dict[str, Any]]:
    """The site's recent months as the page shows them, the refusal of a form just posted on its own month."""
    closers = {state.closed.closed_by for state in states if state.closed is not None}
    names = {u.username: u.get_full_name() for u in User.objects.filter(username__in=closers)}
    posted = form.cleaned_data.get("month") if form is not None and form.is_bound and form.errors else None
    rows = []
    for state in states:
        held = (state.closed.held or []) if state.closed is not None else []
        if state.closed is not None:
            kind = "closed"
        elif state.ready:
            kind = "ready"
        elif not state.ended:
            kind = "in_progress"
        else:
            kind = "not_ready"
        mine = form is not None and posted == state.month
        rows.append({"state": state, "kind": kind, "month": f"{state.month:%Y-%m}",
                     "label": in_language(" / ".join(closing.month_text(state.month))),
                     "who": _who(state.closed.closed_by, names) if state.closed is not None else "",
                     "held": [_held_line(line) for line in held], "held_capped": len(held) >= closing.HELD_KEPT,
                     "blockers": [in_language(b) for b in state.blockers],
                     "errors": _errors(form) if mine and form is not None else [],
                     "typed": form.data if mine and form is not None else {}})
    return rows


def _who(username: str, names: dict[str, str]) -> str:
    """Who closed a month: the user's name and username, or the username alone."""
    name = names.get(username, "")
    return f"{name} ({username})" if name and name != username else username


def _errors(form: forms.BaseForm) -> list[str]:
    return [str(error) for errors in form.errors.values() for error in errors]


@require_http_methods(["GET", "POST"])
@console_view
def month_close(request: AuthedHttpRequest) -> HttpResponse:
    """A site's recent months and whether each can be closed (月结); HR admins of the site and superusers close a ready
    month or reopen a closed one (with a reason), through :mod:`central.attendance.closing`."""
    _require_staff(request)
    user = request.user
    visible, site = _picked_site(request)
    manage = site is not None and _manages_site(user, site)
    form: MonthCloseForm | None = None
    if request.method == "POST":
        if not manage or site is None:
            raise PermissionDenied
        form = MonthCloseForm(request.POST)
        if form.is_valid():
            month: date = form.cleaned_data["month"]
            label = in_language(" / ".join(closing.month_text(month)))
            try:
                if form.cleaned_data["action"] == "close":
                    closing.close_month(user, site, month, note=form.cleaned_data["note"])
                    message = _("%(month)s已月结 / %(month)s closed") % {"month": label}
                else:
                    closing.reopen_month(user, site, month, reason=form.cleaned_data["reason"])
                    message = _("%(month)s已重新开放，正在重新计算，进度见上方 / %(month)s reopened; it is being "
                                "recomputed, the progress is shown above") % {"month": label}
            except AttendanceError as exc:
                form.add_error("reason" if exc.field == "reason" else None, in_language(str(exc)))
            else:
                messages.success(request, message)
                return redirect(f"{reverse('console:attendance_closing')}?site={site.code}")
    rows = _closing_rows(closing.recent_months(site), form) if site is not None else []
    shown = any(row["errors"] for row in rows)  # a refusal on a month not listed: above the table
    return render(request, "console/attendance/closing.html", {
        "nav": "attendance_closing", "sites": visible, "site": site, "manage": manage, "rows": rows,
        "errors": _errors(form) if form is not None and not shown else []})


def _manages_site(user: Any, site: Site) -> bool:
    try:
        scope.check_site_allowed(user, site)
    except scope.ScopeDenied:
        return False
    return True


def _rest_labels(calendar: Any) -> list[str]:
    rest = set(calendar.weekly_rest or []) if calendar is not None else set()
    return [str(label) for day, label in WEEKDAY_LABELS if day in rest]


# -- each employee's month -----------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@console_view
def employee_month(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    user = request.user
    employee = get_object_or_404(scope.employees(user).select_related("site", "department"), pk=pk)
    first = selectors.parse_month(request.POST.get("month") if request.method == "POST" else request.GET.get("month"))
    can_add = scope.can_manage(user) and _manages_employee(user, employee)
    form = leave_form = profile_form = allowance_form = change_form = return_form = None
    leaves = selectors.month_leaves(employee, first)
    # the month's confirmation (考勤确认): the employee's own confirm or dispute, HR's answer; every other POST below
    own = user.employee_id == employee.pk
    confirmation, done = _confirmation(request, employee, first, own=own, answers=can_add and not own)
    if done is not None:
        return done
    if can_add:
        posted = request.POST if request.method == "POST" else None
        # which form: "leave", "shift", "profile", "allowance", "" manual (confirm, dispute, answer: _confirmation)
        kind = posted.get("kind", "") if posted is not None else None
        leave_post = kind == "leave"
        form = ManualRecordForm(posted if kind == "" else None,
                                initial={"date": min(timezone.localdate(), selectors.month_end(first))})
        leave_form = LeaveEntryForm(posted if leave_post else None, request.FILES if leave_post else None, prefix="leave")
        profile_form = AttendanceProfileForm(posted if kind == "profile" else None, prefix="profile",
                                             initial=selectors.profile_initial(employee))
        allowance_form = AllowanceForm(posted if kind == "allowance" else None, prefix="allowance",
                                       initial={"year": first.year})
        change_form = ShiftChangeEntryForm(posted if kind == "shift" else None, prefix="shift")
        approved = [leave for leave in leaves if leave.state == "approved"]
        return_form = LeaveReturnForm(approved, posted if kind == "leave_return" else None, prefix="back") if approved else None
        if kind == "leave_return" and return_form is not None and return_form.is_valid():
            data = return_form.cleaned_data
            try:
                leave_returns.end_leave_early(user, return_form.chosen_leave, data["back_on"], reason=data["reason"])
            except AttendanceError as exc:
                _refused(return_form, exc)
            else:
                messages.success(request, _("已销假：%(day)s 起回来上班 / Back from leave on %(day)s")
                                 % {"day": data["back_on"].isoformat()})
                return redirect(f"{reverse('console:attendance_month', args=[employee.pk])}?month={first:%Y-%m}")
        if kind == "shift" and change_form.is_valid() and _change_recorded(change_form, employee, user.username):
            data = change_form.cleaned_data
            messages.success(request, _("已登记 %(start)s 至 %(end)s 的调班 / Shift change recorded from %(start)s to "
                                        "%(end)s") % {"start": data["start"].isoformat(), "end": data["end"].isoformat()})
            return redirect(f"{reverse('console:attendance_month', args=[employee.pk])}?month={data['start']:%Y-%m}")
        elif kind == "allowance" and allowance_form.is_valid():
            data = allowance_form.cleaned_data
            try:
                leave_balances.set_allowance(user, employee, allowance_form.leave_type_row(), data["year"],
                                             data["days"])
            except AttendanceError as exc:
                _refused(allowance_form, exc)
            else:
                messages.success(request, _("已保存 %(year)s 年的假期额度 / Leave allowance for %(year)s saved")
                                 % {"year": data["year"]})
                return redirect(f"{reverse('console:attendance_month', args=[employee.pk])}?month={first:%Y-%m}")
        elif kind == "profile" and profile_form.is_valid():
            try:
                services.save_attendance_profile(user, employee, profile_form.values())
            except AttendanceError as exc:
                _refused(profile_form, exc)
            else:
                messages.success(request, _("已保存考勤设置 / Attendance settings saved"))
                return redirect(f"{reverse('console:attendance_month', args=[employee.pk])}?month={first:%Y-%m}")
        elif leave_post and leave_form.is_valid():
            span = _leave_posted(leave_form, employee, record_leave, user.username)
            if span:
                messages.success(request, _("已登记 %(start)s 至 %(end)s 的请假 / Leave recorded from %(start)s to %(end)s")
                                 % span)
                return redirect(f"{reverse('console:attendance_month', args=[employee.pk])}?month={span['start'][:7]}")
        elif kind == "" and form.is_valid():
            day: date = form.cleaned_data["date"]
            try:
                services.add_manual_record(employee, day, form.cleaned_data["status"],
                                           reason=form.cleaned_data["reason"], actor=user.username,
                                           shift=form.shift_row())
            except AttendanceError as exc:
                _refused(form, exc)
            else:
                messages.success(request, _("已为 %(day)s 添加手工记录 / Manual record added for %(day)s")
                                 % {"day": day.isoformat()})
                return redirect(f"{reverse('console:attendance_month', args=[employee.pk])}?month={day:%Y-%m}")
    elif request.method == "POST" and request.POST.get("kind") not in CONFIRMATION_KINDS:
        raise PermissionDenied
    month = selectors.employee_month(user, employee, first)
    return render(request, "console/attendance/month.html", {
        "nav": "attendance_month" if user.employee_id == employee.pk else "employees", "employee": employee,
        "form": form, "leave_form": leave_form, "profile_form": profile_form, "allowance_form": allowance_form,
        "change_form": change_form, "return_form": return_form, "leaves": leaves,
        "balances": leave_balances.balances(employee, [first.year]),
        "closed_month": ClosedMonth.objects.filter(site_id=employee.site_id, month=first).first(),
        "confirmation": confirmation, "weekday_labels": [label for day, label in WEEKDAY_LABELS], **month})


# -- the employee's confirmation of their month (考勤确认) ---------------------------------------------------------
CONFIRMATION_KINDS = ("confirm", "dispute", "answer")  # ``kind`` of the month page's confirmation forms


class DisputeForm(forms.Form):
    """What the employee says is wrong with their month (required: :func:`confirmations.dispute` refuses it empty, on
    this field)."""
    note = forms.CharField(label=gettext_lazy("哪里不对 What is wrong"), max_length=confirmations.MAX_NOTE,
                           required=False, widget=forms.Textarea(attrs={"rows": 3, "required": True}))


class AnswerForm(forms.Form):
    """HR's answer to the employee's dispute (required: :func:`confirmations.answer` refuses it empty, on this
    field)."""
    answer = forms.CharField(label=gettext_lazy("答复 Answer"), max_length=confirmations.MAX_NOTE, required=False,
                             widget=forms.Textarea(attrs={"rows": 3, "required": True}))


def _confirmation(request: AuthedHttpRequest, employee: Employee, first: date, *, own: bool,
                  answers: bool) -> tuple[dict[str, Any] | None, HttpResponse | None]:
    """The month's 考勤确认 card (None while the month is not over) and, once a confirmation posted on the page
    (``kind`` confirm or dispute: the employee themself; answer: HR who manage them) is saved, the redirect back to
    the month. A refusal is shown on the card; a confirmation posted by anyone else is a 403."""
    kind = request.POST.get("kind", "") if request.method == "POST" else ""
    posted = request.POST if kind in CONFIRMATION_KINDS else None
    if posted is not None and not (answers if kind == "answer" else own):
        raise PermissionDenied
    row = confirmations.of(employee, first)
    dispute_form = DisputeForm(posted if kind == "dispute" else None, prefix="confirmation") if own else None
    answer_form = AnswerForm(posted if kind == "answer" else None, prefix="confirmation") if answers else None
    errors: list[str] = []
    if posted is not None:
        form: forms.Form | None = dispute_form if kind == "dispute" else answer_form if kind == "answer" else None
        if form is None or form.is_valid():
            done = _confirmation_saved(request, employee, first, kind, row, form, errors)
            if done is not None:
                return None, done
    refused = bool(errors) or any(f is not None and f.is_bound and f.errors for f in (dispute_form, answer_form))
    if not refused and not confirmations.month_over(employee, first):
        return None, None
    names = {u.username: u.get_full_name() for u in User.objects.filter(username=row.answered_by)} if row else {}
    return {"row": row, "own": own, "errors": errors, "dispute_form": dispute_form,
            "answer_form": answer_form if answer_form is not None and (
                answer_form.is_bound or (row is not None and row.state == MonthConfirmation.DISPUTED)) else None,
            "answered_by": _who(row.answered_by, names) if row is not None and row.answered_by else ""}, None


def _confirmation_saved(request: AuthedHttpRequest, employee: Employee, first: date, kind: str,
                        row: MonthConfirmation | None, form: forms.Form | None, errors: list[str]) -> HttpResponse | None:
    """Confirm, dispute or answer through :mod:`central.attendance.confirmations`; the redirect once saved, or None
    with the refusal on ``form``'s field it names (else in ``errors``)."""
    user = request.user
    label = in_language(" / ".join(closing.month_text(first)))
    data = form.cleaned_data if form is not None else {}
    try:
        if kind == "confirm":
            confirmations.confirm(user, first)
            message = _("已确认%(month)s的考勤无误 / You confirmed your attendance for %(month)s") % {"month": label}
        elif kind == "dispute":
            confirmations.dispute(user, first, data.get("note", ""))
            message = _("已提交对%(month)s考勤的异议，等待人事答复 / Your dispute of %(month)s is sent: HR will answer it"
                        ) % {"month": label}
        else:
            if row is None:
                raise AttendanceError(_("这个月没有待答复的异议 / No dispute of this month waits for an answer"))
            confirmations.answer(user, row, data.get("answer", ""))
            message = _("已答复%(name)s对%(month)s考勤的异议 / You answered %(name)s's dispute of %(month)s") % {
                "name": employee.name, "month": label}
    except AttendanceError as exc:
        if form is not None and exc.field in form.fields:
            form.add_error(exc.field, in_language(str(exc)))
        else:
            errors.append(in_language(str(exc)))
        return None
    messages.success(request, message)
    return redirect(f"{reverse('console:attendance_month', args=[employee.pk])}?month={first:%Y-%m}")


def _leave_posted(form: LeaveEntryForm, employee: Employee, file: Callable[..., Any], actor: str) -> dict[str, str] | None:
    """A valid leave form through ``file`` (HR's ``record_leave``, an employee's ``file_leave``): its first and last
    day for the message, or None with the refusal shown on the form."""
    data = form.cleaned_data
    try:
        file(employee, form.leave_type_row(), data["start"], data["end"], half_day=data["half_day"],
             reason=data["reason"], actor=actor, evidence=uploaded_evidence(form))
    except AttendanceError as exc:
        _refused(form, exc)
        return None
    return {"start": data["start"].isoformat(), "end": data["end"].isoformat()}


def _manages_employee(user: Any, employee: Employee) -> bool:
    try:
        scope.check_site_allowed(user, employee.site, employee.department)
    except scope.ScopeDenied:
        return False
    return True


# -- queued recomputes ----------------------------------------------------------------------------------------
@require_GET
@console_view
def recompute_jobs(request: AuthedHttpRequest) -> HttpResponse:
    """The recompute progress shown above the attendance pages, fetched again every 2 s while one runs."""
    _require_staff(request)
    return render(request, "console/attendance/_recompute_jobs.html",
                  {"jobs": selectors.recompute_jobs_shown(timezone.now())})


# -- requests and their approval -------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@console_view
def requests_page(request: AuthedHttpRequest) -> HttpResponse:
    """Everyone with an employee record asks for leave and make-up punches here; managers, HR admins and
    superusers see the requests of the employees in their scope and decide them (:func:`request_decide`)."""
    user = request.user
    own = user.employee if user.employee_id else None
    leave_form = makeup_form = shift_form = overtime_form = None
    if own is not None:
        posted = request.POST if request.method == "POST" else None
        kind = posted.get("kind", "") if posted is not None else None
        files = request.FILES if posted is not None else None
        leave_form = LeaveEntryForm(posted if kind == "leave" else None, files if kind == "leave" else None, prefix="leave")
        makeup_form = MakeupRequestForm(posted if kind == "makeup" else None, files if kind == "makeup" else None,
                                        prefix="makeup", initial={
            "at": f"{request_selectors.default_makeup_day():%Y-%m-%d}T18:00"})
        shift_form = ShiftChangeForm(posted if kind == "shift" else None, prefix="shift")
        overtime_form = OvertimeAskForm(posted if kind == "overtime" else None, prefix="overtime")
        if kind == "overtime" and overtime_form.is_valid():
            data = overtime_form.cleaned_data
            try:
                file_overtime(own, data["date"], overtime_form.minutes(), reason=data["reason"], actor=user.username,
                              in_lieu=data["in_lieu"])
            except AttendanceError as exc:
                _refused(overtime_form, exc)
            else:
                messages.success(request, _("已提交 %(day)s 的加班申请，等待审批 / Overtime on %(day)s asked for, waiting "
                                            "for approval") % {"day": data["date"].isoformat()})
                return redirect("console:attendance_requests")
        if kind == "shift" and shift_form.is_valid() and _shift_change_posted(shift_form, own, user.username):
            messages.success(request, _("已提交调班申请 / Shift change asked for") if shift_form.cleaned_data["mode"] == "change"
                             else _("已向同事发出换班邀请，同意后交经理审批 / Swap asked of your colleague: once they "
                                    "agree it goes to a manager"))
            return redirect("console:attendance_requests")
        if kind == "leave" and leave_form.is_valid():
            span = _leave_posted(leave_form, own, file_leave, user.username)
            if span:
                messages.success(request, _("已提交 %(start)s 至 %(end)s 的请假，等待审批 / Leave from %(start)s to %(end)s "
                                            "asked for, waiting for approval") % span)
                return redirect("console:attendance_requests")
        elif kind == "makeup" and makeup_form.is_valid():
            wall = timezone.make_naive(makeup_form.cleaned_data["at"])  # as typed: the site's local time
            at = wall.replace(tzinfo=selectors.zone_of(own.site))
            try:
                file_makeup_punch(own, at, makeup_form.cleaned_data["direction"] or None,
                                  reason=makeup_form.cleaned_data["reason"], actor=user.username,
                                  evidence=uploaded_evidence(makeup_form))
            except AttendanceError as exc:
                _refused(makeup_form, exc)
            else:
                messages.success(request, _("已提交 %(at)s 的补卡，等待审批 / Make-up punch at %(at)s asked for, "
                                            "waiting for approval") % {"at": f"{wall:%Y-%m-%d %H:%M}"})
                return redirect("console:attendance_requests")
    elif request.method == "POST":
        raise PermissionDenied
    page = request_selectors.requests_page(user)
    return render(request, "console/attendance/requests.html", {
        "nav": "attendance_requests", "page": page, "leave_form": leave_form, "makeup_form": makeup_form,
        "shift_form": shift_form, "overtime_form": overtime_form,
        "makeup_quota": makeup_rules.quota(own, makeup_rules.today_of(own)) if own is not None else None,
        "balances": leave_balances.balances(own, [timezone.localdate().year]) if own is not None else []})


def _shift_change_posted(form: ShiftChangeForm, own: Employee, actor: str) -> bool:
    """File the change or swap a valid form asks for; a refusal lands on the form (False)."""
    data = form.cleaned_data
    try:
        if data["mode"] == "swap":
            partner = Employee.objects.filter(number=data["partner"], site_id=own.site_id, active=True).first()
            if partner is None:
                form.add_error("partner", _("本地点没有这个工号的在职同事 / No active colleague of your site has this number"))
                return False
            shift_changes.file_swap(own, partner, data["start"], reason=data["reason"], actor=actor)
        else:
            shift_changes.file_change(own, data["start"], data["end"], form.chosen_shift, reason=data["reason"],
                                      actor=actor)
    except AttendanceError as exc:
        _refused(form, exc)
        return False
    return True


MAX_PICKS = 600  # requests decided in one go (the page lists at most 200 of each kind)


@require_POST
@console_view
def request_decide_many(request: AuthedHttpRequest) -> HttpResponse:
    """Approve or reject the pending requests ticked on the page (``pick``: ``kind:id``, ``overtime:id:minutes``),
    each through the same service as one by one, each in its own transaction: one refused leaves the others
    decided, and the message names it."""
    user = request.user
    if not scope.can_decide_requests(user):
        raise PermissionDenied
    decision = request.POST.get("decision", "")
    if decision not in DECISIONS:
        raise Http404
    picks = request.POST.getlist("pick")[:MAX_PICKS]
    if not picks:
        messages.error(request, _("请先勾选要处理的请求 / Tick the requests to decide first"))
        return redirect("console:attendance_requests")
    done, refused = 0, []
    for pick in picks:
        kind, _sep, rest = pick.partition(":")
        pk, _sep, seen = rest.partition(":")
        row = request_selectors.find_request(user, kind, _int(pk))
        if row is None:
            refused.append(f"{pick[:40]}: 没有找到 / not found")
            continue
        try:
            decide_as(user, row, decision, minutes=_int(seen))  # minutes: overtime's only
        except AttendanceError as exc:
            refused.append(f"{row.employee.name} ({row.employee.number}): {exc}")
        else:
            done += 1
    if done:
        messages.success(request, {"approve": _("已批准 %(n)s 条请求 / %(n)s requests approved"),
                                   "in_lieu": _("已将 %(n)s 条加班批为调休 / %(n)s overtime approved as time off in lieu"),
                                   "reject": _("已拒绝 %(n)s 条请求 / %(n)s requests rejected")}[decision] % {"n": done})
    if refused:
        messages.error(request, _("%(n)s 条未处理 / %(n)s not decided: %(which)s")
                       % {"n": len(refused), "which": "; ".join(refused[:10]) + ("; …" if len(refused) > 10 else "")})
    return redirect("console:attendance_requests")


def _leave_or_makeup(user: Any, kind: str, pk: int | None) -> LeaveRecord | MakeupPunch:
    """The leave or make-up punch ``kind`` ``pk`` among the employees ``user`` sees, else 404."""
    row = _asked(user, kind, pk)
    if not isinstance(row, LeaveRecord | MakeupPunch):
        raise Http404
    return row


def _asked(user: Any, kind: str, pk: int | None) -> LeaveRecord | MakeupPunch | ShiftChange | OvertimeRequest:
    """The leave, make-up punch, shift change or overtime request ``kind`` ``pk`` among the employees ``user`` sees,
    else 404."""
    asked = ("leave", "makeup", "shift_change", "overtime_request")
    row = request_selectors.find_request(user, kind, pk) if kind in asked else None
    if not isinstance(row, LeaveRecord | MakeupPunch | ShiftChange | OvertimeRequest):
        raise Http404
    return row


@require_http_methods(["GET"])
@console_view
def request_evidence(request: AuthedHttpRequest, kind: str, pk: int) -> HttpResponse:
    """The evidence kept with a leave or make-up punch the caller sees: a photo shown as it is, a PDF downloaded
    (never shown inside the console); a look at someone else's is audited."""
    row = _leave_or_makeup(request.user, kind, pk)
    kept = evidence.opened(request.user, row)
    if kept is None:
        raise Http404
    answer = HttpResponse(bytes(kept.data), content_type=kept.content_type)
    shown = "inline" if kept.content_type.startswith("image/") else "attachment"
    answer["Content-Disposition"] = f"{shown}; filename*=UTF-8''{quote(kept.name)}"
    answer["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    answer["X-Content-Type-Options"] = "nosniff"
    answer["Cache-Control"] = "private, no-store"
    return answer


def _own_request_action(request: AuthedHttpRequest, act: Callable[[Any, Any], None], done: str,
                        find: Callable[[Any, str, int | None], Any] = _leave_or_makeup) -> HttpResponse:
    """``act`` on the caller's own request named by ``kind`` and ``id`` (found by ``find``: a leave or make-up punch
    by default): 404 for one they do not see, 403 for someone else's, the refusal or ``done`` as the message on the
    requests page."""
    user = request.user
    if user.employee_id is None:
        raise PermissionDenied
    row = find(user, request.POST.get("kind", ""), _int(request.POST.get("id")))
    try:
        act(user, row)
    except DecisionRefused:
        raise PermissionDenied from None
    except AttendanceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("console:attendance_requests")


@require_POST
@console_view
def request_attach(request: AuthedHttpRequest) -> HttpResponse:
    """The caller attaches evidence (``evidence``, a file) to their own pending leave or make-up punch."""
    def attach(user: Any, row: LeaveRecord | MakeupPunch) -> None:
        form = EvidenceForm(request.POST, request.FILES)
        kept = uploaded_evidence(form) if form.is_valid() else None
        if kept is None:
            raise evidence.EvidenceError(_("请选择证明文件 / Choose the evidence file"))
        attach_evidence(user, row, kept)

    return _own_request_action(request, attach, _("已补交证明 / Evidence attached"))


@require_POST
@console_view
def request_withdraw(request: AuthedHttpRequest) -> HttpResponse:
    """The caller takes back their own pending leave, make-up punch, shift change or overtime request (``kind``,
    ``id``)."""
    return _own_request_action(request, withdraw, _("已撤回请求 / Request withdrawn"), find=_asked)


@require_POST
@console_view
def request_answer(request: AuthedHttpRequest) -> HttpResponse:
    """The colleague a swap names agrees to it (``agree=yes``) or declines it (``id``)."""
    agree = request.POST.get("agree") == "yes"

    def answer(user: Any, row: Any) -> None:
        if not isinstance(row, ShiftChange):
            raise Http404
        shift_changes.answer_swap(user, row, agree=agree)  # SwapRefused, someone not asked: a 403

    done = _("已同意换班，等待经理审批 / Swap agreed: it now waits for a manager") if agree else _("已拒绝换班 / Swap declined")
    return _own_request_action(request, answer, done, find=_asked)


@require_POST
@console_view
def request_decide(request: AuthedHttpRequest) -> HttpResponse:
    """Approve or reject one pending request (``kind``, ``id``, ``decision``) of an employee the caller sees."""
    user = request.user
    if not scope.can_decide_requests(user):
        raise PermissionDenied
    kind, decision = request.POST.get("kind", ""), request.POST.get("decision", "")
    row = request_selectors.find_request(user, kind, _int(request.POST.get("id")))
    if row is None or decision not in DECISIONS:
        raise Http404
    try:
        decide_as(user, row, decision, minutes=_int(request.POST.get("minutes")))
    except AttendanceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, {"approve": _("已批准 %(who)s 的请求 / %(who)s's request approved"),
                                   "in_lieu": _("已将 %(who)s 的加班批为调休 / %(who)s's overtime approved as time off "
                                                "in lieu"),
                                   "reject": _("已拒绝 %(who)s 的请求 / %(who)s's request rejected")}[decision]
                         % {"who": f"{row.employee.name} ({row.employee.number})"})
    return redirect("console:attendance_requests")
