"""What terminals sent: punches (idempotent by their device-made id), events, refused messages, commands."""
from __future__ import annotations

from django.db import models


class Punch(models.Model):
    id = models.CharField(primary_key=True, max_length=36, help_text="UUIDv7 made on the device; the dedup key")
    site = models.CharField(max_length=64)
    device_id = models.CharField(max_length=64)
    employee_number = models.CharField(max_length=32)
    direction = models.CharField(max_length=3)
    method = models.CharField(max_length=70)
    score = models.FloatField(null=True)
    punched_at = models.DateTimeField(help_text="UTC; the corrected time after a re-stamp")
    boot_id = models.CharField(max_length=100)
    monotonic_ns = models.BigIntegerField()
    time_source = models.CharField(max_length=8)
    original_punched_at = models.DateTimeField(null=True)
    restamped_at = models.DateTimeField(null=True)
    batch_id = models.CharField(max_length=36)
    received_at = models.DateTimeField()
    time_flag = models.CharField(
        max_length=16, default="", blank=True,
        help_text="why no correct clock could have stamped this time (central.ingest.plausibility); empty when "
                  "plausible. A flagged punch is kept as evidence and left out of attendance until a re-stamp clears it")

    class Meta:
        indexes = [
            models.Index(fields=["received_at"], name="punch_received"),
            models.Index(fields=["punched_at", "id"], name="punch_time"),
            models.Index(fields=["employee_number", "punched_at"], name="punch_employee"),
            models.Index(fields=["device_id", "punched_at"], name="punch_device"),
        ]


class Event(models.Model):
    id = models.CharField(primary_key=True, max_length=36)
    site = models.CharField(max_length=64)
    device_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=64)
    severity = models.CharField(max_length=10)
    at = models.DateTimeField()
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["device_id", "at"], name="event_device"),
                   models.Index(fields=["at", "id"], name="event_time")]


class RejectedMessage(models.Model):
    site = models.CharField(max_length=64, null=True)
    device_id = models.CharField(max_length=64, null=True)
    topic = models.CharField(max_length=500)
    item_id = models.CharField(max_length=100, null=True)
    reason = models.CharField(max_length=500)
    payload = models.TextField()
    received_at = models.DateTimeField()


class Command(models.Model):
    id = models.CharField(primary_key=True, max_length=36)
    site = models.CharField(max_length=64)
    device_id = models.CharField(max_length=64)
    cmd = models.CharField(max_length=32)
    args = models.JSONField(default=dict)
    issued_at = models.DateTimeField()
    issued_by = models.CharField(max_length=150, blank=True)
    published_at = models.DateTimeField(null=True, help_text="when the receiver signed and sent it; null: waiting")
    ok = models.BooleanField(null=True)
    reason = models.CharField(max_length=500, null=True)
    result = models.JSONField(null=True)
    result_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["device_id", "issued_at"], name="command_device")]


class State(models.Model):
    """Small durable facts of the receiver, e.g. the last roster version published to sites."""
    key = models.CharField(primary_key=True, max_length=64)
    value = models.TextField()


class PunchRecovery(models.Model):
    """A terminal asked for the punches a restored database may lack (:mod:`central.recovery`): the receiver sends
    it ``resync`` with ``since`` while it is online, until a command succeeds."""
    device_id = models.CharField(max_length=64)
    site = models.CharField(max_length=64)
    since = models.DateTimeField(null=True, help_text="punches the terminal stored from then on; null: all it has")
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField()
    command = models.ForeignKey(Command, null=True, on_delete=models.SET_NULL, related_name="+",
                                help_text="the latest resync sent for it")
    attempts = models.IntegerField(default=0)
    done_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["done_at"], name="recovery_open")]
