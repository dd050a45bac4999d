"""Forms of the webhook pages: a hook, and the delivery log's filters."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from central.accounts import scope
from central.people.models import Site
from central.webhooks.models import EVENTS, Delivery, Hook

if TYPE_CHECKING:
    from central.accounts.models import User


class HookForm(forms.Form):
    name = forms.CharField(label=_("名称 Name"), max_length=100,
                           widget=forms.TextInput(attrs={"placeholder": _("例如：薪资系统 e.g. Payroll")}))
    url = forms.CharField(label=_("地址 URL"), max_length=500,
                          widget=forms.TextInput(attrs={"placeholder": "https://example.com/seed-hook"}),
                          help_text=_("只接受 http:// 或 https:// 地址 Only http:// or https:// URLs"))
    events = forms.MultipleChoiceField(label=_("事件 Events"), choices=EVENTS, widget=forms.CheckboxSelectMultiple)
    site = forms.ModelChoiceField(label=_("站点 Site"), queryset=Site.objects.none(), required=False,
                                  to_field_name="code")
    active = forms.BooleanField(label=_("启用 Active"), required=False, initial=True)

    def __init__(self, user: User, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        site = self.fields["site"]
        assert isinstance(site, forms.ModelChoiceField)
        site.queryset = scope.sites(user)
        if user.is_superuser:
            site.empty_label = str(_("全部站点 All sites"))
        else:
            site.required = True
            site.empty_label = None

    @staticmethod
    def initial_of(hook: Hook) -> dict[str, Any]:
        return {"name": hook.name, "url": hook.url, "events": hook.events, "site": hook.site, "active": hook.active}


class DeliveryFilterForm(forms.Form):
    hook = forms.ChoiceField(label=_("钩子 Hook"), required=False)
    event = forms.ChoiceField(label=_("事件 Event"), required=False,
                              choices=[("", _("全部事件 All events")), *EVENTS])
    state = forms.ChoiceField(label=_("状态 State"), required=False,
                              choices=[("", _("全部状态 All states")), *Delivery.STATES])

    def __init__(self, hooks: list[tuple[str, str]], *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        hook = self.fields["hook"]
        assert isinstance(hook, forms.ChoiceField)
        hook.choices = [("", _("全部钩子 All hooks")), *hooks]
