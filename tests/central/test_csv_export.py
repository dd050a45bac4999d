"""seed-central's CSV output: text a terminal sent never reaches a spreadsheet as a formula.

Runs on SQLite and, with ``--central-db=postgresql``, on PostgreSQL.
"""
from __future__ import annotations

import csv
import io

import pytest
from central_support import batch, punch, send

from central.cli import main as central_main
from central.ingest.handler import Ingest

pytestmark = pytest.mark.django_db

# boot_id is free text (1-100 characters) the terminal chooses: the one punch field that can carry anything
BOOT_IDS = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", "'Neill", "boot-1"]


def cli_csv(capsys, tmp_path, *args: str) -> tuple[int, str]:
    from django.db import connection

    code = central_main(["--db", str(connection.settings_dict["NAME"]), "--pki", str(tmp_path / "pki"), "--site", "s1",
                         *args])
    return code, capsys.readouterr().out


def test_punches_csv_escapes_formula_text_and_keeps_numbers(capsys, tmp_path):
    punches = [punch(boot_id=boot, score=-0.5 if i % 2 else 0.25) for i, boot in enumerate(BOOT_IDS)]
    ack = send(Ingest(), "punches", batch(*punches))[0]
    assert sorted(ack["stored"]) == sorted(p["id"] for p in punches)
    code, out = cli_csv(capsys, tmp_path, "punches", "--since", "2026-03-01", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert len(rows) == len(BOOT_IDS)
    by_id = {row["id"]: row for row in rows}
    for sent in punches:
        row = by_id[sent["id"]]
        boot = sent["boot_id"]
        expected = boot if boot == "boot-1" else "'" + boot
        assert row["boot_id"] == expected
        assert row["score"] == ("-0.5" if sent["score"] < 0 else "0.25")  # a negative number stays a number
    cells = [cell for row in rows for key, cell in row.items() if key != "score"]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    # the raw text: no line, and no field after a comma, opens with a trigger
    assert '\n=' not in out and ',=' not in out and ',"=' not in out and ',+' not in out and ',@' not in out
