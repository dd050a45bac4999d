"""What console pages show, read only through :mod:`central.accounts.scope`."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from central.accounts import scope
from central.ingest.selectors import event_queryset
from central.people.models import Employee

if TYPE_CHECKING:
    from central.accounts.models import User


def employee_search(user: User, q: str = "", status: str = "", site: str = "") -> QuerySet[Employee]:
    rows = scope.employees(user).select_related("site", "department")
    q = q.strip()
    if q:
        rows = rows.filter(Q(number__icontains=q) | Q(name__icontains=q))
    if status == "active":
        rows = rows.filter(active=True)
    elif status == "inactive":
        rows = rows.filter(active=False)
    if site:
        rows = rows.filter(site__code=site)
    return rows.order_by("number")


def events(user: User, device: str = "", kind: str = "", since: datetime | None = None):
    return event_queryset(scope.events(user), since=since, device=device, kind=kind).reverse()


def event_kinds(user: User) -> list[str]:
    return sorted(set(scope.events(user).values_list("kind", flat=True).distinct()))
