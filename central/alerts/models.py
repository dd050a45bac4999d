"""Alert rows: the rules HR admins switch on, the alerts they raised (once per fact), who read them, and the mail
outbox.

An :class:`Alert` is unique by ``(rule, key)``: the key names the fact (``late:<employee>:<date>``), so however
many central instances evaluate the same moment, the database keeps one row, and only the instance whose insert
succeeded tells the webhooks and queues the mails. A device condition that lasts (offline, a deep queue, a clock
off, security events) is an :class:`AlertEpisode`: its row's pk is part of the alert's key, and the row goes when
the condition clears, so the next episode is a new fact.
"""
from __future__ import annotations

import re

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from central.people.models import Department, Device, Employee, Site


class AlertRule(models.Model):
    LATE, ABSENT, MISSING_OUT, REQUEST_WAITING = "late", "absent", "missing_out", "request_waiting"
    DEVICE_OFFLINE, QUEUE_DEPTH, CLOCK_OFFSET, SECURITY_EVENTS = ("device_offline", "queue_depth", "clock_offset",
                                                                   "security_events")
    HELD_CHANGES, OVERTIME_MONTH, BACKUP_STALE = "held_changes", "overtime_month", "backup_stale"
    KINDS = [
        (LATE, _("迟到超过 N 分钟 Late beyond N minutes")),
        (ABSENT, _("上班 N 分钟后未到 Absent N minutes after shift start")),
        (MISSING_OUT, _("缺下班卡（打卡窗口关闭 N 分钟后） Missing out punch (N minutes after the window closes)")),
        (REQUEST_WAITING, _("申请待审批超过 N 小时 Request waiting N hours for a decision")),
        (DEVICE_OFFLINE, _("设备离线超过 N 分钟 Device offline for N minutes")),
        (QUEUE_DEPTH, _("待传打卡超过 N 条 Queue depth above N")),
        (CLOCK_OFFSET, _("时钟偏差超过 N 秒 Clock offset above N seconds")),
        (SECURITY_EVENTS, _("每小时尾随或仿冒事件超过 N 次 Spoof or tailgating events above N per hour")),
        (HELD_CHANGES, _("已月结的月份有至少 N 条未写入的更改 At least N changes held on a closed month")),
        (OVERTIME_MONTH, _("本月加班超过 N 小时 Overtime above N hours in a month")),
        (BACKUP_STALE, _("超过 N 小时没有数据库备份 No database backup for N hours")),
    ]
    EMPLOYEE_KINDS = frozenset({LATE, ABSENT, MISSING_OUT, REQUEST_WAITING, OVERTIME_MONTH})
    DEVICE_KINDS = frozenset({DEVICE_OFFLINE, QUEUE_DEPTH, CLOCK_OFFSET, SECURITY_EVENTS})
    SUPERUSER_KINDS = frozenset({BACKUP_STALE})  # the machine's, not a site's: a superuser's rule, seen by superusers

    kind = models.CharField(_("类型 Kind"), max_length=20, choices=KINDS)
    threshold = models.PositiveIntegerField(_("阈值（N） Threshold (N)"))
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                             verbose_name=_("站点 Site"))
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                                   verbose_name=_("部门 Department"))
    emails = models.JSONField(_("邮件地址 Email addresses"), default=list, blank=True)
    enabled = models.BooleanField(_("启用 Enabled"), default=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} N={self.threshold}"

    def kind_with_threshold(self) -> str:
        """The kind's words with the rule's N in them (申请待审批超过 24 小时), in the language of the request."""
        return re.sub(r"\bN\b", str(self.threshold), str(self.get_kind_display()))


class Alert(models.Model):
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=AlertRule.KINDS)
    key = models.CharField(max_length=200, help_text="the fact's identity: one alert per rule and key")
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    employee = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(help_text="when the fact became true")
    detail = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["rule", "key"], name="alert_once_per_fact")]
        indexes = [models.Index(fields=["created_at"], name="alert_created")]


class AlertRead(models.Model):
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "user"], name="alert_read_once")]


class AlertMail(models.Model):
    """One mail of one alert to one address: claimed by one worker (pending to sending), never sent twice."""
    PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
    STATES = [(PENDING, _("待发送 Pending")), (SENDING, _("发送中 Sending")), (SENT, _("已发送 Sent")),
              (FAILED, _("已放弃 Failed"))]

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="mails")
    address = models.CharField(max_length=254)
    state = models.CharField(max_length=10, choices=STATES, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "address"], name="alert_mail_once")]
        indexes = [models.Index(fields=["state", "next_at"], name="alert_mail_due")]


class AlertEpisode(models.Model):
    """A device condition that is true now: one row per rule and subject while it lasts."""
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="episodes")
    subject = models.CharField(max_length=100)
    opened_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "subject"], name="alert_episode_once")]
