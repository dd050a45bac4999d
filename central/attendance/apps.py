from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AttendanceConfig(AppConfig):
    name = "central.attendance"
    label = "attendance"
    verbose_name = _("考勤 Attendance")

    def ready(self) -> None:
        """Every saved or deleted row that decides who works when makes the kept plans of
        :mod:`central.attendance.situations` be read afresh."""
        from django.db.models.signals import post_delete, post_save

        from central.attendance import models as m
        from central.attendance.situations import forget_plans
        from central.people.models import Department, Employee, Site

        for model in (m.ShiftType, m.OvertimeRule, m.Rotation, m.Assignment, m.AttendanceProfile, m.SiteCalendar,
                      m.CalendarDay, Employee, Department, Site):
            post_save.connect(forget_plans, sender=model, dispatch_uid=f"plans-{model.__name__}-saved")
            post_delete.connect(forget_plans, sender=model, dispatch_uid=f"plans-{model.__name__}-deleted")
