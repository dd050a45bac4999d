"""Batch roster import and export: XLSX or CSV, plus a folder of photos.

Import checks every row before writing any: a file with a bad row imports nothing
(unless ``skip_bad``) and the report names each row, field and problem. Columns:

    number, name, department, card, pin, role, verify_mode, allowed_devices, photo

``number`` and ``name`` are required; ``allowed_devices`` is a ``;``-separated list;
``photo`` is a file name in the photo folder (kept as the thumbnail shown on the
result screen, and enrolled as a face when a face enroller is given).
"""
from __future__ import annotations

import csv
import io
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from contract.cells import append_xlsx_row, escape_row, unescape_cell
from terminal.store.database import Store
from terminal.store.employees import (
    ROLES,
    VERIFY_MODES,
    EmployeeError,
    add_employee,
    employee_photo,
    find_by_number,
    list_employees,
    update_employee,
    validate_number,
)

log = logging.getLogger(__name__)

COLUMNS = ("number", "name", "department", "card", "pin", "role", "verify_mode", "allowed_devices", "photo")
REQUIRED = ("number", "name")
HEADER_ALIASES = {"工号": "number", "姓名": "name", "部门": "department", "卡号": "card", "密码": "pin",
                  "角色": "role", "验证方式": "verify_mode", "允许设备": "allowed_devices", "照片": "photo"}
THUMBNAIL_PX = 240


class RosterFileError(ValueError):
    """The file as a whole cannot be read (format, encoding, header)."""


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


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(row number, {column: text}) for every non-empty data row; RosterFileError for unreadable files."""
    path = Path(path)
    if not path.is_file():
        raise RosterFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        table = _read_xlsx(path)
    elif suffix in (".csv", ".txt"):
        table = _read_csv(path)
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
        values = {header[i]: _cell_text(cell) for i, cell in enumerate(cells) if i < len(header) and header[i]}
        if any(values.values()):
            rows.append((index, values))
    return rows


def _cell_text(cell: Any) -> str:
    """A cell as text: a quote our exports put before a leading ``=``, ``+``, ``-``, ``@``... removed (contract.cells)."""
    return "" if cell is None else unescape_cell(str(cell).strip())


def _read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RosterFileError(f"{path}: not UTF-8 or GB18030 text")
    if "\0" in text:
        raise RosterFileError(f"{path}: binary data in a CSV file")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        return [row for row in csv.reader(io.StringIO(text), dialect)]
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


def check_rows(rows: list[tuple[int, dict[str, str]]], photo_dir: Optional[Path]) -> list[RowProblem]:
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    for index, values in rows:
        number = _clean_cell(values, "number")
        try:
            validate_number(number)
        except EmployeeError as exc:
            problems.append(RowProblem(index, "number", str(exc).split(": ", 1)[1]))
        if number in seen:
            problems.append(RowProblem(index, "number", f"repeats row {seen[number]}"))
        seen.setdefault(number, index)
        if not values.get("name"):
            problems.append(RowProblem(index, "name", "is required"))
        if values.get("role") and values["role"] not in ROLES:
            problems.append(RowProblem(index, "role", f"must be one of {', '.join(ROLES)}"))
        if values.get("verify_mode") and values["verify_mode"] not in VERIFY_MODES:
            problems.append(RowProblem(index, "verify_mode", f"must be one of {', '.join(VERIFY_MODES)}"))
        pin = _clean_cell(values, "pin")
        if pin and not (pin.isdigit() and 4 <= len(pin) <= 8):
            problems.append(RowProblem(index, "pin", "PIN must be 4 to 8 digits"))
        if values.get("card"):
            from contract.cards import CardFormatError, normalize_card

            try:
                normalize_card(_clean_cell(values, "card"))
            except CardFormatError as exc:
                problems.append(RowProblem(index, "card", str(exc)))
        if values.get("photo"):
            if photo_dir is None:
                problems.append(RowProblem(index, "photo", "a photo is named but no photo folder was given"))
            elif not (photo_dir / values["photo"]).is_file():
                problems.append(RowProblem(index, "photo", f"{values['photo']} not found in {photo_dir}"))
    return problems


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


FaceEnroller = Callable[[Store, dict, Path], int]  # (store, employee, photo) -> templates added


def import_roster(store: Store, path: Path, *, photo_dir: Optional[Path] = None, update: bool = False,
                  skip_bad: bool = False, dry_run: bool = False, actor: str = "import",
                  enrol_face: Optional[FaceEnroller] = None,
                  progress: Optional[Callable[[int, int], None]] = None) -> ImportReport:
    rows = read_rows(path)
    photo_dir = Path(photo_dir) if photo_dir else None
    report = ImportReport(rows=len(rows))
    report.problems = check_rows(rows, photo_dir)
    if not update:
        for index, values in rows:
            number = _clean_cell(values, "number")
            if number and find_by_number(store, number) is not None:
                report.problems.append(RowProblem(index, "number", f"employee {number} already exists (use --update)"))
    bad_rows = {p.row for p in report.problems}
    if dry_run or (bad_rows and not skip_bad):
        return report
    for position, (index, values) in enumerate(rows, 1):
        if index in bad_rows:
            continue
        fields: dict[str, Any] = {
            "name": values["name"], "department": values.get("department", ""),
            "card": _clean_cell(values, "card") or None, "pin": _clean_cell(values, "pin") or None,
            "role": values.get("role") or "employee", "verify_mode": values.get("verify_mode") or "any",
            "allowed_devices": [d for d in values.get("allowed_devices", "").split(";") if d.strip()],
        }
        photo_path = photo_dir / values["photo"] if values.get("photo") and photo_dir else None
        try:
            if photo_path is not None:
                fields["photo"] = thumbnail(photo_path)
            number = _clean_cell(values, "number")
            if find_by_number(store, number) is not None:
                if fields["pin"] is None:
                    fields.pop("pin")
                employee = update_employee(store, number, actor=actor, **fields)
                report.updated += 1
            else:
                employee = add_employee(store, number=number, actor=actor, **fields)
                report.added += 1
            if photo_path is not None:
                report.photos += 1
                if enrol_face is not None:
                    report.faces_enrolled += enrol_face(store, employee, photo_path)
        except (EmployeeError, ValueError) as exc:
            report.problems.append(RowProblem(index, getattr(exc, "field", "photo"), str(exc)))
        if progress:
            progress(position, len(rows))
    store.audit(actor, "roster.import", {"file": Path(path).name, "added": report.added, "updated": report.updated,
                                         "problems": len(report.problems)})
    return report


# -- export ---------------------------------------------------------------------------------------------
def export_roster(store: Store, path: Path, *, photo_dir: Optional[Path] = None) -> int:
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
