"""Forms of the alert pages: a rule, and the notification list's filter."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from central.accounts import scope
from central.alerts import services
from central.alerts.models import AlertRule
from central.people.models import Department, Site

if TYPE_CHECKING:
    from central.accounts.models import User

UNITS = _("阈值单位：迟到、未到岗、缺下班卡和离线为分钟；待审批为小时（0：一提交就通知）；本月加班为小时；积压为条数；时钟偏差为秒；"
          "安全事件为每小时次数。 Threshold units: minutes for late, absent, missing out punch and offline; hours for "
          "requests waiting (0: as soon as filed); hours for overtime in a month; punches for queue depth; seconds "
          "for clock offset; events per hour for security events.")


class AlertRuleForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型 Kind"), choices=AlertRule.KINDS)
    threshold = forms.IntegerField(label=_("阈值（N） Threshold (N)"), min_value=0, max_value=services.MAX_THRESHOLD,
                                   help_text=UNITS)
    site = forms.ModelChoiceField(label=_("站点 Site"), queryset=Site.objects.none(), required=False,
                                  to_field_name="code")
    department = forms.ModelChoiceField(label=_("部门 Department"), queryset=Department.objects.none(),
                                        required=False)
    emails = forms.CharField(label=_("邮件地址 Email addresses"), required=False, max_length=2000,
                             widget=forms.TextInput(attrs={"placeholder": "hr@example.com, ops@example.com"}),
                             help_text=_("用逗号分隔 Separated by commas"))
    enabled = forms.BooleanField(label=_("启用 Enabled"), required=False, initial=True)

    def __init__(self, user: User, *args: Any, mail_configured: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        site = self.fields["site"]
        assert isinstance(site, forms.ModelChoiceField)
        site.queryset = scope.sites(user) if user.is_superuser else user.sites.all()
        site.empty_label = str(_("全部站点 All sites")) if user.is_superuser else "—"
        department = self.fields["department"]
        assert isinstance(department, forms.ModelChoiceField)
        department.queryset = scope.departments(user)
        department.empty_label = str(_("全部部门 All departments"))
        if not mail_configured:
            self.fields["emails"].help_text = _("未配置邮件服务器（SEED_SMTP_HOST），不会发送邮件。 "
                                                "No mail server is configured (SEED_SMTP_HOST): no mail is sent.")

    def clean_emails(self) -> list[str]:
        try:
            return services.clean_emails(self.cleaned_data.get("emails") or "")
        except services.AlertError as exc:
            raise forms.ValidationError(str(exc)) from None


class NotificationFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("状态 State"), required=False, choices=[
        ("", _("全部 All")), ("unread", _("未读 Unread")), ("read", _("已读 Read"))])
