"""A report as PDF: A4 landscape, the CJK font embedded, a header and a "page x / y" footer on every page.

The layout, for any :class:`~central.reports.document.Report`:

* every page: the company, the report title, the scope and the period at the top; "第 x / y 页 Page x / y"
  and the generation time at the bottom. The total ``y`` is unknown while pages are laid out, so each page
  draws its number as a PDF form named after the page, and the forms are written once the last page is
  done (:class:`_PagedCanvas`): one pass, nothing of a page kept in memory for it;
* first the report's notes and its legend (the symbols of the monthly sheet, in their colours);
* each part as a section: its title, its note, its charts (:mod:`central.reports.pdf_charts`), then its
  table. A table is laid out one page at a time: the writer takes as many rows as fit the space left on
  the page, each piece a reportlab ``Table`` of its own beginning with the header row, so a long table
  repeats its header on every page and a table of 10,000 rows never exists as one object;
* a part too wide for the page is drawn at a smaller font (8 pt down to 6 pt); still too wide, its
  columns are split into blocks that each repeat the part's first ``freeze_columns`` columns (a note
  says so), printed one block after the other (down, then over, as a spreadsheet prints);
* flagged cells: ``bad`` red fill and dark red text, ``warn`` amber, ``info`` blue, ``muted`` grey text;
  subtotal and totals rows are shaded and their text stroked to look bold (the CJK face has no bold);
* values formatted by their column's kind: ``95.2%``, ``7.50``, ``2026-03-15``, ``2026-03-15 08:57``.

Cells are plain strings, never markup: a name such as ``<b>x</b> & y`` or ``=HYPERLINK(…)`` prints as
it is (a PDF runs nothing). The few paragraphs (titles, notes) escape ``<``, ``>`` and ``&``.
"""
from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
)

from central.reports import fonts, pdf_charts
from central.reports.document import Flag, Part, ProgressFn, Report, Row, Value

logger = logging.getLogger(__name__)

PAGE_SIZE: tuple[float, float] = landscape(A4)
MARGIN_X = 10 * mm
MARGIN_TOP = 21 * mm  # room for the two header lines
MARGIN_BOTTOM = 13 * mm  # room for the footer
FONT_SIZES = (8.0, 7.5, 7.0, 6.5, 6.0)  # tried in turn until a part fits the page width; 6 pt is the smallest
PAD_X = 1.4  # a cell's left and right padding, points
PAD_Y = 1.2
LEADING = 1.22  # line height as a multiple of the font size
MAX_CELL_LINES = 12  # a longer text is cut with "…" (a row must fit on a page)
MAX_ROWS_PER_TABLE = 120  # rows of one table piece at most (a page holds fewer)
CHART_HEIGHT = 190.0
CJK_WORD_EM = 4.0  # a Chinese title word wider than this may break between characters

GRID = colors.HexColor("#A6A6A6")
HEADER_FILL = colors.HexColor("#D9E1F2")
SUBTOTAL_FILL = colors.HexColor("#EDEDED")
TOTAL_FILL = colors.HexColor("#DDEBF7")
FLAG_FILLS: dict[Flag, colors.Color] = {
    "bad": colors.HexColor("#FFC7CE"),
    "warn": colors.HexColor("#FFE699"),
    "info": colors.HexColor("#BDD7EE"),
}
FLAG_TEXT: dict[Flag, colors.Color] = {
    "bad": colors.HexColor("#9C0006"),
    "warn": colors.HexColor("#7F6000"),
    "info": colors.HexColor("#1F4E79"),
    "muted": colors.HexColor("#808080"),
}
NUMERIC_KINDS = ("int", "decimal", "percent")
TOTAL_LABEL = "合计 Total"
# a Chinese (or full-width) character, a run of other non-space characters, or spaces
_TOKENS = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+|\s+")
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")


def cell_text(value: Value, kind: str) -> str:
    """A value as the PDF prints it: ``percent`` 95.2%, ``decimal`` two places, dates ISO, times to the minute."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d" if kind == "date" else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if kind == "percent":
        return f"{Decimal(str(value)) * 100:.1f}%"
    if kind == "decimal":
        return f"{Decimal(str(value)):.2f}"
    if kind == "int" and isinstance(value, (float, Decimal)) and value == int(value):
        return str(int(value))
    return str(value)


def paragraph_text(text: str) -> str:
    """Plain text for a reportlab Paragraph: markup characters escaped, line breaks kept."""
    return escape(text).replace("\n", "<br/>")


Measure = Callable[[str], float]


def wrap(text: str, width: float, measure: Measure) -> list[str]:
    """``text`` broken into lines no wider than ``width``: between words, between Chinese characters,
    and inside a word only when the word alone is wider than the line."""
    if "\n" not in text and measure(text) <= width:
        return [text]
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for token in _TOKENS.findall(paragraph):
            if token.isspace():
                if line:
                    line += " "
                continue
            if measure(line + token) <= width:
                line += token
                continue
            if line.strip():
                lines.append(line.rstrip())
            while len(token) > 1 and measure(token) > width:
                cut = 1
                while cut < len(token) and measure(token[:cut + 1]) <= width:
                    cut += 1
                lines.append(token[:cut])
                token = token[cut:]
            line = token
        lines.append(line.rstrip())
    if len(lines) > MAX_CELL_LINES:
        lines = lines[:MAX_CELL_LINES - 1] + [lines[MAX_CELL_LINES - 1] + "…"]
    return lines


class BoldText(Flowable):  # type: ignore[misc]
    """Text that looks bold in a face without a bold weight: the glyphs filled and outlined."""

    def __init__(self, lines: Sequence[str], font: str, size: float, colour: colors.Color, align: str) -> None:
        super().__init__()
        self.lines = list(lines)
        self.font, self.size, self.colour, self.align = font, size, colour, align
        self.leading = size * LEADING
        self.text_width = max((pdfmetrics.stringWidth(line, font, size) for line in self.lines), default=0.0)

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.text_width + 0.4, self.leading * len(self.lines)

    def draw(self) -> None:
        canvas = self.canv
        canvas.saveState()
        canvas.setFillColor(self.colour)
        canvas.setStrokeColor(self.colour)
        canvas.setLineWidth(self.size * 0.045)
        for i, line in enumerate(self.lines):
            width = pdfmetrics.stringWidth(line, self.font, self.size)
            x = {"RIGHT": self.text_width - width, "CENTER": (self.text_width - width) / 2}.get(self.align, 0.0)
            text = canvas.beginText(x + 0.2, self.leading * (len(self.lines) - i - 1) + self.size * 0.22)
            text.setFont(self.font, self.size, self.leading)
            text.setTextRenderMode(2)
            text.textOut(line)
            canvas.drawText(text)
        canvas.restoreState()


@dataclass
class _Layout:
    """How one part's table is drawn: a font size, a width per column, the column blocks."""
    size: float
    widths: list[float]
    blocks: list[list[int]]

    @property
    def leading(self) -> float:
        return self.size * LEADING


def _title_words(title: str) -> list[str]:
    return [w for w in title.split() if w]


def _layout(part: Part, font: str, avail_width: float) -> _Layout:
    """The largest font size at which the part fits the page width, else the columns split into blocks."""
    face = pdfmetrics.getFont(font)

    def em(text: str) -> float:
        return float(face.stringWidth(text, 1.0))

    natural: list[float] = []  # width in ems (at a font size of 1) before padding
    wanted: list[float] = []  # the width, in ems, without wrapping the title or a long text
    for i, column in enumerate(part.columns):
        title = max((min(em(word), CJK_WORD_EM) if _CJK.search(word) else em(word)
                     for word in _title_words(column.title)), default=1.0)
        texts = {cell_text(row.values[i], column.kind) for row in part.rows}
        if column.total == "sum":
            texts.add(cell_text(part.column_sum(column.key), column.kind))
        if i == 0 and part.has_totals():
            texts.add(TOTAL_LABEL)
        widest = max((em(t) for t in texts), default=0.0)
        wanted.append(max(em(column.title), widest))
        if column.kind == "text":
            widest = min(widest, max(column.width, 4) * 0.55)
        natural.append(max(title, widest, 0.8))

    def widths_at(size: float, ems: list[float] = natural) -> list[float]:
        return [w * size + 2 * PAD_X + 0.5 for w in ems]

    everything = list(range(len(part.columns)))
    for size in FONT_SIZES:
        widths = widths_at(size)
        if sum(widths) <= avail_width:
            spare = avail_width - sum(widths)
            for i, want in enumerate(widths_at(size, wanted)):  # room left: unwrap titles and names, left first
                grow = min(max(want - widths[i], 0.0), spare)
                widths[i] += grow
                spare -= grow
            return _Layout(size, widths, [everything])
    size = FONT_SIZES[-1]
    widths = widths_at(size)
    frozen = list(range(min(max(part.freeze_columns, 0), len(part.columns) - 1)))
    while frozen and sum(widths[i] for i in frozen) > avail_width / 2:
        frozen.pop()
    room = avail_width - sum(widths[i] for i in frozen)
    rest = everything[len(frozen):]
    blocks = _pack(rest, widths, room)
    # as many blocks as needed, but of even widths: the last block is not a lone column
    limit = max(sum(widths[i] for i in rest) / len(blocks), max(widths[i] for i in rest))
    while limit < room:
        even = _pack(rest, widths, limit)
        if len(even) <= len(blocks):
            blocks = even
            break
        limit *= 1.04
    blocks = [frozen + block for block in blocks]
    for i, width in enumerate(widths):  # a single column wider than the page is narrowed (its text wraps)
        widths[i] = min(width, room if i not in frozen else avail_width / 2)
    return _Layout(size, widths, blocks)


def _pack(columns: list[int], widths: list[float], room: float) -> list[list[int]]:
    """``columns`` in order, in as few runs as fit ``room`` each (a run holds at least one column)."""
    blocks: list[list[int]] = []
    current: list[int] = []
    used = 0.0
    for i in columns:
        if current and used + widths[i] > room:
            blocks.append(current)
            current, used = [], 0.0
        current.append(i)
        used += widths[i]
    blocks.append(current)
    return blocks


class _Section:
    """One part being laid out: its layout, its text measures, and the pieces of its table."""

    def __init__(self, part: Part, font: str, avail_width: float, progress: _Progress) -> None:
        self.part, self.font, self.progress = part, font, progress
        self.layout = _layout(part, font, avail_width)
        self.kinds = [c.kind for c in part.columns]
        self.marks = fonts.substitutions(font)
        face = pdfmetrics.getFont(font)
        size = self.layout.size
        self._measure: Measure = lambda text: float(face.stringWidth(text, size))
        self.count = len(part.rows) + (1 if part.has_totals() else 0)  # the totals row is the last item
        self.headers = [wrap(c.title, self._inner(i), self._measure) for i, c in enumerate(part.columns)]
        self.totals: list[str] = [
            (cell_text(part.column_sum(c.key), c.kind) if c.total == "sum" else "") for c in part.columns]
        if part.has_totals() and part.columns and part.columns[0].total != "sum":
            self.totals[0] = TOTAL_LABEL
        self._styles: dict[int, list[tuple[Any, ...]]] = {}

    def _inner(self, column: int) -> float:
        return self.layout.widths[column] - 2 * PAD_X

    def _cells(self, item: int) -> list[list[str]]:
        """The lines of every cell of one item (a row, or the totals row after the last)."""
        texts = self.totals if item == len(self.part.rows) else [
            cell_text(v, k).translate(self.marks) for v, k in zip(self.part.rows[item].values, self.kinds, strict=True)]
        return [wrap(t, self._inner(i), self._measure) if self.kinds[i] == "text" else [t]
                for i, t in enumerate(texts)]

    def _height(self, lines: int) -> float:
        return lines * self.layout.leading + 2 * PAD_Y

    def block_style(self, block: int) -> list[tuple[Any, ...]]:
        if block not in self._styles:
            size, columns = self.layout.size, self.layout.blocks[block]
            style: list[tuple[Any, ...]] = [
                ("FONTNAME", (0, 0), (-1, -1), self.font),
                ("FONTSIZE", (0, 0), (-1, -1), size),
                ("LEADING", (0, 0), (-1, -1), self.layout.leading),
                ("LEFTPADDING", (0, 0), (-1, -1), PAD_X), ("RIGHTPADDING", (0, 0), (-1, -1), PAD_X),
                ("TOPPADDING", (0, 0), (-1, -1), PAD_Y), ("BOTTOMPADDING", (0, 0), (-1, -1), PAD_Y),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("GRID", (0, 0), (-1, -1), 0.25, GRID),
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
            ]
            for j, i in enumerate(columns):
                kind = self.kinds[i]
                align = "RIGHT" if kind in NUMERIC_KINDS else "CENTER" if kind == "symbol" else "LEFT"
                style.append(("ALIGN", (j, 1), (j, -1), align))
            style.append(("ALIGN", (0, 0), (-1, 0), "CENTER"))
            self._styles[block] = style
        return self._styles[block]

    def piece(self, block: int, start: int, avail_height: float, at_top: bool) -> tuple[Table | None, int]:
        """A table of the header and the rows from ``start`` that fit ``avail_height``; (None, start) when
        not even one row fits below a header here (the caller turns the page first)."""
        columns = self.layout.blocks[block]
        header_height = self._height(max((len(self.headers[i]) for i in columns), default=1))
        heights = [header_height]
        items: list[tuple[int, list[list[str]]]] = []
        used = header_height
        item = start
        while item < self.count and len(items) < MAX_ROWS_PER_TABLE:
            cells = self._cells(item)
            height = self._height(max((len(cells[i]) for i in columns), default=1))
            if used + height > avail_height - 1 and (items or not at_top):
                break
            items.append((item, cells))
            heights.append(height)
            used += height
            item += 1
        if not items and self.count:
            return None, start
        data: list[list[str | BoldText]] = [["\n".join(self.headers[i]) for i in columns]]
        fills: list[tuple[Any, ...]] = []  # row shading first, so a flagged cell's fill is drawn over it
        cell_styles: list[tuple[Any, ...]] = []
        for r, (index, cells) in enumerate(items, start=1):
            total = index == len(self.part.rows)
            row: Row | None = None if total else self.part.rows[index]
            strong = total or (row is not None and row.style == "subtotal")
            line: list[str | BoldText] = []
            for j, i in enumerate(columns):
                flag: Flag = row.flag(i) if row is not None else ""
                if flag in FLAG_FILLS:
                    cell_styles.append(("BACKGROUND", (j, r), (j, r), FLAG_FILLS[flag]))
                if flag in FLAG_TEXT:
                    cell_styles.append(("TEXTCOLOR", (j, r), (j, r), FLAG_TEXT[flag]))
                if strong and cells[i] != [""]:
                    align = "RIGHT" if self.kinds[i] in NUMERIC_KINDS else "CENTER" if self.kinds[i] == "symbol" else "LEFT"
                    line.append(BoldText(cells[i], self.font, self.layout.size, FLAG_TEXT.get(flag, colors.black), align))
                else:
                    line.append("\n".join(cells[i]))
            if strong:
                fills.append(("BACKGROUND", (0, r), (-1, r), TOTAL_FILL if total else SUBTOTAL_FILL))
                cell_styles.append(("LINEABOVE", (0, r), (-1, r), 0.9 if total else 0.6, colors.black))
            data.append(line)
        table = Table(data, colWidths=[self.layout.widths[i] for i in columns], rowHeights=heights,
                      repeatRows=1, style=[*self.block_style(block), *fills, *cell_styles], hAlign="LEFT")
        self.progress.advance(len([i for i, _ in items if i < len(self.part.rows)]))
        return table, item


class _TableRun(Flowable):  # type: ignore[misc]
    """A placeholder in the story: rows ``start…`` of one column block of a section, not yet laid out.

    The document (:meth:`_Document.filterFlowables`) replaces it, when it comes up, by a table of the rows
    that fit the space left on the page and, if rows remain, a new placeholder for the rest."""

    def __init__(self, section: _Section, block: int, start: int) -> None:
        super().__init__()
        self.section, self.block, self.start = section, block, start

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return 0.0, 0.0

    def draw(self) -> None:  # never drawn: replaced before layout
        return None


@dataclass
class _Progress:
    """Rows laid out so far, reported as ``progress(done, total)`` in rows of the report."""
    callback: ProgressFn | None
    total: int
    units: int = 0  # rows times column blocks: a row of a part split in two blocks is laid out twice
    done_units: int = 0
    last: int = field(default=-1)

    def advance(self, units: int) -> None:
        self.done_units += units
        if self.callback is not None and self.units:
            done = self.done_units * self.total // self.units
            if done != self.last:
                self.last = done
                self.callback(done, self.total)


class _PagedCanvas(Canvas):  # type: ignore[misc]
    """A canvas that writes "第 x / y 页 Page x / y" once the number of pages y is known.

    Each page shows a form named after its number (:meth:`page_number`); :meth:`save` fills in the
    forms after the last page, so no page is held back to learn the total."""

    def __init__(self, *args: Any, footer_font: str, footer_x: float, footer_y: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.footer_font, self.footer_x, self.footer_y = footer_font, footer_x, footer_y
        self.numbered: list[int] = []

    def page_number(self) -> None:
        number = self.getPageNumber()
        self.numbered.append(number)
        self.doForm(f"seedPageNumber{number}")

    def save(self) -> None:
        if len(self._code):
            self.showPage()
        pages = self.getPageNumber() - 1
        for number in self.numbered:
            self.beginForm(f"seedPageNumber{number}")
            self.setFont(self.footer_font, 8)
            self.drawCentredString(self.footer_x, self.footer_y,
                                   f"第 {number} / {pages} 页 Page {number} / {pages}")
            self.endForm()
        super().save()


class _Document(BaseDocTemplate):  # type: ignore[misc]
    """The page template (header and footer on every page) and the table pieces laid out on demand."""

    def __init__(self, out: IO[bytes], report: Report, font: str) -> None:
        self.report, self.font = report, font
        super().__init__(out, pagesize=PAGE_SIZE, leftMargin=MARGIN_X, rightMargin=MARGIN_X,
                         topMargin=MARGIN_TOP, bottomMargin=MARGIN_BOTTOM, title=report.title,
                         author=report.company, subject=f"{report.scope} · {report.period()}",
                         creator="Seed", pageCompression=1, invariant=0,
                         initialFontName=font, initialFontSize=8)  # no unembedded Helvetica in the file
        frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body",
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
        self.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=self._decorate)])

    def _decorate(self, canvas: _PagedCanvas, doc: BaseDocTemplate) -> None:
        report, font = self.report, self.font
        width, height = PAGE_SIZE
        top = height - 10 * mm
        canvas.saveState()
        canvas.setFont(font, 9)
        canvas.drawString(MARGIN_X, top, report.company)
        canvas.drawRightString(width - MARGIN_X, top, f"期间 Period: {report.period()}")
        canvas.setFont(font, 12)
        canvas.drawCentredString(width / 2, top - 1, report.title)
        canvas.setFont(font, 8)
        canvas.drawString(MARGIN_X, top - 5.5 * mm, report.scope)
        canvas.setStrokeColor(GRID)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN_X, top - 7.5 * mm, width - MARGIN_X, top - 7.5 * mm)
        canvas.line(MARGIN_X, 10.5 * mm, width - MARGIN_X, 10.5 * mm)
        canvas.drawString(MARGIN_X, 6 * mm, f"生成于 Generated {report.generated_at:%Y-%m-%d %H:%M}")
        canvas.drawRightString(width - MARGIN_X, 6 * mm, report.filename("pdf"))
        canvas.page_number()
        canvas.restoreState()

    def filterFlowables(self, flowables: list[Flowable]) -> None:
        run = flowables[0]
        if not isinstance(run, _TableRun):
            return
        frame = getattr(self, "frame", None)
        at_top = frame is None or bool(frame._atTop)
        avail = self.height if frame is None else frame._y - frame._y1p
        table, next_start = run.section.piece(run.block, run.start, avail, at_top)
        if table is None:
            flowables.insert(0, PageBreak())
            return
        rest: list[Flowable] = [] if next_start >= run.section.count else [_TableRun(run.section, run.block, next_start)]
        flowables[0:1] = [table, *rest]


def _styles(font: str) -> dict[str, ParagraphStyle]:
    return {
        "section": ParagraphStyle("section", fontName=font, fontSize=11.5, leading=15, spaceBefore=6, spaceAfter=4,
                                  wordWrap="CJK", textColor=colors.HexColor("#1F3864")),
        "block": ParagraphStyle("block", fontName=font, fontSize=9, leading=12, spaceBefore=4, spaceAfter=2,
                                wordWrap="CJK"),
        "note": ParagraphStyle("note", fontName=font, fontSize=8.5, leading=11.5, spaceAfter=3, wordWrap="CJK"),
    }


def _legend_table(report: Report, font: str, width: float) -> Table:
    """The legend of the symbols, four to a line, each symbol in its flag's colour; the symbols' boxes as wide as the
    widest symbol, and a label longer than its column wraps inside it (it ran into the next symbol's box)."""
    per_line = 4
    marks = fonts.substitutions(font)
    items = report.legend
    label_style = ParagraphStyle("legend", fontName=font, fontSize=8, leading=10, wordWrap="CJK")
    symbol_w = max([26.0] + [pdfmetrics.stringWidth(item.symbol.translate(marks), font, 8) + 8 for item in items])
    data: list[list[str | Paragraph]] = []
    style: list[tuple[Any, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("LEADING", (0, 0), (-1, -1), 10), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
    for start in range(0, len(items), per_line):
        line: list[str | Paragraph] = []
        for k, item in enumerate(items[start:start + per_line]):
            r, c = start // per_line, 2 * k
            line += [item.symbol.translate(marks), Paragraph(paragraph_text(item.label.translate(marks)), label_style)]
            style += [("ALIGN", (c, r), (c, r), "CENTER"), ("BOX", (c, r), (c, r), 0.25, GRID)]
            if item.flag in FLAG_FILLS:
                style.append(("BACKGROUND", (c, r), (c, r), FLAG_FILLS[item.flag]))
            if item.flag in FLAG_TEXT:
                style.append(("TEXTCOLOR", (c, r), (c, r), FLAG_TEXT[item.flag]))
        data.append(line + [""] * (2 * per_line - len(line)))
    label = (width - per_line * symbol_w) / per_line
    return Table(data, colWidths=[symbol_w, label] * per_line, style=style, hAlign="LEFT")


def _story(report: Report, font: str, width: float, progress: _Progress) -> list[Flowable]:
    styles = _styles(font)
    story: list[Flowable] = []
    for note in report.notes:
        story.append(Paragraph(paragraph_text(note), styles["note"]))
    if report.legend:
        story.append(Paragraph(paragraph_text("图例 Legend"), styles["block"]))
        story.append(_legend_table(report, font, width))
        story.append(Spacer(1, 6))
    for part in report.parts:
        story.append(CondPageBreak(CHART_HEIGHT + 45 if part.charts else 60 * mm))  # a title is not left alone
        story.append(Paragraph(paragraph_text(part.title), styles["section"]))
        if part.note:
            story.append(Paragraph(paragraph_text(part.note), styles["note"]))
        for n, chart in enumerate(part.charts):
            if n:
                story.append(CondPageBreak(CHART_HEIGHT + 6))
            story.append(pdf_charts.draw(part, chart, width, CHART_HEIGHT, font))
            story.append(Spacer(1, 6))
        if not part.columns:
            story.append(Paragraph(paragraph_text("无列 No columns"), styles["note"]))
            continue
        section = _Section(part, font, width, progress)
        blocks = section.layout.blocks
        progress.units += len(part.rows) * len(blocks)
        if not part.rows:
            story.append(Paragraph(paragraph_text("无数据 No rows"), styles["note"]))
        if len(blocks) > 1:
            frozen = _frozen_count(blocks)
            repeated = (f"每块重复前 {frozen} 列 / too wide for one page: the columns are printed in {len(blocks)} blocks, "
                        f"each repeating the first {frozen} column{'s' if frozen != 1 else ''}") if frozen else (
                        f"不重复列 / too wide for one page: the columns are printed in {len(blocks)} blocks")
            story.append(Paragraph(paragraph_text(f"此表太宽，列分为 {len(blocks)} 块打印，{repeated}"), styles["note"]))
        for b, columns in enumerate(blocks):
            if len(blocks) > 1:
                first, last = columns[frozen] + 1, columns[-1] + 1
                story.append(CondPageBreak(30 * mm))
                story.append(Paragraph(paragraph_text(
                    f"{part.title} · 列块 {b + 1} / {len(blocks)}：第 {first}–{last} 列 / "
                    f"columns block {b + 1} of {len(blocks)}: columns {first}–{last}"), styles["block"]))
            story.append(_TableRun(section, b, 0))
            story.append(Spacer(1, 8))
    return story


def _frozen_count(blocks: list[list[int]]) -> int:
    """How many leading columns every block shares (the repeated columns)."""
    count = 0
    while all(count < len(b) - 1 and b[count] == blocks[0][count] for b in blocks):
        count += 1
    return count


def write(report: Report, out: IO[bytes], *, progress: ProgressFn | None = None) -> None:
    """Render ``report`` as a PDF into ``out`` (the caller owns and closes ``out``)."""
    font = fonts.register()
    total = sum(len(part.rows) for part in report.parts)
    counter = _Progress(progress, total)
    doc = _Document(out, report, font)
    story = _story(report, font, doc.width, counter)
    width, _height = PAGE_SIZE
    maker = functools.partial(_PagedCanvas, footer_font=font, footer_x=width / 2, footer_y=6 * mm)
    doc.build(story, canvasmaker=maker)
    logger.info("PDF report %s: %s rows in %s parts", report.name, total, len(report.parts))
    if progress is not None:
        progress(total, total)

