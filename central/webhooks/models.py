"""Webhook rows: the hooks other systems registered, and one delivery per event and hook."""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from central.people.models import Site

EVENTS = [
    ("punch.stored", _("打卡已存储 Punch stored")),
    ("record.final", _("日记录已定稿 Daily record final")),
    ("anomaly", _("考勤异常 Attendance anomaly")),
    ("request.filed", _("新申请待审批 Request filed")),
    ("request.answered", _("同事已答复换班 Swap answered by the colleague")),
    ("request.approved", _("申请已批准 Request approved")),
    ("request.rejected", _("申请已拒绝 Request rejected")),
    ("request.withdrawn", _("申请已撤回 Request withdrawn")),
    ("request.shortened", _("请假已销假，提前结束 Leave ended early")),
    ("month.closed", _("月份已月结 Month closed")),
    ("month.reopened", _("月份已重新开放 Month reopened")),
    ("alert", _("告警 Alert")),
]
EVENT_NAMES = frozenset(name for name, _label in EVENTS)


class Hook(models.Model):
    """Where events go. ``secret`` signs every body; it is shown once (at creation and at each rotation)."""

    name = models.CharField(_("名称 Name"), max_length=100)
    url = models.URLField(_("地址 URL"), max_length=500)
    events = models.JSONField(_("事件 Events"), default=list)
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("站点 Site"))
    active = models.BooleanField(_("启用 Active"), default=True)
    secret = models.CharField(max_length=100)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)  # a deleted hook keeps its delivery log

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class Delivery(models.Model):
    PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"
    STATES = [(PENDING, _("待发送 Pending")), (SENDING, _("发送中 Sending")), (DELIVERED, _("已送达 Delivered")),
              (FAILED, _("已放弃 Failed"))]

    hook = models.ForeignKey(Hook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32)
    event_id = models.CharField(max_length=255, help_text="the fact this delivery tells; one delivery per hook and fact")
    key = models.CharField(max_length=64, blank=True, default="", help_text="deliveries of one hook and key go in order")
    data = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=STATES, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hook", "event_id"], name="webhook_delivery_once")]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["hook", "key", "state"], name="webhook_delivery_order"),
            models.Index(fields=["created_at"], name="webhook_delivery_created"),
        ]


class Mark(models.Model):
    """How far a follower of this app has read (the punches followed for ``punch.stored``)."""

    key = models.CharField(max_length=64, primary_key=True)
    at = models.DateTimeField()
