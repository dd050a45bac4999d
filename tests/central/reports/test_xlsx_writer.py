"""The XLSX writer, read back by independent readers: openpyxl's loader, the zip's own XML, and LibreOffice.

The expected values come from the hand-built samples (:mod:`reports.report_samples`): sums are computed
here from the sample's rows, ranges from the sample's row count, never taken from the writer.
"""
from __future__ import annotations

import csv
import io
import os
import re
import shutil
import signal
import subprocess
import time
import zipfile
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._writer import ALL_TEMP_FILES
from openpyxl.worksheet.worksheet import Worksheet

from central.reports import registry, xlsx_writer
from central.reports.document import Chart, Column, Part, Report, Row
from contract.cells import unescape_cell
from reports.report_samples import INJECTION_NAME, INJECTION_NAMES, monthly_like, summary_like

HEADER_ROW = 2  # the part's title is row 1, its header row 2, its rows from row 3
FIRST = 3
SHEET_FORBIDDEN = set("[]:*?/\\")


def render(report: Report, progress=None) -> bytes:
    out = io.BytesIO()
    xlsx_writer.write(report, out, progress=progress)
    return out.getvalue()


def load(data: bytes):
    return load_workbook(io.BytesIO(data))


def rgb(cell) -> tuple[int, int, int] | None:
    """The solid fill of a cell as (red, green, blue), or None when it has none."""
    if cell.fill is None or cell.fill.fill_type != "solid":
        return None
    value = str(cell.fill.fgColor.rgb)[-6:]
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def is_red(cell) -> bool:
    colour = rgb(cell)
    return colour is not None and colour[0] >= 200 and colour[0] - colour[1] >= 40 and colour[0] - colour[2] >= 40


def is_amber(cell) -> bool:
    colour = rgb(cell)
    return colour is not None and colour[0] >= 200 and colour[1] >= 170 and colour[2] <= 170


def plain_sum(part: Part, key: str) -> Decimal:
    """The column's sum over plain rows, worked out here from the sample (not Part.column_sum)."""
    i = [c.key for c in part.columns].index(key)
    total = Decimal(0)
    for row in part.rows:
        if row.style != "subtotal" and isinstance(row.values[i], (int, Decimal)):
            total += Decimal(row.values[i])
    return total


def expected_ranges(part: Part, letter: str) -> str:
    """The ranges a totals SUM must cover: the runs of plain rows, subtotal rows left out."""
    ranges, start = [], None
    for offset, row in enumerate([*part.rows, Row((), style="subtotal")]):
        if row.style == "" and start is None:
            start = FIRST + offset
        elif row.style != "" and start is not None:
            end = FIRST + offset - 1
            ranges.append(f"{letter}{start}:{letter}{end}" if end != start else f"{letter}{start}")
            start = None
    return ",".join(ranges)


def test_one_sheet_per_part_after_the_about_sheet_with_valid_unique_names():
    report = summary_like()
    wb = load(render(report))
    names = wb.sheetnames
    assert len(names) == 1 + len(report.parts)
    assert names[0] == "报表信息 About"
    assert names[1:3] == ["按部门 By department", "每日趋势 Daily trend"]
    odd = names[3]
    assert len(odd) <= 31 and not SHEET_FORBIDDEN & set(odd)
    assert odd.startswith("异常")
    # the full title is on the sheet itself
    assert wb[odd]["A1"].value == report.parts[2].title


def test_duplicate_and_long_part_titles_get_distinct_sheet_names():
    columns = [Column("a", "甲 A", "int", 6)]
    long_title = "一个超过三十一个字符的很长很长的标题 A title longer than thirty-one"
    parts = [Part(f"p{i}", title, columns, [Row((i,))]) for i, title in
             enumerate([long_title, long_title, "History", "报表信息 About", "'quoted'"])]
    report = Report("summary", "汇总 Summary", "公司 Co", "全部 All", date(2026, 3, 1), date(2026, 3, 31),
                    datetime(2026, 4, 1, 8, 0), parts)
    names = load(render(report)).sheetnames
    assert len(names) == 6
    assert len({n.casefold() for n in names}) == 6
    assert all(len(n) <= 31 and not SHEET_FORBIDDEN & set(n) for n in names)
    assert "History" not in names  # a name Excel keeps for itself
    assert not any(n.startswith("'") or n.endswith("'") for n in names)


def test_headers_are_the_column_titles_in_a_styled_header_row():
    report = monthly_like(8)
    part = report.parts[0]
    ws = load(render(report))["考勤月报 Monthly sheet"]
    assert ws["A1"].value == "考勤月报 Monthly sheet"
    header = [cell.value for cell in ws[HEADER_ROW]]
    assert header == [c.title for c in part.columns]
    assert header[:3] == ["工号 No.", "姓名 Name", "部门 Department"]
    for cell in ws[HEADER_ROW]:
        assert cell.font.bold
        assert cell.alignment.wrap_text and cell.alignment.horizontal == "center"
        assert cell.border.bottom.style == "thin"
        assert rgb(cell) is not None


def test_frozen_panes_keep_the_header_rows_and_the_first_columns_in_view():
    wb = load(render(monthly_like(5)))
    assert wb["考勤月报 Monthly sheet"].freeze_panes == "C3"  # freeze_columns=2
    wb = load(render(summary_like()))
    assert wb["按部门 By department"].freeze_panes == "B3"
    assert wb.worksheets[3].freeze_panes == "A3"  # freeze_columns=0: the header rows only


def test_column_widths_are_the_columns_widths():
    report = monthly_like(5)
    ws = load(render(report))["考勤月报 Monthly sheet"]
    for i, column in enumerate(report.parts[0].columns, start=1):
        assert ws.column_dimensions[get_column_letter(i)].width == column.width, column.key


def test_display_width_counts_a_cjk_character_twice():
    assert xlsx_writer.display_width("迟到 Late") == 2 * 2 + 5
    assert xlsx_writer.display_width("ＡＢ") == 4  # full-width letters


def test_values_are_typed_and_formatted_by_column_kind():
    report = monthly_like(6)
    part = report.parts[0]
    ws = load(render(report))["考勤月报 Monthly sheet"]
    expected = {"int": "0", "decimal": "0.00", "percent": "0.0%", "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm"}
    for offset, row in enumerate(part.rows):
        cells = ws[FIRST + offset]
        for column, value, cell in zip(part.columns, row.values, cells, strict=False):
            if column.kind in expected:
                assert cell.number_format == expected[column.kind], (column.key, cell.number_format)
            if column.kind == "symbol":
                assert cell.alignment.horizontal == "center"
                assert cell.value == value
            if isinstance(value, datetime):
                assert cell.is_date and cell.value == value
            elif isinstance(value, date):
                assert cell.is_date and cell.value == datetime.combine(value, datetime.min.time())
            elif isinstance(value, Decimal):
                assert cell.data_type == "n" and cell.value == float(value)  # the number itself, no float noise
            elif isinstance(value, int):
                assert cell.data_type == "n" and cell.value == value


def test_flagged_cells_are_filled_exactly_where_flagged():
    report = monthly_like(30)
    part = report.parts[0]
    ws = load(render(report))["考勤月报 Monthly sheet"]
    bad = warn = 0
    for offset, row in enumerate(part.rows):
        for i, cell in enumerate(ws[FIRST + offset][:len(part.columns)]):
            flag = row.flag(i)
            assert is_red(cell) == (flag == "bad"), (cell.coordinate, flag)
            assert is_amber(cell) == (flag == "warn"), (cell.coordinate, flag)
            if flag == "":
                assert rgb(cell) is None, cell.coordinate
            bad += flag == "bad"
            warn += flag == "warn"
    assert bad > 10 and warn > 5  # the sample has both


def test_subtotal_rows_are_bold_and_plain_rows_are_not():
    report = monthly_like(12, subtotals=True)
    part = report.parts[0]
    ws = load(render(report))["考勤月报 Monthly sheet"]
    styles = [row.style for row in part.rows]
    assert styles.count("subtotal") == 4
    for offset, style in enumerate(styles):
        name_cell = ws.cell(FIRST + offset, 2)
        assert bool(name_cell.font.bold) == (style == "subtotal"), name_cell.coordinate


def test_the_about_sheet_holds_the_title_scope_period_legend_and_notes():
    report = monthly_like(3)
    ws = load(render(report))["报表信息 About"]
    cells = {(c.row, c.column): c for row in ws.iter_rows() for c in row if c.value is not None}
    texts = [str(c.value) for c in cells.values()]
    for text in (report.title, report.company, report.scope, "2026-03-01 – 2026-03-31", *report.notes):
        assert text in texts, text
    assert datetime(2026, 4, 1, 8, 30, 15) in [c.value for c in cells.values()]
    for item in report.legend:
        symbol = next(c for c in cells.values() if c.value == item.symbol and c.column == 1)
        assert ws.cell(symbol.row, 2).value == item.label
        assert is_red(symbol) == (item.flag == "bad"), item.symbol
    assert "考勤月报 Monthly sheet" in texts  # the list of sheets


def test_print_setup_is_a4_landscape_one_page_wide_with_titles_header_and_footer():
    report = summary_like()
    wb = load(render(report))
    for ws in wb.worksheets:
        setup = ws.page_setup
        assert setup.orientation == "landscape"
        assert int(setup.paperSize) == 9  # A4
        assert int(setup.fitToWidth) == 1 and int(setup.fitToHeight) == 0
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert report.title in ws.oddHeader.center.text
        assert "&P" in ws.oddFooter.center.text and "&N" in ws.oddFooter.center.text
    for ws in wb.worksheets[1:]:
        assert ws.print_title_rows == "$1:$2"  # the title and header rows repeat on every page


def test_totals_row_has_real_sum_formulas_over_the_plain_rows():
    report = monthly_like(20)
    part = report.parts[0]
    ws = load(render(report))["考勤月报 Monthly sheet"]
    totals = FIRST + len(part.rows)
    assert ws.cell(totals, 1).value == "合计 Total"
    sums = [(i, c) for i, c in enumerate(part.columns, start=1) if c.total == "sum"]
    assert len(sums) == 8
    for i, column in sums:
        letter = get_column_letter(i)
        cell = ws.cell(totals, i)
        assert cell.data_type == "f"
        assert cell.value == f"=SUM({letter}3:{letter}22)", column.key
        assert cell.font.bold
    assert ws.cell(totals, part.columns.index(next(c for c in part.columns if c.key == "rate")) + 1).value is None


def test_totals_leave_subtotal_rows_out():
    report = monthly_like(14, subtotals=True)
    part = report.parts[0]
    ws = load(render(report))["考勤月报 Monthly sheet"]
    totals = FIRST + len(part.rows)
    i = [c.key for c in part.columns].index("present") + 1
    letter = get_column_letter(i)
    assert ws.cell(totals, i).value == f"=SUM({expected_ranges(part, letter)})"
    assert ws.cell(totals, i).value.count(",") == 3  # four departments, four runs


def test_a_sum_of_very_many_runs_is_grouped_and_still_one_formula():
    runs = [(r, r) for r in range(3, 3 + 2 * 300, 2)]
    formula = xlsx_writer.sum_formula("E", runs)
    assert formula is not None and formula.startswith("=SUM(SUM(E3,E5,")
    assert formula.count("SUM(") == 3  # 300 runs: two groups of at most 255


def test_injection_names_are_text_and_no_cell_but_a_total_is_a_formula():
    for report in (monthly_like(10, subtotals=True), summary_like()):
        wb = load(render(report))
        for ws, part in zip(wb.worksheets[1:], report.parts, strict=True):
            totals_row = FIRST + len(part.rows) if part.has_totals() else None
            for offset, row in enumerate(part.rows):
                for value, cell in zip(row.values, ws[FIRST + offset], strict=False):
                    if value in INJECTION_NAMES:
                        assert cell.data_type == "s"
                        assert cell.value == "'" + value
                        assert unescape_cell(cell.value) == value
            for sheet_row in ws.iter_rows():
                for cell in sheet_row:
                    if cell.data_type == "f":
                        assert cell.row == totals_row, cell.coordinate
                        assert part.columns[cell.column - 1].total == "sum"
                        assert cell.value.startswith("=SUM(")
        # the raw XML agrees: formulas (<f>) only in the totals rows
        with zipfile.ZipFile(io.BytesIO(render(report))) as z:
            formulas = sum(z.read(n).decode().count("<f>") for n in z.namelist() if n.startswith("xl/worksheets/sheet"))
        assert formulas == sum(sum(c.total == "sum" for c in p.columns) for p in report.parts)


def test_an_injection_name_in_the_summary_part_is_text():
    ws = load(render(summary_like())).worksheets[3]
    values = [ws.cell(r, 1).value for r in range(FIRST, FIRST + 5)]
    assert "'" + INJECTION_NAME in values
    assert "'-x 负号开头 starts with a minus" in values
    assert "''Neill" in values  # a leading quote is doubled, so that reading back can tell it from an added one
    assert unescape_cell("''Neill") == "'Neill"
    assert ws.cell(FIRST + 2, 2).value == -2  # a negative number stays a number


def _chart_files(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n).decode() for n in z.namelist() if n.startswith(("xl/charts/", "xl/drawings/", "xl/worksheets/_rels/"))}


def test_charts_are_native_charts_on_their_parts_sheets_referring_to_the_parts_cells():
    report = summary_like()
    files = _chart_files(render(report))
    charts = sorted(n for n in files if re.fullmatch(r"xl/charts/chart\d+\.xml", n))
    assert len(charts) == 3
    by_ranges = {n: set(re.findall(r"<f>([^<]+)</f>", files[n])) for n in charts}
    departments, trend = "'按部门 By department'", "'每日趋势 Daily trend'"
    n_dept, n_days = len(report.parts[0].rows), len(report.parts[1].rows)
    bar = next(n for n in charts if "<barChart>" in files[n])
    assert {f"{departments}!$C${FIRST}:$C${FIRST + n_dept - 1}", f"{departments}!$D${FIRST}:$D${FIRST + n_dept - 1}",
            f"{departments}!$A${FIRST}:$A${FIRST + n_dept - 1}"} <= by_ranges[bar]
    assert f"{departments}!C{HEADER_ROW}" in by_ranges[bar]  # the series is named by its header cell
    assert "<strRef><f>" + f"{departments}!$A$3" in files[bar]  # department names are text categories
    assert 'formatCode="0%"' in files[bar] and '<max val="1" />' in files[bar]  # a percent axis
    assert "各部门出勤率与迟到率 Rates by department" in files[bar]
    lines = [n for n in charts if "<lineChart>" in files[n]]
    assert len(lines) == 2
    last = FIRST + n_days - 1
    assert any(f"{trend}!$D${FIRST}:$D${last}" in by_ranges[n] for n in lines)
    assert any({f"{trend}!$B${FIRST}:$B${last}", f"{trend}!$C${FIRST}:$C${last}"} <= by_ranges[n] for n in lines)
    assert all(f"{trend}!$A${FIRST}:$A${last}" in by_ranges[n] for n in lines)
    # the charts sit on their own sheets (sheet2: departments, sheet3: trend; the about sheet is sheet1) …
    assert "drawing" in files["xl/worksheets/_rels/sheet2.xml.rels"]
    assert "drawing" in files["xl/worksheets/_rels/sheet3.xml.rels"]
    assert "xl/worksheets/_rels/sheet4.xml.rels" not in files
    # … below the table and its totals row, one below the other
    for drawing, table_rows in (("xl/drawings/drawing1.xml", n_dept), ("xl/drawings/drawing2.xml", n_days)):
        rows = [int(r) for r in re.findall(r"<from><col>\d+</col><colOff>\d+</colOff><row>(\d+)</row>", files[drawing])]
        totals_row = FIRST + table_rows  # 1-based; the anchors are 0-based
        assert rows and min(rows) >= totals_row
    rows = [int(r) for r in re.findall(r"<row>(\d+)</row>", files["xl/drawings/drawing2.xml"])]
    assert len(rows) == 2 and rows[1] - rows[0] >= 16  # 8 cm high at about 0.53 cm a row


def test_a_part_without_rows_has_a_zero_total_and_no_chart():
    columns = [Column("day", "日期 Date", "date", 12), Column("n", "人数 People", "int", 8, "sum")]
    part = Part("trend", "趋势 Trend", columns, [], charts=[Chart("line", "趋势 Trend", "day", ("n",))])
    report = Report("summary", "汇总 Summary", "公司 Co", "全部 All", date(2026, 3, 1), date(2026, 3, 1),
                    datetime(2026, 4, 1, 8, 0), [part])
    data = render(report)
    ws = load(data)["趋势 Trend"]
    assert ws.cell(FIRST, 1).value == "合计 Total" and ws.cell(FIRST, 2).value == 0
    assert not [n for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if n.startswith("xl/charts/")]


def test_control_characters_are_replaced_not_fatal_and_an_aware_time_is_refused():
    columns = [Column("name", "姓名 Name", "text", 10), Column("at", "时间 Time", "datetime", 16)]
    good = Report("punches", "打卡 Punches", "公司 Co", "全部 All", date(2026, 3, 1), date(2026, 3, 1),
                  datetime(2026, 4, 1, 8, 0), [Part("p", "打卡 Punches", columns,
                                                      [Row(("张\x01伟", datetime(2026, 3, 1, 8, 0)))])])
    ws = load(render(good))["打卡 Punches"]
    assert ws.cell(FIRST, 1).value == "张\ufffd伟"
    bad = Report("punches", "打卡 Punches", "公司 Co", "全部 All", date(2026, 3, 1), date(2026, 3, 1),
                 datetime(2026, 4, 1, 8, 0), [Part("p", "打卡 Punches", columns,
                                                     [Row(("张伟", datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)))])])
    left_before = len(ALL_TEMP_FILES)
    with pytest.raises(ValueError, match="naive local times"):
        render(bad)
    assert len(ALL_TEMP_FILES) == left_before  # the half-written sheets' temporary files are gone


def test_the_registry_renders_xlsx_with_this_writer():
    out = io.BytesIO()
    registry.render(summary_like(), "xlsx", out)
    assert load(out.getvalue()).sheetnames[1] == "按部门 By department"


def _libreoffice_csv(xlsx: Path, workdir: Path) -> dict[str, list[list[str]]]:
    """Every sheet of ``xlsx`` as LibreOffice computes it, read from the CSV files it writes."""
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed: the formulas cannot be recomputed independently")
    out = workdir / "csv"
    # 44 = comma, 34 = '"', 76 = UTF-8, … the last token -1: one CSV file per sheet
    filter_ = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    command = [soffice, f"-env:UserInstallation=file://{workdir / 'profile'}", "--headless", "--norestore",
               "--convert-to", filter_, "--outdir", str(out), str(xlsx)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    sheets = {}
    for path in out.glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as f:
            sheets[path.stem.split("-", 1)[1]] = list(csv.reader(f))
    assert sheets, f"LibreOffice wrote no CSV: {output.decode(errors='replace')}"
    return sheets


def test_libreoffice_computes_the_totals_to_the_sums_of_the_rows(tmp_path):
    monthly = monthly_like(25, subtotals=True)
    summary = summary_like()
    (tmp_path / "monthly.xlsx").write_bytes(render(monthly))
    sheets = _libreoffice_csv(tmp_path / "monthly.xlsx", tmp_path)
    (tmp_path / "summary.xlsx").write_bytes(render(summary))
    sheets.update(_libreoffice_csv(tmp_path / "summary.xlsx", tmp_path / "s"))
    checked = 0
    for report in (monthly, summary):
        for part in report.parts:
            if not part.has_totals():
                continue
            table = next(rows for name, rows in sheets.items() if rows and rows[0][0] == part.title)
            assert table[HEADER_ROW - 1] == [c.title for c in part.columns]
            totals = table[FIRST - 1 + len(part.rows)]
            assert totals[0] == "合计 Total"
            for i, column in enumerate(part.columns):
                if column.total == "sum":
                    assert Decimal(totals[i]) == plain_sum(part, column.key), (part.key, column.key, totals[i])
                    checked += 1
    assert checked == 8 + 2 + 2 + 1
    # the injection name is still text after LibreOffice opened and saved the workbook
    odd = next(rows for rows in sheets.values() if rows and rows[0][0].startswith("异常"))
    assert "'" + INJECTION_NAME in [r[0] for r in odd]


@pytest.mark.slow
def test_thousands_of_employees_stream_in_write_only_mode(tmp_path):
    """3,000 rows prove the streaming and the totals' place; benchmarks/reports.py writes 10,000 and measures it."""
    report = monthly_like(3_000)
    part = report.parts[0]
    assert len(part.columns) == 45
    calls: list[tuple[int, int]] = []
    path = tmp_path / "big.xlsx"
    started = time.monotonic()
    with path.open("wb") as out:
        xlsx_writer.write(report, out, progress=lambda done, total: calls.append((done, total)))
    elapsed = time.monotonic() - started
    assert calls[-1] == (3_000, 3_000)
    assert len(calls) >= 6 and [d for d, _ in calls] == sorted(d for d, _ in calls)
    wb = load_workbook(path, read_only=True)
    try:
        ws = wb["考勤月报 Monthly sheet"]
        assert not isinstance(ws, Worksheet)  # read in streaming mode too
        last = FIRST + 3_000
        row = next(ws.iter_rows(min_row=last, max_row=last, values_only=True))
        letter = get_column_letter([c.key for c in part.columns].index("hours") + 1)
        assert row[0] == "合计 Total"
        assert f"=SUM({letter}3:{letter}{last - 1})" in row
        first = next(ws.iter_rows(min_row=FIRST, max_row=FIRST, values_only=True))
        assert first[1] == "'" + INJECTION_NAMES[0]
    finally:
        wb.close()
    print(f"3,000 × 45 written in {elapsed:.1f} s, {path.stat().st_size / 1e6:.1f} MB")


@pytest.fixture
def generated_month(db):
    """A month of records made through the product's own paths (the demo history), and a user who sees it all."""
    from central.accounts.models import User
    from central.attendance.demo_history import fill_month
    from central.people import roster
    from central.people.models import Site

    Site.objects.create(code="sh", name="上海工厂", time_zone="Asia/Shanghai")
    fill_month("sh", date(2026, 4, 1), device_id="gate-1")  # records 2026-03-02 .. 2026-03-31
    roster.upsert_employees([{"number": "X001", "name": INJECTION_NAME, "department": "仓储 Warehouse", "site": "sh"}])
    return User.objects.create_superuser("boss", password="x")


@pytest.mark.django_db
def test_every_report_the_product_builds_renders_as_a_workbook(generated_month):
    params = registry.ReportParams(date(2026, 3, 2), date(2026, 3, 31))
    for name in registry.REPORTS:
        report = registry.build(name, generated_month, params)
        workbook = render(report)
        wb = load(workbook)
        assert len(wb.sheetnames) == 1 + len(report.parts), name
        with zipfile.ZipFile(io.BytesIO(workbook)) as z:
            charts = [n for n in z.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)]
        assert len(charts) == sum(len(p.charts) for p in report.parts if p.rows), name
        for ws, part in zip(wb.worksheets[1:], report.parts, strict=True):
            assert [c.value for c in ws[HEADER_ROW]][:len(part.columns)] == [c.title for c in part.columns]
            totals_row = FIRST + len(part.rows)
            for offset, row in enumerate(part.rows):
                for value, cell in zip(row.values, ws[FIRST + offset], strict=False):
                    if isinstance(value, str) and value:
                        assert cell.data_type == "s" and unescape_cell(cell.value) == value, (name, cell.coordinate)
            for sheet_row in ws.iter_rows():
                for cell in sheet_row:
                    if cell.data_type == "f":
                        assert part.has_totals() and cell.row == totals_row, (name, cell.coordinate)
            if part.has_totals():
                for i, column in enumerate(part.columns, start=1):
                    if column.total == "sum" and part.rows:
                        assert ws.cell(totals_row, i).value.startswith(f"=SUM({get_column_letter(i)}"), (name, column.key)
    monthly = load(render(registry.build("monthly", generated_month, params)))
    names = [c.value for row in monthly.worksheets[1].iter_rows(min_row=FIRST) for c in row]
    assert "'" + INJECTION_NAME in names
