"""What console pages show, read only through :mod:`central.accounts.scope`."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Count, IntegerField, Model, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from central.accounts import scope
from central.ingest.selectors import event_queryset
from central.people.models import Department, Device, Employee, Site

if TYPE_CHECKING:
    from central.accounts.models import User


def _per_site(model: type[Model], **where: object) -> Coalesce:
    """How many ``model`` rows (matching ``where``) each site has, as a subquery: a count per table, not one
    join of departments × employees × doors per site."""
    rows = model._default_manager.filter(site=OuterRef("pk"), **where).order_by().values("site")
    return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0)


def sites_with_counts(user: User) -> QuerySet[Site]:
    """The sites the user sees, each with its departments, active employees and doors counted."""
    return scope.sites(user).annotate(n_departments=_per_site(Department), n_employees=_per_site(Employee, active=True),
                                      n_devices=_per_site(Device))


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
