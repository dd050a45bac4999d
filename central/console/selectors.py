"""What console pages show, read only through :mod:`central.accounts.scope`."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from central.accounts import scope
from central.ingest.selectors import event_queryset
from central.people.models import Employee

if TYPE_CHECKING:
    from central.accounts.models import User


def start_of_today() -> datetime:
    """Midnight of today in the console's time zone, as an aware datetime."""
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


def dashboard(user: User) -> dict[str, Any]:
    """The overview's counts and latest rows; each punch and event comes with its door's and employee's names.

    Names are looked up within the user's scope only (one query each for the doors and the employees
    shown), so a name the user may not see is never shown: the number or device id stands alone.
    """
    devices = scope.devices(user)
    online = devices.filter(online=True).count()
    total = devices.count()
    recent_events = list(scope.events(user).order_by("-at")[:8])
    recent_punches = list(scope.punches(user).order_by("-punched_at")[:8])
    device_ids = {p.device_id for p in recent_punches} | {e.device_id for e in recent_events}
    door_names = {device_id: name for device_id, name in devices.filter(device_id__in=device_ids).values_list(
        "device_id", "name") if name}
    numbers = {p.employee_number for p in recent_punches if p.employee_number}
    employee_names = dict(scope.employees(user).filter(number__in=numbers).values_list("number", "name")) \
        if numbers else {}
    return {
        "employees": scope.employees(user).filter(active=True).count(),
        "devices_online": online,
        "devices_offline": total - online,
        "punches_today": scope.punches(user).filter(punched_at__gte=start_of_today()).count(),
        "events_24h": scope.events(user).filter(at__gte=timezone.now() - timedelta(hours=24)).count(),
        "offline_devices": list(devices.filter(online=False).select_related("site").order_by("last_seen_at")[:8]),
        "recent_events": [{"event": e, "door": door_names.get(e.device_id, e.device_id)} for e in recent_events],
        "recent_punches": [{"punch": p, "door": door_names.get(p.device_id, p.device_id),
                            "employee_name": employee_names.get(p.employee_number, "")} for p in recent_punches],
    }


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
