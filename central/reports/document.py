"""What a report is, whatever it is rendered to: plain data, no ORM, no I/O.

A builder (``central.reports.monthly`` …) reads the database once and returns a :class:`Report`;
each writer (CSV, XLSX, PDF) renders any :class:`Report` the same way, so the numbers in every format
are the same numbers. Every string a person reads is Chinese first, then English (``"迟到 Late"``).

* A report has **parts** (one sheet in a workbook, one section in a PDF, one file section in CSV).
* A part is a table: typed :class:`Column` s and :class:`Row` s of plain values. A row may flag cells
  (``bad`` = red fill: an anomaly; ``warn``; ``info``; ``muted``) and may be a subtotal or total row.
* A column whose ``total`` is ``"sum"`` gets a totals row at the bottom of the part (a real ``SUM``
  formula in XLSX; the computed sum, :meth:`Part.column_sum`, in PDF and CSV).
* A part may carry :class:`Chart` s drawn from its own columns: a line or bar chart of the value
  columns over the category column (native openpyxl charts in XLSX, reportlab.graphics in PDF).
* :attr:`Report.legend` explains the symbols of the monthly sheet.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

ProgressFn = Callable[[int, int], None]  # (done, total): rows written so far, of how many
Value = str | int | float | Decimal | date | datetime | None
Kind = Literal["text", "int", "decimal", "percent", "date", "datetime", "symbol"]
Flag = Literal["", "bad", "warn", "info", "muted"]


@dataclass(frozen=True)
class Column:
    """One column of a part.

    ``kind`` decides how a writer formats the values: ``int`` whole numbers; ``decimal`` two places
    (hours); ``percent`` a fraction 0–1 shown as a percentage; ``date`` / ``datetime`` local times of the
    site (naive); ``symbol`` one short mark per cell (the days of the monthly sheet), centred; ``text``.
    ``width`` is in characters (a CJK character counts two). ``total="sum"``: the part's totals row
    sums this column.
    """
    key: str
    title: str
    kind: Kind = "text"
    width: int = 10
    total: Literal["", "sum"] = ""


@dataclass(frozen=True)
class Row:
    """Values in column order; ``flags`` (same length, or empty for none) mark cells; ``style`` marks the row."""
    values: tuple[Value, ...]
    flags: tuple[Flag, ...] = ()
    style: Literal["", "subtotal"] = ""

    def flag(self, index: int) -> Flag:
        return self.flags[index] if self.flags else ""


@dataclass(frozen=True)
class Chart:
    """A chart of ``values`` columns (keys) against the ``category`` column of the same part.

    ``kind="line"`` for a trend over days or weeks, ``"bar"`` for one bar per department. ``percent``:
    the values are fractions shown as percentages (the axis runs 0–100 %).
    """
    kind: Literal["line", "bar"]
    title: str
    category: str
    values: tuple[str, ...]
    percent: bool = False
    y_title: str = ""


@dataclass
class Part:
    """One table of a report: one sheet of a workbook, one section of a PDF."""
    key: str
    title: str
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    freeze_columns: int = 1  # columns kept in view when scrolling right (the employee's number and name)
    charts: list[Chart] = field(default_factory=list)
    note: str = ""

    def index(self, key: str) -> int:
        for i, column in enumerate(self.columns):
            if column.key == key:
                return i
        raise KeyError(key)

    def column_values(self, key: str) -> list[Value]:
        i = self.index(key)
        return [row.values[i] for row in self.rows if row.style == ""]

    def has_totals(self) -> bool:
        return any(column.total == "sum" for column in self.columns)

    def column_sum(self, key: str) -> int | Decimal:
        """The sum of a column over its plain rows (subtotal rows left out), as the totals row shows it."""
        total: int | Decimal = 0
        for value in self.column_values(key):
            if isinstance(value, bool) or value is None or isinstance(value, (str, date)):
                continue
            total += Decimal(str(value)) if isinstance(value, float) else value
        return total

    def records(self) -> list[dict[str, Value]]:
        """The rows as dictionaries keyed by column key (what the API answers as JSON)."""
        keys = [c.key for c in self.columns]
        return [dict(zip(keys, row.values, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class LegendItem:
    symbol: str
    label: str
    flag: Flag = ""


@dataclass
class Report:
    """A whole report: what it is, for whom and when, and its parts."""
    name: str  # the registry key: "monthly", "daily", "summary", "exceptions", "punches", "payroll", "schedule", "leave"
    title: str  # e.g. "考勤月报 Monthly attendance sheet"
    company: str
    scope: str  # e.g. "站点 Site: 上海工厂 · 部门 Department: 生产部"
    first: date
    last: date
    generated_at: datetime
    parts: list[Part]
    legend: list[LegendItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def part(self, key: str) -> Part:
        for part in self.parts:
            if part.key == key:
                return part
        raise KeyError(key)

    def period(self) -> str:
        return f"{self.first:%Y-%m-%d} – {self.last:%Y-%m-%d}"

    def filename(self, extension: str) -> str:
        """A download name: ``seed-monthly-2026-03-01_2026-03-31.xlsx``."""
        return f"seed-{self.name}-{self.first:%Y-%m-%d}_{self.last:%Y-%m-%d}.{extension}"




def check_rows(part: Part, rows: Sequence[Row]) -> None:
    """Every row has one value per column and no or one flag per column (a builder's mistake, caught early)."""
    n = len(part.columns)
    for row in rows:
        if len(row.values) != n or (row.flags and len(row.flags) != n):
            raise ValueError(f"part {part.key}: a row has {len(row.values)} values for {n} columns")
