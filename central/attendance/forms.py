"""Forms of the attendance console pages. They shape what a person typed (times, dates, a break list, a
pattern of shifts); the rules themselves are checked by :mod:`central.attendance.services`, whose refusals
land on the field they name.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import QuerySet
from django.utils.functional import lazy
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from central.accounts import scope
from central.attendance import evidence
from central.attendance.evidence import Evidence
from central.attendance.models import DailyRecord, LeaveRecord, LeaveType, OvertimeRule, Rotation, ShiftType, SiteCalendar
from central.console.forms import choice_field

if TYPE_CHECKING:
    from central.accounts.models import User
    from central.people.models import Employee

WEEKDAY_LABELS = [(0, _("周一 Mon")), (1, _("周二 Tue")), (2, _("周三 Wed")), (3, _("周四 Thu")), (4, _("周五 Fri")),
                  (5, _("周六 Sat")), (6, _("周日 Sun"))]
BREAK_RE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–~至到]\s*(\d{1,2}:\d{2})\s*$")
MAX_PATTERN_DAYS = 62
REST = "rest"


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs: dict[str, Any] | None = None):
        super().__init__(attrs, format="%H:%M")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None):
        super().__init__(attrs, format="%Y-%m-%d")


def parse_breaks(text: str) -> list[dict[str, time]]:
    """``12:00-13:00, 17:30-18:00`` (commas, semicolons or lines) as ``{"start", "end"}`` times."""
    found = []
    for part in re.split(r"[,;，；\n]+", text or ""):
        if not part.strip():
            continue
        match = BREAK_RE.match(part)
        if not match:
            raise forms.ValidationError(_("无法识别“%(part)s”，请写成 12:00-13:00 / “%(part)s” is not like 12:00-13:00"),
                                        params={"part": part.strip()[:40]})
        try:
            found.append({"start": time.fromisoformat(match[1].zfill(5)), "end": time.fromisoformat(match[2].zfill(5))})
        except ValueError:
            raise forms.ValidationError(_("时间无效：%(part)s / Not a time: %(part)s"),
                                        params={"part": part.strip()[:40]}) from None
    if len(found) > 8:
        raise forms.ValidationError(_("最多 8 段休息 / At most 8 breaks"))
    return found


class ShiftForm(forms.ModelForm):
    """Every field of a shift type; breaks typed as ``12:00-13:00`` text."""
    breaks_text = forms.CharField(label=_("休息 Breaks"), required=False, max_length=200,
                                  help_text=_("如 12:00-13:00, 17:30-18:00（不计工时） / e.g. 12:00-13:00, 17:30-18:00 (unpaid)"),
                                  widget=forms.TextInput(attrs={"placeholder": "12:00-13:00"}))

    class Meta:
        model = ShiftType
        fields = ["name", "start", "end", "color", "checkin_before_min", "checkout_after_min", "late_grace_min",
                  "early_grace_min", "flex_min", "hours", "direction", "half_day_below_h", "absent_below_h", "rounding_min",
                  "rounding_in", "rounding_out", "overtime", "count_on_holidays"]
        widgets = {"start": TimeInput(), "end": TimeInput(), "color": forms.TextInput(attrs={"type": "color"})}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["breaks_text"] = ", ".join(f"{b['start']}-{b['end']}" for b in self.instance.breaks or [])
        overtime = self.fields["overtime"]
        if isinstance(overtime, forms.ModelChoiceField):
            overtime.empty_label = str(_("（不计加班） (no overtime)"))
        self.fields["late_grace_min"].help_text = _("留空：从不记迟到 / Empty: never late")
        self.fields["early_grace_min"].help_text = _("留空：从不记早退 / Empty: never early")
        self.fields["rounding_min"].help_text = _("留空：不取整 / Empty: no rounding")
        self.fields["flex_min"].required = False  # empty: a fixed start

    def clean_flex_min(self) -> int:
        return self.cleaned_data.get("flex_min") or 0

    def clean_color(self) -> str:
        color = (self.cleaned_data.get("color") or "").strip()
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", color):
            raise forms.ValidationError(_("请用 #RRGGBB 颜色 / Use a #RRGGBB colour"))
        return color.lower()

    def clean_breaks_text(self) -> list[dict[str, time]]:
        return parse_breaks(self.cleaned_data.get("breaks_text") or "")

    def validate_unique(self) -> None:
        """Names are checked by the service, which says so on the name field."""

    def values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["breaks"] = data.pop("breaks_text")
        return data


class OvertimeRuleForm(forms.ModelForm):
    class Meta:
        model = OvertimeRule
        fields = ["name", "min_minutes", "step_min", "before_start", "requires_approval", "listed_only"]

    def validate_unique(self) -> None:
        """Names are checked by the service."""


class PatternWidget(forms.Widget):
    """One ``<select name="pattern">`` per day, in order (the page draws them); the values come back as a list."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str]:
        getlist = getattr(data, "getlist", None)
        return list(getlist(name)) if getlist else list(data.get(name) or [])

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        return mark_safe("")  # noqa: S308 - nothing to render: the page draws the day selects


class PatternField(forms.Field):
    """Day by day: a shift id, ``rest``, or empty (no such day: the pattern is shorter)."""
    widget = PatternWidget

    def to_python(self, value: Any) -> list[int | None]:
        days: list[int | None] = []
        for item in value or []:
            item = str(item).strip()
            if not item:
                continue
            if item == REST:
                days.append(None)
            elif item.isdigit() and len(item) < 10:
                days.append(int(item))
            else:
                raise forms.ValidationError(_("规律中有无效的一天：%(value)s / Not a day of a pattern: %(value)s"),
                                            params={"value": item[:20]})
        if len(days) > MAX_PATTERN_DAYS:
            raise forms.ValidationError(_("规律最长 %(n)s 天 / A pattern has at most %(n)s days"),
                                        params={"n": MAX_PATTERN_DAYS})
        return days

    def validate(self, value: Any) -> None:
        if not value:
            raise forms.ValidationError(_("请至少选择一天 / Choose at least one day"))


class RotationForm(forms.Form):
    name = forms.CharField(label=_("名称 Name"), max_length=100)
    anchor = forms.DateField(label=_("起始日 Anchor date"), widget=DateInput(),
                             help_text=_("规律的第 1 天 / Day 1 of the pattern"))
    pattern = PatternField(label=_("规律 Pattern"))

    def clean_pattern(self) -> list[int | None]:
        pattern = self.cleaned_data["pattern"]
        known = set(ShiftType.objects.filter(pk__in=[x for x in pattern if x is not None]).values_list("pk", flat=True))
        unknown = [x for x in pattern if x is not None and x not in known]
        if unknown:
            raise forms.ValidationError(_("没有编号为 %(id)s 的班次 / No shift %(id)s"), params={"id": unknown[0]})
        return pattern


class AssignmentForm(forms.Form):
    """One employee (by number) or a whole department, on a shift or a rotation, from a date to a date."""
    holder = forms.ChoiceField(label=_("排给 Assign to"), widget=forms.RadioSelect, initial="employee",
                               choices=[("employee", _("一名员工 One employee")), ("department", _("整个部门 A whole department"))])
    employee = forms.CharField(label=_("员工工号 Employee number"), max_length=32, required=False)
    department = forms.ChoiceField(label=_("部门 Department"), required=False)
    schedule = forms.ChoiceField(label=_("班次或轮班 Shift or rotation"))
    start = forms.DateField(label=_("开始 From"), widget=DateInput())
    end = forms.DateField(label=_("结束 To"), widget=DateInput(), required=False,
                          help_text=_("留空：一直有效 / Empty: open-ended"))

    def __init__(self, user: User, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.user = user
        groups: dict[str, list[tuple[str, str]]] = {}
        for dept in scope.departments(user).select_related("site").order_by("site__code", "name"):
            groups.setdefault(str(dept.site), []).append((str(dept.pk), dept.name))
        choice_field(self, "department").choices = [("", "—"), *groups.items()]
        choice_field(self, "schedule").choices = [
            ("", "—"),
            (str(_("班次 Shifts")), [(f"shift-{s.pk}", str(s)) for s in ShiftType.objects.order_by("start", "name")]),
            (str(_("轮班 Rotations")), [(f"rotation-{r.pk}", r.name) for r in Rotation.objects.order_by("name")]),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("holder") == "employee":
            number = (data.get("employee") or "").strip()
            found = scope.employees(self.user).select_related("site", "department").filter(number=number).first()
            if not number:
                self.add_error("employee", _("请填写工号 / Enter an employee number"))
            elif found is None:
                self.add_error("employee", _("没有工号为 %(n)s 的员工 / No employee %(n)s") % {"n": number[:32]})
            data["employee_row"], data["department_row"] = found, None
        elif data.get("holder") == "department":
            dept = data.get("department") or ""
            found_dept = scope.departments(self.user).select_related("site").filter(pk=int(dept)).first() \
                if dept.isdigit() else None
            if found_dept is None:
                self.add_error("department", _("请选择部门 / Choose a department"))
            data["employee_row"], data["department_row"] = None, found_dept
        schedule = data.get("schedule") or ""
        data["shift_row"] = data["rotation_row"] = None
        if schedule.startswith("shift-"):
            data["shift_row"] = ShiftType.objects.filter(pk=int(schedule[6:])).first()
        elif schedule.startswith("rotation-"):
            data["rotation_row"] = Rotation.objects.filter(pk=int(schedule[9:])).first()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", _("结束日期早于开始日期 / The end date is before the start date"))
        return data


def _calendar_count(name: str) -> forms.Field:
    """A site calendar's whole-number setting (0: none) as its form field, with the model's label, help text and
    bounds; empty is 0."""
    model_field = SiteCalendar._meta.get_field(name)
    assert isinstance(model_field, models.PositiveSmallIntegerField)
    most = next(v.limit_value for v in model_field.validators if isinstance(v, MaxValueValidator))
    found = model_field.formfield(required=False, initial=0, max_value=most)
    assert found is not None
    return found


class CalendarForm(forms.Form):
    weekly_rest = forms.TypedMultipleChoiceField(label=_("每周休息日 Weekly rest days"), required=False, coerce=int,
                                                 choices=WEEKDAY_LABELS, widget=forms.CheckboxSelectMultiple)
    final_wait_h = forms.IntegerField(label=_("最长等待 Maximum wait (h)"), min_value=1, max_value=24 * 90,
                                      help_text=_("终端未上报时，班次结束多少小时后定稿 / Hours after a shift before its "
                                                  "day is closed without every terminal"))
    late_allowance_times = _calendar_count("late_allowance_times")
    late_allowance_min = _calendar_count("late_allowance_min")
    makeup_per_month = _calendar_count("makeup_per_month")
    makeup_within_days = _calendar_count("makeup_within_days")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        times, minutes = data.get("late_allowance_times") or 0, data.get("late_allowance_min") or 0
        if times and not minutes:
            self.add_error("late_allowance_min", _("宽限次数大于 0 时请填写宽限分钟 / Say how late an arrival may be to be "
                                                   "let go"))
        return data


class CalendarDayForm(forms.Form):
    date = forms.DateField(label=_("日期 Date"), widget=DateInput())
    kind = forms.ChoiceField(label=_("类型 Kind"), choices=[("holiday", _("节假日 Holiday")),
                                                          ("workday", _("调休上班 Make-up working day"))])
    name = forms.CharField(label=_("名称 Name"), max_length=100, required=False,
                           widget=forms.TextInput(attrs={"placeholder": _("如 国庆节 / e.g. National Day")}))


class ManualRecordForm(forms.Form):
    date = forms.DateField(label=_("日期 Date"), widget=DateInput())
    status = forms.ChoiceField(label=_("状态 Status"), choices=DailyRecord.STATUSES)
    shift = forms.ChoiceField(label=_("班次 Shift"), required=False)
    reason = forms.CharField(label=_("原因 Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        choice_field(self, "shift").choices = [("", _("（不指定） (none)")), *(
            (str(s.pk), str(s)) for s in ShiftType.objects.order_by("start", "name"))]

    def clean_reason(self) -> str:
        reason = (self.cleaned_data.get("reason") or "").strip()
        if not reason:
            raise forms.ValidationError(_("请填写原因 / A reason is required"))
        return reason

    def shift_row(self) -> ShiftType | None:
        value = self.cleaned_data.get("shift") or ""
        return ShiftType.objects.filter(pk=int(value)).first() if value.isdigit() else None


class LeaveTypeForm(forms.ModelForm):
    class Meta:
        model = LeaveType
        fields = ["code", "name", "paid", "counts_rest_days", "yearly_days", "statutory", "in_lieu", "in_lieu_months",
                  "on_duty", "needs_evidence", "forfeits_annual", "carry_over_days", "carry_over_until", "carry_over_since"]

    def validate_unique(self) -> None:
        """Codes are checked by the service."""


class _LeaveTypeForm(forms.Form):
    """A form whose first field chooses one of the leave types HR set up."""
    leave_type = forms.ChoiceField(label=_("假别 Leave type"))

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        away = gettext("公出 On duty away")  # told apart: its days count as worked, not as time off
        choice_field(self, "leave_type").choices = [(str(t.pk), f"{t.name} ({t.code})" + (f" · {away}" if t.on_duty else ""))
                                                    for t in self.choosable()]

    def choosable(self) -> QuerySet[LeaveType]:
        return LeaveType.objects.all()

    def leave_type_row(self) -> LeaveType:
        return LeaveType.objects.get(pk=int(self.cleaned_data["leave_type"]))


def _evidence_help() -> str:
    """What the form says of a file: its kinds and size, what is not kept of it, and how long it is kept."""
    text = gettext("病假条等的照片或 PDF，5 MB 以内；照片的位置等信息不会保存 / a photo or PDF (a sick note, say), 5 MB at "
                   "most; a photo's location and other metadata are not kept")
    days = settings.EVIDENCE_RETENTION_DAYS
    if days:
        text += gettext("；请求处理 %(days)s 天后删除 / ; deleted %(days)s days after the request is settled") % {"days": days}
    return text


def evidence_field() -> forms.FileField:
    """A request's optional evidence file (:mod:`central.attendance.evidence` checks what it holds)."""
    return forms.FileField(
        label=_("证明 Evidence"), required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,application/pdf"}),
        help_text=lazy(_evidence_help, str)())


class LeaveEntryForm(_LeaveTypeForm):
    """A leave: recorded by HR for an employee (filed and approved in one step), or asked for by the employee."""
    start = forms.DateField(label=_("开始日期 First day"), widget=DateInput())
    end = forms.DateField(label=_("结束日期（含）Last day, inclusive"), widget=DateInput())
    half_day = forms.BooleanField(label=_("半天 Half day"), required=False)
    reason = forms.CharField(label=_("事由 Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                             error_messages={"required": _("请填写事由 / A reason is required")})
    evidence = evidence_field()

    def clean_reason(self) -> str:
        reason = (self.cleaned_data.get("reason") or "").strip()
        if not reason:
            raise forms.ValidationError(_("请填写事由 / A reason is required"))
        return reason


def uploaded_evidence(form: forms.Form) -> Evidence | None:
    """A valid request form's evidence file as kept (:func:`central.attendance.evidence.prepared`), or None;
    :class:`~central.attendance.evidence.EvidenceError` for a file refused (a large one before it is read)."""
    upload = form.cleaned_data.get("evidence")
    if not upload:
        return None
    if upload.size > evidence.MAX_BYTES:
        raise evidence.EvidenceError(evidence.TOO_LARGE)
    return evidence.prepared(upload.name or "", upload.read(evidence.MAX_BYTES + 1))


class EvidenceForm(forms.Form):
    """Evidence attached to a request after it was asked for."""
    evidence = evidence_field()


class MakeupRequestForm(forms.Form):
    """A make-up punch (补卡) an employee asks for: a punch missed at the door, at the site's local time."""
    at = forms.DateTimeField(label=_("打卡时间 Punch time"), input_formats=["%Y-%m-%dT%H:%M"],
                             widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                             help_text=_("站点当地时间 / The site's local time"))
    direction = forms.ChoiceField(label=_("方向 Direction"), required=False,
                                  choices=[("in", _("上班 In")), ("out", _("下班 Out")), ("", _("不确定 Not sure"))])
    reason = forms.CharField(label=_("事由 Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                             error_messages={"required": _("请填写事由 / A reason is required")})
    evidence = evidence_field()


class ShiftChangeEntryForm(forms.Form):
    """A shift change (调班): another shift, or rest, on some days; recorded by HR for an employee (filed and approved in
    one step), or asked for by the employee (:class:`ShiftChangeForm`)."""
    start = forms.DateField(label=_("日期 Day"), widget=DateInput())
    end = forms.DateField(label=_("至（含，调班可选）To, inclusive (a change only, optional)"), required=False,
                          widget=DateInput())
    shift = forms.ChoiceField(label=_("改为 Work instead"), required=False,
                              help_text=_("调班用；选「休息」则这些天不上班 / For a change; 休息 rest: no work those days"))
    reason = forms.CharField(label=_("事由 Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                             error_messages={"required": _("请填写事由 / A reason is required")})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        shift_field = self.fields["shift"]
        assert isinstance(shift_field, forms.ChoiceField)
        shift_field.choices = [("", gettext("休息 Rest"))] + [(str(row.pk), str(row))
                                                              for row in ShiftType.objects.order_by("name")]

    def clean_reason(self) -> str:
        reason = (self.cleaned_data.get("reason") or "").strip()
        if not reason:
            raise forms.ValidationError(_("请填写事由 / A reason is required"))
        return reason

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") is None:
            data["end"] = data["start"]
        return data

    @property
    def chosen_shift(self) -> ShiftType | None:
        picked = self.cleaned_data.get("shift")
        return ShiftType.objects.filter(pk=int(picked)).first() if picked else None


class TeamDayForm(ShiftChangeEntryForm):
    """A day (or a few) of one employee changed from a department's schedule (排班表): recorded by HR as an agreed
    shift change (:func:`central.attendance.shift_changes.record_change`)."""
    employee = forms.ChoiceField(label=_("员工 Employee"))
    field_order = ["employee", "start", "end", "shift", "reason"]

    def __init__(self, staff: Sequence[Employee], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.staff = {str(emp.pk): emp for emp in staff}
        choice_field(self, "employee").choices = [(pk, f"{emp.number} {emp.name}") for pk, emp in self.staff.items()]

    @property
    def chosen_employee(self) -> Employee:
        return self.staff[self.cleaned_data["employee"]]


class ShiftChangeForm(ShiftChangeEntryForm):
    """A shift change (调班) or a swap of one day with a colleague (换班) that an employee asks for
    (:mod:`central.attendance.shift_changes`)."""
    mode = forms.ChoiceField(label=_("方式 How"), widget=forms.RadioSelect, initial="change",
                             choices=[("change", _("调班：这些天改上别的班或休息 Change: another shift, or rest, on these "
                                                   "days")),
                                      ("swap", _("换班：和同事对换一天 Swap: trade one day with a colleague"))])
    partner = forms.CharField(label=_("同事工号 Colleague's number"), required=False, max_length=32,
                              help_text=_("换班用：同一地点的同事，先由他/她同意 / For a swap: a colleague of your site, who "
                                          "agrees first"))
    field_order = ["mode", "start", "end", "shift", "partner", "reason"]

    def clean(self) -> dict[str, Any]:
        given_end = self.cleaned_data.get("end")
        data = super().clean()
        if data.get("mode") == "swap":
            data["partner"] = (data.get("partner") or "").strip()
            if not data["partner"]:
                self.add_error("partner", _("换班请填写同事的工号 / A swap names the colleague's number"))
            if given_end and data.get("start") and given_end != data["start"]:
                self.add_error("end", _("换班只换一天 / A swap trades one day"))
        return data


class OvertimeAskForm(forms.Form):
    """Overtime an employee asks for ahead, or soon after (加班申请: :mod:`central.attendance.overtime_requests`)."""
    date = forms.DateField(label=_("加班日期 Day"), widget=DateInput(),
                           help_text=_("班次开始的那天 / The day the shift starts"))
    hours = forms.DecimalField(label=_("时长（小时） Hours"), min_value=Decimal("0.5"), max_value=Decimal(16),
                               widget=forms.NumberInput(attrs={"step": "0.5"}),
                               help_text=_("批准后，这天不超过这个时长的加班无需再审批 / Once approved, the day's overtime up "
                                           "to this long needs no second decision"))
    reason = forms.CharField(label=_("事由 Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                             error_messages={"required": _("请填写事由 / A reason is required")})
    in_lieu = forms.BooleanField(label=_("调休 Time off in lieu"), required=False,
                                 help_text=_("以调休代替加班费：只用于休息日加班 / Time off instead of pay: for rest-day "
                                             "overtime only"))

    def clean_hours(self) -> Decimal:
        hours: Decimal = self.cleaned_data["hours"]
        if hours * 2 != int(hours * 2):
            raise forms.ValidationError(_("按半小时填写 / In half hours"))
        return hours

    def minutes(self) -> int:
        return int(self.cleaned_data["hours"] * 60)


class AllowanceForm(_LeaveTypeForm):
    """An employee's own allowance of a leave type for a year (:mod:`central.attendance.leave_balances`)."""
    year = forms.IntegerField(label=_("年份 Year"), min_value=2000, max_value=2100)
    days = forms.DecimalField(label=_("天数 Days"), required=False, min_value=0, max_value=366, max_digits=4,
                              decimal_places=1, help_text=_("留空：恢复假别的每年额度 / empty: back to the leave type's "
                                                            "days a year"))

    def choosable(self) -> QuerySet[LeaveType]:
        """Types that keep an allowance: not time off in lieu (its days come from overtime), not on duty away."""
        return LeaveType.objects.filter(in_lieu=False, on_duty=False)


class LeaveReturnForm(forms.Form):
    """Back from leave early (销假: :mod:`central.attendance.leave_returns`): which approved leave, and the first day
    back."""
    leave = forms.ChoiceField(label=_("请假 Leave"))
    back_on = forms.DateField(label=_("回来上班的日期 Back on"), widget=DateInput(),
                              help_text=_("选请假第一天即整条取消 / The leave's first day calls it off"))
    reason = forms.CharField(label=_("事由 Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                             error_messages={"required": _("请填写事由 / A reason is required")})

    def __init__(self, leaves: Sequence[LeaveRecord], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.leaves = {str(leave.pk): leave for leave in leaves}
        choice_field(self, "leave").choices = [
            (pk, f"{leave.leave_type.name} {leave.start:%Y-%m-%d}"
                 + (f" – {leave.end:%Y-%m-%d}" if leave.end != leave.start else "")
                 + (" ½" if leave.half_day else "")) for pk, leave in self.leaves.items()]

    @property
    def chosen_leave(self) -> LeaveRecord:
        return self.leaves[self.cleaned_data["leave"]]


class AttendanceProfileForm(forms.Form):
    """An employee's attendance terms, as HR keeps them on the employee's month."""
    joined = forms.DateField(label=_("入职 Joined"), required=False, widget=DateInput())
    work_started = forms.DateField(
        label=_("参加工作 Started working"), required=False, widget=DateInput(),
        help_text=_("累计工作年限的起点，含以前的单位；法定年休假按它算，空则从入职算 / The start of the employee's working "
                    "life, earlier employers included: statutory annual leave counts from it; empty: from joining"))
    left = forms.DateField(label=_("离职 Left"), required=False, widget=DateInput(),
                           help_text=_("离职当天仍计考勤 / The leaving day still counts"))
    default_shift = forms.ChoiceField(label=_("默认班次 Default shift"), required=False,
                                      help_text=_("没有排班时的班次 / The shift when no assignment covers a day"))
    exempt = forms.BooleanField(label=_("免打卡 Exempt from punching"), required=False,
                                help_text=_("高管免刷：每个工作日记为出勤 / Present each working day"))
    overtime_listed = forms.BooleanField(label=_("加班白名单 On the overtime list"), required=False,
                                         help_text=_("只有名单上的员工计加班 / Overtime counts only for those on it, "
                                                     "where the shift's rule says so"))

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        choice_field(self, "default_shift").choices = [("", _("（无） (none)")), *(
            (str(s.pk), str(s)) for s in ShiftType.objects.order_by("start", "name"))]

    def values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        value = data.get("default_shift") or ""
        data["default_shift"] = ShiftType.objects.filter(pk=int(value)).first() if value.isdigit() else None
        return data
