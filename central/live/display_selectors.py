"""Reads of the wall display: one site's headline numbers now, and the display tokens a user may see.

The numbers are counts only (no names: the display hangs at a gate where anyone walks past).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.utils import timezone

from central.accounts import scope
from central.attendance.inputs import zone_named
from central.attendance.live_board import board_situations
from central.attendance.presence import Counts, count
from central.ingest.models import Punch
from central.live.models import DisplayToken
from central.people.models import Device, Employee, Site

if TYPE_CHECKING:
    from central.accounts.models import User


@dataclass(frozen=True)
class WallNumbers:
    site: Site
    local_now: datetime  # the site's wall time
    counts: Counts
    employees: int  # active employees of the site
    devices_online: int
    devices_offline: int
    punches_today: int  # since the site's local midnight, implausible times left out


def wall_numbers(site: Site, now: datetime | None = None) -> WallNumbers:
    """``site``'s numbers at ``now`` (aware; default: now)."""
    now = now or timezone.now()
    staff = list(Employee.objects.filter(site=site, active=True).only("id", "number", "site", "department", "active"))
    counts = count(board_situations(staff, now).values())
    online = offline = 0
    for is_online in Device.objects.filter(site=site).values_list("online", flat=True):
        online += bool(is_online)
        offline += not is_online
    zone = zone_named(site.time_zone)
    local_now = now.astimezone(zone)
    midnight = datetime.combine(local_now.date(), time(0), zone)
    punches = Punch.objects.filter(site=site.code, punched_at__gte=midnight, punched_at__lte=now, time_flag="").count()
    return WallNumbers(site, local_now, counts, len(staff), online, offline, punches)


def displays(user: User) -> QuerySet[DisplayToken]:
    """The display tokens of the sites in ``user``'s scope, revoked ones too (newest first)."""
    return DisplayToken.objects.filter(site__in=scope.sites(user)).select_related("site")
