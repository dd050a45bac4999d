from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AttendanceConfig(AppConfig):
    name = "central.attendance"
    label = "attendance"
    verbose_name = _("考勤 Attendance")

    def ready(self) -> None:
        """Every saved or deleted row that decides who works when makes the kept plans of
        :mod:`central.attendance.situations` be read afresh, and with punches the live board
        (:mod:`central.attendance.live_board`) be worked out afresh; a change of the rules themselves is marked
        for the follower in every process (:mod:`central.attendance.rules_cache`)."""
        from django.db.models import Model
        from django.db.models.signals import post_delete, post_save

        from central.attendance import live_board
        from central.attendance import models as m
        from central.attendance.rules_cache import mark_rules_changed
        from central.attendance.situations import forget_plans
        from central.ingest.models import Punch
        from central.people.models import Department, Employee, EmployeeMove, Site

        planned: tuple[type[Model], ...] = (m.ShiftType, m.OvertimeRule, m.Rotation, m.Assignment, m.ShiftChange,
                                            m.AttendanceProfile, m.SiteCalendar, m.CalendarDay, Employee, Department,
                                            Site, EmployeeMove)
        for model in planned:
            for signal, done in ((post_save, "saved"), (post_delete, "deleted")):
                signal.connect(forget_plans, sender=model, dispatch_uid=f"plans-{model.__name__}-{done}")
                signal.connect(live_board.forget, sender=model, dispatch_uid=f"board-{model.__name__}-{done}")
        for signal, done in ((post_save, "saved"), (post_delete, "deleted")):
            signal.connect(live_board.forget, sender=Punch, dispatch_uid=f"board-Punch-{done}")
        # the tables the follower's kept rules are read from (central.attendance.rules_cache)
        ruling: tuple[type[Model], ...] = (m.ShiftType, m.OvertimeRule, m.Rotation, m.Assignment, m.ShiftChange,
                                           m.AttendanceProfile, m.SiteCalendar, m.CalendarDay, Site, EmployeeMove)
        for model in ruling:
            for signal, done in ((post_save, "saved"), (post_delete, "deleted")):
                signal.connect(mark_rules_changed, sender=model, dispatch_uid=f"rules-{model.__name__}-{done}")
