"""Who and what a report covers: the caller's scope (:mod:`central.accounts.scope`) narrowed by the
report's parameters, the label printed on every page, and the sites' time zones.

A site, department or employee outside the caller's scope is refused with the same message as one that
does not exist, so a report never tells a user what lies outside their grants.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q, QuerySet

from central.accounts import scope
from central.attendance.selectors import zone_of
from central.people.models import Employee, Site
from central.reports.registry import ReportError, ReportParams

if TYPE_CHECKING:
    from central.accounts.models import User

DEFAULT_COMPANY = "Seed 考勤"


def company_name() -> str:
    """The company printed on every report: ``SEED_COMPANY_NAME`` (environment or setting), else Seed's own name."""
    return os.environ.get("SEED_COMPANY_NAME") or getattr(settings, "SEED_COMPANY_NAME", "") or DEFAULT_COMPANY


@dataclass
class Coverage:
    """The employees a report covers (in scope and matching the parameters), how to say so, and the zones."""
    employees: QuerySet[Employee]
    label: str
    zones: dict[int, ZoneInfo]  # site id: its time zone
    site_codes: list[str]  # the sites' codes (punch rows name their site by code)
    narrowed: bool  # a site, department or employee was asked for

    def zone(self, site_id: int) -> ZoneInfo:
        return self.zones.get(site_id, ZoneInfo("UTC"))

    def utc_span(self, first: date, last: date) -> tuple[datetime, datetime]:
        """UTC instants that hold every local day ``first``..``last`` of every covered site (a day's margin)."""
        return (datetime.combine(first - timedelta(days=1), time(), ZoneInfo("UTC")),
                datetime.combine(last + timedelta(days=2), time(), ZoneInfo("UTC")))


def cover(user: User, params: ReportParams) -> Coverage:
    employees = scope.employees(user)
    sites = scope.sites(user)
    parts: list[str] = []
    narrowed = False
    if params.site:
        site = sites.filter(code=params.site).first()
        if site is None and not user.is_superuser:  # an employee's or manager's own site is still theirs
            site = Site.objects.filter(code=params.site, pk__in=employees.values("site")).first()
        if site is None:
            raise ReportError(f"没有可查看的站点 / no site {params.site!r} in your scope")
        employees = employees.filter(site=site)
        parts.append(f"站点 Site: {site.name or site.code}")
        narrowed = True
    if params.department:
        employees = employees.filter(department__name=params.department)
        if not employees.exists():
            raise ReportError(f"没有可查看的部门 / no department {params.department!r} in your scope")
        parts.append(f"部门 Department: {params.department}")
        narrowed = True
    if params.employee:
        employees = employees.filter(number=params.employee)
        person = employees.first()
        if person is None:
            raise ReportError(f"没有可查看的员工 / no employee {params.employee!r} in your scope")
        parts.append(f"员工 Employee: {person.number} {person.name}")
        narrowed = True
    if not parts:
        parts.append("全部可查看的人员 Everyone in your scope")
    site_rows = list(Site.objects.filter(Q(pk__in=employees.values("site"))))
    return Coverage(employees=employees, label=" · ".join(parts), zones={s.pk: zone_of(s) for s in site_rows},
                    site_codes=[s.code for s in site_rows], narrowed=narrowed)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def naive_local(at: datetime | None, zone: ZoneInfo) -> datetime | None:
    """An aware instant as the site's wall time, without a zone (what reports print), to the second."""
    if at is None:
        return None
    return at.astimezone(zone).replace(tzinfo=None, microsecond=0)


def stamp(now: datetime | None = None) -> datetime:
    """When a report was made, in the server's time zone, naive, to the second."""
    from django.utils import timezone

    return (now or timezone.now()).astimezone(timezone.get_current_timezone()).replace(tzinfo=None, microsecond=0)


def months_of(first: date, last: date) -> list[date]:
    """The first days of the months ``first``..``last`` touches."""
    found, month = [], first.replace(day=1)
    while month <= last:
        found.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return found


def closed_sites(site_ids: set[int], first: date, last: date) -> set[int]:
    """Of ``site_ids``, those where every month the period touches is closed (月结): their numbers are as signed."""
    from central.attendance.closing import closed_months_of

    months = set(months_of(first, last))
    return {site_id for site_id, closed in closed_months_of(site_ids).items() if months <= closed}


def closing_note(coverage: Coverage, first: date, last: date) -> str:
    """Whether the period's months are closed at each covered site, said on a sheet HR signs: closed months are as
    signed, open ones may still change."""
    from central.attendance.models import ClosedMonth

    months = months_of(first, last)
    closed = {(row.site_id, row.month): row for row in
              ClosedMonth.objects.filter(site_id__in=list(coverage.zones), month__in=months)}
    parts = []
    for site in Site.objects.filter(pk__in=list(coverage.zones)).order_by("code"):
        for month in months:
            row = closed.get((site.pk, month))
            name = f"{site.name or site.code} {month:%Y-%m}"
            if row is not None:
                at = naive_local(row.closed_at, coverage.zone(site.pk))
                parts.append(f"{name} 已月结 closed ({row.closed_by}, {at:%Y-%m-%d})")
            else:
                parts.append(f"{name} 未月结，数字仍可能改变 not closed: the numbers may still change")
    return "月结 Month close: " + ("；".join(parts) if parts else "—")
