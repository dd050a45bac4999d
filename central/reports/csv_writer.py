"""A report as CSV: UTF-8 with a byte-order mark, so Excel opens Chinese text correctly.

A report of one part is one plain table (the header, then a row per line: what payroll systems
import). A report of several parts writes each as a section: its title on a line of its own, the
header, the rows, its totals row when it has one, then an empty line. Every text cell goes
through :func:`contract.cells.escape_cell`: a name such as ``=HYPERLINK(…)`` stays text.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import IO

from central.reports.document import ProgressFn, Report, Value
from contract.cells import escape_cell

BOM = "\ufeff"


def cell_text(value: Value, kind: str) -> str | int | Decimal:
    """A value as CSV writes it: dates ISO, percentages as a fraction with 4 places, text escaped."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if kind == "percent" and isinstance(value, (int, float, Decimal)):
        return f"{Decimal(str(value)):.4f}"
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, (int, Decimal)):
        return value
    return escape_cell(str(value))


def write(report: Report, out: IO[bytes], *, progress: ProgressFn | None = None) -> None:
    total = sum(len(part.rows) for part in report.parts)
    done = 0
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        text.write(BOM)
        writer = csv.writer(text)
        several = len(report.parts) > 1
        for part in report.parts:
            kinds = [c.kind for c in part.columns]
            if several:
                writer.writerow([escape_cell(part.title)])
            writer.writerow([escape_cell(c.title) for c in part.columns])
            for row in part.rows:
                writer.writerow([cell_text(v, k) for v, k in zip(row.values, kinds, strict=True)])
                done += 1
                if progress is not None and done % 500 == 0:
                    progress(done, total)
            if part.has_totals():
                writer.writerow([("合计 Total" if i == 0 else cell_text(part.column_sum(c.key), c.kind) if c.total == "sum"
                                  else "") for i, c in enumerate(part.columns)])
            if several:
                writer.writerow([])
        text.flush()
    finally:
        text.detach()  # the caller owns ``out``
    if progress is not None:
        progress(total, total)
