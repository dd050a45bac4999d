"""The charts of a report part, drawn with reportlab.graphics for the PDF.

A :class:`~central.reports.document.Chart` names a category column (days, weeks or departments) and
value columns of its part: ``kind="line"`` is a trend (one line per value column), ``kind="bar"`` one
group of bars per category. ``percent`` charts show fractions as 0–100 %. Only plain rows are drawn
(subtotal rows summarise other rows and would break a trend). Every label uses the embedded CJK font,
so the axis titles, the category labels and the legend print in Chinese and English.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, Group, String
from reportlab.lib import colors

from central.reports.document import Chart, Part, Value

SERIES_COLOURS = (
    colors.HexColor("#2F5597"), colors.HexColor("#C55A11"), colors.HexColor("#548235"),
    colors.HexColor("#7030A0"), colors.HexColor("#BF9000"), colors.HexColor("#2E75B6"),
    colors.HexColor("#C00000"), colors.HexColor("#808080"),
)
MAX_LABELS = 32  # category labels drawn at most; the others are left blank (every n-th is kept)


class ChartError(ValueError):
    """A chart names a column its part does not have."""


def category_label(value: Value) -> str:
    """A category as the axis prints it: a day as ``03-15``, anything else as text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%m-%d")
    return str(value)


def number(value: Value, percent: bool) -> float | None:
    """A value as the chart plots it (a fraction times 100 when ``percent``); ``None`` leaves a gap."""
    if value is None or isinstance(value, (bool, str, date)):
        return None
    figure = float(value) if isinstance(value, Decimal) else float(value)
    return figure * 100 if percent else figure


def chart_data(part: Part, chart: Chart) -> tuple[list[str], list[list[float | None]], list[str]]:
    """(category labels, one list of values per series, series titles) from the part's plain rows."""
    try:
        category = part.index(chart.category)
        series = [part.index(key) for key in chart.values]
    except KeyError as exc:
        raise ChartError(f"图表 {chart.title}: 没有列 / part {part.key} has no column {exc}") from None
    rows = [row for row in part.rows if row.style == ""]
    labels = [category_label(row.values[category]) for row in rows]
    data = [[number(row.values[i], chart.percent) for row in rows] for i in series]
    return labels, data, [part.columns[i].title for i in series]


def thin_labels(labels: list[str], most: int = MAX_LABELS) -> list[str]:
    """Keep every n-th label so at most ``most`` are drawn (a year of days stays readable)."""
    if len(labels) <= most:
        return labels
    step = -(-len(labels) // most)
    return [label if i % step == 0 else "" for i, label in enumerate(labels)]


def draw(part: Part, chart: Chart, width: float, height: float, font: str) -> Drawing:
    """The chart as a reportlab Drawing ``width`` × ``height`` points: title, plot, axis titles, legend."""
    labels, data, names = chart_data(part, chart)
    drawing = Drawing(width, height)
    drawing.initialFontName, drawing.initialFontSize = font, 8  # never the unembedded Helvetica
    drawing.add(String(width / 2, height - 12, chart.title, fontName=font, fontSize=10, textAnchor="middle"))
    if not labels or not data:
        drawing.add(String(width / 2, height / 2, "无数据 No data", fontName=font, fontSize=9, textAnchor="middle"))
        return drawing

    legend_height = 14 * ((len(names) + 3) // 4)
    left, bottom, right, top = 58.0, 46.0 + legend_height, 16.0, 22.0
    many = len(labels) > 12
    if chart.kind == "bar" and many:
        bottom += 24  # angled department names need room
    plot: HorizontalLineChart | VerticalBarChart = HorizontalLineChart() if chart.kind == "line" else VerticalBarChart()
    plot.x, plot.y = left, bottom
    plot.width, plot.height = width - left - right, height - bottom - top
    plot.data = [[v for v in series] for series in data]
    plot.categoryAxis.categoryNames = thin_labels(labels)
    plot.categoryAxis.labels.fontName = font
    plot.categoryAxis.labels.fontSize = 7
    if chart.kind == "bar" and many:
        plot.categoryAxis.labels.angle = 30
        plot.categoryAxis.labels.boxAnchor = "ne"
    else:
        plot.categoryAxis.labels.boxAnchor = "n"
    plot.valueAxis.labels.fontName = font
    plot.valueAxis.labels.fontSize = 7
    figures = [v for series in data for v in series if v is not None]
    if chart.percent:
        plot.valueAxis.valueMin, plot.valueAxis.valueMax, plot.valueAxis.valueStep = 0, 100, 20
        plot.valueAxis.labelTextFormat = "%d%%"
    else:
        plot.valueAxis.valueMin = min(0.0, min(figures, default=0.0))
        if not figures or max(figures) <= plot.valueAxis.valueMin:
            plot.valueAxis.valueMax = plot.valueAxis.valueMin + 1
    for i in range(len(data)):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        if isinstance(plot, HorizontalLineChart):
            plot.lines[i].strokeColor = colour
            plot.lines[i].strokeWidth = 1.5
        else:
            plot.bars[i].fillColor = colour
            plot.bars[i].strokeColor = None
    if isinstance(plot, VerticalBarChart):
        plot.barSpacing = 1
        plot.groupSpacing = 6
    drawing.add(plot)

    y_title = chart.y_title or ("百分比 Percent (%)" if chart.percent else " / ".join(names))
    turned = Group(String(0, 0, y_title, fontName=font, fontSize=8, textAnchor="middle"))
    turned.transform = (0, 1, -1, 0, 14, bottom + plot.height / 2)  # the vertical axis title, turned a quarter left
    drawing.add(turned)
    x_title = part.columns[part.index(chart.category)].title
    drawing.add(String(left + plot.width / 2, legend_height + 6 + (24 if chart.kind == "bar" and many else 0),
                       x_title, fontName=font, fontSize=8, textAnchor="middle"))

    legend = Legend()
    legend.fontName = font
    legend.fontSize = 8
    legend.x, legend.y = left, legend_height
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.deltax = max(120.0, plot.width / 4)
    legend.dx, legend.dy = 10, 8
    legend.colorNamePairs = [(SERIES_COLOURS[i % len(SERIES_COLOURS)], name) for i, name in enumerate(names)]
    if len(names) > 4:
        legend.columnMaximum = (len(names) + 3) // 4
    drawing.add(legend)
    return drawing
