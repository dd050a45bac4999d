"""员工导入 Employees from a spreadsheet: HR adds and changes many employees at once from an XLSX or CSV file.

Library first: :func:`read_table` reads the file (XLSX, or CSV in UTF-8 or GB18030 as Excel saves it in China) into
rows of text keyed by the columns it recognises (Chinese or English headers, :data:`COLUMNS`); :func:`plan` checks
every row against the database and the caller's scope and says what it would do (add, change which fields, nothing,
or why not, naming the row and the column); :func:`apply` does it, all rows or none, in one transaction.

A blank cell keeps what is stored (a new employee: no value; active), so a file of a few columns changes only those.
An employee whose site or department changes is moved from today (:class:`central.people.models.EmployeeMove`).
Records go through the roster with the terminals' own rules (:func:`central.people.roster.refusals`), so the doors
take them; the attendance terms (joined, started working, left, default shift) go to the attendance settings, and
the days they touch are recomputed.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction

from central.accounts import audit, scope
from central.people import roster
from central.people.models import Department, Employee, Site

if TYPE_CHECKING:
    from central.accounts.models import User
    from central.attendance.models import AttendanceProfile, ShiftType

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
EXCEL_EPOCH = date(1899, 12, 30)  # day 0 of Excel's serial dates (1900 system, after its leap-year slip)


class ImportFileError(ValueError):
    """The file as a whole cannot be read: not a spreadsheet, no header, a required column missing, too large."""


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    required: bool = False  # the column must be in the file
    aliases: tuple[str, ...] = ()
    note: str = ""  # "中文 / English": what the cell holds

    @property
    def title(self) -> str:
        return f"{self.zh} {self.en}"


COLUMNS: tuple[Column, ...] = (
    Column("number", "工号", "Number", True, ("员工编号", "员工工号", "employee number", "employee_number", "no"),
           "必填；字母、数字、_ . -，最长 32 / required; letters, digits, _ . -, at most 32"),
    Column("name", "姓名", "Name", False, ("名字", "employee name"), "新员工必填 / required for a new employee"),
    Column("site", "站点", "Site", False, ("站点代码", "site code", "地点"),
           "站点代码，新员工必填 / the site's code, required for a new employee"),
    Column("department", "部门", "Department", False, ("部门名称", "dept"),
           "部门名称，站点下没有的会新建 / the department's name, added at the site when missing"),
    Column("card", "卡号", "Card", False, ("门禁卡", "卡", "card number"), ""),
    Column("joined", "入职日期", "Joined", False, ("入职", "入职时间", "joining date", "join date", "hired"),
           "日期，如 2026-03-01 / a date, e.g. 2026-03-01"),
    Column("work_started", "参加工作日期", "Started working", False,
           ("参加工作", "参加工作时间", "work started", "work_started"),
           "法定年休假按它计算工龄 / statutory annual leave counts the working life from it"),
    Column("left", "离职日期", "Left", False, ("离职", "离职时间", "leaving date"), "离职当天仍计考勤 / the leaving day still counts"),
    Column("default_shift", "默认班次", "Default shift", False, ("班次", "shift", "default_shift"),
           "班次名称 / the shift's name"),
    Column("active", "在职", "Active", False, ("状态", "在职状态", "status"),
           "是/否（在职/离职，Y/N）；空为在职 / yes or no; empty: active"),
)
BY_KEY = {c.key: c for c in COLUMNS}
ROSTER_FIELDS = ("name", "site", "department", "card", "active")
PROFILE_FIELDS = ("joined", "work_started", "left", "default_shift")
YES = {"是", "在职", "y", "yes", "true", "1", "active"}
NO = {"否", "离职", "n", "no", "false", "0", "inactive"}


def _folded(text: str) -> str:
    return re.sub(r"[\s_*＊:：()（）]+", "", text).lower()


def column_of(header: str, columns: Sequence[Column] = COLUMNS) -> str | None:
    """The column of ``columns`` a header names: its Chinese or English title, both, or a common other name; None
    for another."""
    names = {_folded(name): c.key for c in columns for name in (c.zh, c.en, c.title, c.key, *c.aliases)}
    folded = _folded(header)
    if folded in names:
        return names[folded]
    first = header.strip().split()[0] if header.strip() else ""
    return names.get(_folded(first))


@dataclass(frozen=True)
class Table:
    rows: list[tuple[int, dict[str, str]]]  # (the row's number in the file, column key → the cell as text)
    columns: list[str]  # the keys found, in the file's order
    ignored: list[str]  # headers of columns not recognised (not read)

    def kept(self) -> dict[str, Any]:
        """As plain JSON, to keep between the check and the import (:meth:`from_kept` reads it back)."""
        return {"rows": self.rows, "columns": self.columns, "ignored": self.ignored}

    @classmethod
    def from_kept(cls, kept: dict[str, Any]) -> Table:
        return cls([(int(line), dict(cells)) for line, cells in kept["rows"]], list(kept["columns"]),
                   list(kept["ignored"]))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):  # a date, or a date and time (a punch's): its time kept when it has one
        return value.date().isoformat() if value.time() == time() else f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, time):
        return f"{value:%H:%M:%S}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _xlsx_sheets(data: bytes) -> list[list[list[str]]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(f"无法读取这个 Excel 文件 / The Excel file cannot be read ({type(exc).__name__})") from None
    try:
        return [[[_text(v) for v in row] for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets]
    finally:
        book.close()


def _csv_rows(data: bytes) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # gb18030 decodes any bytes; kept for the type checker
        raise ImportFileError("无法识别文件编码 / The file's encoding is not recognised")
    if "\x00" in text:
        raise ImportFileError("这不是文本 CSV 文件 / This is not a text CSV file")
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), dialect)]


def sheets(name: str, data: bytes, max_bytes: int = MAX_BYTES) -> list[list[list[str]]]:
    """The sheets of a spreadsheet file, each its rows of cells as text (a date as 2026-03-01, a time as 08:58:11):
    every sheet of an XLSX, the one of a CSV (UTF-8, or GB18030 as Excel saves it in China; commas, semicolons or
    tabs)."""
    if len(data) > max_bytes:
        raise ImportFileError(f"文件超过 {max_bytes // 1024 // 1024} MB / The file is over {max_bytes // 1024 // 1024} MB")
    lower = name.lower()
    if data[:4] == b"PK\x03\x04" or lower.endswith((".xlsx", ".xlsm")):
        return _xlsx_sheets(data)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or lower.endswith(".xls"):
        raise ImportFileError("不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 或 .csv / Old .xls files are not read: "
                              "save it as .xlsx or .csv in Excel")
    if lower.endswith((".csv", ".txt")) or not lower.rpartition(".")[1]:
        return [_csv_rows(data)]
    raise ImportFileError("请上传 .xlsx 或 .csv 文件 / Upload an .xlsx or .csv file")


def read_table(name: str, data: bytes, columns: Sequence[Column] = COLUMNS, *, max_rows: int = MAX_ROWS,
               max_bytes: int = MAX_BYTES) -> Table:
    """The rows of a file of ``columns`` (default: employees): an XLSX (its first sheet) or a CSV, the first non-empty
    row the header."""
    rows = sheets(name, data, max_bytes)[0]
    by_key = {c.key: c for c in columns}
    header: list[str] | None = None
    keys: list[str | None] = []
    found: list[tuple[int, dict[str, str]]] = []
    for line, cells in enumerate(rows, 1):
        if not any(cells):
            continue
        if header is None:
            header, keys = cells, [column_of(c, columns) for c in cells]
            repeated = sorted({k for k in keys if k is not None and keys.count(k) > 1})
            if repeated:
                raise ImportFileError(f"这些列出现了不止一次：{'、'.join(by_key[k].zh for k in repeated)} / These columns "
                                      f"appear more than once: {', '.join(by_key[k].en for k in repeated)}")
            missing = [c for c in columns if c.required and c.key not in keys]
            if missing:
                raise ImportFileError(f"缺少必需的列：{'、'.join(c.zh for c in missing)}（表头在第 {line} 行） / A required "
                                      f"column is missing: {', '.join(c.en for c in missing)} (the header is row {line})")
            continue
        if len(found) >= max_rows:
            raise ImportFileError(f"一次最多导入 {max_rows} 行 / At most {max_rows} rows at a time")
        found.append((line, {k: cells[i] if i < len(cells) else "" for i, k in enumerate(keys) if k is not None}))
    if header is None:
        raise ImportFileError("文件是空的 / The file is empty")
    if not found:
        raise ImportFileError("表头下面没有员工 / No employees below the header")
    return Table(found, [k for k in keys if k is not None], [h for h, k in zip(header, keys, strict=True) if k is None and h])


# -- what each row would do ------------------------------------------------------------------------------------
ADD, CHANGE, SAME, ERROR = "add", "change", "same", "error"


@dataclass
class RowPlan:
    line: int  # the row's number in the file
    number: str
    name: str
    action: str = SAME  # ADD, CHANGE, SAME or ERROR
    changes: list[str] = field(default_factory=list)  # column keys that change
    errors: list[tuple[str, str]] = field(default_factory=list)  # (column key, "中文 / English")
    record: dict[str, Any] = field(default_factory=dict)  # the roster record, merged with what is stored
    profile: dict[str, Any] = field(default_factory=dict)  # the attendance terms, merged with what is stored

    def refuse(self, key: str, message: str) -> None:
        self.errors.append((key, message))
        self.action = ERROR

    @property
    def change_titles(self) -> list[str]:
        """The columns that change, by title (another import's changes are already written for a person)."""
        return [BY_KEY[k].title if k in BY_KEY else k for k in self.changes]


@dataclass
class Plan:
    rows: list[RowPlan]
    ignored: list[str]

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def counts(self) -> dict[str, int]:
        """How many rows would be added, changed, left the same, or are refused (by action)."""
        return {action: self.count(action) for action in (ADD, CHANGE, SAME, ERROR)}

    @property
    def ok(self) -> bool:
        return not any(r.action == ERROR for r in self.rows)

    @property
    def writes(self) -> list[RowPlan]:
        return [r for r in self.rows if r.action in (ADD, CHANGE)]


def parse_date(text: str) -> date:
    """2026-03-01, 2026/3/1, 2026.3.1, 2026年3月1日, 20260301, or an Excel serial day (46082); a time after it (a
    cell Excel keeps as a date and time) is left out."""
    text = re.sub(r"[ T]\d{1,2}:\d{2}(:\d{2})?$", "", text.strip())
    if re.fullmatch(r"\d{5}", text):
        return EXCEL_EPOCH + timedelta(days=int(text))
    found = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text)
    if found is None:
        raise ValueError(text)
    return date(int(found[1]), int(found[2]), int(found[3]))


def _profile_of(employee: Employee | None) -> AttendanceProfile | None:
    return getattr(employee, "attendance", None) if employee is not None else None


def plan(user: User, table: Table) -> Plan:
    """What importing ``table`` would do for ``user``; nothing is written."""
    from central.attendance.models import ShiftType

    scope.require_manage(user)
    numbers = [cells.get("number", "").strip() for _line, cells in table.rows]
    stored = {e.number: e for e in Employee.objects.filter(number__in=numbers).select_related(
        "site", "department", "attendance", "attendance__default_shift")}
    mine = set(scope.employees(user).filter(number__in=numbers).values_list("number", flat=True))
    sites = {s.code: s for s in Site.objects.all()}
    shifts = {s.name: s for s in ShiftType.objects.all()}
    departments = {(d.site_id, d.name): d for d in Department.objects.all()}
    seen: dict[str, int] = {}
    rows: list[RowPlan] = []
    for line, cells in table.rows:
        number = cells.get("number", "").strip()
        row = RowPlan(line, number, cells.get("name", "").strip())
        rows.append(row)
        if not number:
            row.refuse("number", "缺少工号 / The number is missing")
            continue
        if not NUMBER.match(number):
            row.refuse("number", "工号只能包含字母、数字、_ . -，最长 32 / A number is letters, digits, _ . -, at most 32")
            continue
        if number in seen:
            row.refuse("number", f"与第 {seen[number]} 行工号重复 / The same number as row {seen[number]}")
            continue
        seen[number] = line
        existing = stored.get(number)
        if existing is not None and number not in mine:
            row.refuse("number", "该工号的员工不在您的管理范围内 / The employee with this number is outside your scope")
            continue
        _plan_row(user, row, cells, existing, sites, shifts, departments)
    _roster_check(rows)
    return Plan(rows, table.ignored)


def _plan_row(user: User, row: RowPlan, cells: dict[str, str], existing: Employee | None, sites: dict[str, Site],
              shifts: dict[str, ShiftType], departments: dict[tuple[int, str], Department]) -> None:
    def given(key: str) -> str | None:
        value = cells.get(key, "").strip()
        return value or None

    name = given("name") or (existing.name if existing else None)
    if name is None:
        row.refuse("name", "新员工需要姓名 / A new employee needs a name")
    site_code = given("site") or (existing.site.code if existing else None)
    site = sites.get(site_code) if site_code else None
    if site_code is None:
        row.refuse("site", "新员工需要站点 / A new employee needs a site")
    elif site is None:
        row.refuse("site", f"没有代码为 {site_code} 的站点 / No site with the code {site_code}")
    department_name = given("department")
    if department_name is None and existing is not None and existing.department is not None and site is not None \
            and existing.site_id == site.pk:
        department_name = existing.department.name
    if site is not None:
        department = departments.get((site.pk, department_name)) if department_name else None
        try:
            scope.check_site_allowed(user, site, department)
        except scope.ScopeDenied:
            row.refuse("department" if department_name and department is None else "site",
                       "超出您的管理范围（新建部门需要整个站点的权限） / Outside your scope (a new department needs the whole "
                       "site)" if department_name and department is None else "超出您的管理范围 / Outside your scope")
    active = existing.active if existing else True
    if given("active") is not None:
        text = str(given("active")).lower()
        if text not in YES | NO:
            row.refuse("active", f"在职请填 是 或 否，不是 {given('active')} / Active is yes or no, not {given('active')}")
        active = text in YES
    card = given("card") or (existing.card if existing else None)
    row.record = {"number": row.number, "name": name or "", "site": site_code or "", "department": department_name or "",
                  "card": card, "pin_hash": existing.pin_hash if existing else None,
                  "role": existing.role if existing else "employee",
                  "verify_mode": existing.verify_mode if existing else "any",
                  "allowed_devices": list(existing.allowed_devices) if existing else [], "active": active}
    profile = _profile_of(existing)
    stored: dict[str, Any] = {k: getattr(profile, k) if profile is not None else None for k in PROFILE_FIELDS}
    values = dict(stored)
    for key in ("joined", "work_started", "left"):
        cell = given(key)
        if cell is not None:
            try:
                values[key] = parse_date(cell)
            except ValueError:
                row.refuse(key, f"{BY_KEY[key].zh}不是日期：{cell}（如 2026-03-01） / {BY_KEY[key].en} is not a date: {cell} "
                                "(e.g. 2026-03-01)")
    shift_name = given("default_shift")
    if shift_name is not None:
        if shift_name in shifts:
            values["default_shift"] = shifts[shift_name]
        else:
            row.refuse("default_shift", f"没有名为 {shift_name} 的班次 / No shift named {shift_name}")
    joined, started, left = values["joined"], values["work_started"], values["left"]
    if joined is not None and left is not None and left < joined:
        row.refuse("left", "离职日期早于入职日期 / The leaving day is before the joining day")
    if started is not None and joined is not None and started > joined:
        row.refuse("work_started", "参加工作日期晚于入职日期 / The start of working life is after the joining day")
    if started is not None and started.year < 1940:
        row.refuse("work_started", "参加工作日期早于 1940 年 / The start of working life is before 1940")
    row.profile = values
    if row.action == ERROR:
        return
    if existing is None:
        row.action, row.changes = ADD, [k for k in BY_KEY if cells.get(k, "").strip()]
        return
    before = {"name": existing.name, "site": existing.site.code,
              "department": existing.department.name if existing.department else "", "card": existing.card,
              "active": existing.active, **stored}
    after = {**{k: row.record[k] for k in ROSTER_FIELDS}, **values}
    after["card"] = after["card"] or None
    row.changes = [k for k in BY_KEY if k in before and before[k] != after[k]]
    row.action = CHANGE if row.changes else SAME


def _roster_check(rows: list[RowPlan]) -> None:
    """The terminals' rules on the records that would be written; a refused one is an error on its row."""
    writing = [r for r in rows if r.action != ERROR and (r.action == ADD or set(r.changes) & set(ROSTER_FIELDS))]
    if not writing:
        return
    _good, refused = roster.refusals(r.record for r in writing)
    by_number = {r.number: r for r in writing}
    from central.people.services import refusal_message

    for exc in refused:
        row = by_number.get(exc.number or "")
        if row is not None:
            row.refuse(exc.field if exc.field in BY_KEY else "number", refusal_message(exc))


# -- doing it ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    added: list[str]
    changed: list[str]
    version: int  # the roster's version after it (unchanged when no roster field changed)
    queued: bool  # the recompute of the days they touch was queued for the follower (else done at once)


class ImportRefused(ValueError):
    """A plan with errors: nothing was written."""


def apply(user: User, table: Table, *, source: str) -> Outcome:
    """Do what :func:`plan` says for ``table``, checked again now; refused whole while any row has an error."""
    from central.attendance.models import AttendanceProfile, RecomputeJob
    from central.attendance.services import queue_for_employees, run_claimed

    checked = plan(user, table)
    if not checked.ok:
        bad = checked.count(ERROR)
        raise ImportRefused(f"有 {bad} 行有错误，没有导入任何员工 / {bad} rows have errors: no employee was imported")
    writes = checked.writes
    roster_rows = [r for r in writes if r.action == ADD or set(r.changes) & set(ROSTER_FIELDS)]
    profile_rows = [r for r in writes if r.action == ADD or set(r.changes) & set(PROFILE_FIELDS)]
    with transaction.atomic():
        version = roster.upsert_employees([r.record for r in roster_rows], actor=user.username) if roster_rows \
            else roster.current_version()
        ids = dict(Employee.objects.filter(number__in=[r.number for r in writes]).values_list("number", "pk"))
        for row in profile_rows:
            profile = AttendanceProfile.objects.filter(employee_id=ids[row.number]).first() or AttendanceProfile(
                employee_id=ids[row.number])
            for key in PROFILE_FIELDS:
                setattr(profile, key, row.profile[key])
            profile.full_clean(exclude=["employee"])
            profile.save()
        audit.record(user.username, "employee.import", source[:200], {
            "added": [r.number for r in writes if r.action == ADD],
            "changed": {r.number: r.changes for r in writes if r.action == CHANGE}, "roster_version": version})
        touched = [ids[r.number] for r in writes if r.action == ADD or set(r.changes) & {*PROFILE_FIELDS, "active"}]
        job = queue_for_employees(touched, None, None, user.username,
                                  f"导入 {len(touched)} 名员工 / {len(touched)} employees imported") if touched else None
    queued = isinstance(run_claimed(job), RecomputeJob)  # too big to wait for: left to the follower
    return Outcome([r.number for r in writes if r.action == ADD], [r.number for r in writes if r.action == CHANGE],
                   version, queued)


def export_workbook(employees: Iterable[Employee]) -> bytes:
    """``employees`` in the columns :func:`read_table` reads, so HR edits the file and imports it back: a header, one
    row an employee (dates as dates, active as 是/否), the columns wide enough to read."""
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("员工 Employees")
    for i, c in enumerate(COLUMNS):
        sheet.column_dimensions[chr(ord("A") + i)].width = max(14, len(c.title) + 4)
    header = []
    for c in COLUMNS:
        cell = openpyxl.cell.WriteOnlyCell(sheet, value=c.title)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for e in employees:
        profile = _profile_of(e)
        sheet.append([e.number, e.name, e.site.code, e.department.name if e.department else None, e.card,
                      *(getattr(profile, k) if profile is not None else None for k in ("joined", "work_started", "left")),
                      profile.default_shift.name if profile is not None and profile.default_shift else None,
                      "是" if e.active else "否"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


EMPLOYEE_EXAMPLE = ("A1001", "张伟", "sh", "装配", "", "2026-03-01", "2016-07-01", "", "白班", "是")


def template_workbook(columns: Sequence[Column] = COLUMNS, example: Sequence[str] = EMPLOYEE_EXAMPLE,
                      title: str = "员工 Employees",
                      note: str = "空白单元格保留原值；工号已存在的员工会被更新 / A blank cell keeps what is stored; a number "
                                  "that exists updates that employee") -> bytes:
    """An empty file of ``columns`` to fill in (default: employees): the header and one example row, and a sheet
    saying what each column holds."""
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    sheet.append([c.title for c in columns])
    sheet.append(list(example))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for i, c in enumerate(columns):
        sheet.column_dimensions[chr(ord("A") + i)].width = max(14, len(c.title) + 4)
    notes = book.create_sheet("说明 Notes")
    notes.append(["列 Column", "必填 Required", "说明 Notes"])
    for c in columns:
        notes.append([c.title, "是 Yes" if c.required else "", c.note])
    notes.append([])
    notes.append([note])
    notes.column_dimensions["A"].width, notes.column_dimensions["C"].width = 24, 80
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
