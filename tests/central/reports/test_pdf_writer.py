"""The PDF writer, read back by independent readers: poppler's ``pdftotext``, ``pdffonts`` and ``pdfinfo``,
and zlib for the page content streams (the fill colours of flagged cells).

Expected values come from the hand-built samples (:mod:`reports.report_samples`) or from reports built
here: sums are computed from the rows, formats from what the report promises ("95.2%", "7.50",
"2026-03-15 08:57"), never from the writer.
"""
from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import zlib
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Sum

from central.accounts.models import User
from central.attendance.demo_history import fill_month
from central.attendance.models import DailyRecord
from central.people.models import Employee, Site
from central.reports import fonts, pdf_writer, registry
from central.reports.document import Chart, Column, LegendItem, Part, Report, Row
from reports.report_samples import (
    COMPANY,
    DEPARTMENT_ROWS,
    GENERATED_AT,
    INJECTION_NAME,
    monthly_like,
    summary_like,
)

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("pdftotext", "pdffonts", "pdfinfo")),
    reason="poppler-utils (pdftotext, pdffonts, pdfinfo) is not installed: apt-get install poppler-utils")

MARKUP_NAME = "<b>x</b> & y"


def render(report: Report, progress=None) -> bytes:
    out = io.BytesIO()
    pdf_writer.write(report, out, progress=progress)
    return out.getvalue()


def poppler(tool: str, data: bytes, tmp_path: Path, *args: str) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    done = subprocess.run([tool, *args, str(path), *(["-"] if tool == "pdftotext" else [])],
                          capture_output=True, check=True, timeout=120)
    return done.stdout.decode("utf-8")


def pages_of(data: bytes, tmp_path: Path) -> list[str]:
    """The text of each page, as ``pdftotext -layout`` lays it out (pages end with a form feed)."""
    text = poppler("pdftotext", data, tmp_path, "-layout", "-enc", "UTF-8")
    pages = text.split("\f")
    assert pages[-1].strip() == ""
    return pages[:-1]


def page_count(data: bytes, tmp_path: Path) -> int:
    info = poppler("pdfinfo", data, tmp_path)
    found = re.search(r"^Pages:\s+(\d+)$", info, re.MULTILINE)
    assert found, info
    return int(found.group(1))


def squash(text: str) -> str:
    """Text with runs of spaces made one (``-layout`` pads columns with spaces)."""
    return re.sub(r"[ \t]+", " ", text)


def narrow_report(n_rows: int, *, note: str = "") -> Report:
    """One part of ``n_rows`` employees and three columns: number, name, hours (a total)."""
    columns = [Column("number", "工号 No.", "text", 8), Column("name", "姓名 Name", "text", 30),
               Column("hours", "工时 Hours worked", "decimal", 10, "sum")]
    rows = [Row((f"N{i:05d}", f"员工{i} Employee {i}", Decimal(i % 9) + Decimal("0.25"))) for i in range(n_rows)]
    return Report(name="payroll", title="薪资导出 Payroll export", company=COMPANY, scope="站点 Site: 测试 Test",
                  first=date(2026, 3, 1), last=date(2026, 3, 31), generated_at=GENERATED_AT,
                  parts=[Part("people", "员工 People", columns, rows)], notes=[note] if note else [])


def test_every_page_has_the_header_and_a_page_x_of_y_footer(tmp_path: Path) -> None:
    report = monthly_like(150)
    data = render(report)
    assert data.startswith(b"%PDF-")
    pages = pages_of(data, tmp_path)
    total = page_count(data, tmp_path)
    assert total == len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        flat = squash(page)
        assert COMPANY in flat
        assert "考勤月报 Monthly attendance sheet" in flat
        assert "站点 Site: 上海工厂 Shanghai plant · 部门 Department: 全部 All" in flat
        assert "2026-03-01 – 2026-03-31" in flat
        assert f"第 {number} / {total} 页 Page {number} / {total}" in flat, flat[-400:]
        assert "生成于 Generated 2026-04-01 08:30" in flat
    text = squash("".join(pages))
    for row in report.parts[0].rows[10:20]:  # Chinese names come out of the text
        name = str(row.values[1])
        assert re.search("[\u4e00-\u9fff]", name)
        assert name in text


def test_the_chinese_font_is_embedded_and_nothing_else_is_needed(tmp_path: Path) -> None:
    data = render(summary_like())
    listing = poppler("pdffonts", data, tmp_path).splitlines()
    assert listing[0].split()[:2] == ["name", "type"]
    rows = [line.split() for line in listing[2:] if line.strip()]
    assert rows, listing
    for row in rows:
        emb, sub = row[-5], row[-4]
        assert (emb, sub) == ("yes", "yes"), f"font {row[0]} is not embedded as a subset: {row}"
    assert any("WenQuanYi" in row[0] for row in rows), listing


def test_a_long_table_repeats_its_header_on_every_page_and_keeps_every_row_once(tmp_path: Path) -> None:
    report = narrow_report(2000)
    data = render(report)
    pages = pages_of(data, tmp_path)
    assert len(pages) >= 2000 // 60
    table_pages = [page for page in pages if re.search(r"N\d{5}", page)]
    assert len(table_pages) == len(pages)
    for page in table_pages:
        assert re.search(r"工号 No\.\s+姓名 Name\s+工时 Hours worked", page), page[:600]
    numbers = re.findall(r"\bN\d{5}\b", "".join(pages))
    assert numbers == [f"N{i:05d}" for i in range(2000)]  # every row once, in order, none lost across pages
    expected = sum((Decimal(i % 9) + Decimal("0.25") for i in range(2000)), Decimal(0))
    assert re.search(rf"合计 Total\s+{expected:.2f}\b", pages[-1]), pages[-1][-600:]


def test_page_count_grows_with_the_rows(tmp_path: Path) -> None:
    counts = [page_count(render(narrow_report(n)), tmp_path) for n in (10, 300, 1200)]
    assert counts[0] == 1
    assert counts[0] < counts[1] < counts[2]


def test_the_numbers_of_a_part_and_its_totals_row(tmp_path: Path) -> None:
    data = render(summary_like())
    text = squash("\n".join(pages_of(data, tmp_path)))
    for name, headcount, rate, late, overtime in DEPARTMENT_ROWS:
        line = f"{name} {headcount} {rate * 100:.1f}% {late * 100:.1f}% {overtime:.2f}"
        assert line in text, line
    headcount = sum(row[1] for row in DEPARTMENT_ROWS)
    overtime = sum((row[4] for row in DEPARTMENT_ROWS), Decimal(0))
    assert f"合计 Total {headcount} {overtime:.2f}" in text
    for day in range(1, 15):
        assert f"2026-03-{day:02d}" in text


def test_the_monthly_sheet_rows_and_totals(tmp_path: Path) -> None:
    report = monthly_like(40)
    part = report.parts[0]
    text = squash("\n".join(pages_of(render(report), tmp_path)))
    keys = [c.key for c in part.columns]
    for row in part.rows[8:14]:
        values = dict(zip(keys, row.values, strict=True))
        days = " ".join(str(values[f"d{d:02d}"]) for d in range(1, 32))
        tail = (f"{values['present']} {values['late']} {values['late_minutes']} {values['absent']} {values['missing']} "
                f"{values['leave_days']:.2f} {values['hours']:.2f} {values['overtime']:.2f} "
                f"{Decimal(str(values['rate'])) * 100:.1f}% {values['hired']:%Y-%m-%d} {values['first_punch']:%Y-%m-%d %H:%M}")
        assert f"{values['number']} {values['name']} {values['department']} {days} {tail}" in text, values['number']
    sums = [sum(row.values[keys.index(k)] for row in part.rows) for k in ("present", "late", "late_minutes", "absent")]
    assert re.search(r"合计\s.*?" + r"\s+".join(str(s) for s in sums), text.replace("\n", " ")), sums


def test_markup_and_formula_text_prints_literally(tmp_path: Path) -> None:
    columns = [Column("name", "姓名 Name", "text", 40), Column("n", "次数 Count", "int", 6, "sum")]
    part = Part("names", f"名单 Names {MARKUP_NAME}", columns,
                [Row((MARKUP_NAME, 1)), Row((INJECTION_NAME, 2)), Row(("a < b && c > d", 3))],
                note=f"说明 Note: {MARKUP_NAME}")
    report = Report(name="exceptions", title=f"异常清单 Exceptions {MARKUP_NAME}", company=COMPANY,
                    scope=f"部门 Department: {MARKUP_NAME}", first=date(2026, 3, 1), last=date(2026, 3, 31),
                    generated_at=GENERATED_AT, parts=[part], legend=[LegendItem("<", f"小于 Less {MARKUP_NAME}")],
                    notes=[f"注 Note & <i>{MARKUP_NAME}</i>"])
    text = squash("\n".join(pages_of(render(report), tmp_path)))
    assert f"名单 Names {MARKUP_NAME}" in text  # the section title, a paragraph
    assert f"说明 Note: {MARKUP_NAME}" in text  # the part's note
    assert f"注 Note & <i>{MARKUP_NAME}</i>" in text  # a report note
    assert f"异常清单 Exceptions {MARKUP_NAME}" in text and f"部门 Department: {MARKUP_NAME}" in text  # the page header
    assert f"小于 Less {MARKUP_NAME}" in text
    assert f"{MARKUP_NAME} 1" in text
    assert f"{INJECTION_NAME} 2" in text
    assert "a < b && c > d 3" in text
    assert "合计 Total 6" in text


def _fill_colours(data: bytes) -> set[tuple[float, float, float]]:
    """Every non-stroking RGB colour (``r g b rg``) set in the file's content streams (ASCII85 and/or Flate)."""
    found: set[tuple[float, float, float]] = set()
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", data, re.DOTALL):
        body = stream.strip()
        try:
            if body.endswith(b"~>"):
                body = base64.a85decode(body[:-2])
            content = zlib.decompress(body)
        except (ValueError, zlib.error):
            continue
        for r, g, b in re.findall(rb"(?<![\w.])([\d.]+) ([\d.]+) ([\d.]+) rg\b", content):
            found.add((float(r), float(g), float(b)))
    return found


def _reddish(colour: tuple[float, float, float]) -> bool:
    r, g, b = colour
    return r >= 0.9 and r - g >= 0.15 and r - b >= 0.15


def _amber(colour: tuple[float, float, float]) -> bool:
    r, g, b = colour
    return r >= 0.9 and g >= 0.75 and r - b >= 0.3


def test_flagged_cells_are_filled_red_and_amber(tmp_path: Path) -> None:
    columns = [Column("name", "姓名 Name", "text", 12), Column("state", "状态 State", "symbol", 4)]
    flagged = [Row(("王伟", "迟"), ("", "bad")), Row(("李娜", "卡"), ("", "warn")),
               Row(("张敏", "假"), ("", "info")), Row(("刘洋", "休"), ("", "muted"))]
    plain = [Row(row.values) for row in flagged]

    def report(rows: list[Row]) -> Report:
        return Report(name="daily", title="考勤日报 Daily report", company=COMPANY, scope="站点 Site: 测试 Test",
                      first=date(2026, 3, 2), last=date(2026, 3, 2), generated_at=GENERATED_AT,
                      parts=[Part("day", "当日 The day", columns, rows)])

    with_flags, without = render(report(flagged)), render(report(plain))
    assert any(_reddish(c) for c in _fill_colours(with_flags))
    assert any(_amber(c) for c in _fill_colours(with_flags))
    assert not any(_reddish(c) or _amber(c) for c in _fill_colours(without))
    text = squash("\n".join(pages_of(with_flags, tmp_path)))
    for name, symbol in (("王伟", "迟"), ("李娜", "卡"), ("张敏", "假"), ("刘洋", "休")):
        assert f"{name} {symbol}" in text


def test_subtotal_rows_print_their_sums(tmp_path: Path) -> None:
    report = monthly_like(24, subtotals=True)
    part = report.parts[0]
    keys = [c.key for c in part.columns]
    text = squash("\n".join(pages_of(render(report), tmp_path))).replace("\n", " ")
    subtotals = [row for row in part.rows if row.style == "subtotal"]
    assert subtotals
    for row in subtotals:
        present, late = row.values[keys.index("present")], row.values[keys.index("late")]
        assert re.search(rf"{present}\s+{late}\s", text)
    assert "小计 Subtotal" in text


def test_charts_print_their_titles_axes_categories_and_legend(tmp_path: Path) -> None:
    pages = [squash(p) for p in pages_of(render(summary_like()), tmp_path)]
    bar_page = next(p for p in pages if "各部门出勤率与迟到率 Rates by department" in p)
    for name, *_ in DEPARTMENT_ROWS:
        assert name in bar_page
    for label in ("100%", "80%", "0%", "比率 Rate", "部门 Department", "出勤率 Attendance rate", "迟到率 Late rate"):
        assert label in bar_page, label
    line_page = next(p for p in pages if "每日出勤率 Attendance rate per day" in p)
    for day in range(1, 15):
        assert f"03-{day:02d}" in line_page
    assert "出勤率 Rate" in line_page and "日期 Date" in line_page
    people = next(p for p in pages if "每日出勤与迟到人数 Present and late per day" in p)
    assert "出勤人数 Present" in people and "迟到人数 Late" in people and "人数 People" in people


def test_a_chart_of_many_days_and_bars_builds(tmp_path: Path) -> None:
    columns = [Column("day", "日期 Date", "date", 12), Column("rate", "出勤率 Attendance rate", "percent", 10),
               Column("department", "部门 Department", "text", 12), Column("n", "人数 People", "int", 6)]
    first = date(2026, 1, 1)
    rows = [Row((first + timedelta(days=i), Decimal(90 + i % 10) / 100, f"部门{i} Dept {i}", i)) for i in range(120)]
    part = Part("trend", "趋势 Trend", columns, rows,
                charts=[Chart("line", "四个月 Four months", "day", ("rate",), percent=True),
                        Chart("bar", "部门人数 People per department", "department", ("n",))])
    report = Report(name="summary", title="考勤汇总 Attendance summary", company=COMPANY, scope="全部 All",
                    first=first, last=first + timedelta(days=119), generated_at=GENERATED_AT, parts=[part])
    text = squash("\n".join(pages_of(render(report), tmp_path)))
    assert "四个月 Four months" in text and "部门人数 People per department" in text
    assert "01-01" in text and "部门0 Dept 0" in text


def test_a_part_too_wide_for_the_page_is_split_into_blocks_repeating_the_frozen_columns(tmp_path: Path) -> None:
    columns = [Column("number", "工号 No.", "text", 8), Column("name", "姓名 Name", "text", 12)]
    columns += [Column(f"c{i}", f"项目{i} Item {i}", "decimal", 12) for i in range(60)]
    rows = [Row((f"W{r:03d}", f"员工{r}", *[Decimal(r * 100 + i) / 4 for i in range(60)])) for r in range(30)]
    part = Part("wide", "宽表 Wide", columns, rows, freeze_columns=2)
    report = Report(name="payroll", title="薪资导出 Payroll export", company=COMPANY, scope="全部 All",
                    first=date(2026, 3, 1), last=date(2026, 3, 31), generated_at=GENERATED_AT, parts=[part])
    pages = pages_of(render(report), tmp_path)
    text = squash("\n".join(pages))
    found = re.search(r"列分为 (\d+) 块打印，每块重复前 2 列", text)
    assert found, text[:1500]
    blocks = int(found.group(1))
    assert blocks >= 2
    segments = re.split(r"列块 \d / \d", text)[1:]  # the text of each block (its pages repeat its header)
    assert len(segments) == blocks
    for i in range(60):  # every column is printed, in one block only
        assert sum(1 for segment in segments if re.search(rf"项目{i}(?!\d)", segment)) == 1, i
    headings = re.findall(r"列块 (\d) / (\d)：第 (\d+)–(\d+) 列", text)
    assert [(int(b), int(n)) for b, n, _, _ in headings] == [(b, blocks) for b in range(1, blocks + 1)]
    assert int(headings[0][2]) == 3 and int(headings[-1][3]) == 62  # after the 2 repeated columns, to the last
    for r in range(30):  # every row's frozen columns repeat in each block
        assert len(re.findall(rf"\bW{r:03d} 员工{r}\b", text)) == blocks
    assert f"{Decimal(7 * 100 + 59) / 4:.2f}" in text


def test_an_empty_part_and_a_part_without_columns_still_build(tmp_path: Path) -> None:
    empty = Part("none", "空表 Empty", [Column("name", "姓名 Name"), Column("n", "次数 Count", "int", 6, "sum")])
    bare = Part("bare", "无列 Bare", [])
    report = Report(name="exceptions", title="异常清单 Exceptions", company=COMPANY, scope="全部 All",
                    first=date(2026, 3, 1), last=date(2026, 3, 1), generated_at=GENERATED_AT, parts=[empty, bare])
    text = squash("\n".join(pages_of(render(report), tmp_path)))
    assert "空表 Empty" in text and "无数据 No rows" in text and "姓名 Name" in text and "合计 Total 0" in text
    assert "无列 Bare" in text


def test_progress_counts_rows_up_to_the_total() -> None:
    report = narrow_report(700)
    calls: list[tuple[int, int]] = []
    render(report, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) >= 5
    assert all(total == 700 for _, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1] == (700, 700)


def test_the_registry_renders_pdf(tmp_path: Path) -> None:
    out = io.BytesIO()
    registry.render(narrow_report(5), "pdf", out)
    assert out.getvalue().startswith(b"%PDF-")
    assert "N00004" in pages_of(out.getvalue(), tmp_path)[0]


def test_cell_text_formats_by_kind() -> None:
    assert pdf_writer.cell_text(Decimal("0.952"), "percent") == "95.2%"
    assert pdf_writer.cell_text(0.5, "percent") == "50.0%"
    assert pdf_writer.cell_text(Decimal("7.5"), "decimal") == "7.50"
    assert pdf_writer.cell_text(3, "int") == "3"
    assert pdf_writer.cell_text(date(2026, 3, 15), "date") == "2026-03-15"
    assert pdf_writer.cell_text(datetime(2026, 3, 15, 8, 57, 42), "datetime") == "2026-03-15 08:57"
    assert pdf_writer.cell_text(None, "int") == ""
    assert pdf_writer.cell_text(MARKUP_NAME, "text") == MARKUP_NAME


def test_a_missing_font_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(fonts.ENV_VAR, raising=False)
    monkeypatch.setattr(fonts, "CANDIDATES", (tmp_path / "none.ttc",))
    with pytest.raises(fonts.FontMissing, match="fonts-wqy-microhei"):
        fonts.font_path()
    monkeypatch.setenv(fonts.ENV_VAR, str(tmp_path / "missing.ttf"))
    with pytest.raises(fonts.FontMissing, match="missing.ttf"):
        fonts.font_path()
    monkeypatch.setenv(fonts.ENV_VAR, str(tmp_path / "font.otf"))
    with pytest.raises(fonts.FontMissing, match=r"\.ttf or \.ttc"):
        fonts.font_path()
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font")
    monkeypatch.setenv(fonts.ENV_VAR, str(broken))
    with pytest.raises(fonts.FontMissing, match="cannot be read"):
        fonts.register()


def test_the_font_may_be_named_by_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    installed = next((p for p in fonts.CANDIDATES if p.is_file()), None)
    if installed is None:
        pytest.skip(f"{fonts.PACKAGE} is not installed")
    monkeypatch.setenv(fonts.ENV_VAR, str(installed))
    assert fonts.font_path() == installed
    assert "王伟" in "\n".join(pages_of(render(narrow_report(3, note="王伟")), tmp_path))


@pytest.fixture
def generated_month(db: object) -> User:
    """A month of punches through the product's own paths (``fill_month``): records 2026-03-04 … 2026-04-02."""
    Site.objects.create(code="sh", name="上海工厂", time_zone="Asia/Shanghai")
    fill_month("sh", date(2026, 4, 3), device_id="gate-1")
    return User.objects.create_superuser("boss", password="x")


@pytest.mark.django_db
def test_the_monthly_sheet_built_from_records_prints_their_numbers(generated_month: User, tmp_path: Path) -> None:
    first, last = date(2026, 3, 1), date(2026, 3, 31)
    report = registry.build("monthly", generated_month, registry.ReportParams(first, last))
    out = io.BytesIO()
    registry.render(report, "pdf", out)
    pages = pages_of(out.getvalue(), tmp_path)
    lines = [squash(line).strip() for page in pages for line in page.splitlines()]
    employees = list(Employee.objects.order_by("number"))
    assert len(employees) >= 10
    records = DailyRecord.objects.filter(date__gte=first, date__lte=last)
    for employee in employees[:12]:
        mine = records.filter(employee=employee)
        # every line of this employee (one per column block), numbers as printed
        printed = " ".join(line for line in lines if line.startswith(f"{employee.number} "))
        assert employee.name in printed
        tokens = set(printed.split())
        hours = mine.aggregate(s=Sum("hours"))["s"] or Decimal(0)
        assert f"{hours:.2f}" in tokens, (employee.number, hours, printed[-300:])
        assert str(mine.filter(late=True).count()) in tokens
        assert str(mine.aggregate(s=Sum("late_min"))["s"] or 0) in tokens
    total_hours = records.aggregate(s=Sum("hours"))["s"] or Decimal(0)
    totals = " ".join(line for line in lines if line.startswith("合计"))
    assert f"{total_hours:.2f}" in totals.split(), totals
    if records.filter(status="absent").exists():
        assert "×" in "".join(pages)  # the sheet's absent mark, which the embedded face has


def _words(data: bytes, tmp_path: Path, page: int = 1) -> list[tuple[float, float, float, float, str]]:
    """The words of a page with their boxes, as poppler's ``pdftotext -bbox`` places them."""
    html = poppler("pdftotext", data, tmp_path, "-bbox", "-f", str(page), "-l", str(page))
    return [(float(x0), float(y0), float(x1), float(y1), word) for x0, y0, x1, y1, word in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', html)]


def test_the_monthly_legend_prints_every_label_whole_and_nothing_over_anything(tmp_path: Path) -> None:
    """The legend's longest label (worked on a rest day / holiday) ran into the next symbol's box, and the widest
    symbol (休√ / 节√) out of its own."""
    from types import SimpleNamespace

    from central.reports.monthly import legend

    annual = SimpleNamespace(name="年假", on_duty=False)
    report = monthly_like(12)
    report.legend = legend({1: annual}, {1: "年"})  # type: ignore[dict-item]
    words = _words(render(report), tmp_path)
    assert words
    overlaps = [(a[4], b[4]) for i, a in enumerate(words) for b in words[i + 1:]
                if min(a[2], b[2]) - max(a[0], b[0]) > 0.5 and min(a[3], b[3]) - max(a[1], b[1]) > 0.5]
    assert overlaps == []
    printed = {w[4] for w in words}
    for item in report.legend:  # each word of each label is printed (a wrapped label's lines may come in any order)
        assert set(item.label.split()) <= printed, item.label
