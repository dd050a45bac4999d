"""Scheduled reports: what to make and when (:class:`ReportSchedule`), and each time it was made (:class:`ReportRun`).

A schedule names a report of :data:`central.reports.registry.REPORTS`, its narrower scope (a site, a
department, an employee), the period each run covers (yesterday, last week, last month) and when it runs
(daily, weekly on a weekday, monthly on a day, at a local time of the schedule's site, or of the server when
no site is named). It runs as its owner, so a run never holds a row the owner may not see.

One run per schedule and period: the unique constraint is what makes two central instances agree that a
run was already made (see :mod:`central.reports.scheduler`).
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from central.reports.registry import REPORTS


class Period(models.TextChoices):
    YESTERDAY = "yesterday", _("昨天 Yesterday")
    LAST_WEEK = "last_week", _("上周 Last week")
    LAST_MONTH = "last_month", _("上月 Last month")


class Every(models.TextChoices):
    DAILY = "daily", _("每天 Daily")
    WEEKLY = "weekly", _("每周 Weekly")
    MONTHLY = "monthly", _("每月 Monthly")


class RunState(models.TextChoices):
    QUEUED = "queued", _("排队 Queued")
    RUNNING = "running", _("运行中 Running")
    DONE = "done", _("完成 Done")
    FAILED = "failed", _("失败 Failed")


WEEKDAYS = [(0, _("星期一 Monday")), (1, _("星期二 Tuesday")), (2, _("星期三 Wednesday")), (3, _("星期四 Thursday")),
            (4, _("星期五 Friday")), (5, _("星期六 Saturday")), (6, _("星期日 Sunday"))]

# the periods each report may cover: the daily report is about one day, the monthly sheet and payroll a month
PERIODS_OF: dict[str, tuple[str, ...]] = {
    "daily": (Period.YESTERDAY,),
    "monthly": (Period.LAST_MONTH,),
    "payroll": (Period.LAST_MONTH,),
    "summary": (Period.LAST_WEEK, Period.LAST_MONTH),
    "exceptions": (Period.YESTERDAY, Period.LAST_WEEK, Period.LAST_MONTH),
    "punches": (Period.YESTERDAY, Period.LAST_WEEK, Period.LAST_MONTH),
    "leave": (Period.LAST_MONTH,),
}


class ReportSchedule(models.Model):
    report = models.CharField(_("报表 Report"), max_length=32, choices=[(s.name, s.title) for s in REPORTS.values()])
    site = models.ForeignKey("people.Site", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("站点 Site"))
    department = models.CharField(_("部门 Department"), max_length=100, blank=True)
    employee = models.CharField(_("工号 Employee number"), max_length=64, blank=True)
    period = models.CharField(_("期间 Period"), max_length=16, choices=Period.choices)
    every = models.CharField(_("频率 Repeats"), max_length=16, choices=Every.choices)
    at = models.TimeField(_("时间 Time"))
    weekday = models.PositiveSmallIntegerField(_("星期 Weekday"), null=True, blank=True)  # 0 = Monday
    day = models.PositiveSmallIntegerField(_("日 Day of month"), null=True, blank=True)  # 1–31, the last day when shorter
    formats = models.JSONField(_("格式 Formats"), default=list)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_schedules",
                              verbose_name=_("所有者 Owner"))
    active = models.BooleanField(_("启用 Active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["report", "pk"]

    def __str__(self) -> str:
        return f"{self.report} #{self.pk}"

    @property
    def weekday_label(self) -> str:
        return str(dict(WEEKDAYS).get(self.weekday, "")) if self.weekday is not None else ""

    @property
    def time_zone(self) -> str:
        """The zone ``at`` is read in: the site's, or the server's when the schedule names no site."""
        return self.site.time_zone if self.site is not None else str(settings.TIME_ZONE)


class ReportRun(models.Model):
    schedule = models.ForeignKey(ReportSchedule, on_delete=models.CASCADE, related_name="runs")
    due_at = models.DateTimeField()  # the scheduled moment this run is for
    period_first = models.DateField()
    period_last = models.DateField()
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # [{"format": "xlsx", "name": "seed-monthly-….xlsx", "path": "<schedule>/<run>/…", "size": 123, "sha256": "…"}]
    files = models.JSONField(default=list)

    class Meta:
        ordering = ["-due_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["schedule", "period_first", "period_last"],
                                               name="one_report_run_per_period")]

    def __str__(self) -> str:
        return f"{self.schedule_id}: {self.period_first} – {self.period_last} ({self.state})"
