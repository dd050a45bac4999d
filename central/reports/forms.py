"""The report pages' forms: a report's filters (dates, site, department, employee) and a schedule.

Site and department choices come from :mod:`central.accounts.scope`: a user is never offered, and a
form never accepts, a site or department outside their scope.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from central.accounts import scope
from central.accounts.models import Role, User
from central.attendance.selectors import month_end
from central.people.models import Site
from central.reports import registry
from central.reports.models import PERIODS_OF, WEEKDAYS, Every, Period, ReportSchedule
from central.reports.registry import ReportParams
from central.reports.schedules import ScheduleInput

if TYPE_CHECKING:
    from django.db.models import QuerySet

DAY_REPORTS = ("daily", "punches")  # whose default range is yesterday; the others default to last month
PLAN_REPORTS = ("schedule",)  # a plan: this month


def default_range(report: str, today: date | None = None) -> tuple[date, date]:
    """The range a report's form starts with: yesterday for the daily report and the punch log, this month for the
    schedule, else last month."""
    today = today or timezone.localdate()
    if report in DAY_REPORTS:
        return today - timedelta(days=1), today - timedelta(days=1)
    if report in PLAN_REPORTS:
        return today.replace(day=1), month_end(today.replace(day=1))
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def _site_choices(user: User) -> list[tuple[str, str]]:
    return [("", str(_("全部站点 All sites")))] + [(s.code, str(s)) for s in scope.sites(user)]


def _department_choices(user: User) -> list[tuple[str, str]]:
    names = sorted(set(scope.departments(user).values_list("name", flat=True)))
    return [("", str(_("全部部门 All departments")))] + [(n, n) for n in names]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None):
        super().__init__(attrs, format="%Y-%m-%d")


class ReportFilterForm(forms.Form):
    first = forms.DateField(label=_("开始日期 From"), widget=DateInput())
    last = forms.DateField(label=_("结束日期 To"), widget=DateInput())
    site = forms.ChoiceField(label=_("站点 Site"), required=False)
    department = forms.ChoiceField(label=_("部门 Department"), required=False)
    employee = forms.CharField(label=_("工号 Employee number"), required=False, max_length=64,
                               widget=forms.TextInput(attrs={"placeholder": _("全部 All")}))

    def __init__(self, user: User, report: str, *args: Any, **kwargs: Any):
        first, last = default_range(report)
        kwargs.setdefault("initial", {"first": first, "last": last})
        super().__init__(*args, **kwargs)
        self.report = report
        site_field = self.fields["site"]
        department_field = self.fields["department"]
        assert isinstance(site_field, forms.ChoiceField) and isinstance(department_field, forms.ChoiceField)
        site_field.choices = _site_choices(user)
        department_field.choices = _department_choices(user)

    def params(self) -> ReportParams:
        data = self.cleaned_data
        return ReportParams(first=data["first"], last=data["last"], site=data["site"] or "",
                            department=data["department"] or "", employee=(data["employee"] or "").strip())


class ScheduleForm(forms.Form):
    report = forms.ChoiceField(label=_("报表 Report"), choices=[(s.name, s.title) for s in registry.REPORTS.values()])
    period = forms.ChoiceField(label=_("期间 Period"), choices=Period.choices,
                               help_text=_("日报：昨天；月报与薪资：上月；汇总：上周或上月 / daily: yesterday; monthly "
                                           "sheet and payroll: last month; summary: last week or last month"))
    every = forms.ChoiceField(label=_("频率 Repeats"), choices=Every.choices)
    at = forms.TimeField(label=_("时间 Time"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                         help_text=_("站点当地时间；未选站点时为服务器时区 / the site's local time, or the server's "
                                     "time zone when no site is chosen"))
    weekday = forms.TypedChoiceField(label=_("星期 Weekday"), choices=[("", "—"), *WEEKDAYS], coerce=int,
                                     required=False, empty_value=None, help_text=_("每周报表 / weekly reports"))
    day = forms.IntegerField(label=_("日 Day of month"), min_value=1, max_value=31, required=False,
                             help_text=_("每月报表；小月取月末 / monthly reports; the last day in shorter months"))
    site = forms.ModelChoiceField(label=_("站点 Site"), queryset=Site.objects.none(), required=False,
                                  empty_label=_("全部站点 All sites"))
    department = forms.ChoiceField(label=_("部门 Department"), required=False)
    employee = forms.CharField(label=_("工号 Employee number"), required=False, max_length=64)
    formats = forms.MultipleChoiceField(label=_("格式 Formats"), widget=forms.CheckboxSelectMultiple,
                                        choices=[(f, f.upper()) for f in registry.FORMATS])
    owner = forms.ModelChoiceField(label=_("所有者 Owner"), queryset=User.objects.none(), required=False,
                                   help_text=_("报表以所有者的权限范围生成 / the report is made with the owner's scope"))
    active = forms.BooleanField(label=_("启用 Active"), required=False, initial=True)

    def __init__(self, user: User, *args: Any, schedule: ReportSchedule | None = None, **kwargs: Any):
        if schedule is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "report": schedule.report, "period": schedule.period, "every": schedule.every, "at": schedule.at,
                "weekday": schedule.weekday, "day": schedule.day, "site": schedule.site,
                "department": schedule.department, "employee": schedule.employee, "formats": schedule.formats,
                "owner": schedule.owner, "active": schedule.active}
        kwargs.setdefault("initial", {"formats": ["xlsx"], "every": Every.DAILY, "active": True})
        super().__init__(*args, **kwargs)
        self.user = user
        site_field, department_field, owner_field = self.fields["site"], self.fields["department"], self.fields["owner"]
        assert isinstance(site_field, forms.ModelChoiceField) and isinstance(owner_field, forms.ModelChoiceField)
        assert isinstance(department_field, forms.ChoiceField)
        site_field.queryset = scope.sites(user)
        department_field.choices = _department_choices(user)
        if user.is_superuser:
            staff: QuerySet[User] = User.objects.filter(is_active=True).exclude(role=Role.EMPLOYEE, is_superuser=False)
            owner_field.queryset = staff.order_by("username")
            owner_field.empty_label = str(_("我自己 Myself"))
        else:
            del self.fields["owner"]

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        report, period = data.get("report"), data.get("period")
        if report and period and period not in PERIODS_OF[report]:
            allowed = ", ".join(str(Period(p).label) for p in PERIODS_OF[report])
            self.add_error("period", _("此报表可选期间：%(allowed)s / this report covers: %(allowed)s") % {"allowed": allowed})
        if data.get("every") == Every.WEEKLY and data.get("weekday") is None:
            self.add_error("weekday", _("请选择星期几 / choose the weekday"))
        if data.get("every") == Every.MONTHLY and not data.get("day"):
            self.add_error("day", _("请填写几号 / give the day of the month"))
        return data

    def schedule_input(self) -> ScheduleInput:
        data = self.cleaned_data
        return ScheduleInput(report=data["report"], period=data["period"], every=data["every"], at=data["at"],
                             formats=list(data["formats"]), site=data["site"], department=data["department"] or "",
                             employee=(data["employee"] or "").strip(), weekday=data["weekday"], day=data["day"],
                             owner=data.get("owner") or None, active=bool(data["active"]))
