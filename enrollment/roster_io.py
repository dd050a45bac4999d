"""Batch roster import and export: XLSX or CSV, plus a folder of photos.

Import is all or nothing. Every row is checked before any is written: alone (the rules
``add_employee`` and the roster apply: number, name and department of at most 100
characters without hidden characters, card, PIN, role, verification mode, device ids, the
photo), against the other rows (a number or a card twice, cards compared after
normalisation: ``0041E34E`` and ``4318030`` are one card) and against the employees
already on the terminal (a number that exists, without ``update``; a card another employee
holds). A file with a bad row imports nothing (unless ``skip_bad``) and the report names
every row, field and problem. The rows are then written in one transaction, so a failure
while writing leaves the terminal as it was. Columns:

    number, name, department, card, pin, role, verify_mode, allowed_devices, photo

``number`` and ``name`` are required; ``allowed_devices`` is a ``;``-separated list;
``photo`` is a file name in the photo folder (kept as the thumbnail shown on the
result screen, and enrolled as a face when a face enroller is given: a photo that cannot
be read, or whose face the enroller refuses, is a problem of its row like any other).

A CSV file is read as UTF-8 (with or without a BOM), as Chinese GB18030 when it is not
UTF-8 and reads as Chinese text, or in the encoding the caller names; anything else is
refused, naming the first row and column that is not UTF-8 (:func:`decode_csv`).

Export writes no formula: a text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a
line break gets a leading quote (:mod:`contract.cells`), which import removes again, so
an exported roster imports back with the same names.
"""
from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract.cells import append_xlsx_row, escape_row, unescape_cell
from terminal.store.connection import Connection
from terminal.store.database import DatabaseError, Store, is_storage_full, utc_now
from terminal.store.employees import (
    NUMBER_RE,
    ROLES,
    VERIFY_MODES,
    EmployeeError,
    _choice,
    _clean_card,
    _clean_devices,
    _clean_pin,
    _clean_text,
    descriptor_bytes,
    employee_photo,
    insert_employee_row,
    insert_face_rows,
    list_employees,
    update_employee_row,
    validate_number,
)
from terminal.store.errors import StoreError

log = logging.getLogger(__name__)

COLUMNS = ("number", "name", "department", "card", "pin", "role", "verify_mode", "allowed_devices", "photo")
REQUIRED = ("number", "name")
HEADER_ALIASES = {"工号": "number", "姓名": "name", "部门": "department", "卡号": "card", "密码": "pin",
                  "角色": "role", "验证方式": "verify_mode", "允许设备": "allowed_devices", "照片": "photo"}
THUMBNAIL_PX = 240


class RosterFileError(ValueError):
    """The file as a whole cannot be read (format, encoding, header)."""


class RosterWriteError(StoreError):
    """The store refused a row while the checked rows were written: the transaction was rolled back."""


@dataclass
class RowProblem:
    row: int  # 1-based line/row number in the file, header = 1
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.message}"


@dataclass
class ImportReport:
    rows: int = 0
    added: int = 0
    updated: int = 0
    photos: int = 0
    faces_enrolled: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# -- reading -----------------------------------------------------------------------------------
def _normalise_header(cells: Iterable[Any]) -> list[str]:
    header = []
    for cell in cells:
        name = "" if cell is None else str(cell).strip().lstrip("\ufeff")
        header.append(HEADER_ALIASES.get(name, name.lower().replace(" ", "_")))
    return header


def read_rows(path: Path, *, encoding: str | None = None) -> list[tuple[int, dict[str, str]]]:
    """(row number, {column: text}) for every non-empty data row; RosterFileError for unreadable files.

    Every column of the header is in every row ("" for a cell the row lacks). ``encoding``
    names a CSV file's encoding; without it the file must be UTF-8 or Chinese GB18030 text
    (see :func:`decode_csv`).
    """
    path = Path(path)
    if not path.is_file():
        raise RosterFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        table = _read_xlsx(path)
    elif suffix in (".csv", ".txt"):
        table = _read_csv(path, encoding)
    else:
        raise RosterFileError(f"{path}: use a .xlsx or .csv file")
    if not table:
        raise RosterFileError(f"{path}: the file is empty")
    header = _normalise_header(table[0])
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise RosterFileError(f"{path}: header row lacks column(s) {', '.join(missing)} (found: {', '.join(h for h in header if h)})")
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown:
        raise RosterFileError(f"{path}: unknown column(s) {', '.join(unknown)}; allowed: {', '.join(COLUMNS)}")
    rows = []
    for index, cells in enumerate(table[1:], start=2):
        values = {name: _cell_text(cells[i] if i < len(cells) else None) for i, name in enumerate(header) if name}
        if any(values.values()):
            rows.append((index, values))
    return rows


def _cell_text(cell: Any) -> str:
    """A cell as text: a quote our exports put before a leading ``=``, ``+``, ``-``, ``@``... removed (contract.cells)."""
    return "" if cell is None else unescape_cell(str(cell).strip())


# GB2312 in GB18030: rows 1-3 (punctuation, numbers, full-width forms) and 16-87 (the level-1 and level-2 hanzi).
_GB2312_LEADS = (range(0xA1, 0xA4), range(0xB0, 0xF8))


def _common_chinese(char: str) -> bool:
    try:
        code = char.encode("gb18030")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and any(code[0] in leads for leads in _GB2312_LEADS) and 0xA1 <= code[1] <= 0xFE


def looks_chinese(text: str) -> bool:
    """Whether GB18030-decoded text reads as Chinese rather than as another encoding's bytes misread.

    Every non-ASCII character must be a common one (GB2312: level-1 and level-2 hanzi,
    Chinese punctuation, full-width forms), and none may sit between two ASCII letters (a
    Windows-1252 "Hääkinen" read as GB18030 gives a hanzi inside a Latin word).
    """
    for position, char in enumerate(text):
        if char < "\x80":
            continue
        if not _common_chinese(char):
            return False
        before, after = text[position - 1:position], text[position + 1:position + 2]
        if before.isascii() and before.isalpha() and after.isascii() and after.isalpha():
            return False
    return True


def _sniff(text: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _first_undecodable(raw: bytes, encoding: str) -> str:
    """Where a file stops being ``encoding`` text: "row R, column C (b'...')", counting rows as the import does."""
    text = raw.decode(encoding, errors="surrogateescape")
    try:
        table = list(csv.reader(io.StringIO(text), _sniff(text)))
    except csv.Error:
        table = [line.split(",") for line in text.splitlines()]
    header = _normalise_header(cell if not _escaped(cell) else "" for cell in table[0]) if table else []
    for row, cells in enumerate(table, start=1):
        for column, cell in enumerate(cells):
            if _escaped(cell):
                name = header[column] if column < len(header) and header[column] else f"{column + 1}"
                shown = cell.encode("utf-8" if encoding == "utf-8-sig" else encoding, errors="surrogateescape")[:40]
                return f"row {row}, column {name} ({shown!r})"
    return "a line break"  # the bad bytes sit outside every cell (a quote or a line ending)


def _escaped(cell: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in cell)


def decode_csv(raw: bytes, path: Path, encoding: str | None = None) -> str:
    """A CSV file's text.

    With ``encoding``, the file must decode with it. Without, UTF-8 (with or without a BOM) is
    read as such; a file that is not UTF-8 is read as GB18030 only when the result
    :func:`looks_chinese`. Anything else (a Windows-1252 file with é, ü, ß...) is refused,
    naming the first row and column that is not UTF-8: decoding it as GB18030 would import
    mojibake without a word.
    """
    if encoding:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            raise RosterFileError(f"{path}: unknown encoding {encoding!r} (e.g. utf-8, cp1252, gb18030)") from None
        codec = "utf-8-sig" if codec == "utf-8" else codec
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            raise RosterFileError(f"{path}: {_first_undecodable(raw, codec)} is not {encoding} text") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and looks_chinese(text):
        log.info("%s: read as GB18030 (Chinese) text", path)
        return text
    raise RosterFileError(
        f"{path}: {_first_undecodable(raw, 'utf-8')} is not UTF-8 text, nor Chinese GB18030: save the file as "
        "UTF-8 (\"CSV UTF-8\" in Excel), or give its encoding (seed-enroll import --encoding cp1252 for a Western "
        "European Windows file, --encoding gb18030 for Chinese)")


def _read_csv(path: Path, encoding: str | None = None) -> list[list[str]]:
    text = decode_csv(path.read_bytes(), path, encoding)
    if "\0" in text:
        raise RosterFileError(f"{path}: binary data in a CSV file")
    try:
        return [row for row in csv.reader(io.StringIO(text), _sniff(text))]
    except csv.Error as exc:
        raise RosterFileError(f"{path}: malformed CSV ({exc})") from None


def _read_xlsx(path: Path) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise RosterFileError(f"{path}: not a readable XLSX workbook ({exc.__class__.__name__})") from None
    try:
        sheet = workbook.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


# -- checking and importing ------------------------------------------------------------------------
def _clean_cell(values: dict[str, str], key: str) -> str:
    value = values.get(key, "")
    # Spreadsheets turn numbers into floats: "1001.0" is employee 1001.
    if value.endswith(".0") and value[:-2].isdigit():
        value = value[:-2]
    return value


def check_rows(rows: list[tuple[int, dict[str, str]]], photo_dir: Path | None) -> list[RowProblem]:
    """Every problem of the rows on their own and against each other (numbers, cards); the store is not read."""
    return _check(rows, photo_dir, columns=set(COLUMNS), existing={}, update=True)[1]


@dataclass
class _Planned:
    """One row checked and ready to write: the columns it sets, already in the store's form."""

    row: int
    number: str
    fields: dict[str, Any]
    existing_id: int | None = None
    pin: str = ""
    photo_path: Path | None = None
    faces: list[bytes] = field(default_factory=list)


def _check_fields(index: int, values: dict[str, str], columns: set[str],
                  problems: list[RowProblem]) -> dict[str, Any]:
    """The row's columns as the store keeps them; each bad one a problem (the rules of add_employee and the roster)."""
    from contract.roster_rules import RosterRuleError, check_employee

    fields: dict[str, Any] = {}
    found: set[str] = set()

    def clean(name: str, check: Callable[[], Any]) -> None:
        try:
            fields[name] = check()
        except EmployeeError as exc:
            problems.append(RowProblem(index, exc.field, str(exc).split(": ", 1)[1]))
            found.add(exc.field)

    clean("name", lambda: _clean_text("name", values.get("name"), required=True, max_len=100))
    if "department" in columns:
        clean("department", lambda: _clean_text("department", values.get("department"), required=False, max_len=100))
    if "card" in columns:
        clean("card", lambda: _clean_card(_clean_cell(values, "card")))
    if "role" in columns:
        clean("role", lambda: _choice("role", values.get("role") or "employee", ROLES))
    if "verify_mode" in columns:
        clean("verify_mode", lambda: _choice("verify_mode", values.get("verify_mode") or "any", VERIFY_MODES))
    if "allowed_devices" in columns:
        clean("allowed_devices", lambda: _clean_devices(
            [d.strip() for d in values.get("allowed_devices", "").split(";") if d.strip()]))
    pin = _clean_cell(values, "pin")
    if pin and not (pin.isdigit() and 4 <= len(pin) <= 8):
        problems.append(RowProblem(index, "pin", "PIN must be 4 to 8 digits"))
        found.add("pin")
    if not found:  # the roster's own rules too (hidden characters in a name...), as a terminal applies them
        number = _clean_cell(values, "number")
        record = {"number": number if NUMBER_RE.match(number) else "0", "name": fields["name"],
                  "department": fields.get("department", ""), "role": fields.get("role", "employee"),
                  "verify_mode": fields.get("verify_mode", "any"),
                  "allowed_devices": json.loads(fields.get("allowed_devices", "[]"))}
        try:
            check_employee(record)
        except RosterRuleError as error:
            if error.field != "number":  # the number's own problems are reported by _check
                problems.append(RowProblem(index, error.field, error.reason))
    return fields


def _check(rows: list[tuple[int, dict[str, str]]], photo_dir: Path | None, *, columns: set[str],
           existing: dict[str, dict], update: bool) -> tuple[list[_Planned], list[RowProblem]]:
    """Every row checked alone, against the rows before it and against ``existing`` (number → employee row)."""
    from contract.cards import card_suffix
    from contract.roster_rules import RosterRuleError, check_unique_card

    problems: list[RowProblem] = []
    planned: list[_Planned] = []
    seen: dict[str, int] = {}
    rewritten = {_clean_cell(values, "number") for _, values in rows} if update and "card" in columns else set()
    terminal_holders = {e["card"]: number for number, e in existing.items() if e["card"] and number not in rewritten}
    file_holders: dict[str, tuple[str, int]] = {}
    for index, values in rows:
        before = len(problems)
        number = _clean_cell(values, "number")
        try:
            validate_number(number)
        except EmployeeError as exc:
            problems.append(RowProblem(index, "number", str(exc).split(": ", 1)[1]))
        if number in seen:
            problems.append(RowProblem(index, "number", f"repeats row {seen[number]}"))
        seen.setdefault(number, index)
        current = existing.get(number)
        if current is not None and not update:
            problems.append(RowProblem(index, "number", f"employee {number} already exists (use --update)"))
        fields = _check_fields(index, values, columns, problems)
        card = fields.get("card")
        if card:
            try:
                check_unique_card(card, number, terminal_holders, where="on this terminal")
            except RosterRuleError as error:
                problems.append(RowProblem(index, "card", error.reason))
            other = file_holders.get(card)
            if other is not None and other[0] != number:
                problems.append(RowProblem(index, "card", f"card ending {card_suffix(card)} is already held by "
                                                          f"employee {other[0]} in row {other[1]} of this file"))
            file_holders.setdefault(card, (number, index))
        photo_path = None
        if values.get("photo"):
            if photo_dir is None:
                problems.append(RowProblem(index, "photo", "a photo is named but no photo folder was given"))
            elif not (photo_dir / values["photo"]).is_file():
                problems.append(RowProblem(index, "photo", f"{values['photo']} not found in {photo_dir}"))
            else:
                photo_path = photo_dir / values["photo"]
        if len(problems) == before:
            planned.append(_Planned(index, number, fields, current["id"] if current else None,
                                    _clean_cell(values, "pin"), photo_path))
    return planned, problems


def thumbnail(image_path: Path) -> bytes:
    """A small JPEG of a photo for the result screen (any format OpenCV reads)."""
    import cv2
    import numpy as np

    data = np.frombuffer(image_path.read_bytes(), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{image_path.name} is not a readable image")
    scale = THUMBNAIL_PX / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError(f"{image_path.name} could not be encoded")
    return encoded.tobytes()


# The face descriptors (128 floats each) of one photo; ValueError with the reason when the photo is not usable
# (no face, blurred...). Called for every photo before anything is written.
FaceEnroller = Callable[[Path], Sequence[Any]]


def _prepare_photo(plan: _Planned, enrol_face: FaceEnroller | None, problems: list[RowProblem]) -> None:
    """The thumbnail and face descriptors of a row's photo, or a problem naming the row."""
    if plan.photo_path is None:
        return
    try:
        plan.fields["photo"] = thumbnail(plan.photo_path)
        if enrol_face is not None:
            plan.faces = [descriptor_bytes(d) for d in enrol_face(plan.photo_path)]
    except (EmployeeError, ValueError) as exc:
        problems.append(RowProblem(plan.row, "photo", str(exc)))


def import_roster(store: Store, path: Path, *, photo_dir: Path | None = None, update: bool = False,
                  skip_bad: bool = False, dry_run: bool = False, actor: str = "import",
                  enrol_face: FaceEnroller | None = None, encoding: str | None = None,
                  progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Check every row (alone, against each other and against the employees in ``store``), then write them all.

    Nothing is written when any row has a problem (``report.problems``), unless ``skip_bad``:
    then the good rows are written. The rows are written in one transaction, so a failure
    while writing leaves the store as it was. With ``update``, an employee already in the
    store takes the file's values; a column the file lacks, an empty ``pin`` or ``photo``
    cell leaves that field as it was.
    """
    rows = read_rows(path, encoding=encoding)
    columns = _columns_of(rows)
    photo_dir = Path(photo_dir) if photo_dir else None
    report = ImportReport(rows=len(rows))
    existing = {e["number"]: e for e in list_employees(store, limit=10_000_000)}
    planned, report.problems = _check(rows, photo_dir, columns=columns, existing=existing, update=update)
    for plan in planned:
        _prepare_photo(plan, enrol_face, report.problems)
    bad_rows = {p.row for p in report.problems}
    report.problems.sort(key=lambda p: p.row)
    planned = [plan for plan in planned if plan.row not in bad_rows]
    if dry_run or (bad_rows and not skip_bad) or not planned:
        return report
    for plan in planned:
        if plan.pin:
            plan.fields["pin_hash"] = _clean_pin(plan.pin)
    _write(store, planned, report, actor=actor, file=Path(path).name, progress=progress)
    return report


def _columns_of(rows: list[tuple[int, dict[str, str]]]) -> set[str]:
    return set(rows[0][1]) if rows else set()


def _write(store: Store, planned: list[_Planned], report: ImportReport, *, actor: str, file: str,
           progress: Callable[[int, int], None] | None) -> None:
    """All planned rows and the import's audit entry in one transaction: every one written, or none."""
    now = utc_now()
    counts = {"added": 0, "updated": 0, "faces": 0}
    with store.transaction() as conn:
        for plan in planned:  # cards may move between employees of the file: free theirs first
            if plan.existing_id is not None and "card" in plan.fields:
                conn.execute("UPDATE employees SET card = NULL WHERE id = ?", (plan.existing_id,))
        for position, plan in enumerate(planned, 1):
            try:
                _write_row(store, conn, plan, now, actor, counts)
            except DatabaseError as exc:
                if is_storage_full(exc):
                    raise
                raise RosterWriteError(f"nothing imported: writing row {plan.row} (employee {plan.number}) failed, "
                                       f"every row was rolled back: {exc}") from exc
            if progress:
                progress(position, len(planned))
        store.audit(actor, "roster.import", {"file": file, "added": counts["added"], "updated": counts["updated"],
                                             "problems": len(report.problems)}, conn=conn)
    report.added, report.updated, report.faces_enrolled = counts["added"], counts["updated"], counts["faces"]
    report.photos = sum(1 for plan in planned if plan.photo_path is not None)
    log.info("roster import of %s: %s added, %s updated, %s photos, %s face templates", file, report.added,
             report.updated, report.photos, report.faces_enrolled)


def _write_row(store: Store, conn: Connection, plan: _Planned, now: str, actor: str, counts: dict[str, int]) -> None:
    if plan.existing_id is None:
        row = {"number": plan.number, "department": "", "card": None, "pin_hash": None, "role": "employee",
               "verify_mode": "any", "allowed_devices": "[]", "photo": None, **plan.fields}
        employee_id = insert_employee_row(store, conn, row, now=now, actor=actor)
        counts["added"] += 1
    else:
        employee_id = plan.existing_id
        update_employee_row(store, conn, employee_id, plan.number, plan.fields, now=now, actor=actor,
                            fields=plan.fields)
        counts["updated"] += 1
    if plan.faces:
        insert_face_rows(store, conn, employee_id, plan.faces, now=now, actor=actor, source="photo")
        counts["faces"] += len(plan.faces)


# -- export ---------------------------------------------------------------------------------------------
def export_roster(store: Store, path: Path, *, photo_dir: Path | None = None) -> int:
    """Write every employee (never PIN hashes) to .xlsx or .csv; photos to photo_dir as NUMBER.jpg."""
    path = Path(path)
    employees = list_employees(store)
    rows = []
    for employee in employees:
        photo_name = ""
        if photo_dir is not None:
            photo = employee_photo(store, employee["id"])
            if photo:
                photo_dir.mkdir(parents=True, exist_ok=True)
                photo_name = f"{employee['number']}.jpg"
                (photo_dir / photo_name).write_bytes(photo)
        rows.append([employee["number"], employee["name"], employee["department"], employee["card"] or "", "",
                     employee["role"], employee["verify_mode"], ";".join(employee["allowed_devices"]), photo_name])
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook

        workbook = Workbook()
        sheet = workbook.active
        sheet.title = "roster"
        sheet.append(list(COLUMNS))
        for row in rows:
            append_xlsx_row(sheet, row)
        workbook.save(path)
    else:
        with open(path, "w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            writer.writerows(escape_row(row) for row in rows)
    return len(rows)
