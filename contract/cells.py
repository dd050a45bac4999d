"""Spreadsheet cells that stay data: the CSV/formula-injection rule every writer of the project applies.

A spreadsheet program (Excel, LibreOffice, Google Sheets) that opens a CSV file, or a
workbook whose cell holds a formula, runs any cell that begins with ``=``, ``+``, ``-`` or
``@``, and also one that begins with a tab or a carriage return followed by one of them.
A name such as ``=HYPERLINK("http://evil.example","click")`` typed into a roster would
then become a live link, or worse, in the HR clerk's spreadsheet. The OWASP rule
("CSV Injection") is applied to every cell a writer of the project emits:

* a **text** cell whose first character is one of :data:`TRIGGERS` (``=``, ``+``, ``-``,
  ``@``, tab, carriage return; and line feed, which an XLSX file read back gives for a
  carriage return, XML normalising line ends) is written with a single quote ``'`` in front, so it is
  shown and kept as text;
* a text cell that already begins with a single quote gets one more quote in front, so
  that :func:`unescape_cell` can tell a quote added here from one the text really has;
* numbers (``int``, ``float``, ``Decimal``), booleans, ``None`` and every other value are
  left alone: a negative number stays a number, not the text ``'-2``.

Reading back, :func:`unescape_cell` removes one leading quote only when it is followed by
a trigger or by another quote, which is exactly what :func:`escape_cell` adds, so
``unescape_cell(escape_cell(text)) == text`` for every text. The one price: a file written
by hand whose cell reads ``'=x`` or ``''Neill`` is read as ``=x`` and ``'Neill`` (a
spreadsheet hides such a leading quote as well). A name that merely begins with a quote
followed by anything else (``'Neill``) is written and read unchanged.

For openpyxl workbooks use :func:`append_xlsx_row`: openpyxl turns any string that begins
with ``=`` into a formula cell (``data_type == "f"``); the row is escaped first and every
text cell is then typed as a string (``"s"``), so no cell it writes is ever a formula.

This module is pure: no I/O, nothing from ``terminal``, ``sync_agent`` or ``central``.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

log = logging.getLogger(__name__)

TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\n")
QUOTE = "'"
_ESCAPED = frozenset((*TRIGGERS, QUOTE))

T = TypeVar("T")


def needs_escape(text: str) -> bool:
    """Whether a text cell would be changed by :func:`escape_cell` (it begins with a trigger or a quote)."""
    return bool(text) and text[0] in _ESCAPED


def escape_cell(value: T) -> T | str:
    """The value as a spreadsheet must receive it: text beginning with a trigger or a quote gets a ``'`` in front.

    Anything that is not a ``str`` (numbers, dates, booleans, ``None``) is returned unchanged.
    """
    if isinstance(value, str) and needs_escape(value):
        return QUOTE + value
    return value


def escape_row(values: Iterable[Any]) -> list[Any]:
    """:func:`escape_cell` of every value of a row."""
    return [escape_cell(value) for value in values]


def escape_mapping(row: dict[str, Any]) -> dict[str, Any]:
    """:func:`escape_cell` of every value of a ``csv.DictWriter`` row (the keys, the header, are the writer's own)."""
    return {key: escape_cell(value) for key, value in row.items()}


def unescape_cell(text: str) -> str:
    """The text :func:`escape_cell` was given: one leading quote removed when a trigger or a quote follows it."""
    if len(text) > 1 and text[0] == QUOTE and text[1] in _ESCAPED:
        return text[1:]
    return text


class _Cell(Protocol):
    value: Any
    data_type: str


class _Sheet(Protocol):
    max_row: int

    def append(self, iterable: Iterable[Any]) -> None: ...

    def __getitem__(self, key: int) -> tuple[_Cell, ...]: ...


def append_xlsx_row(sheet: _Sheet, values: Iterable[Any]) -> None:
    """Append an escaped row to an openpyxl worksheet, every text cell typed as a string, never a formula."""
    row = escape_row(values)
    sheet.append(row)
    # the sheet's row is as wide as its widest row so far, hence strict=False
    for cell, value in zip(sheet[sheet.max_row], row, strict=False):
        if isinstance(value, str) and value:
            cell.data_type = "s"


__all__ = ["QUOTE", "TRIGGERS", "append_xlsx_row", "escape_cell", "escape_mapping", "escape_row", "needs_escape",
           "unescape_cell"]
