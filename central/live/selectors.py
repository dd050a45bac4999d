"""What the live dashboard (the console's home) shows, read only through :mod:`central.accounts.scope`.

Where each number comes from, so that it matches the rest of the product:

* **on site, stale, expected now, arrived, waiting, on leave**: :mod:`central.attendance.live_board` (the situations
  of :mod:`central.attendance.presence`, kept up to date per process: the shift in progress, its punches, leave);
* **late today, missing outs of yesterday**: the engine's :class:`~central.attendance.models.DailyRecord` rows
  (``late``/``late_min``, ``missing_out``) of each shift's board day (:func:`board_day`): the date of its
  occurrence whose window holds now, else the site's own today, so that a night shift's late arrivals stay
  listed past midnight;
* **the same weekday of the last 4 weeks**: the engine's records by ``status`` of each shift's board day, as the late
  card, and of the same date 1 to 4 weeks before;
* **provisional days**: records not final yet, dated before today in the last ``PROVISIONAL_DAYS`` days;
  the terminals holding them back are the site's devices that have not reported an empty outbox
  (``Device.drained_at``) since the end of the latest such day, the finality rule of
  :func:`central.attendance.inputs.load_rules`;
* **devices**: their last status and the events of the last hour.

The cost does not grow with the employees beyond one read of each kind: no query per employee or per device
(``benchmarks/console.py`` times the page with 10,000 employees and a year of punches).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Generic, TypeVar
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from central.accounts import scope
from central.accounts.models import Role
from central.attendance.engine import Shift
from central.attendance.inputs import StaffRow, local, shift_of, zone_named
from central.attendance.live_board import board_situations
from central.attendance.models import DailyRecord, ShiftType
from central.attendance.presence import Counts, Situation, count
from central.console.event_labels import event_label
from central.ingest.models import Punch
from central.people.models import Department, Device, Employee, Site

if TYPE_CHECKING:

    from central.accounts.models import User

LIST_CAP = 20  # rows of each list; the rest is "and N more" (the live part is sent again every 2 s)
WEEKS_BACK = 4  # the same weekday of the last 4 weeks
PROVISIONAL_DAYS = 7  # how far back provisional days are looked for (the sites' default final wait is 7 days)
OFFSET_WARN_S = 2.0  # a terminal clock further off than this is shown as a warning
RECENT_PUNCHES = 8
RECENT_WINDOW = timedelta(hours=36)  # how far back a narrowed page looks for its recent punches
EVENT_WINDOW = timedelta(hours=1)
WATCHED_EVENTS = ("tailgating", "spoof_suspected", "spoof", "spoof_attempt", "unknown_face", "clock_jump", "disk_low",
                  "tamper")

T = TypeVar("T")


class FilterNotFound(LookupError):
    """A site or department filter outside the caller's scope (or nowhere): the view answers 404."""


@dataclass(frozen=True)
class Capped(Generic[T]):
    """The first ``LIST_CAP`` rows of a list and how many more there are."""
    rows: list[T]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


def capped(rows: Sequence[T], cap: int = LIST_CAP) -> Capped[T]:
    return Capped(list(rows[:cap]), len(rows))


@dataclass(frozen=True)
class Filters:
    site: Site | None = None
    department: Department | None = None

    def query(self) -> str:
        parts = []
        if self.site is not None:
            parts.append(f"site={self.site.code}")
        if self.department is not None:
            parts.append(f"department={self.department.pk}")
        return "&".join(parts)


@dataclass(frozen=True)
class PersonRow:
    """One employee on a list: who, where, and what the list is about."""
    pk: int
    number: str
    name: str
    site: str
    department: str
    shift: str = ""
    minutes: int | None = None  # since the shift began (waiting) or late by (late)
    at: datetime | None = None  # first in (late, missing out) or last punch (stale), aware


@dataclass(frozen=True)
class GroupRow:
    """One site and department of the table."""
    site: str
    department: str
    counts: Counts
    late_today: int


@dataclass(frozen=True)
class Comparison:
    """One number of today against the same weekday of the last weeks (engine records, by status)."""
    key: str
    label: str
    today: int
    weeks: list[tuple[date, int]]  # newest first

    @property
    def average(self) -> float | None:
        return sum(n for _, n in self.weeks) / len(self.weeks) if self.weeks else None

    @property
    def delta(self) -> float | None:
        average = self.average
        return None if average is None else self.today - average


@dataclass(frozen=True)
class DeviceRow:
    device_id: str
    name: str
    site: str
    online: bool
    last_seen_at: datetime | None
    queue_depth: int | None
    clock_offset_s: float | None
    events: list[tuple[str, str, int]]  # (kind, label, count) of the last hour

    @property
    def offset_warn(self) -> bool:
        return self.clock_offset_s is not None and abs(self.clock_offset_s) > OFFSET_WARN_S

    @property
    def events_total(self) -> int:
        return sum(n for _, _, n in self.events)


@dataclass(frozen=True)
class Holder:
    """A terminal holding a site's days back: it has not reported an empty outbox since they ended."""
    device_id: str
    name: str
    online: bool
    drained_at: datetime | None
    last_seen_at: datetime | None


@dataclass(frozen=True)
class ProvisionalSite:
    site: str
    days: list[tuple[date, int]]  # (date, records not final yet), oldest first
    holders: list[Holder]


@dataclass(frozen=True)
class RecentPunch:
    punch: Punch
    name: str
    door: str


@dataclass(frozen=True)
class MyDay:
    """An employee's own day (the self-service role's dashboard)."""
    situation: Situation | None
    today: list[DailyRecord]
    yesterday_missing_out: list[DailyRecord]


@dataclass(frozen=True)
class Dashboard:
    now: datetime
    filters: Filters
    employees: int
    counts: Counts
    late_today: int
    missing_out_yesterday: int
    groups: list[GroupRow]
    waiting: Capped[PersonRow]
    late: Capped[PersonRow]
    missing_out: Capped[PersonRow]
    stale: Capped[PersonRow]
    comparisons: list[Comparison]
    devices: list[DeviceRow]
    devices_online: int
    devices_offline: int
    events_last_hour: int
    provisional: list[ProvisionalSite]
    recent_punches: list[RecentPunch]
    my_day: MyDay | None = None
    sites: list[Site] = field(default_factory=list)  # the filter's choices
    departments: list[Department] = field(default_factory=list)

    @property
    def self_service(self) -> bool:
        return self.my_day is not None

    @property
    def compared(self) -> dict[str, Comparison]:
        return {c.key: c for c in self.comparisons}


def board_day(now_local: datetime, shift: Shift | None) -> date:
    """The date of a shift's records the board lists as today's late arrivals (and, a day before, missing outs).

    The site's local today, unless yesterday's occurrence of the shift still has its window open at ``now_local``
    and today's has not opened yet: a night shift that began before midnight stays "today" until its check-out
    window closes. A record of no known shift (entered by hand, or a shift renamed since) is on the site's today.
    """
    today = now_local.date()
    if shift is None:
        return today
    for day in (today, today - timedelta(days=1)):
        opens, closes = shift.window(day)
        if opens <= now_local <= closes:
            return day
    return today


class BoardDays:
    """:func:`board_day` of each site and shift name at one moment (the shift types read once, on first use)."""

    def __init__(self, now: datetime, zones: dict[int, ZoneInfo]):
        self.now, self.zones = now, zones
        self.rules: dict[str, Shift] | None = None
        self.found: dict[tuple[int, str], date] = {}

    def __call__(self, site_id: int, shift_name: str) -> date:
        found = self.found.get((site_id, shift_name))
        if found is None:
            if self.rules is None:
                self.rules = {s.name: shift_of(s) for s in ShiftType.objects.select_related("overtime")}
            zone = self.zones.get(site_id, ZoneInfo("UTC"))  # an employee without a known site: UTC
            found = self.found[(site_id, shift_name)] = board_day(local(self.now, zone), self.rules.get(shift_name))
        return found


def filters_for(user: User, site: str = "", department: str = "") -> Filters:
    """The GET filters as rows within the caller's scope; a value outside it is :class:`FilterNotFound`."""
    found_site = found_department = None
    if site:
        found_site = scope.sites(user).filter(code=site).first()
        if found_site is None:
            raise FilterNotFound(site)
    if department:
        if not department.isdigit():
            raise FilterNotFound(department)
        rows = scope.departments(user).select_related("site").filter(pk=int(department))
        if found_site is not None:
            rows = rows.filter(site=found_site)
        found_department = rows.first()
        if found_department is None:
            raise FilterNotFound(department)
    return Filters(found_site, found_department)


def scoped_employees(user: User, filters: Filters) -> QuerySet[Employee]:
    rows = scope.employees(user).filter(active=True)
    if filters.site is not None:
        rows = rows.filter(site=filters.site)
    if filters.department is not None:
        rows = rows.filter(department=filters.department)
    return rows


def scoped_devices(user: User, filters: Filters) -> QuerySet[Device]:
    rows = scope.devices(user)
    site = filters.site or (filters.department.site if filters.department is not None else None)
    if site is not None:
        rows = rows.filter(site=site)
    return rows


def dashboard(user: User, filters: Filters | None = None, now: datetime | None = None) -> Dashboard:
    """Everything the dashboard shows for ``user`` narrowed by ``filters``, at ``now`` (aware; default: now)."""
    filters = filters or Filters()
    now = now or timezone.now()
    employees_qs = scoped_employees(user, filters)
    rows = list(employees_qs.values_list("id", "number", "name", "site_id", "department_id"))
    site_rows = {s.pk: s for s in Site.objects.all()}
    dept_names = dict(Department.objects.filter(pk__in={r[4] for r in rows if r[4]}).values_list("pk", "name"))
    who = {pk: (number, name, site_id, department_id) for pk, number, name, site_id, department_id in rows}
    zones: dict[int, ZoneInfo] = {pk: zone_named(s.time_zone) for pk, s in site_rows.items()}
    today_of = {pk: local(now, zone).date() for pk, zone in zones.items()}

    def person(pk: int, **extra: object) -> PersonRow:
        number, name, site_id, department_id = who[pk]
        site = site_rows.get(site_id)
        return PersonRow(pk, number, name, site.name if site else "", dept_names.get(department_id or 0, ""),
                         **extra)  # type: ignore[arg-type]

    found = board_situations([StaffRow(pk, number, site_id, department_id, True)
                              for pk, number, _name, site_id, department_id in rows], now)

    # the engine's records: the late arrivals of each shift's board day, the missing outs of the day before it
    # (each site's own dates; a shift whose window still holds now past midnight keeps yesterday's date)
    board_of = BoardDays(now, zones)
    days = {d for t in today_of.values() for d in (t, t - timedelta(days=1), t - timedelta(days=2))}
    late_rows: list[tuple[int, str, int, datetime | None]] = []
    missing_rows: list[tuple[int, str, datetime | None]] = []
    if rows:
        # by the partial index of late and missing-out records; the scope is ``who`` (a subquery here costs more)
        found_records = list(DailyRecord.objects.filter(
            Q(late=True) | Q(missing_out=True), date__in=days,
        ).values_list("employee_id", "date", "shift_name", "late", "late_min", "missing_out", "first_in"))
        for emp_id, day, shift, late, late_min, missing, first_in in found_records:
            site_id = who[emp_id][2] if emp_id in who else None
            if site_id is None or site_id not in today_of:
                continue
            board = board_of(site_id, shift)
            if late and day == board:
                late_rows.append((emp_id, shift, late_min, first_in))
            if missing and day == board - timedelta(days=1):
                missing_rows.append((emp_id, shift, first_in))
    late_rows.sort(key=lambda r: (-r[2], who[r[0]][0]))
    missing_rows.sort(key=lambda r: who[r[0]][0])

    # per site and department
    by_group: dict[tuple[int, int | None], list[Situation]] = defaultdict(list)
    for pk, (_number, _name, site_id, department_id) in who.items():
        by_group[(site_id, department_id)].append(found[pk])
    late_by_group: Counter[tuple[int, int | None]] = Counter((who[r[0]][2], who[r[0]][3]) for r in late_rows)
    groups = [GroupRow(site_rows[s].name if s in site_rows else "", dept_names.get(d or 0, ""), count(items),
                       late_by_group.get((s, d), 0))
              for (s, d), items in by_group.items()]
    groups.sort(key=lambda g: (g.site, g.department))

    waiting = sorted((s for s in found.values() if s.waiting), key=lambda s: (-(s.since_start_min or 0), s.number))
    pk_of = {number: pk for pk, (number, *_rest) in who.items()}
    stale = sorted((s for s in found.values() if s.stale), key=lambda s: (s.last_at or now.replace(tzinfo=None)))

    def aware(pk: int, at: datetime | None) -> datetime | None:
        return None if at is None else at.replace(tzinfo=zones.get(who[pk][2], ZoneInfo("UTC")))

    devices = device_rows(user, filters, now)
    online = sum(d.online for d in devices)
    my_day = _my_day(user, found, today_of, board_of) if _self_service(user) else None
    return Dashboard(
        now=now, filters=filters, employees=len(rows), counts=count(found.values()), late_today=len(late_rows),
        missing_out_yesterday=len(missing_rows), groups=groups,
        waiting=capped([person(pk_of[s.number], shift=s.shift or "", minutes=s.since_start_min,
                               at=aware(pk_of[s.number], s.begins)) for s in waiting]),
        late=capped([person(pk, shift=shift, minutes=late_min, at=first_in) for pk, shift, late_min, first_in in late_rows]),
        missing_out=capped([person(pk, shift=shift, at=first_in) for pk, shift, first_in in missing_rows]),
        stale=capped([person(pk_of[s.number], shift=s.shift or "", at=aware(pk_of[s.number], s.last_at))
                      for s in stale]),
        comparisons=comparisons(employees_qs, today_of, board_of, bool(rows)),
        devices=devices, devices_online=online, devices_offline=len(devices) - online,
        events_last_hour=sum(d.events_total for d in devices),
        provisional=provisional({pk: w[2] for pk, w in who.items()}, today_of, site_rows),
        recent_punches=recent_punches(user, set(pk_of), filters, now),
        my_day=my_day,
        sites=list(scope.sites(user).order_by("code")) if not _self_service(user) else [],
        departments=list(scope.departments(user).select_related("site").order_by("site__code", "name"))
        if not _self_service(user) else [],
    )


def _self_service(user: User) -> bool:
    return not user.is_superuser and user.role == Role.EMPLOYEE


def _my_day(user: User, found: dict[int, Situation], today_of: dict[int, date], board_of: BoardDays) -> MyDay:
    if user.employee_id is None:
        return MyDay(None, [], [])
    me = Employee.objects.filter(pk=user.employee_id).values_list("site_id", flat=True).first()
    today = today_of.get(me or 0, timezone.localdate())
    records = list(DailyRecord.objects.filter(employee_id=user.employee_id,
                                              date__in=[today - timedelta(days=k) for k in range(3)]))
    # each record on its shift's board day, as on the managers' board (a night shift's stays "today" past midnight)
    board = {r.pk: board_of(me or 0, r.shift_name) for r in records}
    return MyDay(found.get(user.employee_id), [r for r in records if r.date == board[r.pk]],
                 [r for r in records if r.date == board[r.pk] - timedelta(days=1) and r.missing_out])


COMPARED = (("present", _("出勤")), ("late", _("迟到")), ("absent", _("缺勤")), ("on_leave", _("请假")))


def comparisons(employees_qs: QuerySet[Employee], today_of: dict[int, date], board_of: BoardDays,
                any_rows: bool) -> list[Comparison]:
    """Today's engine records by status (present, late, absent, on leave) and the same weekday of the last 4 weeks.

    "Today" is each shift's board day (:func:`board_day`), as on the late card: past midnight a night shift that
    began the evening before still counts as today, and its weeks before are the same evenings."""
    offsets = [7 * k for k in range(WEEKS_BACK + 1)]
    dates = {t - timedelta(days=back + k) for t in today_of.values() for back in (0, 1) for k in offsets}
    totals: dict[str, dict[int, int]] = {key: defaultdict(int) for key, _label in COMPARED}
    if any_rows:
        for site_id, day, shift, present, late, absent, leave in DailyRecord.objects.filter(
                employee__in=employees_qs.values("pk"), date__in=dates).values_list(
                "employee__site_id", "date", "shift_name").annotate(
                present=Count("id", filter=Q(status__in=("present", "half_day"))), late=Count("id", filter=Q(late=True)),
                absent=Count("id", filter=Q(status="absent")), leave=Count("id", filter=Q(status="on_leave"))):
            if site_id not in today_of:
                continue
            k = (board_of(site_id, shift) - day).days
            if k not in offsets:
                continue
            for key, n in zip(("present", "late", "absent", "on_leave"), (present, late, absent, leave), strict=True):
                totals[key][k] += n
    reference = max(today_of.values()) if today_of else timezone.localdate()
    return [Comparison(key, str(label), totals[key][0],
                       [(reference - timedelta(days=k), totals[key][k]) for k in offsets[1:]])
            for key, label in COMPARED]


def device_rows(user: User, filters: Filters, now: datetime) -> list[DeviceRow]:
    devices = list(scoped_devices(user, filters).select_related("site").order_by("site__code", "device_id"))
    if not devices:
        return []
    ids = [d.device_id for d in devices]
    events: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for device_id, kind, n in scope.events(user).filter(at__gte=now - EVENT_WINDOW, at__lte=now, device_id__in=ids,
                                                        kind__in=WATCHED_EVENTS).values_list(
            "device_id", "kind").annotate(n=Count("id")).order_by("device_id", "kind"):
        events[device_id].append((kind, event_label(kind), n))
    return [DeviceRow(d.device_id, d.name, d.site.name, d.online, d.last_seen_at, d.queue_depth, d.clock_offset_s,
                      events.get(d.device_id, [])) for d in devices]


def provisional(site_of: dict[int, int], today_of: dict[int, date], site_rows: dict[int, Site]) -> list[ProvisionalSite]:
    """Per site, the days before today whose records are not final yet, and the terminals holding them back.

    ``site_of``: the employees in scope and their sites. Read by the partial index of records not final yet."""
    if not site_of or not today_of:
        return []
    newest = max(today_of.values())
    counted: Counter[tuple[int, date]] = Counter()
    for emp_id, day in DailyRecord.objects.filter(
            final=False, date__gte=newest - timedelta(days=PROVISIONAL_DAYS), date__lt=newest).values_list(
            "employee_id", "date"):
        site_id = site_of.get(emp_id)
        if site_id is not None and day < today_of.get(site_id, newest):
            counted[(site_id, day)] += 1
    per_site: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for (site_id, day), n in sorted(counted.items(), key=lambda item: item[0][1]):
        per_site[site_id].append((day, n))
    if not per_site:
        return []
    devices: dict[int, list[Device]] = defaultdict(list)
    for device in Device.objects.filter(site_id__in=list(per_site)).order_by("device_id"):
        devices[device.site_id].append(device)  # every terminal of the site holds its days, seen or not
    found = []
    for site_id, days in sorted(per_site.items(), key=lambda item: site_rows[item[0]].code):
        zone = zone_named(site_rows[site_id].time_zone)
        latest_end = datetime.combine(days[-1][0] + timedelta(days=1), datetime.min.time(), zone)
        mine = devices.get(site_id, [])
        holding = [d for d in mine if d.drained_at is None or d.drained_at < latest_end]
        if not holding and mine:  # a night shift's window closes the next morning: the one that reported last
            oldest = min(d.drained_at for d in mine if d.drained_at is not None)
            holding = [d for d in mine if d.drained_at == oldest]
        found.append(ProvisionalSite(site_rows[site_id].name, days, [
            Holder(d.device_id, d.name, d.online, d.drained_at, d.last_seen_at) for d in holding]))
    return found


def recent_punches(user: User, numbers_shown: set[str], filters: Filters, now: datetime) -> list[RecentPunch]:
    """The latest punches stored (by arrival), with names looked up within the scope only.

    Narrowed by a site or department, they are the punches of ``numbers_shown`` (the employees on the page),
    read newest first by arrival over the last ``RECENT_WINDOW`` and kept here: SQLite would otherwise answer
    ``number IN (…) ORDER BY arrival LIMIT 8`` by reading a year of those employees' punches."""
    if filters.site is None and filters.department is None:
        latest = list(scope.punches(user).order_by("-received_at")[:RECENT_PUNCHES])
    else:
        latest = []
        for punch in Punch.objects.filter(received_at__gte=now - RECENT_WINDOW).order_by("-received_at").iterator(
                chunk_size=500):
            if punch.employee_number in numbers_shown:
                latest.append(punch)
                if len(latest) == RECENT_PUNCHES:
                    break
    numbers = {p.employee_number for p in latest}
    names = dict(scope.employees(user).filter(number__in=numbers).values_list("number", "name")) if numbers else {}
    doors = dict(scope.devices(user).filter(device_id__in={p.device_id for p in latest}).values_list(
        "device_id", "name")) if latest else {}
    return [RecentPunch(p, names.get(p.employee_number, ""), doors.get(p.device_id) or p.device_id) for p in latest]
