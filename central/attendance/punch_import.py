"""打卡记录导入 Punches from another system's file: a company moving to Seed from ZKTeco / BioTime (or any clock that
exports its punches) brings the punches of the weeks before its go-live, and a door whose terminal was replaced gives
up its punches from a USB key, so that the daily records, the balances and the month's report are whole from the first
day.

Library first, the console page and ``seed-central attendance import-punches`` thin layers over it:
:func:`read` reads the file: a spreadsheet (XLSX or CSV, :func:`central.people.importing.read_table`) with 工号 Number
and either 打卡时间 Time (date and time in one cell) or 日期 Date and 时间 Time, optionally 方向 Direction (in, out,
上班, 下班, BioTime's Check In / Check Out or its punch state 0-5; blank: the shift alternates); or a ZKTeco USB
``attlog.dat`` (tab separated: number, time, then fields whose order differs between firmware: the direction is left
to the shift). Times are the employee's site's local wall time.
:func:`plan` checks each row (the employee within the caller's scope; a time that is not in the future, not before the
days records are kept for (RECOMPUTE_DAYS), not in a closed month; a punch already stored, or repeated in the file, is
left as it is) and :func:`apply` writes every new punch or none, audited as one import, and recomputes the employees'
days (at once when few, else in the background with its progress shown).

A punch's id is made from the employee's number and the instant (a UUIDv5), so importing the same file twice adds
nothing the second time; imported punches carry ``device_id`` and ``method`` ``import`` so they are told apart from
the doors' own.
"""
from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone as dj_timezone

from central.accounts import audit, scope
from central.attendance import closing
from central.attendance.inputs import zone_named
from central.attendance.services import IMPORTED, RECOMPUTE_DAYS, queue_recompute_of, run_claimed
from central.ingest.handler import store_punches
from central.ingest.models import Punch
from central.people.importing import (
    ADD,
    ERROR,
    EXCEL_EPOCH,
    MAX_BYTES,
    SAME,
    Column,
    ImportFileError,
    ImportRefused,
    Plan,
    RowPlan,
    Table,
    parse_date,
    read_table,
    template_workbook,
)
from central.people.models import Employee

if TYPE_CHECKING:
    from central.accounts.models import User
    from central.attendance.models import RecomputeJob
    from central.attendance.services import Outcome

log = logging.getLogger(__name__)

SOURCE = IMPORTED  # the device id, method, boot id and time source of an imported punch
NAMESPACE = uuid.UUID("5eed0000-7075-6e63-6869-6d706f727421")  # the namespace of imported punches' ids
MAX_CONSOLE_ROWS = 20_000  # a month of about 450 people's punches; larger files: the command
MAX_ROWS = 500_000
FUTURE_SLACK = timedelta(minutes=5)

COLUMNS: tuple[Column, ...] = (
    Column("number", "工号", "Number", True, ("员工编号", "人员编号", "考勤号码", "employee id", "emp code", "emp_code",
                                               "personnel id", "user id", "ac-no", "ac-no."),
           "必填 / required"),
    Column("at", "打卡时间", "Punch time", False, ("签到时间", "刷卡时间", "日期时间", "punch_time", "datetime", "check time",
                                                   "checktime", "date time"),
           "日期和时间，如 2026-11-02 08:58:11；或分成「日期」「时间」两列 / date and time, e.g. 2026-11-02 08:58:11; or "
           "a Date and a Time column"),
    Column("date", "日期", "Date", False, ("打卡日期", "punch date"), "与「时间」一起 / with a Time column"),
    Column("clock", "时间", "Time", False, ("打卡钟点", "clock"), "与「日期」一起 / with a Date column"),
    Column("direction", "方向", "Direction", False, ("打卡状态", "状态", "考勤状态", "punch state", "punch_state", "state",
                                                     "in/out", "check type"),
           "上班/下班，in/out，0-5（BioTime）；空为按班次交替 / in or out; blank: the shift alternates"),
)


def template() -> bytes:
    """An empty punch file to fill in: 工号, 打卡时间 and 方向, an example row, and what each column holds."""
    wanted = [c for c in COLUMNS if c.key in ("number", "at", "direction")]
    return template_workbook(wanted, ("A1001", "2026-11-02 08:58:11", "上班"), "打卡 Punches",
                             "时间为员工所在站点的当地时间；已有的打卡不会重复导入 / Times are the site's local time; a punch "
                             "already stored is not imported again")


IN_WORDS = {"in", "i", "上班", "签到", "上班签到", "进", "入", "checkin", "check in", "check-in", "0", "4", "加班签到",
            "overtime in", "break in", "3", "间休返回", "休息结束"}
OUT_WORDS = {"out", "o", "下班", "签退", "下班签退", "出", "离", "checkout", "check out", "check-out", "1", "5", "加班签退",
             "overtime out", "break out", "2", "间休外出", "休息开始"}
ATTLOG = re.compile(r"^\s*([A-Za-z0-9_.-]{1,32})\t(\d{4}-\d{2}-\d{2} \d{1,2}:\d{2}(?::\d{2})?)(\t|\s*$)")


def read(name: str, data: bytes, *, max_rows: int = MAX_CONSOLE_ROWS) -> Table:
    """The punches of a file as rows of text: a ZKTeco ``attlog.dat`` or a spreadsheet of :data:`COLUMNS`."""
    head = data[:2048].decode("utf-8", "replace")
    if name.lower().endswith(".dat") or ATTLOG.match(head.splitlines()[0] if head.strip() else ""):
        return _attlog(data, max_rows)
    table = read_table(name, data, COLUMNS, max_rows=max_rows, max_bytes=max(MAX_BYTES, max_rows * 200))
    if "at" not in table.columns and "clock" not in table.columns:
        raise ImportFileError("缺少打卡时间列：需要「打卡时间」一列，或「日期」与「时间」两列 / The punch time is missing: a Punch "
                              "time column (date and time), or a Date and a Time column")
    return table


def _attlog(data: bytes, max_rows: int) -> Table:
    """ZKTeco's USB download: one punch a line, ``number<TAB>YYYY-MM-DD HH:MM:SS<TAB>…``. The fields after the time
    (verify mode, state, work code) come in different orders from different firmware, so the direction is not read
    from them: the shift alternates the punches."""
    rows: list[tuple[int, dict[str, str]]] = []
    for line, text in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if not text.strip():
            continue
        if len(rows) >= max_rows:
            raise ImportFileError(f"一次最多导入 {max_rows} 条打卡 / At most {max_rows} punches at a time")
        found = ATTLOG.match(text)
        if found is None:  # refused by the plan, naming the line
            rows.append((line, {"number": "", "at": "", "unreadable": re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()[:60]}))
            continue
        rows.append((line, {"number": found[1], "at": found[2]}))
    if not rows:
        raise ImportFileError("文件是空的 / The file is empty")
    return Table(rows, ["number", "at"], [])


def parse_time(text: str) -> datetime:
    """2026-11-02 08:58:11, 2026/11/2 8:58, 2026-11-02T08:58, 2026年11月2日 8:58, or an Excel serial time (46328.37)."""
    text = text.strip()
    if re.fullmatch(r"\d{5}(\.\d+)?", text):
        moment = datetime.combine(EXCEL_EPOCH, time()) + timedelta(days=float(text))
        return moment.replace(microsecond=0) + timedelta(seconds=1 if moment.microsecond >= 500_000 else 0)
    day_text, _, clock_text = re.sub(r"\s+", " ", text.replace("T", " ")).partition(" ")
    if not clock_text:
        raise ValueError(text)
    return datetime.combine(parse_date(day_text), parse_clock(clock_text))


def parse_clock(text: str) -> time:
    """08:58, 8:58:11, 08:58:11.5 or an Excel fraction of a day (0.3736)."""
    text = text.strip()
    if re.fullmatch(r"0?\.\d+", text):
        seconds = round(float(text) * 86400)
        if seconds >= 86400:
            raise ValueError(text)
        return time(seconds // 3600, seconds // 60 % 60, seconds % 60)
    found = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?", text)
    if found is None:
        raise ValueError(text)
    return time(int(found[1]), int(found[2]), int(found[3] or 0))


def direction_of(text: str) -> str | None:
    """``in``, ``out``, ``""`` (blank: the shift alternates), or None for a word that is neither."""
    folded = re.sub(r"\s+", " ", text.strip().lower())
    if not folded:
        return ""
    if folded in IN_WORDS:
        return "in"
    if folded in OUT_WORDS:
        return "out"
    return None


def punch_id(number: str, at: datetime) -> str:
    """The same employee at the same instant is the same punch, whichever file it came from."""
    return str(uuid.uuid5(NAMESPACE, f"{number}|{at.astimezone(timezone.utc).isoformat()}"))


@dataclass
class PunchPlan(Plan):
    punches: list[dict[str, object]] = field(default_factory=list)  # the rows to write, as store_punches takes them
    employees: dict[int, tuple[date, date]] = field(default_factory=dict)  # employee id: the local days punched

    @property
    def first(self) -> date | None:
        return min((first for first, _ in self.employees.values()), default=None)

    @property
    def last(self) -> date | None:
        return max((last for _, last in self.employees.values()), default=None)


def plan(user: User | None, table: Table, *, now: datetime | None = None) -> PunchPlan:
    """What importing ``table`` would add for ``user`` (None: the server's command, every employee); nothing is
    written."""
    if user is not None:
        scope.require_manage(user)
    now = now or dj_timezone.now()
    numbers = {cells.get("number", "").strip() for _line, cells in table.rows}
    people = scope.employees(user) if user is not None else Employee.objects.all()
    staff = {e.number: e for e in people.filter(number__in=numbers).select_related("site")}
    closed = closing.closed_months_of({e.site_id for e in staff.values()})
    moments: dict[tuple[str, datetime], int] = {}  # (number, UTC instant): the row it was first read on
    rows: list[RowPlan] = []
    for line, cells in table.rows:
        number = cells.get("number", "").strip()
        employee = staff.get(number)
        row = RowPlan(line, number, employee.name if employee else "")
        rows.append(row)
        if "unreadable" in cells:
            row.refuse("at", f"无法识别的打卡时间：这一行不是「工号<Tab>时间」 / Not a punch time: the line is not "
                             f"number<Tab>time: {cells['unreadable']!r}")
            continue
        if employee is None:
            row.refuse("number", f"没有工号为 {number or '（空）'} 的员工（或不在您的管理范围内） / No employee {number!r} (or "
                                 "outside your scope)")
            continue
        wall = _wall_time(row, cells)
        way = direction_of(cells.get("direction", ""))
        if way is None:
            row.refuse("direction", f"无法识别的方向 {cells.get('direction', '')!r}：请用 上班/下班、in/out 或留空 / "
                                    f"{cells.get('direction', '')!r} is not a direction: in, out or blank")
        if wall is None:
            continue
        zone = zone_named(employee.site.time_zone)
        at = wall.replace(tzinfo=zone)
        local_now = now.astimezone(zone).replace(tzinfo=None)
        if at > now + FUTURE_SLACK:
            row.refuse("at", f"{wall:%Y-%m-%d %H:%M} 还没到 / {wall:%Y-%m-%d %H:%M} is in the future")
        elif wall.date() < local_now.date() - timedelta(days=RECOMPUTE_DAYS):
            row.refuse("at", f"早于 {RECOMPUTE_DAYS} 天前的打卡不导入（其考勤记录已不再重算） / Punches more than "
                             f"{RECOMPUTE_DAYS} days old are not imported (their records are no longer recomputed)")
        elif wall.date().replace(day=1) in closed.get(employee.site_id, frozenset()):
            row.refuse("at", f"{wall:%Y年%m月} 已月结，请先重开该月 / {wall:%B %Y} is closed: reopen it first")
        if row.action == ERROR:
            continue
        key = (number, at.astimezone(timezone.utc))
        if key in moments:
            row.changes.append(f"与第 {moments[key]} 行相同 / the same as row {moments[key]}")
            continue
        moments[key] = line
        row.action = ADD
        row.record = {"employee": employee.pk, "site": employee.site.code, "at": at, "direction": way, "wall": wall}
    checked = PunchPlan(rows, table.ignored)
    _mark_stored(checked)
    for row in checked.rows:
        if row.action != ADD:
            continue
        values = row.record
        checked.punches.append({
            "id": punch_id(row.number, values["at"]), "site": values["site"], "device_id": SOURCE,
            "employee_number": row.number, "direction": values["direction"], "method": SOURCE, "score": None,
            "punched_at": values["at"], "boot_id": SOURCE, "monotonic_ns": 0, "time_source": SOURCE,
            "original_punched_at": None, "restamped_at": None})
        day, emp_id = values["wall"].date(), values["employee"]
        first, last = checked.employees.get(emp_id, (day, day))
        checked.employees[emp_id] = (min(first, day), max(last, day))
    return checked


def _wall_time(row: RowPlan, cells: dict[str, str]) -> datetime | None:
    text = cells.get("at", "").strip()
    try:
        if text:
            return parse_time(text)
        day, clock = cells.get("date", "").strip(), cells.get("clock", "").strip()
        if day and clock:
            return datetime.combine(parse_date(day), parse_clock(clock))
        if clock:  # a Time column of dates and times
            return parse_time(clock)
    except ValueError:
        pass
    shown = text or " ".join(x for x in (cells.get("date", ""), cells.get("clock", "")) if x)
    row.refuse("at", f"无法识别的打卡时间 {shown or '（空）'}：请用 2026-11-02 08:58:11 / {shown!r} is not a punch time: "
                     "use 2026-11-02 08:58:11")
    return None


def _mark_stored(checked: PunchPlan) -> None:
    """Rows whose punch is stored already (imported before, or the door's own at the same second) change nothing."""
    adding = [r for r in checked.rows if r.action == ADD]
    if not adding:
        return
    numbers = {r.number for r in adding}
    instants = [r.record["at"] for r in adding]
    stored: set[tuple[str, datetime]] = set()
    low, high = min(instants), max(instants) + timedelta(seconds=1)
    for number, at in Punch.objects.filter(employee_number__in=numbers, punched_at__gte=low, punched_at__lt=high) \
            .values_list("employee_number", "punched_at").iterator(chunk_size=5000):
        stored.add((number, at.replace(microsecond=0)))
    for row in adding:
        if (row.number, row.record["at"].astimezone(timezone.utc).replace(microsecond=0)) in stored:
            row.action = SAME
            row.changes.append("已有这条打卡 / already stored")


class PunchesRefused(ImportRefused):
    """A row of the file is wrong: nothing was imported (``plan`` says which and why)."""

    def __init__(self, checked: PunchPlan):
        bad = checked.count(ERROR)
        super().__init__(f"有 {bad} 行有错误，没有导入任何打卡 / {bad} rows have errors: no punch was imported")
        self.plan = checked


@dataclass(frozen=True)
class Imported:
    plan: PunchPlan
    recomputed: Outcome | RecomputeJob | None

    @property
    def punches(self) -> int:
        return len(self.plan.punches)

    @property
    def employees(self) -> int:
        return len(self.plan.employees)


def apply(user: User | None, table: Table, *, source: str, actor: str,
          progress: Callable[[int, int], None] | None = None) -> Imported:
    """Check ``table`` again and write every new punch, or none when a row is wrong (:class:`PunchesRefused`); one
    audit entry; then the employees' days from the earliest punch on are recomputed: queued in the punches' own
    commit, and run before this returns when few (else the follower works through it, the page showing how far)."""
    checked = plan(user, table)
    if not checked.ok:
        raise PunchesRefused(checked)
    now = dj_timezone.now()
    batch = str(uuid.uuid4())
    with transaction.atomic():
        for i in range(0, len(checked.punches), 1000):
            part = checked.punches[i:i + 1000]
            for value in part:
                value["batch_id"], value["received_at"] = batch, now
            store_punches(part)
            if progress:
                progress(min(i + 1000, len(checked.punches)), len(checked.punches))
        if checked.punches:
            times = [row.record["at"].astimezone(timezone.utc) for row in checked.rows if row.action == ADD]
            audit.record(actor, "attendance.punch_import", source[:200], {
                "punches": len(checked.punches), "employees": len(checked.employees), "batch": batch,
                "from": min(times).isoformat(), "to": max(times).isoformat(), "same": checked.count(SAME)})
        job = None
        if checked.employees and checked.first and checked.last:
            # a night shift's punch after midnight belongs to the day before
            job = queue_recompute_of(checked.employees, checked.first - timedelta(days=1), checked.last, actor,
                                     f"导入打卡 / punches imported: {source}", now=now)
    recomputed = run_claimed(job)
    log.info("%s punches of %s employees imported from %s", len(checked.punches), len(checked.employees), source)
    return Imported(checked, recomputed)
