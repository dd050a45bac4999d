from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LiveConfig(AppConfig):
    """The live dashboard (console home) and the wall display at a plant's gate."""
    name = "central.live"
    label = "live"
    verbose_name = _("实时看板 Live dashboard")
