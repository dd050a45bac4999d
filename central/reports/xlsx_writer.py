"""A report as an Excel workbook (openpyxl, write-only: rows stream to disk, memory stays flat).

The workbook is

* a first sheet, ``报表信息 About``: the report's title, company, scope, period and generation time, the
  legend (each symbol in its flag's fill) and the notes, then a line per sheet that follows;
* one sheet per :class:`~central.reports.document.Part`: the part's title in row 1, the header in row 2
  (bold, filled, wrapped, centred), the rows from row 3, then — when the part has totals — a totals row of
  real ``SUM`` formulas over the plain rows (subtotal rows left out, as :meth:`Part.column_sum` does), the
  part's note, and its charts (native line or bar charts of the part's own cells) below the table.

Rows 1–2 and the first ``part.freeze_columns`` columns are frozen and the header rows repeat on every
printed page (A4 landscape, one page wide, a page header with the title and a footer with page x / y).
Cells are formatted by their column's kind; flagged cells are filled (``bad`` red, ``warn`` amber,
``info`` blue, ``muted`` grey); subtotal rows are bold.

Every text cell goes through :func:`contract.cells.escape_cell` and is typed as a string: a name such
as ``=HYPERLINK(…)`` stays text. The totals row's ``SUM`` cells are the only formulas in the workbook.
"""
from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Callable, Iterator
from copy import copy
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.data_source import AxDataSource, StrRef
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from central.reports.document import Chart, Column, Flag, Kind, Part, ProgressFn, Report, Row, Value
from contract.cells import escape_cell

log = logging.getLogger(__name__)

ABOUT_TITLE = "报表信息 About"
TITLE_ROW = 1
HEADER_ROW = 2
FIRST_DATA_ROW = 3
PROGRESS_EVERY = 500  # rows between two progress calls
PAPER_A4 = "9"  # the paperSize code of A4 in SpreadsheetML

MAX_SHEET_TITLE = 31
INVALID_SHEET_TITLE = re.compile(r"[\[\]:*?/\\]")
MAX_CELL_TEXT = 32767  # Excel's limit for one cell
MAX_FORMULA = 8000  # Excel's limit is 8192 characters
MAX_SUM_ARGUMENTS = 255

NUMBER_FORMATS: dict[str, str] = {
    "int": "0", "decimal": "0.00", "percent": "0.0%", "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm",
}
# flag → (fill, font colour): Excel's own "bad / neutral" tones, a light blue and a grey
FLAG_COLOURS: dict[str, tuple[str, str]] = {
    "bad": ("FFC7CE", "9C0006"),
    "warn": ("FFEB9C", "9C5700"),
    "info": ("DDEBF7", "1F4E78"),
    "muted": ("EDEDED", "7F7F7F"),
}
HEADER_FILL = "D9E1F2"
SUBTOTAL_FILL = "F2F2F2"
TOTAL_FILL = "E2EFDA"
CHART_WIDTH_CM = 18.0
CHART_HEIGHT_CM = 8.0
CHART_ROWS = 18  # rows a chart takes below the table (8 cm at the default 0.53 cm per row, and a margin)

_thin = Side(style="thin", color="A6A6A6")
_BOX = Border(left=_thin, right=_thin, top=_thin, bottom=_thin)
_TOTAL_BORDER = Border(top=Side(style="double", color="404040"), bottom=_thin)


def display_width(text: str) -> int:
    """How many character widths ``text`` takes in a cell: a CJK (wide or full-width) character counts two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def sheet_title(title: str, taken: set[str]) -> str:
    """A valid, unique sheet name for ``title``: at most 31 characters, none of ``[]:*?/\\``.

    ``taken`` holds the names given so far (case-folded, as Excel compares them) and gets the new one.
    """
    name = INVALID_SHEET_TITLE.sub("_", ILLEGAL_CHARACTERS_RE.sub("", title)).strip().strip("'")
    name = name[:MAX_SHEET_TITLE].rstrip().rstrip("'") or "Sheet"
    candidate, n = name, 2
    while candidate.casefold() in taken or candidate.casefold() == "history":  # Excel reserves "History"
        suffix = f" ({n})"
        candidate = name[:MAX_SHEET_TITLE - len(suffix)].rstrip().rstrip("'") + suffix
        n += 1
    taken.add(candidate.casefold())
    return candidate


def cell_text(text: str) -> str:
    """A text as a cell may hold it: escaped (never a formula), control characters XML cannot carry shown as
    U+FFFD, at most 32,767 characters (Excel's limit; a longer text is cut, and the cut logged)."""
    text = str(escape_cell(text))
    if ILLEGAL_CHARACTERS_RE.search(text):
        text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    if len(text) > MAX_CELL_TEXT:
        log.warning("a cell of %s characters was cut to Excel's %s", len(text), MAX_CELL_TEXT)
        text = text[:MAX_CELL_TEXT]
    return text


def _short(text: str, limit: int) -> str:
    """A title for a chart or a page header: no control characters, at most ``limit`` characters."""
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _header_footer_text(text: str, limit: int = 80) -> str:
    """Text for a page header or footer: ``&`` starts a code there, so it is doubled."""
    return _short(text, limit).replace("&", "&&")


@dataclass(frozen=True)
class _Look:
    """What a cell looks like; one workbook style per distinct look, built once and copied to each cell."""
    number_format: str = "General"
    flag: Flag = ""
    bold: bool = False
    centred: bool = False
    wrap: bool = False
    fill: str = ""  # a fill of the row (header, subtotal, total) when the cell carries no flag
    border: str = ""  # "box" (header), "total"
    size: float = 0  # font size; 0 = the default


class _Styles:
    """Cells of a given look, made cheaply: the look's style array is worked out once per workbook."""

    def __init__(self, sheet: WriteOnlyWorksheet) -> None:
        self._sheet = sheet
        self._arrays: dict[_Look, Any] = {}

    def cell(self, sheet: WriteOnlyWorksheet, value: object, look: _Look) -> Any:
        cell = WriteOnlyCell(sheet, value)
        if isinstance(value, str):
            cell.data_type = "s"  # text is text, whatever it begins with
        elif isinstance(value, (float, Decimal)) and not isinstance(value, bool):
            # openpyxl writes a number with "%.16g", so 0.9612 would read back as 0.9612000000000001:
            # the shortest exact text of the number is written instead (still a number cell)
            cell._value = str(value) if isinstance(value, Decimal) else repr(value)
        array = self._arrays.get(look)
        if array is None:
            array = self._arrays[look] = self._build(look)
        cell._style = copy(array)
        return cell

    def formula(self, sheet: WriteOnlyWorksheet, formula: str, look: _Look) -> Any:
        """A formula cell: only the totals row's ``SUM`` cells are made here."""
        cell = WriteOnlyCell(sheet, formula)
        cell._style = copy(self.cell(sheet, None, look)._style)
        return cell

    def _build(self, look: _Look) -> Any:
        proto = WriteOnlyCell(self._sheet)
        proto.number_format = look.number_format
        fill, colour = FLAG_COLOURS.get(look.flag, (look.fill, ""))
        if fill:
            proto.fill = PatternFill("solid", start_color=fill, end_color=fill)
        if look.bold or colour or look.size:
            proto.font = Font(bold=look.bold, color=colour or None, size=look.size or None)
        if look.centred or look.wrap:
            proto.alignment = Alignment(horizontal="center" if look.centred else None,
                                        vertical="center" if look.centred else None, wrap_text=look.wrap or None)
        if look.border == "box":
            proto.border = _BOX
        elif look.border == "total":
            proto.border = _TOTAL_BORDER
        return proto._style


def _number_format(value: Value, kind: Kind) -> str:
    """The format of one value: its column's, except a date or time in a column of another kind keeps its own."""
    if isinstance(value, datetime):
        return NUMBER_FORMATS["datetime"] if kind != "date" else NUMBER_FORMATS["date"]
    if isinstance(value, date):
        return NUMBER_FORMATS["date"]
    return NUMBER_FORMATS.get(kind, "General")


def _cell_value(value: Value, where: Callable[[], str]) -> object:
    """A report value as openpyxl should store it (text escaped; a number that Excel cannot hold as text)."""
    if isinstance(value, str):
        return cell_text(value) if value else None
    if isinstance(value, datetime) and value.tzinfo is not None:
        raise ValueError(f"报表时间须为当地时间（不带时区）/ report times are naive local times; {where()} "
                         f"holds {value.isoformat()}")
    if isinstance(value, float) and not math.isfinite(value) or isinstance(value, Decimal) and not value.is_finite():
        return cell_text(str(value))
    return value


def _row_cells(sheet: WriteOnlyWorksheet, styles: _Styles, part: Part, row: Row, row_number: int) -> list[Any]:
    bold = row.style == "subtotal"
    cells: list[Any] = []
    for i, (column, value) in enumerate(zip(part.columns, row.values, strict=True)):
        flag = row.flag(i)
        if value is None and not flag and not bold:
            cells.append(None)
            continue
        look = _Look(number_format=_number_format(value, column.kind), flag=flag, bold=bold,
                     centred=column.kind == "symbol", fill=SUBTOTAL_FILL if bold else "")

        def where(i: int = i) -> str:
            return f"{part.title} row {row_number} column {part.columns[i].title}"

        cells.append(styles.cell(sheet, _cell_value(value, where), look))
    return cells


def sum_formula(letter: str, runs: list[tuple[int, int]]) -> str | None:
    """``=SUM(E3:E102)`` over the runs of plain rows (first, last); ``None`` when Excel could not hold it.

    More than 255 runs are summed in groups (a nested ``SUM`` counts as one argument).
    """
    ranges = [f"{letter}{a}:{letter}{b}" if a != b else f"{letter}{a}" for a, b in runs]
    if len(ranges) > MAX_SUM_ARGUMENTS:
        ranges = ["SUM(" + ",".join(ranges[i:i + MAX_SUM_ARGUMENTS]) + ")"
                  for i in range(0, len(ranges), MAX_SUM_ARGUMENTS)]
        if len(ranges) > MAX_SUM_ARGUMENTS:
            return None
    formula = "=SUM(" + ",".join(ranges) + ")"
    return formula if len(formula) <= MAX_FORMULA else None


def plain_runs(part: Part) -> list[tuple[int, int]]:
    """The sheet rows (first, last) of each run of plain rows, subtotal rows left out."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for offset, row in enumerate(part.rows):
        number = FIRST_DATA_ROW + offset
        if row.style == "":
            if start is None:
                start = number
        elif start is not None:
            runs.append((start, number - 1))
            start = None
    if start is not None:
        runs.append((start, FIRST_DATA_ROW + len(part.rows) - 1))
    return runs


def _totals_cells(sheet: WriteOnlyWorksheet, styles: _Styles, part: Part) -> list[Any]:
    runs = plain_runs(part)
    cells: list[Any] = []
    for i, column in enumerate(part.columns):
        look = _Look(number_format=NUMBER_FORMATS.get(column.kind, "General"), bold=True, fill=TOTAL_FILL,
                     border="total", centred=column.kind == "symbol")
        value: object = None
        if column.total == "sum":
            if not runs:
                value = 0
            else:
                value = sum_formula(get_column_letter(i + 1), runs)
                if value is None:
                    log.warning("part %s column %s: too many subtotal runs for one formula, the total is written as a value",
                                part.key, column.key)
                    value = part.column_sum(column.key)
            if isinstance(value, str):
                cells.append(styles.formula(sheet, value, look))  # the only formulas of the workbook
            else:
                cells.append(styles.cell(sheet, value, look))
        elif i == 0:
            cells.append(styles.cell(sheet, "合计 Total", look))
        else:
            cells.append(styles.cell(sheet, None, look))
    return cells


def _chart(sheet: WriteOnlyWorksheet, part: Part, chart: Chart, last_row: int) -> LineChart | BarChart:
    drawn: LineChart | BarChart
    if chart.kind == "bar":
        drawn = BarChart()
        drawn.type = "col"
        drawn.grouping = "clustered"
    else:
        drawn = LineChart()
    drawn.title = _short(chart.title, 200)
    category = part.columns[part.index(chart.category)]
    drawn.x_axis.title = _short(category.title, 200)
    if chart.y_title:
        drawn.y_axis.title = _short(chart.y_title, 200)
    for key in chart.values:
        column = part.index(key) + 1
        drawn.add_data(Reference(sheet, min_col=column, min_row=HEADER_ROW, max_row=last_row), titles_from_data=True)
    drawn.set_categories(Reference(sheet, min_col=part.index(chart.category) + 1, min_row=FIRST_DATA_ROW,
                                   max_row=last_row))
    if category.kind in ("date", "datetime"):
        drawn.x_axis.number_format = NUMBER_FORMATS[category.kind]
    elif category.kind in ("text", "symbol"):
        # openpyxl refers to every category range as numbers; names are text (Excel shows 1, 2, 3 otherwise)
        for series in drawn.series:
            series.cat = AxDataSource(strRef=StrRef(f=series.cat.numRef.f))
    if chart.percent:
        drawn.y_axis.number_format = "0%"
        drawn.y_axis.scaling.min = 0
        drawn.y_axis.scaling.max = 1
    drawn.x_axis.delete = False  # openpyxl 3.1 hides the axes unless told
    drawn.y_axis.delete = False
    drawn.legend.position = "b"
    drawn.width = CHART_WIDTH_CM
    drawn.height = CHART_HEIGHT_CM
    return drawn


def _print_setup(sheet: WriteOnlyWorksheet, report: Report, repeat_rows: str | None) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = PAPER_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.gridLines = True
    if repeat_rows:
        sheet.print_title_rows = repeat_rows
    sheet.oddHeader.left.text = _header_footer_text(report.company, 60)
    sheet.oddHeader.center.text = "&B" + _header_footer_text(report.title)
    sheet.oddHeader.right.text = _header_footer_text(report.period())
    sheet.oddFooter.left.text = "&A"  # the sheet's name
    sheet.oddFooter.center.text = "第 &P / &N 页 Page &P / &N"
    sheet.oddFooter.right.text = _header_footer_text(f"生成于 Generated {report.generated_at:%Y-%m-%d %H:%M}")


def _header_height(columns: list[Column]) -> float:
    """Row 2's height in points: enough lines for the longest wrapped title (Excel does not fit it on opening)."""
    lines = 1
    for column in columns:
        lines = max(lines, math.ceil(display_width(column.title) / max(column.width - 1, 1)))
    return 15.0 * min(lines, 6) + 3


def _write_about(sheet: WriteOnlyWorksheet, styles: _Styles, report: Report, titles: list[str]) -> None:
    label = _Look(bold=True)
    rows: list[list[Any]] = [
        [styles.cell(sheet, cell_text(report.title), _Look(bold=True, size=14))],
        [],
        [styles.cell(sheet, "公司 Company", label), cell_text(report.company)],
        [styles.cell(sheet, "范围 Scope", label), cell_text(report.scope)],
        [styles.cell(sheet, "期间 Period", label), cell_text(report.period())],
        [styles.cell(sheet, "生成时间 Generated", label),
         styles.cell(sheet, report.generated_at.replace(tzinfo=None), _Look(number_format="yyyy-mm-dd hh:mm:ss"))],
    ]
    if report.legend:
        rows += [[], [styles.cell(sheet, "图例 Legend", _Look(bold=True, size=12))]]
        for item in report.legend:
            rows.append([styles.cell(sheet, cell_text(item.symbol), _Look(flag=item.flag, centred=True, border="box")),
                         cell_text(item.label)])
    if report.notes:
        rows += [[], [styles.cell(sheet, "说明 Notes", _Look(bold=True, size=12))]]
        rows += [[None, cell_text(note)] for note in report.notes]
    rows += [[], [styles.cell(sheet, "工作表 Sheets", _Look(bold=True, size=12))]]
    for part, title in zip(report.parts, titles, strict=True):
        rows.append([cell_text(title), cell_text(part.title), f"{len(part.rows)} 行 rows",
                     cell_text(part.note) if part.note else None])
    for row in rows:
        sheet.append(row)


def _parts_rows(report: Report) -> int:
    return sum(len(part.rows) for part in report.parts)


class _Progress:
    def __init__(self, progress: ProgressFn | None, total: int) -> None:
        self._progress = progress
        self.total = total
        self.done = 0

    def row(self) -> None:
        self.done += 1
        if self._progress is not None and self.done % PROGRESS_EVERY == 0:
            self._progress(self.done, self.total)

    def end(self) -> None:
        if self._progress is not None:
            self._progress(self.total, self.total)


def _write_part(sheet: WriteOnlyWorksheet, styles: _Styles, report: Report, part: Part, counter: _Progress) -> None:
    n_columns = len(part.columns)
    # everything above the rows (views, column widths, row heights) must be set before the first row
    frozen = min(max(part.freeze_columns, 0), n_columns)
    sheet.freeze_panes = f"{get_column_letter(frozen + 1)}{FIRST_DATA_ROW}"
    for i, column in enumerate(part.columns, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = max(column.width, 1)
    sheet.row_dimensions[HEADER_ROW].height = _header_height(part.columns)
    sheet.row_dimensions[TITLE_ROW].height = 21
    _print_setup(sheet, report, f"{TITLE_ROW}:{HEADER_ROW}")

    sheet.append([styles.cell(sheet, cell_text(part.title), _Look(bold=True, size=13))])
    header = _Look(bold=True, centred=True, wrap=True, fill=HEADER_FILL, border="box")
    sheet.append([styles.cell(sheet, cell_text(column.title), header) for column in part.columns])
    for offset, row in enumerate(part.rows):
        sheet.append(_row_cells(sheet, styles, part, row, FIRST_DATA_ROW + offset))
        counter.row()
    last_row = FIRST_DATA_ROW + len(part.rows) - 1
    next_row = last_row + 1
    if part.has_totals():
        sheet.append(_totals_cells(sheet, styles, part))
        next_row += 1
    if part.note:
        sheet.append([])
        sheet.append([cell_text(part.note)])
        next_row += 2
    if part.rows:
        anchor = next_row + 2
        for chart in part.charts:
            sheet.add_chart(_chart(sheet, part, chart, last_row), f"A{anchor}")
            anchor += CHART_ROWS


def _discard(workbook: Workbook) -> None:
    """Close and remove the temporary files of the sheets written so far (a write that failed half-way)."""
    for sheet in workbook.worksheets:
        rows, writer = getattr(sheet, "_rows", None), getattr(sheet, "_writer", None)
        for step in (rows.close if rows is not None else None, writer.close if writer is not None else None,
                     writer.cleanup if writer is not None else None):
            if step is None:
                continue
            try:
                step()
            except Exception:  # best effort; openpyxl also removes its temporary files at exit
                log.debug("could not discard a temporary sheet file", exc_info=True)


def _sheets(workbook: Workbook, report: Report) -> Iterator[tuple[WriteOnlyWorksheet, str]]:
    taken: set[str] = set()
    yield workbook.create_sheet(sheet_title(ABOUT_TITLE, taken)), ABOUT_TITLE
    for part in report.parts:
        title = sheet_title(part.title, taken)
        yield workbook.create_sheet(title), title


def write(report: Report, out: IO[bytes], *, progress: ProgressFn | None = None) -> None:
    """Write ``report`` as an .xlsx workbook to ``out`` (which stays open: the caller owns it)."""
    workbook = Workbook(write_only=True)
    workbook.properties.title = ILLEGAL_CHARACTERS_RE.sub("", report.title)
    workbook.properties.creator = "Seed"
    counter = _Progress(progress, _parts_rows(report))
    try:
        sheets = list(_sheets(workbook, report))
        styles = _Styles(sheets[0][0])
        about = sheets[0][0]
        about.column_dimensions["A"].width = 22
        about.column_dimensions["B"].width = min(90, max([40] + [display_width(t) + 2 for t in
                                                                 (report.scope, report.company, *report.notes)]))
        about.column_dimensions["C"].width = 14
        about.column_dimensions["D"].width = 40
        _print_setup(about, report, None)
        _write_about(about, styles, report, [title for _, title in sheets[1:]])
        for (sheet, _title), part in zip(sheets[1:], report.parts, strict=True):
            _write_part(sheet, styles, report, part, counter)
        workbook.save(out)
    except BaseException:
        _discard(workbook)
        raise
    counter.end()
    log.info("report %s written as xlsx: %s parts, %s rows", report.name, len(report.parts), counter.total)
