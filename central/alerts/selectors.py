"""Reads of the alerts app: the alerts a user may see (by the scope of their employee or device), unread counts,
and the rules a user may read or change."""
from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q, QuerySet

from central.accounts import scope
from central.accounts.models import Role
from central.alerts.models import Alert, AlertRead, AlertRule

if TYPE_CHECKING:
    from central.accounts.models import User


def can_read(user: User) -> bool:
    """Notifications and rules are for the staff side: superusers, HR admins, managers and auditors."""
    return bool(user.is_active and (user.is_superuser or user.role in (Role.HR_ADMIN, Role.MANAGER, Role.AUDITOR)))


def alerts(user: User) -> QuerySet[Alert]:
    """The alerts in the user's scope, newest first, each with ``is_read`` for this user."""
    if not can_read(user):
        return Alert.objects.none()
    rows = Alert.objects.all()
    if not user.is_superuser:
        seen = Q(employee__in=scope.employees(user)) | Q(device__in=scope.devices(user))
        if scope.can_manage(user):  # a site's own alerts (changes held on a closed month): its HR admins
            seen |= Q(employee__isnull=True, device__isnull=True, site__in=sorted(scope.grants(user).sites))
        rows = rows.filter(seen)
    read = AlertRead.objects.filter(alert=OuterRef("pk"), user=user)
    return (rows.annotate(is_read=Exists(read)).select_related("rule", "site", "department", "employee", "device")
            .order_by("-created_at", "-pk"))


def unread(user: User) -> QuerySet[Alert]:
    return alerts(user).exclude(Exists(AlertRead.objects.filter(alert=OuterRef("pk"), user=user)))


def already_read(user: User) -> QuerySet[Alert]:
    return alerts(user).filter(Exists(AlertRead.objects.filter(alert=OuterRef("pk"), user=user)))


def unread_count(user: User) -> int:
    return unread(user).count() if can_read(user) else 0


def rules(user: User) -> QuerySet[AlertRule]:
    """The rules the user may read: company-wide ones, and those of their sites and departments."""
    if not can_read(user):
        return AlertRule.objects.none()
    rows = AlertRule.objects.select_related("site", "department")
    if user.is_superuser:
        return rows
    return rows.filter(Q(site__isnull=True, department__isnull=True) | Q(site__in=scope.sites(user))
                       | Q(department__in=scope.departments(user)))


def manageable_rules(user: User) -> QuerySet[AlertRule]:
    """The rules the user may switch and delete: all for a superuser; an HR admin's sites' and departments'."""
    if not scope.can_manage(user):
        return AlertRule.objects.none()
    if user.is_superuser:
        return AlertRule.objects.all()
    return AlertRule.objects.filter(Q(site__in=sorted(scope.grants(user).sites)) | Q(department__in=scope.departments(user))
                                    ).exclude(site__isnull=True, department__isnull=True)
