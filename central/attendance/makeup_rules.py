"""A site's rules for make-up punches (补卡规则), as 钉钉 and 企业微信 keep them: at most N asked for a month (waiting and
approved ones count; rejected and withdrawn ones do not), and only for a punch missed in the last N days. A make-up
punch is how a missed punch is mended, and also how a punch no one made at the door would be invented: the limits
keep it the exception HR can sign. 0 is no limit, the default.

Checked when an employee asks (:func:`central.attendance.requests.file_makeup_punch`, the requests page and the
API alike), in the site's local days: the month of the punch asked for, and the days back from the site's today.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.utils import timezone as dj_timezone

from central.attendance.errors import AttendanceError
from central.attendance.inputs import local, zone_named
from central.attendance.models import MakeupPunch, SiteCalendar
from central.attendance.selectors import shift_month
from central.people.models import Employee

COUNTED = ("pending", "approved")


@dataclass(frozen=True)
class Quota:
    """An employee's make-up punches in one month against their site's rules (0: no limit)."""
    month: date  # its first day
    used: int
    per_month: int
    within_days: int


def _month_bounds(first: date, employee: Employee) -> tuple[datetime, datetime]:
    zone = zone_named(employee.site.time_zone)
    following = shift_month(first, 1)
    return (datetime.combine(first, datetime.min.time(), zone), datetime.combine(following, datetime.min.time(), zone))


def quota(employee: Employee, day: date) -> Quota:
    """``employee``'s make-up punches in the month of ``day`` (a local day), and the site's limits."""
    limits = SiteCalendar.objects.filter(site_id=employee.site_id).values_list(
        "makeup_per_month", "makeup_within_days").first() or (0, 0)
    first = day.replace(day=1)
    start, end = _month_bounds(first, employee)
    used = MakeupPunch.objects.filter(employee=employee, state__in=COUNTED, at__gte=start, at__lt=end).count()
    return Quota(first, used, *limits)


def today_of(employee: Employee, now: datetime | None = None) -> date:
    return local(now or dj_timezone.now(), zone_named(employee.site.time_zone)).date()


def check(employee: Employee, at: datetime, now: datetime | None = None) -> None:
    """Refused, naming ``at``, when asking for a make-up punch at ``at`` breaks the site's rules. Called with the
    employee's row held, so two requests at once are counted one after the other."""
    day = local(at, zone_named(employee.site.time_zone)).date()
    found = quota(employee, day)
    if found.within_days and (today_of(employee, now) - day).days > found.within_days:
        raise AttendanceError(f"只能为 {found.within_days} 天内漏打的卡申请补卡，{day} 已超过时限，请联系人事 / A make-up "
                              f"punch can be asked for the last {found.within_days} days only: {day} is too long ago, "
                              "ask HR", "at")
    if found.per_month and found.used >= found.per_month:
        raise AttendanceError(f"{found.month:%Y-%m} 已申请补卡 {found.used} 次，达到每月上限 {found.per_month} 次，请联系人事 / "
                              f"{found.used} make-up punches asked for in {found.month:%Y-%m} already: the limit is "
                              f"{found.per_month} a month, ask HR", "at")
