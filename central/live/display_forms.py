"""The form of the wall displays page: a name and one site of the caller's scope."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from central.accounts import scope
from central.people.models import Site

if TYPE_CHECKING:
    from central.accounts.models import User


class DisplayForm(forms.Form):
    name = forms.CharField(label=_("名称 Name"), max_length=100,
                           widget=forms.TextInput(attrs={"placeholder": _("例如：东门电视 e.g. East gate TV")}))
    site = forms.ModelChoiceField(
        label=_("站点 Site"), queryset=Site.objects.none(), to_field_name="code",
        help_text=_("显示屏只显示这个站点的人数 The display shows this site's numbers only"),
        error_messages={"invalid_choice": _("您不能为这个站点创建显示屏：它不在您管理的站点中 "
                                            "You cannot make a display for this site: it is not one of the sites you manage")})

    def __init__(self, user: User, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        site = self.fields["site"]
        assert isinstance(site, forms.ModelChoiceField)
        site.queryset = scope.sites(user).order_by("code")
        site.empty_label = None
