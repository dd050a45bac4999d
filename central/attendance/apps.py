from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AttendanceConfig(AppConfig):
    name = "central.attendance"
    label = "attendance"
    verbose_name = _("考勤 Attendance")
