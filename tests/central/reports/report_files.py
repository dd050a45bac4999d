"""Reports built by the real report code, written as files and read back with independent readers (the csv module,
openpyxl, pdftotext): what the report tests of one feature or another share."""
from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from central.accounts.models import User
from central.reports import registry
from central.reports.registry import ReportParams


def render(name: str, user: User, params: ReportParams, fmt: str, path: Path, now: datetime) -> Path:
    """Report ``name`` built for ``user`` at ``now`` and written to ``path`` in ``fmt``."""
    report = registry.build(name, user, params, now=now)
    with path.open("wb") as out:
        registry.render(report, fmt, out)
    return path


def csv_sections(text: str) -> dict[str, list[list[str]]]:
    """A CSV of several parts: each section's title, then its header and rows up to an empty line."""
    found: dict[str, list[list[str]]] = {}
    lines = list(csv.reader(io.StringIO(text)))
    i = 0
    while i < len(lines):
        if len(lines[i]) == 1 and lines[i][0] and i + 1 < len(lines) and len(lines[i + 1]) > 1:
            title, body = lines[i][0], []
            i += 1
            while i < len(lines) and any(lines[i]):
                body.append(lines[i])
                i += 1
            found[title] = body
        i += 1
    return found


def workbook_texts(book: Any) -> list[str]:
    """Every text of an openpyxl workbook (the first sheet holds the legend and the notes)."""
    return [str(c.value) for ws in book.worksheets for r in ws.iter_rows() for c in r if isinstance(c.value, str)]


def pdf_text(path: Path) -> str:
    """A PDF's text as pdftotext lays it out (apt poppler-utils, which ``make`` installs); the test is skipped, saying
    why, where it is missing."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (apt poppler-utils, installed by make) is needed to read the PDF back")
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
