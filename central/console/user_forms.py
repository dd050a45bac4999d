"""Forms of the accounts pages (用户与权限) and of one's own password. They shape what a person typed; the rules
are :mod:`central.accounts.users`', whose errors land on the field they name."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from central.accounts import scope
from central.accounts.models import Role, User
from central.accounts.users import HR_GRANTABLE, SUPERUSER, UserInput, input_of
from central.console.forms import choice_field

ROLE_LABELS = {SUPERUSER: _("超级管理员 Superuser"), **{role.value: role.label for role in Role}}


class UserForm(forms.Form):
    """A new account (``target`` None) or an existing one's role, grants, employee and name."""
    username = forms.CharField(label=_("用户名"), max_length=150,
                               help_text=_("登录时输入；创建后不能更改。字母、数字和 @ . + - _"))
    name = forms.CharField(label=_("显示名称"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("角色"), initial=Role.EMPLOYEE.value)
    sites = forms.MultipleChoiceField(label=_("授权站点"), required=False, widget=forms.CheckboxSelectMultiple,
                                      help_text=_("人事管理员和审计员：看到这些站点的全部员工和设备"))
    departments = forms.MultipleChoiceField(label=_("授权部门"), required=False, widget=forms.CheckboxSelectMultiple,
                                            help_text=_("经理审批这些部门的请求；人事管理员和审计员也看到这些部门"))
    employee = forms.CharField(label=_("关联员工（工号）"), max_length=32, required=False,
                               help_text=_("员工账号必填：本人查看自己的考勤、提交请求。经理也可关联自己的工号"))

    def __init__(self, actor: User, *args: object, target: User | None = None, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.target = target
        roles = ROLE_LABELS if actor.is_superuser else {k: v for k, v in ROLE_LABELS.items() if k in HR_GRANTABLE}
        choice_field(self, "role").choices = list(roles.items())
        if actor.is_superuser:
            choice_field(self, "sites").choices = [(s.code, str(s)) for s in scope.sites(actor).order_by("code")]
        else:
            del self.fields["sites"]
        choice_field(self, "departments").choices = [
            (str(d.pk), f"{d.site} / {d.name}") for d in scope.departments(actor).select_related("site")
            .order_by("site__code", "name")]
        if target is not None:
            self.fields["username"].disabled = True
            self.fields["username"].help_text = ""

    def user_input(self) -> UserInput:
        data = self.cleaned_data
        username = self.target.username if self.target is not None else data["username"]
        return UserInput(username=username, role=data["role"], name=data.get("name") or "",
                         sites=tuple(data.get("sites") or ()),
                         departments=tuple(int(pk) for pk in data.get("departments") or ()),
                         employee=(data.get("employee") or "").strip())


def initial_of(user: User) -> dict[str, object]:
    """An account as :class:`UserForm` shows it."""
    now = input_of(user)
    return {"username": now.username, "name": now.name, "role": now.role, "sites": list(now.sites),
            "departments": [str(pk) for pk in now.departments], "employee": now.employee}


class EmployeeAccountsForm(forms.Form):
    """Whose self-service accounts to open at once: a site, or one department of it."""
    site = forms.ChoiceField(label=_("站点"))
    department = forms.ChoiceField(label=_("部门"), required=False)

    def __init__(self, actor: User, *args: object, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        choice_field(self, "site").choices = [(s.code, str(s)) for s in scope.sites(actor).order_by("code")]
        choice_field(self, "department").choices = [("", _("全部部门"))] + [
            (str(d.pk), f"{d.site} / {d.name}") for d in scope.departments(actor).select_related("site")
            .order_by("site__code", "name")]
