"""Console users with one role each and the sites/departments that role reaches.

| role | sees | may change |
| --- | --- | --- |
| superuser (``is_superuser``) | everything | everything |
| ``hr_admin`` | the granted sites, and the granted departments (either grants) | people, devices, commands, tokens in scope |
| ``manager`` | the granted departments | their employees' requests (approvals) |
| ``auditor`` | everything in scope (all when no grant), read-only; views are logged | nothing |
| ``employee`` | their own employee record and punches | nothing |

The filtering itself lives in one place: :mod:`central.accounts.scope`.
"""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    HR_ADMIN = "hr_admin", _("人事管理员 HR admin")
    MANAGER = "manager", _("经理 Manager")
    AUDITOR = "auditor", _("审计员 Auditor")
    EMPLOYEE = "employee", _("员工 Employee")


class User(AbstractUser):
    role = models.CharField(_("角色 Role"), max_length=16, choices=Role.choices, default=Role.EMPLOYEE)
    sites = models.ManyToManyField("people.Site", blank=True, related_name="+", verbose_name=_("站点 Sites"))
    departments = models.ManyToManyField("people.Department", blank=True, related_name="+",
                                         verbose_name=_("部门 Departments"))
    employee = models.OneToOneField("people.Employee", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="user", verbose_name=_("员工 Employee"))
    must_change_password = models.BooleanField(
        _("须修改密码 Must change password"), default=False,
        help_text=_("密码是别人设的一次性密码：登录后先改密码才能用控制台 / The password was set by someone else, once: "
                    "the console asks for a new one before anything else"))

    @property
    def role_label(self) -> str:
        return str(_("超级管理员 Superuser")) if self.is_superuser else str(Role(self.role).label)

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        forget_grants(self)  # read again with the rest (central.accounts.scope.grants)
        super().refresh_from_db(*args, **kwargs)


GRANTS_KEPT = "_scope_grants"  # where central.accounts.scope keeps a user object's grants once read


def forget_grants(user: object) -> None:
    """The grants kept on this user object are read again at their next use (its sites or departments changed)."""
    if isinstance(user, User):
        user.__dict__.pop(GRANTS_KEPT, None)


def _grants_changed(sender: object, instance: object, **_signal: object) -> None:
    forget_grants(instance)


models.signals.m2m_changed.connect(_grants_changed, sender=User.sites.through, dispatch_uid="user-sites-grants")
models.signals.m2m_changed.connect(_grants_changed, sender=User.departments.through,
                                   dispatch_uid="user-departments-grants")


class SignInFailure(models.Model):
    """A refused sign-in: the user name typed and the address it came from, kept while it counts
    (:mod:`central.accounts.sign_in`). No password, right or wrong, is ever stored."""
    username = models.CharField(max_length=150, db_index=True)
    address = models.CharField(max_length=45, db_index=True)
    at = models.DateTimeField(db_index=True)


class ApiToken(models.Model):
    """A bearer token for /api/v1; only its SHA-256 is stored. It acts with its user's role and scope."""
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名称 Name"), max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class AuditEntry(models.Model):
    """One admin action. ``digest`` = SHA-256 over the previous digest and this entry's canonical JSON."""
    seq = models.BigAutoField(primary_key=True)
    at = models.DateTimeField()
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict)
    prev_digest = models.CharField(max_length=64)
    digest = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
