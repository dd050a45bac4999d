"""Reads of console accounts, through :func:`central.accounts.scope.users`."""
from __future__ import annotations

from django.db.models import Case, Q, QuerySet, Value, When

from central.accounts import scope
from central.accounts.models import Role, User
from central.accounts.users import SUPERUSER
from central.people.models import Department


def user_search(actor: User, q: str = "", role: str = "", state: str = "", department: Department | None = None
                ) -> QuerySet[User]:
    """The accounts ``actor`` sees, matching ``q`` (user name, name or linked employee's number or name), a role
    (``superuser`` or a :class:`Role`), a state (``active``, ``inactive``, ``must_change``) and a department (the
    accounts of its employees and those granted it: a line's workers and its managers), each when given."""
    rows = scope.users(actor).select_related("employee").prefetch_related("sites", "departments__site")
    if department is not None:
        rows = rows.filter(pk__in=User.objects.filter(Q(employee__department=department) | Q(departments=department))
                           .values("pk"))
    q = q.strip()
    if q:
        rows = rows.filter(Q(username__icontains=q) | Q(first_name__icontains=q) | Q(employee__number__icontains=q)
                           | Q(employee__name__icontains=q))
    if role == SUPERUSER:
        rows = rows.filter(is_superuser=True)
    elif role in Role.values:
        rows = rows.filter(role=role, is_superuser=False)
    if state == "active":
        rows = rows.filter(is_active=True)
    elif state == "inactive":
        rows = rows.filter(is_active=False)
    elif state == "must_change":
        rows = rows.filter(must_change_password=True, is_active=True)
    rank = Case(When(is_superuser=True, then=Value(0)), When(role=Role.HR_ADMIN, then=Value(1)),
                When(role=Role.AUDITOR, then=Value(2)), When(role=Role.MANAGER, then=Value(3)), default=Value(4))
    return rows.order_by("-is_active", rank, "username")  # the active first; who may do most first
