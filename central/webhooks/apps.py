from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "central.webhooks"
    label = "webhooks"
    verbose_name = _("网络钩子 Webhooks")
