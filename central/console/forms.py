"""Console forms. They only shape what a person typed; every rule is checked by the services
(:mod:`central.people.services`) and the terminals' roster rules, whose errors land on the field they name.
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import available_timezones

from django import forms
from django.utils.translation import gettext_lazy as _

from central.accounts import scope
from central.people.models import CODE_VALIDATOR, Site
from contract.roster_rules import VERIFY_MODES

if TYPE_CHECKING:
    from central.accounts.models import User

FACTOR_LABELS = {"face": _("人脸"), "finger": _("指纹"), "card": _("刷卡"), "pin": _("密码")}


def verify_mode_label(mode: str) -> str:
    if mode == "any":
        return str(_("任意一种方式"))
    if mode == "import":  # a punch brought from another system (central.attendance.punch_import)
        return str(_("导入"))
    return " + ".join(str(FACTOR_LABELS.get(part, part)) for part in mode.split("+"))


def choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """One of the form's choice fields (``form.fields`` holds them typed as plain fields), to set its choices."""
    field = form.fields[name]
    if not isinstance(field, forms.ChoiceField):
        raise TypeError(f"{type(form).__name__}.{name} is not a choice field")
    return field


class SiteForm(forms.Form):
    code = forms.CharField(label=_("站点代码"), max_length=64, validators=[CODE_VALIDATOR],
                           help_text=_("用于终端的 MQTT 主题，创建后不要更改"))
    name = forms.CharField(label=_("站点名称"), max_length=100)
    time_zone = forms.CharField(label=_("时区"), max_length=64, initial="Asia/Shanghai")

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].strip()
        if Site.objects.filter(code=code).exists():
            raise forms.ValidationError(_("该站点代码已存在"))
        return code

    def clean_time_zone(self) -> str:
        zone = self.cleaned_data["time_zone"].strip()
        if zone not in available_timezones():
            raise forms.ValidationError(_("未知的时区，例如 Asia/Shanghai"))
        return zone


class DepartmentForm(forms.Form):
    site = forms.ChoiceField(label=_("站点"))
    name = forms.CharField(label=_("部门名称"), max_length=100)

    def __init__(self, user: User, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choice_field(self, "site").choices = [(s.pk, str(s)) for s in scope.sites(user)]


class EmployeeForm(forms.Form):
    """Add or change one employee. ``verify_mode`` is free text behind a select: the roster rules judge it."""
    number = forms.CharField(label=_("工号"), max_length=32)
    name = forms.CharField(label=_("姓名"), max_length=100)
    site = forms.ChoiceField(label=_("站点"))
    department = forms.ChoiceField(label=_("部门"), required=False)
    card = forms.CharField(label=_("卡号"), max_length=40, required=False,
                           help_text=_("可输入任意读卡器格式（十进制、十六进制、韦根），保存为统一卡号"))
    pin = forms.CharField(label=_("密码 (PIN)"), max_length=12, required=False,
                          widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                          help_text=_("留空则保持不变"))
    clear_pin = forms.BooleanField(label=_("清除密码"), required=False)
    verify_mode = forms.CharField(label=_("验证方式"), max_length=32, initial="any")
    role = forms.ChoiceField(label=_("终端角色"), choices=[("employee", _("员工")), ("admin", _("终端管理员"))],
                             initial="employee")
    allowed_devices = forms.MultipleChoiceField(label=_("允许的门"), required=False,
                                                widget=forms.CheckboxSelectMultiple,
                                                help_text=_("都不选表示可以使用所有的门"))
    active = forms.BooleanField(label=_("在职"), required=False, initial=True)
    moved_on = forms.DateField(label=_("调动生效日期"), required=False,
                               widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                               help_text=_("改了站点或部门时：从这天起按新部门的排班和新站点的日历计算考勤，之前的日子不变；留空为今天"))

    def __init__(self, user: User, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = editing
        choice_field(self, "site").choices = [(s.code, str(s)) for s in scope.sites(user)]
        groups: dict[str, list[tuple[str, str]]] = {}
        self._department_sites: dict[str, tuple[str, str]] = {}
        for dept in scope.departments(user).select_related("site").order_by("site__code", "name"):
            groups.setdefault(str(dept.site), []).append((str(dept.pk), dept.name))
            self._department_sites[str(dept.pk)] = (dept.site.code, dept.name)
        choice_field(self, "department").choices = [("", _("（无）")), *groups.items()]
        self.fields["verify_mode"].widget = forms.Select(choices=[(m, verify_mode_label(m)) for m in VERIFY_MODES])
        choice_field(self, "allowed_devices").choices = [
            (d.device_id, f"{d.name or d.device_id} · {d.site.name or d.site.code}")
            for d in scope.devices(user).select_related("site")]
        if editing:
            self.fields["number"].disabled = True
        else:  # a new employee has no PIN to keep or clear, and starts active
            self.fields["pin"].help_text = _("留空表示不设 PIN")
            del self.fields["active"]
            del self.fields["clear_pin"]
            del self.fields["moved_on"]  # a new employee starts where they are

    def clean_department(self) -> str:
        """The department's name, once it is known to belong to the chosen site."""
        value = self.cleaned_data.get("department") or ""
        if not value:
            return ""
        site_code, name = self._department_sites[value]
        if self.cleaned_data.get("site") and site_code != self.cleaned_data["site"]:
            raise forms.ValidationError(_("该部门不属于所选站点"))
        return name

    def clean(self):
        data = super().clean()
        if data.get("clear_pin") and data.get("pin"):
            self.add_error("pin", _("要么输入新密码，要么清除密码，不能同时进行"))
        return data

    def pin_value(self):
        """None keeps the stored PIN, "" clears it, digits set it."""
        if self.cleaned_data.get("clear_pin"):
            return ""
        return self.cleaned_data.get("pin") or None


class EventFilterForm(forms.Form):
    device = forms.ChoiceField(label=_("设备"), required=False)
    kind = forms.ChoiceField(label=_("类型"), required=False)
    since = forms.CharField(label=_("起始"), required=False, max_length=40,
                            widget=forms.TextInput(attrs={"placeholder": _("如 24h、7d 或 2026-03-01")}))

    def __init__(self, devices: list[tuple[str, str]], kinds: list[str], *args, **kwargs):
        super().__init__(*args, **kwargs)
        choice_field(self, "device").choices = [("", _("全部设备")), *devices]
        choice_field(self, "kind").choices = [("", _("全部类型")), *((k, k) for k in kinds)]


class TokenForm(forms.Form):
    name = forms.CharField(label=_("令牌名称"), max_length=100,
                           widget=forms.TextInput(attrs={"placeholder": _("例如：薪资系统")}))


class EmployeeImportForm(forms.Form):
    file = forms.FileField(label=_("员工文件（.xlsx 或 .csv）"),
                           help_text=_("第一行是表头；空白单元格保留原值，工号已存在的员工会被更新"))
