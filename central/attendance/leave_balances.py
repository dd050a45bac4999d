"""Leave allowances and what is left of them: the days each employee may take of a leave type in a calendar year.

A leave type with ``yearly_days`` gives every employee that many days a year; a ``statutory`` one (法定年休假) gives
each employee the days their working life earns in that year (:mod:`central.attendance.annual_leave`); an employee's
own :class:`LeaveAllowance` for a type and year replaces either (a year forfeited, days agreed). A type may carry a
year's unused days into the next, up to a cap and until a month's end (:mod:`central.attendance.carry_over`). The one
type for time off in lieu (调休, ``in_lieu``) has no days a year: rest-day overtime a manager approved as time off in lieu
gives half a day for every 4 hours (:func:`in_lieu_days`), kept until taken or for the type's months, day by day
(:mod:`central.attendance.in_lieu_ledger`). Long sick leave or paid personal leave forfeits a year's statutory days
(:func:`central.attendance.annual_leave.forfeits`). What a leave
takes is counted as the records it lays down: the employee's working days by their own schedule and site calendar
(every day for a type counted in calendar days), half a day for a half-day leave, each day in the year it falls in.
Approved leave is *used*; pending leave is *waiting* and held, so two requests cannot together take more than is
left. A leave beyond what is left is refused when it is asked for (:func:`check`), with the numbers.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from central.accounts import audit
from central.attendance import engine as e
from central.attendance.annual_leave import SICK, Absence, Forfeit, entitlement, forfeits
from central.attendance.carry_over import CarryRule, YearCarry, chain
from central.attendance.in_lieu_ledger import HALF_DAY_MIN, Banked, Taking, last_day, paid, years
from central.attendance.inputs import load_rules, plans
from central.attendance.models import AttendanceProfile, DailyRecord, LeaveAllowance, LeaveRecord, LeaveType
from central.attendance.services import AttendanceError
from central.people.models import Employee

ZERO = Decimal(0)
HALF = Decimal("0.5")
MAX_DAYS = Decimal("366")


class AllowanceError(AttendanceError):
    """A leave beyond its allowance, or an allowance the product refuses."""


# where an allowance comes from
TYPE, OWN, STATUTORY, UNKNOWN = "type", "own", "statutory", "unknown"  # UNKNOWN: statutory, no dates to count from
FORFEITED = "forfeited"  # statutory, and the year forfeited by long sick or paid personal leave (条例 第四条)
IN_LIEU = "in_lieu"  # time off in lieu (调休): rest-day overtime approved so, less what was taken of it before the year


@dataclass(frozen=True)
class Balance:
    leave_type: LeaveType
    year: int
    allowance: Decimal
    basis: str  # TYPE (its days a year), OWN (the employee's own for the year), STATUTORY or UNKNOWN
    used: Decimal  # approved
    waiting: Decimal  # pending, held
    working_years: int | None = None  # STATUTORY: full years of working life at the year's end (or the leaving day)
    carry: YearCarry | None = None  # a type with carry-over: the days carried in from the year before, and their use
    today: date | None = None  # the day ``left`` is counted on (carried days lapse after their last day)
    banked_min: int = 0  # IN_LIEU: minutes of overtime approved as time off in lieu up to the year's end
    forfeit: Forfeit | None = None  # FORFEITED: why the year's statutory days are not given
    short: Decimal = ZERO  # IN_LIEU: days of the year's leave the banked overtime could not cover
    lapsed_min: int = 0  # IN_LIEU: minutes that lapsed untaken in the year (paid as overtime)
    lapsing: tuple[date, int] | None = None  # IN_LIEU: the next last day with minutes left on it, and those minutes

    @property
    def banked_h(self) -> Decimal:
        return (Decimal(self.banked_min) / 60).quantize(Decimal("0.1"))

    @property
    def lapsed_h(self) -> Decimal:
        return (Decimal(self.lapsed_min) / 60).quantize(Decimal("0.1"))

    @property
    def lapsing_h(self) -> Decimal:
        return (Decimal(self.lapsing[1]) / 60).quantize(Decimal("0.1")) if self.lapsing else ZERO

    @property
    def own(self) -> bool:
        return self.basis == OWN

    @property
    def forfeit_note(self) -> str:
        """FORFEITED: why, as "中文 / English"."""
        return " / ".join(forfeit_text(self.forfeit)) if self.forfeit is not None else ""

    @property
    def carried(self) -> Decimal:
        return self.carry.carried if self.carry is not None else ZERO

    @property
    def carried_left(self) -> Decimal:
        """Carried days still to take (0 once they lapsed)."""
        if self.carry is None or (self.today is not None and self.today > self.carry.expires):
            return ZERO
        return self.carry.unused_carried()

    @property
    def over(self) -> Decimal:
        """Days taken (approved and waiting) beyond the year's own allowance once carried days took their share:
        more than 0 is more than allowed. Time off in lieu the banked days could not cover is over by what it
        lacks, whatever is left for other days."""
        if self.short:
            return self.short
        return self.used + self.waiting - (self.carry.carried_taken if self.carry is not None else ZERO) - self.allowance

    @property
    def left(self) -> Decimal:
        return self.carried_left - self.over


def days_text(days: Decimal) -> str:
    """3.0 as "3", 2.5 as "2.5"."""
    return f"{days.normalize():f}"


def forfeit_text(forfeit: Forfeit) -> tuple[str, str]:
    """Why a year's statutory annual leave is forfeited, in Chinese and in English."""
    if forfeit.cause == SICK:
        zh, en = f"病假累计满 {forfeit.months} 个月", f"sick leave reached {forfeit.months} months"
    else:
        zh, en = "带薪事假累计满 20 天", "paid personal leave reached 20 days"
    zh = f"{forfeit.reached.year} 年{zh}（{forfeit.reached:%m-%d}）"
    en = f"{en[0].upper()}{en[1:]} on {forfeit.reached:%Y-%m-%d}"
    if forfeit.next_year:
        zh, en = f"{zh}，当年已休过年休假", f"{en}, after annual leave was taken that year"
    return f"{zh}，{forfeit.year} 年不享受法定年休假（条例第四条）", f"{en}: no statutory annual leave in {forfeit.year} (article 4)"


def in_lieu_days(minutes: int) -> Decimal:
    """Days of time off in lieu that ``minutes`` of overtime give: half a day for every 4 hours, what is short of the
    next 4 hours kept towards it."""
    return HALF * (max(minutes, 0) // HALF_DAY_MIN)


def _banked(staff: Sequence[int], last: date, months: int | None) -> dict[int, list[Banked]]:
    """Each employee's (pk) days of overtime approved as time off in lieu up to ``last``, lasting ``months``."""
    rows = DailyRecord.objects.filter(employee__in=staff, overtime_state="in_lieu", date__lte=last,
                                      overtime_min__gt=0).order_by("date").values_list("employee_id", "date", "overtime_min")
    found: dict[int, list[Banked]] = {}
    for emp_pk, day, minutes in rows:
        found.setdefault(emp_pk, []).append(Banked(day, minutes, last_day(day, months)))
    return found


Entry = tuple[int, int, date, Decimal, str]  # employee pk, leave type pk, a day off, its days (1 or 0.5), the leave's state


def _entries(leaves: Sequence[LeaveRecord], days: Mapping[int, list[date]]) -> list[Entry]:
    """Each day off of ``leaves`` (their days by pk, :func:`leave_days`) as an entry."""
    return [(leave.employee_id, leave.leave_type_id, day, HALF if leave.half_day else Decimal(1), leave.state)
            for leave in leaves for day in days[leave.pk]]


def _takings(entries: Iterable[Entry], in_lieu: int) -> dict[int, list[Taking]]:
    """Each employee's days off of time off in lieu, approved and waiting, from (employee, type, day, days, state)."""
    found: dict[int, list[Taking]] = {}
    for emp_pk, type_pk, day, n, _state in entries:
        if type_pk == in_lieu:
            found.setdefault(emp_pk, []).append(Taking(day, int(n * 2 * HALF_DAY_MIN)))
    return found


def taken_by_year(days: Iterable[date], half_day: bool) -> dict[int, Decimal]:
    """Days of a leave per calendar year."""
    found: dict[int, Decimal] = {}
    for day in days:
        found[day.year] = found.get(day.year, Decimal(0)) + (HALF if half_day else Decimal(1))
    return found


def leave_days(staff: Sequence[Employee], leaves: Sequence[LeaveRecord]) -> dict[int, list[date]]:
    """Each leave's days off (by pk), worked out with one read of the rules for everyone."""
    if not leaves:
        return {}
    wanted = {leave.employee_id for leave in leaves}
    planned = plans(load_rules(timezone.now()), [emp for emp in staff if emp.pk in wanted])
    found: dict[int, list[date]] = {}
    for leave in leaves:
        person, schedule = planned[leave.employee_id]
        found[leave.pk] = e.leave_days(schedule, person, leave.start, leave.end,
                                       natural=leave.leave_type.counts_rest_days)
    return found


def balances_of(staff: Sequence[Employee], years: Iterable[int], today: date | None = None,
                adding: Mapping[int, Sequence[tuple[int, date, Decimal]]] | None = None) -> dict[int, list[Balance]]:
    """Each employee's (by pk) balance of every leave type that keeps an allowance for them, in each of ``years``;
    by type code, then year. Four reads and one of the rules, however many employees (a type with carry-over reads
    back to the first year whose days carry).

    ``today``: the day carried days are counted on (default: today); ``adding``: days off of a leave not filed yet,
    by employee pk, as (leave type pk, day, days), held like a waiting one."""
    wanted = sorted(set(years))
    if not staff or not wanted:
        return {emp.pk: [] for emp in staff}
    today = today or timezone.localdate()
    types = {t.pk: t for t in LeaveType.objects.all()}
    rules = {pk: CarryRule(t.carry_over_days, t.carry_over_since or wanted[0], t.carry_over_until)
             for pk, t in types.items() if t.carry_over_days is not None}
    needed = set(wanted) | {year for rule in rules.values() for year in range(rule.since, wanted[-1])}
    statutory = [pk for pk, t in types.items() if t.statutory]
    forfeiting = {pk: t for pk, t in types.items() if t.forfeits_annual}
    if statutory and forfeiting:  # the year before may forfeit a wanted year (实施办法 第八条)
        needed |= {year - 1 for year in wanted}
    in_lieu = next((pk for pk, t in types.items() if t.in_lieu), None)
    banked: dict[int, list[Banked]] = {}
    if in_lieu is not None:  # every leave of it before counts against what overtime banked
        banked = _banked([emp.pk for emp in staff], date(wanted[-1], 12, 31), types[in_lieu].in_lieu_months)
        since = LeaveRecord.objects.filter(employee__in=[emp.pk for emp in staff], leave_type=in_lieu,
                                           state__in=("approved", "pending")).aggregate(first=Min("start"))["first"]
        needed |= set(range(since.year if since is not None else wanted[0], wanted[-1]))
    Allowance = tuple[Decimal, str, int | None]  # days, basis, working years
    shared: dict[tuple[int, int], Allowance] = {
        (pk, year): (t.yearly_days, TYPE, None) for pk, t in types.items()
        if t.yearly_days is not None and not t.statutory for year in needed}
    allowances: dict[int, dict[tuple[int, int], Allowance]] = {emp.pk: dict(shared) for emp in staff}
    dates: dict[int, tuple[date | None, date | None, date | None]] = {}
    if statutory or rules:
        dates = {pk: (started, joined, gone) for pk, started, joined, gone in AttendanceProfile.objects.filter(
            employee__in=[emp.pk for emp in staff]).values_list("employee_id", "work_started", "joined", "left")}
    if statutory:
        for emp in staff:
            started, joined, gone = dates.get(emp.pk, (None, None, None))
            for year in needed:
                earned = entitlement(year, started=started, joined=joined, left=gone)
                due = (Decimal(0), UNKNOWN, None) if earned is None else (Decimal(earned.days), STATUTORY, earned.years)
                allowances[emp.pk].update({(pk, year): due for pk in statutory})
    for row in LeaveAllowance.objects.filter(employee__in=[emp.pk for emp in staff], year__in=needed).exclude(
            leave_type=in_lieu):  # one set before the type became time off in lieu: the overtime decides now
        allowances[row.employee_id][(row.leave_type_id, row.year)] = (row.days, OWN, None)
    first, last = date(min(needed), 1, 1), date(wanted[-1], 12, 31)
    leaves = list(LeaveRecord.objects.filter(employee__in=[emp.pk for emp in staff if allowances[emp.pk] or in_lieu],
                                             state__in=("approved", "pending"), start__lte=last, end__gte=first)
                  .select_related("leave_type"))
    days = leave_days(staff, leaves)
    taken: dict[tuple[int, int, int, str], Decimal] = {}  # (employee, type, year, state) → days
    # the types that carry over need each day: (employee, type) → year → [(day, days)]
    dated: dict[tuple[int, int], dict[int, list[tuple[date, Decimal]]]] = {}
    adding = adding or {}
    entries = _entries(leaves, days)
    entries += [(emp, pk, day, n, "pending") for emp, extra in adding.items() for pk, day, n in extra]
    for emp_pk, type_pk, day, n, state in entries:
        key = (emp_pk, type_pk, day.year, state)
        taken[key] = taken.get(key, ZERO) + n
        if type_pk in rules:
            dated.setdefault((emp_pk, type_pk), {}).setdefault(day.year, []).append((day, n))
    lieu_takings = _takings(entries, in_lieu) if in_lieu is not None else {}
    lost: dict[int, dict[int, Forfeit]] = {}
    if statutory and forfeiting:
        lost = _forfeited(staff, entries, forfeiting, set(statutory), dates)
    found: dict[int, list[Balance]] = {}
    for emp in staff:
        mine = allowances[emp.pk]
        for (pk, year), (_d, basis, years_) in list(mine.items()):
            if basis == STATUTORY and year in lost.get(emp.pk, {}):
                mine[(pk, year)] = (ZERO, FORFEITED, years_)
        lieu: dict[int, dict[str, Any]] = {}  # year → the in-lieu balance's own fields
        if in_lieu is not None:
            lieu = _in_lieu_years(banked.get(emp.pk, []), lieu_takings.get(emp.pk, []), wanted, today)
            mine.update({(in_lieu, year): (
                taken.get((emp.pk, in_lieu, year, "approved"), ZERO) + taken.get((emp.pk, in_lieu, year, "pending"), ZERO)
                - row["short"] + row.pop("left"), IN_LIEU, None) for year, row in lieu.items()})  # covered + left
        joined = dates.get(emp.pk, (None, None, None))[1]
        carries = {pk: chain(rule, {year: v[0] for (t, year), v in mine.items() if t == pk},
                             dated.get((emp.pk, pk), {}), wanted, joined) for pk, rule in rules.items()}
        found[emp.pk] = [
            Balance(types[pk], year, days_, basis, taken.get((emp.pk, pk, year, "approved"), ZERO),
                    taken.get((emp.pk, pk, year, "pending"), ZERO), years_,
                    carries[pk][year] if pk in carries else None, today,
                    forfeit=lost.get(emp.pk, {}).get(year) if basis == FORFEITED else None,
                    **(lieu[year] if pk == in_lieu else {}))
            for (pk, year), (days_, basis, years_) in sorted(mine.items(), key=lambda kv: (types[kv[0][0]].code, kv[0][1]))
            if year in wanted]
    return found


def _in_lieu_years(banked: Sequence[Banked], takings: Sequence[Taking], wanted: Sequence[int],
                   today: date) -> dict[int, dict[str, Any]]:
    """One employee's time off in lieu in each of ``wanted`` years with anything banked or taken by its end: the
    days left (``left``) and the in-lieu fields of :class:`Balance`."""
    found: dict[int, dict[str, Any]] = {}
    for year, row in years(banked, takings, wanted, today).items():
        end = date(year, 12, 31)
        minutes = sum(b.minutes for b in banked if b.day <= end)
        if not minutes and not any(t.day <= end for t in takings):
            continue
        found[year] = {"left": in_lieu_days(row.left_min), "banked_min": minutes, "short": HALF * row.short_halves,
                       "lapsed_min": row.lapsed_min, "lapsing": row.lapsing}
    return found


def _forfeited(staff: Sequence[Employee], entries: Sequence[Entry],
               forfeiting: Mapping[int, LeaveType], statutory: set[int],
               dates: Mapping[int, tuple[date | None, date | None, date | None]]) -> dict[int, dict[int, Forfeit]]:
    """The years each employee's statutory annual leave is forfeited (条例 第四条), from their approved leave days
    (``entries``: employee, type, day, days, state)."""
    absences: dict[int, list[Absence]] = {}
    annual: dict[int, list[date]] = {}
    for emp_pk, type_pk, day, n, state in entries:
        if state != "approved":
            continue
        if type_pk in forfeiting:
            kind = forfeiting[type_pk]
            absences.setdefault(emp_pk, []).append(Absence(day, n, kind.forfeits_annual, kind.counts_rest_days))
        elif type_pk in statutory:
            annual.setdefault(emp_pk, []).append(day)
    found: dict[int, dict[int, Forfeit]] = {}
    for emp in staff:
        if emp.pk in absences:
            started, joined, _gone = dates.get(emp.pk, (None, None, None))
            found[emp.pk] = forfeits(absences[emp.pk], annual.get(emp.pk, []), started or joined)
    return found


def settlement_day(first: date, last: date, gone: date | None) -> tuple[date, bool] | None:
    """The day untaken statutory annual leave is settled within ``first``..``last``, if one falls there: the leaving
    day ``gone`` (True), else the 31st of December (False); none for an employee who left before the period."""
    if gone is not None and gone < first:
        return None
    if gone is not None and gone <= last:
        return gone, True
    year_end = date(first.year, 12, 31)  # a period is at most 62 days: one year end at most
    return (year_end, False) if first <= year_end <= last else None


@dataclass(frozen=True)
class Untaken:
    """What a period settles of an employee's leave (:func:`untaken`)."""
    annual_days: Decimal  # statutory annual leave not taken (应休未休年休假)
    in_lieu_hours: Decimal  # time off in lieu not taken, on leaving (未休调休): hours of overtime


def untaken(staff: Sequence[int], first: date, last: date, today: date | None = None) -> dict[int, Untaken]:
    """The leave each employee of ``staff`` (pks) did not take, for the periods that settle it, as things stand on
    ``today`` (default: today); an employee whose period settles nothing is not in the answer (nor read beyond their
    leaving day).

    * 应休未休年休假, statutory annual leave: in the period holding the leaving day (the leaving year already counted
      by its share, 实施办法 第十二条) or the year's end (less the days that carry into the next year, 第九条). What
      was taken beyond them is not taken back (第十二条): never below 0. Waiting leave counts as taken; carried days
      count until their last day.
    * 未休调休, time off in lieu: the hours of overtime that lapsed untaken on a last day in the period (a type that
      lasts some months), and on leaving all still left: rest-day work not made up with time off is paid (劳动法
      第四十四条). :func:`central.attendance.in_lieu_ledger.paid`."""
    statutory = list(LeaveType.objects.filter(statutory=True).values_list("pk", flat=True))
    in_lieu = LeaveType.objects.filter(in_lieu=True).first()
    if not (statutory or in_lieu) or not staff:
        return {}
    gone = dict(AttendanceProfile.objects.filter(employee__in=staff).values_list("employee_id", "left"))
    annual: dict[int, Decimal] = {}
    groups: dict[tuple[date, bool], list[int]] = {}
    for pk in staff:
        settled = settlement_day(first, last, gone.get(pk))
        if settled is not None and statutory:
            groups.setdefault(settled, []).append(pk)
    for (day, leaving), pks in groups.items():
        people = list(Employee.objects.filter(pk__in=pks))
        years_ = [day.year] if leaving else [day.year, day.year + 1]
        for pk, rows in balances_of(people, years_, today=day).items():
            by = {(b.leave_type.pk, b.year): b for b in rows}
            days = ZERO
            for t in statutory:
                this, carrying = by.get((t, day.year)), by.get((t, day.year + 1))
                if this is not None:
                    days += max(ZERO, this.left - (carrying.carried if carrying is not None else ZERO))
            annual[pk] = days
    minutes: dict[int, int] = {}
    if in_lieu is not None:
        still = [pk for pk in staff if (gone.get(pk) or first) >= first]  # one who left before: settled then
        minutes = _in_lieu_paid(still, in_lieu, first, last, today or timezone.localdate(), gone)
    return {pk: Untaken(annual.get(pk, ZERO).quantize(HALF / 5), (Decimal(minutes.get(pk, 0)) / 60).quantize(Decimal("0.01")))
            for pk in staff if pk in annual or pk in minutes}


def _in_lieu_paid(staff: Sequence[int], in_lieu: LeaveType, first: date, last: date, today: date,
                  gone: Mapping[int, date | None]) -> dict[int, int]:
    """Minutes of time off in lieu the period pays each employee of ``staff`` who banked any (see :func:`untaken`):
    one leaving in the period is in the answer even with nothing to pay."""
    banked = _banked(staff, last, in_lieu.in_lieu_months)
    leaving = {pk for pk in staff if first <= (gone.get(pk) or date.min) <= last}
    people = list(Employee.objects.filter(pk__in=banked))
    leaves = list(LeaveRecord.objects.filter(employee__in=banked, leave_type=in_lieu, state__in=("approved", "pending"))
                  .select_related("leave_type"))
    entries = _entries(leaves, leave_days(people, leaves))
    takings = _takings(entries, in_lieu.pk)
    found = {pk: paid(banked[pk], takings.get(pk, []), first, last, today, gone.get(pk) if pk in leaving else None)
             for pk in banked}
    return {pk: n for pk, n in found.items() if n or pk in leaving}


def balances(employee: Employee, years: Iterable[int]) -> list[Balance]:
    """The employee's balance of every leave type that keeps an allowance for them, for each of ``years``."""
    return balances_of([employee], years)[employee.pk]


def check(employee: Employee, leave_type: LeaveType, days: Sequence[date], half_day: bool) -> None:
    """Refuse a new leave of ``days`` (its days off) that would take more than is left in any year it falls in:
    the year's own allowance, and carried days for its days up to their last day. The caller holds the employee's
    row locked, so two requests at once are counted one after the other."""
    taking = taken_by_year(days, half_day)
    each = HALF if half_day else Decimal(1)
    after = {(b.leave_type.pk, b.year): b for b in balances_of(
        [employee], taking, adding={employee.pk: [(leave_type.pk, day, each) for day in days]})[employee.pk]}
    for year, need in sorted(taking.items()):
        balance = after.get((leave_type.pk, year))
        if balance is None or balance.over <= 0:
            continue
        if balance.basis == UNKNOWN:
            raise AllowanceError(
                f"{leave_type.name}按法定工作年限计算，但员工没有参加工作时间或入职日期，请人事在员工的月度页填写 / "
                f"{leave_type.name} is counted from the years of working life, and the employee has no date they started "
                f"working or joined: HR gives one on the employee's month page", "leave_type")
        if balance.forfeit is not None and balance.left + need <= 0:  # nothing of the year's own, nothing carried
            zh, en = forfeit_text(balance.forfeit)
            raise AllowanceError(f"{leave_type.name}：{zh} / {leave_type.name}: {en}", "leave_type")
        have = days_text(max(need - balance.over, ZERO))
        note = ("", "")
        carry = balance.carry
        if carry is not None and carry.unused_carried() > 0 and any(day.year == year and day > carry.expires
                                                                      for day in days):
            unused = days_text(carry.unused_carried())
            note = (f"（结转的 {unused} 天只能用到 {carry.expires:%m-%d}）",
                    f" (the {unused} days carried over may be taken until {carry.expires:%d %b})")
        raise AllowanceError(
            f"{leave_type.name}额度不足：{year} 年还剩 {have} 天，这次请假要 {days_text(need)} 天{note[0]} / "
            f"Not enough {leave_type.name} left: {have} days left in {year}, this leave takes {days_text(need)}{note[1]}",
            "end")


def check_allowance(leave_type: LeaveType, year: int, days: Decimal | None) -> None:
    """Refuse an own allowance the product does not keep: a year out of range, a type without allowances, days out of
    range or finer than a tenth."""
    if not 2000 <= year <= 2100:
        raise AllowanceError("年份应在 2000 到 2100 之间 / The year is 2000 to 2100", "year")
    if leave_type.in_lieu:
        raise AllowanceError(f"{leave_type.name}的额度来自审批为调休的加班，不能单独设置 / {leave_type.name} comes from "
                             "overtime approved as time off in lieu: it has no allowance to set", "leave_type")
    if leave_type.on_duty:
        raise AllowanceError(f"{leave_type.name}是公出，算出勤，没有额度 / {leave_type.name} is on duty away: it counts as "
                             "worked and has no allowance", "leave_type")
    if days is not None and not (Decimal(0) <= days <= MAX_DAYS and days == days.quantize(HALF / 5)):
        raise AllowanceError("天数应在 0 到 366 之间，最多一位小数 / Days are 0 to 366, one decimal at most", "days")


def set_allowance(user: Any, employee: Employee, leave_type: LeaveType, year: int, days: Decimal | None) -> None:
    """An employee's own allowance of ``leave_type`` in ``year`` (``None``: back to the type's days a year), audited.
    Who may: those who manage the employee (the caller checked it)."""
    check_allowance(leave_type, year, days)
    with transaction.atomic():
        before = LeaveAllowance.objects.filter(employee=employee, leave_type=leave_type, year=year).first()
        if days is None:
            LeaveAllowance.objects.filter(employee=employee, leave_type=leave_type, year=year).delete()
        else:
            LeaveAllowance.objects.update_or_create(employee=employee, leave_type=leave_type, year=year,
                                                    defaults={"days": days, "set_by": user.username})
        audit.record(user.username, "attendance.leave_allowance", f"{employee.number} {leave_type.code} {year}",
                     {"from": days_text(before.days) if before else None,
                      "to": days_text(days) if days is not None else None})
