"""Who works where: sites, departments, employees, the doors (devices) and the roster log.

An employee's ``card`` is stored normalised (``contract.cards``), so uniqueness holds
whatever format a reader or an import used. ``faces`` and ``fingers`` are the roster's
base64 templates; ``allowed_devices`` lists device ids (empty: every door).
"""
from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

CODE_VALIDATOR = RegexValidator(r"^[A-Za-z0-9_.-]{1,64}$", _("只能包含字母、数字、_ . - / Letters, digits, _ . - only"))
NUMBER_VALIDATOR = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$",
                                  _("工号为字母或数字开头，最多 32 位 / Starts with a letter or digit, at most 32"))


class Site(models.Model):
    code = models.CharField(_("代码 Code"), max_length=64, unique=True, validators=[CODE_VALIDATOR],
                            help_text=_("MQTT 主题中的站点 / The site segment of MQTT topics"))
    name = models.CharField(_("名称 Name"), max_length=100)
    time_zone = models.CharField(_("时区 Time zone"), max_length=64, default="Asia/Shanghai")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})" if self.name and self.name != self.code else self.code


class Department(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="departments", verbose_name=_("站点 Site"))
    name = models.CharField(_("名称 Name"), max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["site__code", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="department_name_per_site")]

    def __str__(self) -> str:
        return self.name


class Employee(models.Model):
    ROLES = [("employee", _("员工 Employee")), ("admin", _("终端管理员 Terminal admin"))]
    number = models.CharField(_("工号 Number"), max_length=32, unique=True, validators=[NUMBER_VALIDATOR])
    name = models.CharField(_("姓名 Name"), max_length=100)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="employees", verbose_name=_("站点 Site"))
    department = models.ForeignKey(Department, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="employees", verbose_name=_("部门 Department"))
    card = models.CharField(_("卡号 Card"), max_length=40, null=True, blank=True, unique=True)
    pin_hash = models.CharField(max_length=300, null=True, blank=True)
    role = models.CharField(_("终端角色 Terminal role"), max_length=16, choices=ROLES, default="employee")
    verify_mode = models.CharField(_("验证方式 Verification"), max_length=64, default="any")
    allowed_devices = models.JSONField(_("允许的门 Allowed doors"), default=list, blank=True)
    active = models.BooleanField(_("在职 Active"), default=True)
    faces = models.JSONField(default=list, blank=True)
    fingers = models.JSONField(default=list, blank=True)
    # whether the central holds the employee's templates: only then does the roster carry them (the terminals replace
    # theirs with these). Until then it carries none, and a face or finger enrolled at a door stays on that door.
    faces_managed = models.BooleanField(default=False, help_text=_(
        "人脸模板由中心管理（照片导入、导入文件或清除后）/ The central holds the face templates (imported or cleared)"))
    fingers_managed = models.BooleanField(default=False, help_text=_(
        "指纹模板由中心管理 / The central holds the fingerprint templates"))
    # when the templates the central holds were made: a door's enrolment time, else when the central took them. An
    # enrolment made before (a door's resend after a lost ack, a door that was offline) does not replace them.
    faces_since = models.DateTimeField(null=True, blank=True, help_text=_(
        "人脸模板的时间（门上登记的时间，或中心导入的时间）/ When the face templates were made (enrolled at a door, or taken "
        "by the central)"))
    fingers_since = models.DateTimeField(null=True, blank=True, help_text=_(
        "指纹模板的时间 / When the fingerprint templates were made"))
    version = models.BigIntegerField(default=0, help_text=_("最后一次变更的名册版本 / Roster version of the last change"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["number"]
        indexes = [models.Index(fields=["name"]), models.Index(fields=["site", "department"])]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class EmployeeMove(models.Model):
    """An employee moved to another department or site (调动), from ``since`` on: the days before it were worked in
    ``from_department`` at ``from_site``. The employee's own row holds where they are now; these rows say where they
    were, so the attendance of the days before a move keeps the old department's shifts and the old site's calendar
    (:mod:`central.attendance.inputs`) however often it is recomputed."""
    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="moves")
    since = models.DateField(_("生效日期 Effective from"))
    from_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    from_department = models.ForeignKey(Department, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    to_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    to_department = models.ForeignKey(Department, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    moved_by = models.CharField(max_length=150, blank=True)
    moved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["employee", "since", "pk"]
        indexes = [models.Index(fields=["employee", "since"])]

    def __str__(self) -> str:
        return f"{self.employee_id} {self.since} {self.from_department_id}->{self.to_department_id}"


class Device(models.Model):
    device_id = models.CharField(_("设备号 Device id"), max_length=64, unique=True, validators=[CODE_VALIDATOR])
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="devices", verbose_name=_("站点 Site"))
    name = models.CharField(_("名称 Name"), max_length=100, blank=True)
    online = models.BooleanField(default=False)
    status = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    roster_version = models.BigIntegerField(default=0)
    drained_at = models.DateTimeField(
        null=True, blank=True,
        help_text="the latest time this terminal reported an empty outbox: every punch it made before is stored")

    class Meta:
        ordering = ["site__code", "device_id"]

    def __str__(self) -> str:
        return self.name or self.device_id

    @property
    def queue_depth(self) -> int | None:
        value = self.status.get("queue_depth") if isinstance(self.status, dict) else None
        return value if isinstance(value, int) else None

    @property
    def clock_offset_s(self) -> float | None:
        value = self.status.get("clock_offset_s") if isinstance(self.status, dict) else None
        return float(value) if isinstance(value, (int, float)) else None


class RosterChange(models.Model):
    """One roster version: the employee it changed and how. Terminals catch up from here."""
    OPS = [("upsert", "upsert"), ("delete", "delete")]
    version = models.BigIntegerField(primary_key=True)
    number = models.CharField(max_length=32)
    op = models.CharField(max_length=8, choices=OPS)
    at = models.DateTimeField()

    class Meta:
        ordering = ["version"]


class RosterHistory(models.Model):
    """The roster's histories: the newest row is the current one, whose id every roster message carries.

    A new database starts a history of its own; a database found restored from a backup (or
    replaced) starts a new one, so terminals holding versions of the old history take a full
    roster instead of trusting version numbers the restored database reuses.
    """
    history = models.CharField(max_length=32, unique=True)
    started_at = models.DateTimeField()
    version = models.BigIntegerField(help_text="the roster version when this history started")
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.history
