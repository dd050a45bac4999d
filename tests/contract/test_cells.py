"""contract.cells: the formula-injection rule, its exact inverse, and openpyxl never writing a formula."""
from __future__ import annotations

from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from contract.cells import append_xlsx_row, escape_cell, escape_mapping, escape_row, needs_escape, unescape_cell

DANGEROUS = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", "\n=1", "=", "-"]
HARMLESS = ["", "Zhang Wei", "张伟", "1+1", "a=b", " =1", "'Neill", "O'Neill"]


@pytest.mark.parametrize("text", DANGEROUS)
def test_a_text_cell_beginning_with_a_trigger_gets_a_quote(text):
    assert escape_cell(text) == "'" + text
    assert needs_escape(text)


@pytest.mark.parametrize("text", ["Zhang Wei", "张伟", "1+1", "a=b", " =1", "O'Neill", ""])
def test_other_text_is_unchanged(text):
    assert escape_cell(text) == text


def test_a_text_beginning_with_a_quote_gets_a_second_one():
    assert escape_cell("'Neill") == "''Neill"
    assert escape_cell("'=x") == "''=x"


@pytest.mark.parametrize("value", [-2, -0.5, 0, 3, Decimal("-1.25"), True, None])
def test_numbers_and_other_values_stay_what_they_are(value):
    escaped = escape_cell(value)
    assert escaped is value or escaped == value
    assert type(escaped) is type(value)


@pytest.mark.parametrize("text", DANGEROUS + HARMLESS + ["'", "''", "'=x", "''=x", "'-", "'\t"])
def test_unescape_is_the_exact_inverse(text):
    assert unescape_cell(escape_cell(text)) == text


def test_unescape_leaves_a_quote_the_text_really_has():
    assert unescape_cell("'Neill") == "'Neill"
    assert unescape_cell("'") == "'"
    assert unescape_cell("'=x") == "=x"


def test_rows_and_mappings():
    assert escape_row(["=1", 5, -5, None, "ok"]) == ["'=1", 5, -5, None, "ok"]
    assert escape_mapping({"=head": "@x", "n": -1}) == {"=head": "'@x", "n": -1}


def test_openpyxl_makes_a_formula_of_a_raw_string_but_not_of_an_appended_row(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["=1+1"])
    assert sheet["A1"].data_type == "f"  # why append_xlsx_row exists
    append_xlsx_row(sheet, DANGEROUS + [-2, 1.5])
    path = tmp_path / "cells.xlsx"
    workbook.save(path)
    read = load_workbook(path, data_only=False).active
    cells = list(read.iter_rows(min_row=2, max_row=2))[0]
    assert [c.data_type for c in cells[:len(DANGEROUS)]] == ["s"] * len(DANGEROUS)
    # XML turns a bare CR into LF when the file is read back (openpyxl writes it raw): the quote is still there
    assert [unescape_cell(c.value) for c in cells[:len(DANGEROUS)]] == [t.replace("\r", "\n") for t in DANGEROUS]
    assert all(c.value.startswith("'") for c in cells[:len(DANGEROUS)])
    assert [c.value for c in cells[len(DANGEROUS):]] == [-2, 1.5]
    assert [c.data_type for c in cells[len(DANGEROUS):]] == ["n", "n"]
