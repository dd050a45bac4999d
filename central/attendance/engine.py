"""The attendance rules: punches and a schedule in, daily records out.

A pure module: plain data in, records out; no ORM, no clock, no I/O. Every time here is a
*local wall time* of the employee's site as a naive ``datetime``; the caller converts. Where the
site's clocks change (daylight saving, ``Calendar.zone``), a punch in the hour that comes twice
carries ``fold=1`` the second time, as :meth:`datetime.astimezone` gives it: windows and dates are
read on the wall clock, but punches are ordered, and late, early and every length (hours, minutes
late or early, overtime, breaks) measured, in real time: the night the clocks go back is an hour
longer, the night they go forward an hour shorter. A shift time inside the hour the clocks skip is
read as :pep:`495` reads it (02:30 on the night they go forward is 03:30 of the new time).

The rules, in the order they apply:

1. **Schedule.** For each day the employee works: an approved shift change (调班, ``changed``)
   covering the day decides it alone: its shift is worked, or with no shift the day is a rest
   day; else every shift assignment covering the day
   (the employee's own before their department's), else the rotation assigned for the day (its pattern repeats every ``len(pattern)`` days
   from its anchor date; ``None`` in the pattern is a rest day: no shift), else the default
   shift; none gives no occurrence. Days before ``joined``, after ``left`` (the leaving day
   itself still counts) and every day of an inactive employee give nothing.
2. **Day kind.** A dated holiday is a ``holiday``. A weekly rest day is a ``rest_day`` for
   fixed shifts (assignment or default shift), unless the calendar makes it a working day
   (调休); a rotation's own pattern decides its rest days, so weekly rest does not apply to it,
   nor to a shift change, which names the day it is worked.
3. **Windows.** An occurrence dated D of a shift runs from ``D start`` to ``end`` (``end``
   before or equal to ``start``: the next day); its window is [start - checkin_before,
   end + checkout_after], both edges inclusive. When the windows of consecutive occurrences
   overlap they are cut at the earlier shift's end: a punch exactly there belongs to the
   earlier one. A punch in no window belongs to no shift. The record is dated D, the day the
   shift **starts**.
4. **Pairs.** ``direction="alternate"``: punches alternate in/out whatever the device said.
   ``"as_punched"``: each punch's own direction decides; outs before the first in are ignored,
   of two ins in a row the first opens the pair (the second is ignored), of two outs in a row
   the last closes it; a punch without a direction takes the other role than the last one.
   ``in`` is the first counted punch, ``out`` the last one when there are at least two.
5. **Hours.** ``first_last``: out - in; ``pairs``: the sum of in→out pairs. Unpaid breaks are
   taken out where they overlap the time counted. ``rounding`` moves in-punches up and
   out-punches down to a step of N minutes for hours and overtime only (late and early use the
   real times). Hours are rounded to 2 decimals (half up) before any threshold.
6. **Status.** Absent when hours < ``absent_below_h``, else half day when hours <
   ``half_day_below_h``, else present (strict "<", absent tested first, ``None`` = unused).
   The thresholds judge a final day (rule 12): a provisional one is present whatever its hours,
   which are not all in yet (the out-punch of a shift in progress, the punches of a terminal
   that has not reported), so the employee who punched in this morning is not absent at noon.
   One punch only gives 0 h and is flagged ``missing_out`` (final and with no threshold: present).
   Late when in > start + ``late_grace_min``; early when out < end - ``early_grace_min`` (both
   strict; ``None`` = never marked); minutes late/early are whole minutes from start/end.
   **Flexible start** (弹性上班, ``flex_min`` > 0): the day may begin anywhere from start - flex
   to start + flex and then ends as much later (晚到晚走) or earlier (早到早走): with d the first
   in's distance from the start, held within ±flex, the start and end used for early and
   overtime are start + d and end + d. Late only beyond start + flex + grace, by whole minutes
   from start + flex. The window, hours and thresholds are the shift's own.
7. **Rest days and holidays.** Never absent. Punches on them make a record only when the
   shift has ``count_on_holidays``; then every counted minute is overtime of that day's kind,
   nobody is late or early, and the record is present whatever its hours (the thresholds of
   rule 6 are for working days).
8. **Records already there win** (manual, full-day leave, an approved make-up request): no
   second record, and the punches of that occurrence are marked as not used; one without a shift
   stands for every occurrence of its day. A half-day leave
   record is updated in place: it keeps ``half_day``, takes the shift, hours and in/out, and its
   ``other_half`` is present when the status from the punches is not absent, else absent (no
   punches: absent once final, undecided before). Days on duty away (公出: a business trip, field work) are
   such records too, of source ``on_duty``: a whole day is present with the shift's paid hours; half a day
   merges as a half-day leave and adds half the shift's paid hours to the hours of its other half.
9. **Absent**: a working-day occurrence that is final, has no counted punch and no record.
10. **Overtime**: on working days the minutes worked after the end (and before the start when
    the rule allows), on rest days and holidays every counted minute; each kind counts only
    from ``min_minutes`` and is rounded down to ``step_min``. With ``requires_approval`` it is
    ``pending`` until approved; with ``listed_only`` only employees on the overtime list (加班白名单)
    are paid, everyone else's minutes are kept as ``unpaid``.
11. **Exempt employees** (高管免刷): present on each working day, never late or absent, hours from
    the shift (its length less breaks), no overtime.
12. **Finality.** An occurrence is final when its window closed before ``reported_until`` (every
    terminal of the site has reported an empty outbox after it), or before ``timeout_until``
    (flagged ``closed_by_timeout``). Provisional records say so; only final ones can be absent.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

HoursRule = Literal["first_last", "pairs"]
DirectionRule = Literal["alternate", "as_punched"]
Status = Literal["present", "absent", "half_day", "on_leave"]
Source = Literal["punches", "manual", "leave", "absent", "exempt", "on_duty"]
DayKind = Literal["workday", "rest_day", "holiday"]
OvertimeState = Literal["", "pending", "approved", "rejected", "in_lieu", "unpaid"]
STATUSES: tuple[Status, ...] = ("present", "absent", "half_day", "on_leave")
SOURCES: tuple[Source, ...] = ("punches", "manual", "leave", "absent", "exempt", "on_duty")
COMPUTED_SOURCES: tuple[Source, ...] = ("punches", "absent", "exempt")  # made, and so replaced, by the engine
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TWO_PLACES = Decimal("0.01")


# -- what goes in ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Break:
    """Unpaid time inside a shift, in local wall time (a break before the shift's start is on the next day)."""
    start: time
    end: time


@dataclass(frozen=True)
class Rounding:
    """Punch rounding for hours: in-punches ``in_mode`` and out-punches ``out_mode`` to ``minutes``."""
    minutes: int
    in_mode: Literal["up", "down", "nearest"] = "up"
    out_mode: Literal["up", "down", "nearest"] = "down"


@dataclass(frozen=True)
class OvertimeRule:
    min_minutes: int = 0
    step_min: int = 1
    before_start: bool = False
    requires_approval: bool = False
    listed_only: bool = False


@dataclass(frozen=True)
class Shift:
    name: str
    start: time
    end: time
    checkin_before_min: int = 0
    checkout_after_min: int = 0
    late_grace_min: int | None = None
    early_grace_min: int | None = None
    hours: HoursRule = "first_last"
    direction: DirectionRule = "alternate"
    half_day_below_h: Decimal | None = None
    absent_below_h: Decimal | None = None
    count_on_holidays: bool = False
    breaks: tuple[Break, ...] = ()
    rounding: Rounding | None = None
    flex_min: int = 0  # 弹性上班: the day may start up to this much before or after ``start`` (rule 6)
    overtime: OvertimeRule = OvertimeRule()

    def begins(self, day: date) -> datetime:
        return datetime.combine(day, self.start)

    def ends(self, day: date) -> datetime:
        end = datetime.combine(day, self.end)
        return end if self.end > self.start else end + timedelta(days=1)

    def window(self, day: date) -> tuple[datetime, datetime]:
        """When the occurrence dated ``day`` may be punched: ``checkin_before_min`` before its start to
        ``checkout_after_min`` after its end, both edges inclusive."""
        return (self.begins(day) - timedelta(minutes=self.checkin_before_min),
                self.ends(day) + timedelta(minutes=self.checkout_after_min))

    def paid_hours(self, day: date = date(2000, 1, 3), zone: tzinfo | None = None) -> Decimal:
        """The shift's length less its breaks (what an exempt employee is credited), in real time where the
        clocks of ``zone`` change that day."""
        pieces = [(self.begins(day), self.ends(day))]
        for cut in self.break_spans(day):
            pieces = [p for piece in pieces for p in _minus(piece, cut)]
        return hours_of(sum(elapsed(start, end, zone) for start, end in pieces))

    def break_spans(self, day: date) -> list[tuple[datetime, datetime]]:
        spans = []
        for b in self.breaks:
            start = datetime.combine(day, b.start)
            if b.start < self.start:
                start += timedelta(days=1)
            end = datetime.combine(start.date(), b.end)
            if end <= start:
                end += timedelta(days=1)
            spans.append((start, end))
        return spans


@dataclass(frozen=True)
class Rotation:
    """Shift names (``None``: rest) repeating every ``len(pattern)`` days from ``anchor``."""
    name: str
    anchor: date
    pattern: tuple[str | None, ...]

    def shift_on(self, day: date) -> str | None:
        return self.pattern[(day - self.anchor).days % len(self.pattern)] if self.pattern else None


@dataclass(frozen=True)
class Assignment:
    """A shift or a rotation (exactly one) from ``start`` to ``end`` inclusive (``None``: open-ended).

    ``level`` 0 is the employee's own, 1 their department's: the lowest level covering a day decides it.
    ``changed``: an approved shift change (调班, one's own or a swap with a colleague) that decides its days before
    any other assignment: ``shift`` is worked on them whatever the weekly rest, and with no shift they are rest days.
    """
    start: date
    end: date | None
    shift: str | None = None
    rotation: str | None = None
    level: int = 0
    changed: bool = False

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Calendar:
    """A site's days and clock.

    ``earlier``: for a person who moved from another site (调动), the calendars of the sites they worked at before,
    each with the day it stopped applying (exclusive), oldest first: a day before one of those days is that site's.
    The clock stays this calendar's own.
    """
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # make-up working days (调休) on weekly rest days
    weekly_rest: frozenset[int] = frozenset()  # date.weekday(): 0 = Monday
    zone: tzinfo | None = None  # the site's time zone: lengths in real time across its clock changes (None: none)
    earlier: tuple[tuple[date, Calendar], ...] = ()

    def kind(self, day: date, *, weekly: bool) -> DayKind:
        for until, calendar in self.earlier:
            if day < until:
                return calendar.kind(day, weekly=weekly)
        if day in self.holidays:
            return "holiday"
        if weekly and day.weekday() in self.weekly_rest and day not in self.workdays:
            return "rest_day"
        return "workday"


@dataclass(frozen=True)
class Schedule:
    """What decides when a person works. Like every input here it is not changed once made."""
    shifts: dict[str, Shift]
    rotations: dict[str, Rotation] = field(default_factory=dict)
    assignments: tuple[Assignment, ...] = ()
    calendar: Calendar = Calendar()

    def fingerprint(self) -> Hashed:
        """Everything the schedule holds, as one hashable value worked out once per schedule object."""
        found: Hashed | None = self.__dict__.get("_fingerprint")
        if found is None:
            found = Hashed((tuple(self.shifts.items()), tuple(self.rotations.items()), self.assignments, self.calendar))
            if len(_FINGERPRINTS) >= _MEMO_SIZE:
                _FINGERPRINTS.clear()
            # one object for equal schedules made apart (each read of the rules makes new ones): a remembered
            # key is then found by identity, not by comparing every shift field by field
            found = _FINGERPRINTS.setdefault(found, found)
            object.__setattr__(self, "_fingerprint", found)
        return found


_MEMO_SIZE = 256
_FINGERPRINTS: dict[Hashed, Hashed] = {}


class Hashed:
    """A value with its hash worked out once (a frozen dataclass hashes all its fields at every call)."""
    __slots__ = ("value", "hash")

    def __init__(self, value: tuple[object, ...]):
        self.value = value
        self.hash = hash(value)

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Hashed) and self.hash == other.hash and self.value == other.value)


@dataclass(frozen=True)
class Person:
    number: str
    joined: date | None = None
    left: date | None = None
    active: bool = True
    default_shift: str | None = None
    exempt: bool = False
    overtime_listed: bool = False

    def rules_key(self) -> tuple[object, ...]:
        """Everything but the number: what makes two people's occurrences the same."""
        return (self.joined, self.left, self.active, self.default_shift, self.exempt, self.overtime_listed)

    def employed_on(self, day: date) -> bool:
        return self.active and (self.joined is None or day >= self.joined) and (self.left is None or day <= self.left)


@dataclass(frozen=True)
class PunchIn:
    id: str
    at: datetime
    direction: str | None = None  # "in", "out" or None


@dataclass(frozen=True)
class Record:
    """One daily record: what the engine computed, or one that was there before (manual, leave)."""
    date: date
    shift: str | None
    status: Status
    source: Source
    half_day: bool = False
    hours: Decimal = Decimal("0.00")
    late: bool = False
    early: bool = False
    late_min: int = 0
    early_min: int = 0
    overtime_min: int = 0
    overtime_kind: DayKind = "workday"
    overtime_state: OvertimeState = ""
    first_in: datetime | None = None
    last_out: datetime | None = None
    other_half: Literal["present", "absent"] | None = None
    missing_out: bool = False
    day_kind: DayKind = "workday"
    final: bool = True
    closed_by_timeout: bool = False
    punch_ids: tuple[str, ...] = ()

    @property
    def computed(self) -> bool:
        """Made by the engine (and so replaced by it), not entered by a person."""
        return self.source in COMPUTED_SOURCES


@dataclass(frozen=True)
class Finality:
    """``reported_until``: every terminal reported an empty outbox after it; ``timeout_until``: now - max wait."""
    reported_until: datetime | None = None
    timeout_until: datetime | None = None


# -- what comes out -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PunchUse:
    id: str
    at: datetime
    shift: str | None
    date: date | None
    used: bool


@dataclass(frozen=True)
class Occurrence:
    shift: Shift
    date: date
    begins: datetime
    ends: datetime
    opens: datetime
    closes: datetime
    day_kind: DayKind
    open_exclusive: bool = False  # cut: a punch exactly at ``opens`` belongs to the previous occurrence

    def holds(self, at: datetime) -> bool:
        after_open = at > self.opens if self.open_exclusive else at >= self.opens
        return after_open and at <= self.closes


@dataclass(frozen=True)
class Result:
    records: list[Record]
    punches: list[PunchUse]


# -- the schedule -------------------------------------------------------------------------------------
def shifts_on(schedule: Schedule, person: Person, day: date) -> list[tuple[Shift, bool]]:
    """The shifts the person works on ``day`` and whether weekly rest applies to each (fixed shifts)."""
    if not person.employed_on(day):
        return []
    covering = [a for a in schedule.assignments if a.covers(day)]
    change = next((a for a in covering if a.changed), None)
    if change is not None:
        return [(schedule.shifts[change.shift], False)] if change.shift else []
    if covering:
        level = min(a.level for a in covering)
        names = [a.shift for a in covering if a.level == level and a.shift]
        if names:
            return [(schedule.shifts[n], True) for n in names]
        rotation = next(a.rotation for a in covering if a.level == level and a.rotation)
        name = schedule.rotations[rotation].shift_on(day)
        return [(schedule.shifts[name], False)] if name else []
    if person.default_shift:
        return [(schedule.shifts[person.default_shift], True)]
    return []


def leave_days(schedule: Schedule, person: Person, first: date, last: date, *, natural: bool) -> list[date]:
    """The days a leave from ``first`` to ``last`` takes off, within the person's employment.

    ``natural`` (a leave counted in calendar days, such as maternity leave): every day. Otherwise only working
    days: a day on which the person works a shift on a working day, so rest days of a rotation, weekly rest days
    and holidays are not taken off (and a make-up working day, 调休, is); a day the person has no schedule at all
    (no assignment, rotation or default shift) is taken off when the site's calendar makes it a working day.
    """
    days: list[date] = []
    day = first
    while day <= last:
        if person.employed_on(day):
            if natural:
                days.append(day)
            else:
                shifts = shifts_on(schedule, person, day)
                if shifts:
                    working = any(schedule.calendar.kind(day, weekly=weekly) == "workday" for _, weekly in shifts)
                else:  # a rotation's rest day, or no schedule at all
                    unscheduled = not person.default_shift and not any(a.covers(day) for a in schedule.assignments)
                    working = unscheduled and schedule.calendar.kind(day, weekly=True) == "workday"
                if working:
                    days.append(day)
        day += timedelta(days=1)
    return days


_MEMO: dict[tuple[object, ...], list[Occurrence]] = {}


def occurrences(schedule: Schedule, person: Person, first: date, last: date) -> list[Occurrence]:
    """Every occurrence dated ``first``..``last``, its window cut where it overlaps the next one.

    Remembered by value for the last few inputs (everything in the schedule and the person but the
    person's number): the employees of a crew or a department share them, and a bulk run otherwise
    spent a third of its engine time working out the same dates again. A fresh list every call.
    """
    try:
        key = (schedule.fingerprint(), person.rules_key(), first, last)
        found = _MEMO.get(key)
    except TypeError:  # something unhashable (a list for a tuple): nothing to remember it by
        return _occurrences(schedule, person, first, last)
    if found is None:
        found = _occurrences(schedule, person, first, last)
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.clear()
        _MEMO[key] = found
    return list(found)


def _occurrences(schedule: Schedule, person: Person, first: date, last: date) -> list[Occurrence]:
    found: list[Occurrence] = []
    day = first
    while day <= last:
        for shift, weekly in shifts_on(schedule, person, day):
            opens, closes = shift.window(day)
            found.append(Occurrence(shift, day, shift.begins(day), shift.ends(day), opens, closes,
                                    schedule.calendar.kind(day, weekly=weekly)))
        day += timedelta(days=1)
    found.sort(key=lambda o: (o.begins, o.shift.name))
    for i in range(len(found) - 1):
        earlier, later = found[i], found[i + 1]
        if earlier.closes >= later.opens:
            # cut at the earlier shift's end, kept inside the overlap: the punch at the cut is the earlier's
            cut = min(max(earlier.ends, later.opens), earlier.closes)
            found[i] = replace(earlier, closes=cut)
            found[i + 1] = replace(later, opens=cut, open_exclusive=True)
    return found


@dataclass(frozen=True)
class Touched:
    """What new punches can change: the occurrences dated ``first``..``last``, whose punches all lie in
    [``opens``, ``closes``]."""
    first: date
    last: date
    opens: datetime
    closes: datetime


def touched(schedule: Schedule, person: Person, times: Iterable[datetime], first: date, last: date) -> Touched | None:
    """The dates (within ``first``..``last``) of the occurrences whose windows hold any of ``times`` (local):
    the only records new punches at those times can change. ``None``: no occurrence holds any of them."""
    occs = occurrences(schedule, person, first - timedelta(days=1), last + timedelta(days=1))  # cut by neighbours
    moments = list(times)
    held = [o.date for o in occs if first <= o.date <= last and any(o.holds(t) for t in moments)]
    if not held:
        return None
    low, high = min(held), max(held)
    inside = [o for o in occs if low <= o.date <= high]  # every occurrence of those dates is recomputed
    return Touched(low, high, min(o.opens for o in inside), max(o.closes for o in inside))


def dates_reaching(schedule: Schedule, day: date) -> tuple[date, date]:
    """The dates of the occurrences whose windows can reach into the local ``day``: the day before for a
    night shift's morning, the day after for a shift whose window opens the evening before."""
    low, high = span_needed(schedule, day, day)
    return day - (high - day), day + (day - low)


def reach(schedule: Schedule, first: date, last: date) -> tuple[datetime, datetime]:
    """The local times of the punches that occurrences dated ``first``..``last`` can hold: from the earliest
    window opening of a shift on ``first`` to the latest window closing of one on ``last`` (both inclusive)."""
    if not schedule.shifts:
        return datetime.combine(first, time()), datetime.combine(last + timedelta(days=1), time())
    shifts = schedule.shifts.values()
    return (min(s.begins(first) - timedelta(minutes=s.checkin_before_min) for s in shifts),
            max(s.ends(last) + timedelta(minutes=s.checkout_after_min) for s in shifts))


def span_needed(schedule: Schedule, first: date, last: date) -> tuple[date, date]:
    """The local days of the punches that occurrences dated ``first``..``last`` can hold.

    A window opening before its day's midnight reaches back a day; a night shift, or a check-out margin
    past midnight, reaches forward.
    """
    day = timedelta(days=1)
    anchor = datetime.combine(first, time())
    back = min(((s.begins(first) - timedelta(minutes=s.checkin_before_min) - anchor) // day
                for s in schedule.shifts.values()), default=0)
    ahead = max(((s.ends(first) + timedelta(minutes=s.checkout_after_min) - anchor) // day
                 for s in schedule.shifts.values()), default=1)
    return first + timedelta(days=min(back, 0)), last + timedelta(days=max(ahead, 0))


# -- one occurrence ------------------------------------------------------------------------------------
def elapsed(start: datetime, end: datetime, zone: tzinfo | None) -> float:
    """Seconds of real time from ``start`` to ``end`` (local wall times): the wall clock's difference, less the
    hour the clocks of ``zone`` went forward between them or plus the hour they went back."""
    seconds = (end - start).total_seconds()
    if zone is not None:
        before, after = zone.utcoffset(start), zone.utcoffset(end)
        if before is not None and after is not None and before != after:
            seconds += (before - after).total_seconds()
    return seconds


def minutes_late(shift: Shift, begins: datetime, first_in: datetime, zone: tzinfo | None) -> int | None:
    """Whole minutes from the occurrence's start (with a flexible start: its latest, start + flex) to its first in
    when that is beyond the late grace (strictly), else None (on time, or lateness not marked); in real time where
    the clocks of ``zone`` change."""
    if shift.late_grace_min is None:
        return None
    after_start = elapsed(begins, first_in, zone) - shift.flex_min * 60
    return int(after_start // 60) if after_start > shift.late_grace_min * 60 else None


def flex_offset(shift: Shift, begins: datetime, first_in: datetime, zone: tzinfo | None) -> timedelta:
    """How far a flexible start moves this day (rule 6): the first in's distance from the start, within ±flex."""
    if not shift.flex_min:
        return timedelta(0)
    limit = shift.flex_min * 60
    return timedelta(seconds=max(-limit, min(limit, elapsed(begins, first_in, zone))))


def _instant(at: datetime, zone: tzinfo | None) -> datetime:
    """A wall time as a naive UTC time, for ordering (the wall time itself where the clocks never change)."""
    offset = zone.utcoffset(at) if zone is not None else None
    return at - offset if offset is not None else at


def _round(at: datetime, minutes: int, mode: str) -> datetime:
    if minutes <= 0:
        return at
    midnight = datetime.combine(at.date(), time())
    seconds = (at - midnight).total_seconds()
    step = minutes * 60
    if mode == "up":
        units = -(-seconds // step)
    elif mode == "down":
        units = seconds // step
    else:
        units = (seconds + step / 2) // step
    return midnight + timedelta(seconds=units * step)


def pair_up(shift: Shift, punches: Sequence[PunchIn]) -> tuple[list[PunchIn], list[tuple[PunchIn, PunchIn]]]:
    """The punches counted and the in→out pairs, by the shift's direction rule (punches in time order)."""
    if shift.direction == "alternate":
        return list(punches), [(punches[i], punches[i + 1]) for i in range(0, len(punches) - 1, 2)]
    counted: list[PunchIn] = []
    pairs: list[tuple[PunchIn, PunchIn]] = []
    opened: PunchIn | None = None
    closed: PunchIn | None = None  # the out of the last pair, which a later out replaces
    for punch in punches:
        role = punch.direction if punch.direction in ("in", "out") else ("out" if opened else "in")
        if role == "in":
            if opened is None:
                opened, closed = punch, None
                counted.append(punch)
        elif opened is not None:
            pairs.append((opened, punch))
            counted.append(punch)
            opened, closed = None, punch
        elif closed is not None:
            counted.remove(closed)
            start = pairs.pop()[0]
            pairs.append((start, punch))
            counted.append(punch)
            closed = punch
    return counted, pairs


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime], zone: tzinfo | None) -> float:
    start, end = max(a[0], b[0]), min(a[1], b[1])
    return max(0.0, elapsed(start, end, zone)) if end >= start else 0.0


def _worked(shift: Shift, occ: Occurrence, spans: list[tuple[datetime, datetime]],
            zone: tzinfo | None) -> list[tuple[datetime, datetime]]:
    """Spans of paid time: ``spans`` after rounding, without breaks."""
    rounding = shift.rounding
    if rounding is None and not shift.breaks:  # nothing to take out: the spans as punched
        return [(start, end) for start, end in spans if elapsed(start, end, zone) > 0]
    worked = []
    for start, end in spans:
        if rounding:
            start, end = _round(start, rounding.minutes, rounding.in_mode), _round(end, rounding.minutes, rounding.out_mode)
        if elapsed(start, end, zone) > 0:
            worked.append((start, end))
    breaks = shift.break_spans(occ.date)
    result: list[tuple[datetime, datetime]] = []
    for span in worked:
        pieces = [span]
        for b in breaks:
            pieces = [p for piece in pieces for p in _minus(piece, b)]
        result.extend(pieces)
    return result


def _minus(span: tuple[datetime, datetime], cut: tuple[datetime, datetime]) -> list[tuple[datetime, datetime]]:
    if cut[1] <= span[0] or cut[0] >= span[1]:
        return [span]
    return [p for p in ((span[0], cut[0]), (cut[1], span[1])) if p[1] > p[0]]


def hours_of(seconds: float) -> Decimal:
    return (Decimal(int(round(seconds))) / Decimal(3600)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def _overtime(rule: OvertimeRule, minutes: int, person: Person) -> tuple[int, OvertimeState]:
    if minutes < max(rule.min_minutes, 1):
        return 0, ""
    minutes -= minutes % max(rule.step_min, 1)
    if minutes <= 0:
        return 0, ""
    if rule.listed_only and not person.overtime_listed:
        return minutes, "unpaid"
    return minutes, "pending" if rule.requires_approval else "approved"


def status_from_hours(shift: Shift, hours: Decimal) -> Status:
    if shift.absent_below_h is not None and hours < shift.absent_below_h:
        return "absent"
    if shift.half_day_below_h is not None and hours < shift.half_day_below_h:
        return "half_day"
    return "present"


def from_punches(occ: Occurrence, person: Person, punches: Sequence[PunchIn], final: bool, timeout: bool,
                 zone: tzinfo | None = None) -> Record | None:
    """The record of one occurrence computed from its punches (``None``: it makes no record); lengths in real
    time where the clocks of ``zone`` change."""
    shift = occ.shift
    counted, pairs = pair_up(shift, punches)
    common = {"date": occ.date, "shift": shift.name, "day_kind": occ.day_kind, "final": final,
              "closed_by_timeout": timeout}
    if person.exempt:
        if occ.day_kind != "workday":
            return None
        return Record(status="present", source="exempt", hours=shift.paid_hours(occ.date, zone),
                      first_in=counted[0].at if counted else None,
                      last_out=counted[-1].at if len(counted) > 1 else None,
                      punch_ids=tuple(p.id for p in counted), **common)  # type: ignore[arg-type]
    if not counted:
        if final and occ.day_kind == "workday":
            return Record(status="absent", source="absent", **common)  # type: ignore[arg-type]
        return None
    if occ.day_kind != "workday" and not shift.count_on_holidays:
        return None
    first, last = counted[0], (counted[-1] if len(counted) > 1 else None)
    if shift.hours == "pairs":
        spans = [(a.at, b.at) for a, b in pairs]
    else:
        spans = [(first.at, last.at)] if last else []
    worked = _worked(shift, occ, spans, zone)
    seconds = sum(elapsed(s, e, zone) for s, e in worked)
    hours = hours_of(seconds)
    # rest days and holidays are never absent nor half (rule 7): whatever was worked is overtime; a provisional
    # day's hours are not all in yet (rule 6)
    status = status_from_hours(shift, hours) if occ.day_kind == "workday" and final else "present"
    late = early = False
    late_min = early_min = 0
    if occ.day_kind == "workday":
        minutes = minutes_late(shift, occ.begins, first.at, zone)
        if minutes is not None:
            late, late_min = True, minutes
        moved = flex_offset(shift, occ.begins, first.at, zone)
        begins, ends = occ.begins + moved, occ.ends + moved
        if shift.early_grace_min is not None and last is not None:
            before_end = elapsed(last.at, ends, zone)
            if before_end > shift.early_grace_min * 60:
                early, early_min = True, int(before_end // 60)
        extra = sum(_overlap(s, (ends, datetime.max), zone) for s in worked)
        if shift.overtime.before_start:
            extra += sum(_overlap(s, (datetime.min, begins), zone) for s in worked)
    else:
        extra = seconds
    overtime_min, overtime_state = _overtime(shift.overtime, int(extra // 60), person)
    return Record(status=status, source="punches", hours=hours, late=late, early=early, late_min=late_min,
                  early_min=early_min, overtime_min=overtime_min, overtime_kind=occ.day_kind,
                  overtime_state=overtime_state, first_in=first.at, last_out=last.at if last else None,
                  missing_out=last is None, punch_ids=tuple(p.id for p in counted), **common)  # type: ignore[arg-type]


def _merge_half_day(existing: Record, computed: Record | None, occ: Occurrence, final: bool, timeout: bool,
                    zone: tzinfo | None = None) -> Record:
    """A half-day leave takes the shift, hours and in/out of its other half; half a day on duty away adds half the
    shift's paid hours to them."""
    credited = Decimal("0.00")
    if existing.source == "on_duty":
        credited = (occ.shift.paid_hours(occ.date, zone) / 2).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)
    if computed is None or computed.source == "absent":
        return replace(existing, shift=occ.shift.name, hours=credited, first_in=None, last_out=None,
                       other_half="absent" if final else None, final=final, closed_by_timeout=timeout, punch_ids=(),
                       day_kind=occ.day_kind, missing_out=False)
    return replace(existing, shift=occ.shift.name, hours=computed.hours + credited, first_in=computed.first_in,
                   last_out=computed.last_out, other_half="absent" if computed.status == "absent" else "present",
                   final=final, closed_by_timeout=timeout, punch_ids=computed.punch_ids, day_kind=occ.day_kind,
                   missing_out=computed.missing_out)


def is_final(occ: Occurrence, finality: Finality) -> tuple[bool, bool]:
    """(final, closed by timeout) for one occurrence."""
    if finality.reported_until is not None and occ.closes < finality.reported_until:
        return True, False
    if finality.timeout_until is not None and occ.closes < finality.timeout_until:
        return True, True
    return False, False


# -- the run --------------------------------------------------------------------------------------------
def evaluate(schedule: Schedule, person: Person, punches: Iterable[PunchIn], records: Iterable[Record], *,
             first: date, last: date, finality: Finality, only_shift: str | None = None, punch_uses: bool = True) -> Result:
    """Recompute the occurrences dated ``first``..``last``.

    ``punch_uses=False`` leaves ``Result.punches`` empty (where each punch went), for callers that only
    write records.

    ``punches`` must include every punch of the person that can fall in those occurrences'
    windows (``reach`` gives the times, ``span_needed`` the days to read). ``records`` are the ones already there;
    the result lists every record of ``records`` outside the run unchanged, and each occurrence's
    record inside it (computed records are replaced, records entered by people kept or updated).
    """
    zone = schedule.calendar.zone
    ordered = sorted(punches, key=lambda p: (_instant(p.at, zone), p.id))
    low, high = first - timedelta(days=1), last + timedelta(days=1)
    if ordered:  # every punch given is placed, also those of days outside the run
        low, high = min(low, ordered[0].at.date() - timedelta(days=1)), max(high, ordered[-1].at.date())
    occs = occurrences(schedule, person, low, high)
    buckets: dict[int, list[PunchIn]] = {}
    owner: dict[str, Occurrence | None] = {}
    index = 0
    for punch in ordered:
        while index < len(occs) and occs[index].closes < punch.at:
            index += 1
        home = None
        for i in range(index, min(index + 3, len(occs))):
            if occs[i].holds(punch.at):
                home = i
                break
        owner[punch.id] = occs[home] if home is not None else None
        if home is not None:
            buckets.setdefault(home, []).append(punch)

    existing: dict[tuple[date, str | None], Record] = {}
    kept: list[Record] = []
    for record in records:
        inside = first <= record.date <= last and (only_shift is None or record.shift in (None, only_shift))
        if inside and record.computed:
            continue  # recomputed below
        if inside:
            existing[(record.date, record.shift)] = record
        else:
            kept.append(record)

    used: set[str] = set()
    out: list[Record] = []
    covered: set[tuple[date, str | None]] = set()
    for i, occ in enumerate(occs):
        if not first <= occ.date <= last or (only_shift is not None and occ.shift.name != only_shift):
            continue
        final, timeout = is_final(occ, finality)
        mine = buckets.get(i, [])
        there = existing.pop((occ.date, occ.shift.name), None)
        if there is None:  # a record without a shift stands for the whole day: every occurrence of it
            whole_day = existing.get((occ.date, None))
            if whole_day is not None and not whole_day.half_day:
                if (occ.date, None) not in covered:
                    out.append(whole_day)
                    covered.add((occ.date, None))
                continue
            there = existing.pop((occ.date, None), None)
        if there is not None and not there.half_day:
            out.append(there)
            continue
        computed = from_punches(occ, person, mine, final, timeout, zone)
        if there is not None:
            merged = _merge_half_day(there, computed, occ, final, timeout, zone)
            used.update(merged.punch_ids)
            out.append(merged)
        elif computed is not None:
            used.update(computed.punch_ids)
            out.append(computed)
    out.extend(r for key, r in existing.items() if key not in covered)  # records of days with no occurrence stay
    out.extend(kept)
    out.sort(key=lambda r: (r.date, r.shift or ""))
    uses: list[PunchUse] = []
    for punch in ordered if punch_uses else ():
        where = owner.get(punch.id)
        uses.append(PunchUse(punch.id, punch.at, where.shift.name if where else None, where.date if where else None,
                             punch.id in used))
    return Result(out, uses)
