"""Each employee's overtime in a month against the monthly line (《劳动法》 第四十一条: "每月不得超过三十六小时").

What counts: every overtime minute the engine found on workdays, rest days and holidays, whatever is paid for it,
except minutes a manager rejected and minutes of employees not on the overtime list (``unpaid``): those were not
accepted as overtime. Minutes still waiting for approval count, so the line is seen before the approval that would
cross it; minutes approved as time off in lieu (调休) count, since the hours were worked all the same.

The line is ``settings.OVERTIME_LIMIT_H`` (``SEED_OVERTIME_LIMIT_H``, 36 unless the company's hours are approved
otherwise; 0: no line). The pages show it and never refuse an approval because of it: the law allows more in an
emergency (第四十二条), and HR decides. The alert ``overtime_month`` tells whoever sees the employee once their
month passes a threshold of its own.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.db.models.functions import TruncMonth

from central.attendance.models import DailyRecord

COUNTED_STATES = ("", "pending", "approved", "in_lieu")


@dataclass(frozen=True)
class MonthOvertime:
    """One employee's counted overtime in one month, and the line it is measured against (0: none)."""
    minutes: int
    limit_h: int

    @property
    def hours(self) -> Decimal:
        return (Decimal(self.minutes) / 60).quantize(Decimal("0.01"))

    @property
    def over(self) -> bool:
        return self.limit_h > 0 and self.minutes > self.limit_h * 60


def limit_h() -> int:
    return int(settings.OVERTIME_LIMIT_H)


def month_of(day: date) -> date:
    return day.replace(day=1)


def month_minutes(employee_ids: Iterable[int], months: Iterable[date]) -> dict[tuple[int, date], int]:
    """(employee pk, first day of the month) → counted overtime minutes, for every pair with any."""
    ids, firsts = sorted(set(employee_ids)), sorted({month_of(m) for m in months})
    if not ids or not firsts:
        return {}
    from central.attendance.selectors import shift_month  # selectors reads the line from here

    after = shift_month(firsts[-1], 1)
    rows = (DailyRecord.objects.filter(employee_id__in=ids, date__gte=firsts[0], date__lt=after, overtime_min__gt=0,
                                       overtime_state__in=COUNTED_STATES)
            .annotate(month=TruncMonth("date")).values("employee_id", "month").annotate(total=Sum("overtime_min")))
    wanted = set(firsts)
    found: dict[tuple[int, date], int] = {}
    for row in rows:
        if row["month"] in wanted:  # TruncMonth of a DateField: a date on every database
            found[(row["employee_id"], row["month"])] = int(row["total"] or 0)
    return found


def of_months(pairs: Iterable[tuple[int, date]]) -> dict[tuple[int, date], MonthOvertime]:
    """Each (employee pk, any day of a month) → that month's counted overtime, keyed by the pair as given."""
    asked = list(pairs)
    minutes = month_minutes((pk for pk, _ in asked), (day for _, day in asked))
    line = limit_h()
    return {(pk, day): MonthOvertime(minutes.get((pk, month_of(day)), 0), line) for pk, day in asked}
