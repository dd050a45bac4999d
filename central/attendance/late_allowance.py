"""Late arrivals a site lets go each month (人性化迟到: "每月前 N 次、每次不超过 M 分钟的迟到不算迟到").

The rule, per employee and calendar month (a record's month is the month of its date, the day its shift starts):
the first ``times`` late records of the month, in date and shift order, that are each late by at most ``max_min``
minutes are **let go**: the sheets HR signs (monthly sheet, payroll, summary) do not count them as late, the
exceptions list shows them accepted, and the employee's month shows them as let go. A later arrival does not use
the allowance up: it is late, and the next short one may still be let go. The records themselves keep what the
punches say (``late``, ``late_min``): the alerts, the live board and the API's records are the door's truth.

:func:`let_go` is the rule alone (plain data in, keys out); :func:`let_go_of` reads what it needs for some employees
and a range: the sites' allowances and the late records from the first day of the range's first month, since the
allowance of a month is used from its first day whatever range a report covers. The rule imports no model, so that
``seed-central attendance evaluate`` applies it without a database.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

Key = tuple[date, str]  # a record: its date and shift name


@dataclass(frozen=True)
class Allowance:
    times: int  # late arrivals let go a month (0: none)
    max_min: int  # each at most this late

    def __bool__(self) -> bool:
        return self.times > 0 and self.max_min > 0


NONE = Allowance(0, 0)


def let_go(lates: Iterable[tuple[date, str, int]], allowance: Allowance,
           months: Mapping[date, Allowance] | None = None) -> set[Key]:
    """The (date, shift) of the late records ``allowance`` lets go, from one employee's late records ``(date, shift,
    late minutes)`` of whole months; ``months``: another allowance for some months (by their first day)."""
    used: dict[date, int] = defaultdict(int)
    found: set[Key] = set()
    for day, shift, minutes in sorted(lates):
        month = day.replace(day=1)
        rule = months.get(month, allowance) if months else allowance
        if rule and 0 < minutes <= rule.max_min and used[month] < rule.times:
            used[month] += 1
            found.add((day, shift))
    return found


def allowances(site_ids: Iterable[int]) -> dict[int, Allowance]:
    """The sites' allowances, those that let anything go."""
    from central.attendance.models import SiteCalendar  # here: the rule above is read without a database

    rows = SiteCalendar.objects.filter(site_id__in=set(site_ids), late_allowance_times__gt=0, late_allowance_min__gt=0)
    return {site: Allowance(times, minutes) for site, times, minutes in
            rows.values_list("site_id", "late_allowance_times", "late_allowance_min")}


def closed_allowances(site_ids: Iterable[int], first: date, last: date) -> dict[int, dict[date, Allowance]]:
    """Site → month → the allowance its closed months were closed with (a closed month keeps its numbers)."""
    from central.attendance.models import ClosedMonth

    rows = ClosedMonth.objects.filter(site_id__in=set(site_ids), month__gte=first.replace(day=1), month__lte=last)
    found: dict[int, dict[date, Allowance]] = defaultdict(dict)
    for site, month, kept in rows.values_list("site_id", "month", "late_allowance"):
        found[site][month] = Allowance(*kept) if isinstance(kept, list) and len(kept) == 2 else NONE
    return found


@dataclass(frozen=True)
class SiteAllowances:
    """The sites' allowances as a range of days reads them: each site's setting now, and its closed months' own."""
    current: dict[int, Allowance]
    closed: dict[int, dict[date, Allowance]]

    def of(self, site: int, month: date) -> Allowance:
        """What ``site`` lets go in ``month`` (its first day): a closed month's own, else the setting now."""
        return self.closed.get(site, {}).get(month, self.current.get(site, NONE))

    def lets_any_go(self, site: int) -> bool:
        return site in self.current or any(self.closed.get(site, {}).values())


def site_allowances(site_ids: Iterable[int], first: date, last: date) -> SiteAllowances:
    ids = set(site_ids)
    return SiteAllowances(allowances(ids), closed_allowances(ids, first, last))


def let_go_of(employees: dict[int, int], first: date, last: date) -> dict[int, set[Key]]:
    """Employee pk → the (date, shift) of their late records dated ``first``..``last`` that their site lets go (a
    closed month: as it was closed); ``employees``: employee pk → site pk."""
    from central.attendance.models import DailyRecord

    rules = site_allowances(employees.values(), first, last)
    wanted = [pk for pk, site in employees.items() if rules.lets_any_go(site)]
    if not wanted:
        return {}
    lates: dict[int, list[tuple[date, str, int]]] = defaultdict(list)
    rows = DailyRecord.objects.filter(employee_id__in=wanted, late=True, date__gte=first.replace(day=1), date__lte=last)
    for pk, day, shift, minutes in rows.values_list("employee_id", "date", "shift_name", "late_min"):
        lates[pk].append((day, shift, minutes))
    found = {}
    for pk, theirs in lates.items():
        site = employees[pk]
        keys = {key for key in let_go(theirs, rules.current.get(site, NONE), rules.closed.get(site))
                if first <= key[0] <= last}
        if keys:
            found[pk] = keys
    return found
