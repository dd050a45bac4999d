"""Roster import/export: XLSX and CSV, photos, and broken files refused without writing anything."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from openpyxl import Workbook, load_workbook

from enrollment.cli import main
from enrollment.roster_io import RosterFileError, export_roster, import_roster
from terminal.config import load_config
from terminal.store.database import Store, open_store
from terminal.store.employees import add_employee, employee_photo, find_by_number, list_employees

REPO = Path(__file__).resolve().parent.parent


def write_csv(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    image = np.full((600, 400, 3), 180, np.uint8)
    cv2.circle(image, (200, 250), 120, (60, 90, 200), -1)
    cv2.imwrite(str(folder / "zhang.png"), image)
    return folder


def test_csv_import_with_chinese_headers_and_a_photo(store, tmp_path, photos):
    roster = write_csv(tmp_path / "roster.csv",
                       "工号,姓名,部门,密码,照片\n1001,张伟,生产部,2580,zhang.png\n1002.0,李娜,财务部,,\n\n")
    report = import_roster(store, roster, photo_dir=photos)
    assert report.ok and report.added == 2 and report.photos == 1
    zhang = find_by_number(store, "1001")
    assert zhang["name"] == "张伟" and zhang["has_pin"]
    thumb = cv2.imdecode(np.frombuffer(employee_photo(store, zhang["id"]), np.uint8), cv2.IMREAD_COLOR)
    assert max(thumb.shape[:2]) == 240
    assert find_by_number(store, "1002")["department"] == "财务部"


def test_a_bad_row_imports_nothing_and_names_row_and_field(store, tmp_path):
    roster = write_csv(tmp_path / "r.csv", "number,name,pin,role\n1,A,1234,employee\n2,,12,boss\n1,C,,\n")
    report = import_roster(store, roster)
    text = [str(p) for p in report.problems]
    assert "row 3: name: is required" in text
    assert "row 3: pin: PIN must be 4 to 8 digits" in text
    assert any(t.startswith("row 3: role:") for t in text)
    assert "row 4: number: repeats row 2" in text
    assert list_employees(store) == []
    skipped = import_roster(store, roster, skip_bad=True)
    assert skipped.added == 1 and [e["number"] for e in list_employees(store)] == ["1"]


def test_existing_employees_need_update(store, tmp_path):
    roster = write_csv(tmp_path / "r.csv", "number,name\n1,A\n")
    assert import_roster(store, roster).added == 1
    again = write_csv(tmp_path / "r2.csv", "number,name,department\n1,A Renamed,Ops\n")
    assert "already exists" in str(import_roster(store, again).problems[0])
    assert import_roster(store, again, update=True).updated == 1
    assert find_by_number(store, "1")["name"] == "A Renamed"


@pytest.mark.parametrize("name, content, message", [
    ("empty.csv", b"", "empty"),
    ("noheader.csv", b"1001,Zhang\n", "lacks column"),
    ("extra.csv", b"number,name,salary\n1,A,9\n", "unknown column"),
    ("binary.csv", b"number,name\n\x00\x01\x02", "binary"),
    ("broken.xlsx", b"PK\x03\x04 this is not really a workbook", "not a readable XLSX"),
    ("roster.pdf", b"%PDF-1.4", ".xlsx or .csv"),
])
def test_broken_files_are_refused_clearly(store, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RosterFileError, match=message):
        import_roster(store, path)
    assert list_employees(store) == []


def test_gb18030_csv_from_a_chinese_spreadsheet(store, tmp_path):
    roster = write_csv(tmp_path / "gbk.csv", "工号,姓名\n2001,王芳\n", encoding="gb18030")
    assert import_roster(store, roster).added == 1
    assert find_by_number(store, "2001")["name"] == "王芳"


def test_missing_photo_is_a_row_problem(store, tmp_path, photos):
    roster = write_csv(tmp_path / "r.csv", "number,name,photo\n1,A,nobody.jpg\n")
    report = import_roster(store, roster, photo_dir=photos)
    assert "nobody.jpg not found" in str(report.problems[0]) and report.added == 0


def test_xlsx_export_then_import_round_trip(store, tmp_path, photos, sim_config):
    import_roster(store, write_csv(tmp_path / "r.csv", "number,name,department,verify_mode,allowed_devices,photo\n"
                                                        "1001,张伟,生产部,face+pin,door-1;door-2,zhang.png\n"), photo_dir=photos)
    out = tmp_path / "export.xlsx"
    assert export_roster(store, out, photo_dir=tmp_path / "exported") == 1
    assert (tmp_path / "exported" / "1001.jpg").is_file()
    import os

    from terminal.store.database import Store

    with Store.open(tmp_path / "other.db", os.urandom(32)) as other:
        report = import_roster(other, out, photo_dir=tmp_path / "exported")
        assert report.ok and report.added == 1
        copy = find_by_number(other, "1001")
        assert copy["verify_mode"] == "face+pin" and copy["allowed_devices"] == ["door-1", "door-2"]


def test_import_command_reports_and_exits_2_on_problems(tmp_path, capsys):
    config = tmp_path / "t.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "d"}"\n')
    good = tmp_path / "good.xlsx"
    workbook = Workbook()
    workbook.active.append(["number", "name"])
    workbook.active.append([3001, "Zhao Lei"])
    workbook.save(good)
    assert main(["--config", str(config), "import", str(good)]) == 0
    assert "1 added" in capsys.readouterr().out
    bad = write_csv(tmp_path / "bad.csv", "number,name\n!!,X\n")
    assert main(["--config", str(config), "import", str(bad)]) == 2
    captured = capsys.readouterr()
    assert "row 2: number:" in captured.err and "nothing imported" in captured.out
    assert main(["--config", str(config), "import", str(tmp_path / "missing.csv")]) == 2


# -- exports never carry a live formula ---------------------------------------------------------------
FORMULA_NAMES = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)"]


def _store_with_formula_names(store):

    for number, name in enumerate(FORMULA_NAMES, start=1):
        add_employee(store, number=str(number), name=name, department="=1+1" if number == 1 else "Ops")
    # names with a leading tab or CR cannot be entered (control characters are refused); a store written by
    # older software may still hold them, and the writers escape them all the same
    with store.transaction() as conn:
        for number, name in (("5", "\tTab"), ("6", "\r=CR")):
            conn.execute("INSERT INTO employees (number, name, department, role, verify_mode, allowed_devices, "
                         "created_at, updated_at) VALUES (?, ?, '', 'employee', 'any', '[]', 'x', 'x')", (number, name))
    return FORMULA_NAMES + ["\tTab", "\r=CR"]


def test_xlsx_export_writes_no_formula_and_imports_back_the_same_names(store, tmp_path):

    names = _store_with_formula_names(store)
    out = tmp_path / "export.xlsx"
    assert export_roster(store, out) == len(names)
    sheet = load_workbook(out, data_only=False).active
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    by_number = {str(row[0].value): row for row in sheet.iter_rows(min_row=2)}
    assert by_number["1"][1].value == "'" + FORMULA_NAMES[0] and by_number["1"][2].value == "'=1+1"
    assert by_number["4"][1].value == "'@SUM(A1)" and by_number["5"][1].value == "'\tTab"

    with Store.open(tmp_path / "other.db", os.urandom(32)) as other:
        keep = FORMULA_NAMES  # the tab and CR rows are refused on import (control characters), as by add_employee
        wb = load_workbook(out)
        for row in list(wb.active.iter_rows(min_row=2)):
            if str(row[0].value) in ("5", "6"):
                wb.active.delete_rows(row[0].row)
        wb.save(tmp_path / "clean.xlsx")
        report = import_roster(other, tmp_path / "clean.xlsx")
        assert report.ok, report.problems
        assert [e["name"] for e in list_employees(other)] == keep
        assert find_by_number(other, "1")["department"] == "=1+1"


def test_csv_export_writes_escaped_text_and_imports_back_the_same_names(store, tmp_path):

    names = _store_with_formula_names(store)
    out = tmp_path / "export.csv"
    assert export_roster(store, out) == len(names)
    raw = out.read_bytes()
    assert b'\n1,"\'=HYPERLINK(""http://x"",""y"")",\'=1+1,' in raw.replace(b"\r\n", b"\n")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines(keepends=True)))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert sorted(row[1] for row in rows[1:]) == sorted("'" + n for n in names)

    clean = tmp_path / "clean.csv"  # without the tab and CR rows, refused on import (control characters)
    with open(clean, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(row for row in rows if row[0] not in ("5", "6"))
    with Store.open(tmp_path / "other.db", os.urandom(32)) as other:
        report = import_roster(other, clean)
        assert report.ok, report.problems
        assert [e["name"] for e in list_employees(other)] == FORMULA_NAMES


def test_a_name_that_really_begins_with_a_quote_survives_export_and_import(store, tmp_path):

    add_employee(store, number="1", name="'Neill")
    add_employee(store, number="2", name="'=not a formula")
    for suffix in (".csv", ".xlsx"):
        out = tmp_path / f"quotes{suffix}"
        export_roster(store, out)
        with Store.open(tmp_path / f"other{suffix}.db", os.urandom(32)) as other:
            assert import_roster(other, out).ok
            assert [e["name"] for e in list_employees(other)] == ["'Neill", "'=not a formula"]


# -- import: checked whole, written in one transaction ------------------------------------------------
def enroll_cli(config_file, *args):
    """seed-enroll as a user runs it: a child process (python -m enrollment.cli)."""
    return subprocess.run([sys.executable, "-m", "enrollment.cli", "--config", str(config_file), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def snapshot(config_file):
    with open_store(load_config(config_file).storage) as opened:
        return opened.counts(), list_employees(opened), opened.query("SELECT seq, action, details FROM audit_log ORDER BY seq")


def seed(config_file):
    """Two employees already on the terminal; 2001 holds card 0041E34E (4318030)."""
    with open_store(load_config(config_file).storage) as opened:
        add_employee(opened, number="2001", name="Existing One", card="0041E34E")
        add_employee(opened, number="2002", name="Existing Two")


GOOD_ROWS = "number,name,card,allowed_devices\n1001,Zhang Wei,,door-1\n1002,Li Na,123456,door-1;door-2\n"


@pytest.mark.parametrize("bad_row, row, field", [
    ("1003,Wang Fang,0041E34E,\n1004,Liu Yang,4318030,\n", 5, "card"),  # the same card twice, after normalisation
    ("1003," + "N" * 5000 + ",,\n", 4, "name"),
    ("1003,Wang Fang,,bad device!\n", 4, "allowed_devices"),
    ("1003,Wang Fang,4318030,\n", 4, "card"),  # held by employee 2001 on this terminal
    ("2002,Existing Two Again,,\n", 4, "number"),  # exists, without --update
], ids=["same-card-twice", "5000-character-name", "bad-device-id", "card-held-on-terminal", "existing-number"])
def test_a_bad_row_leaves_the_store_as_it_was(config_file, tmp_path, bad_row, row, field):
    seed(config_file)
    before = snapshot(config_file)
    roster = write_csv(tmp_path / "roster.csv", GOOD_ROWS + bad_row)
    result = enroll_cli(config_file, "import", str(roster))
    assert result.returncode == 2, result
    assert f"row {row}: {field}:" in result.stderr
    assert "nothing imported" in result.stdout and "imported 0" not in result.stdout
    assert snapshot(config_file) == before


def test_a_card_held_by_an_existing_employee_is_named(store, tmp_path):
    add_employee(store, number="2001", name="Existing One", card="0041E34E")
    report = import_roster(store, write_csv(tmp_path / "r.csv", "number,name,card\n1,A,4318030\n"))
    assert [str(p) for p in report.problems] == ["row 2: card: card ending 8030 is already held by employee 2001 "
                                                 "on this terminal"]
    assert [e["number"] for e in list_employees(store)] == ["2001"]


def test_every_problem_is_reported_at_once(store, tmp_path):
    roster = write_csv(tmp_path / "r.csv", "number,name,card,allowed_devices\n1,A,0041E34E,\n2,B,4318030,\n"
                                           f"3,{'x' * 101},,\n4,D,,door 4\n")
    fields = sorted((p.row, p.field) for p in import_roster(store, roster).problems)
    assert fields == [(3, "card"), (4, "name"), (5, "allowed_devices")]
    assert store.counts()["employees"] == 0


def test_a_valid_file_imports_every_row_in_one_go(config_file, tmp_path):
    seed(config_file)
    roster = write_csv(tmp_path / "roster.csv", GOOD_ROWS + "1003,Wang Fang,,\n")
    result = enroll_cli(config_file, "import", str(roster))
    assert result.returncode == 0, result
    assert "imported 3 rows: 3 added" in result.stdout
    counts, employees, audit = snapshot(config_file)
    assert [e["number"] for e in employees] == ["1001", "1002", "1003", "2001", "2002"]
    assert {e["number"]: e["allowed_devices"] for e in employees}["1002"] == ["door-1", "door-2"]
    assert [a["action"] for a in audit][-1] == "roster.import"


def test_update_may_move_a_card_between_employees_of_the_file(store, tmp_path):
    add_employee(store, number="1", name="A", card="111")
    add_employee(store, number="2", name="B", card="222")
    swap = write_csv(tmp_path / "r.csv", "number,name,card\n1,A,222\n2,B,111\n")
    assert import_roster(store, swap).problems  # without --update both numbers exist
    report = import_roster(store, swap, update=True)
    assert report.ok and report.updated == 2, report.problems
    assert {e["number"]: e["card"] for e in list_employees(store)} == {"1": "222", "2": "111"}


def test_an_unreadable_photo_refuses_the_import(store, tmp_path, monkeypatch):
    import enrollment.roster_io as roster_io

    calls = []

    def failing_thumbnail(path):
        calls.append(path)
        raise ValueError(f"{path.name} is not a readable image")

    monkeypatch.setattr(roster_io, "thumbnail", failing_thumbnail)
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"not a jpeg")
    roster = write_csv(tmp_path / "r.csv", "number,name,photo\n1,A,\n2,B,a.jpg\n")
    report = import_roster(store, roster, photo_dir=folder)
    assert [str(p) for p in report.problems] == ["row 3: photo: a.jpg is not a readable image"]
    assert store.counts()["employees"] == 0 and calls


def test_a_photo_whose_face_fails_refuses_the_import(store, tmp_path, photos):
    def describe(path):
        raise ValueError(f"{path.name}: no face found")

    roster = write_csv(tmp_path / "r.csv", "number,name,photo\n1,A,\n2,B,zhang.png\n")
    report = import_roster(store, roster, photo_dir=photos, enrol_face=describe)
    assert [str(p) for p in report.problems] == ["row 3: photo: zhang.png: no face found"]
    assert store.counts()["employees"] == 0 and store.counts()["face_templates"] == 0
    good = import_roster(store, roster, photo_dir=photos, enrol_face=lambda path: [[0.5] * 128])
    assert good.ok and good.added == 2 and good.faces_enrolled == 1
    assert store.counts()["face_templates"] == 1


# -- encodings: UTF-8, Chinese GB18030, or named ------------------------------------------------------
WESTERN = "number,name,department\n1001,Renée Dupont,Ops\n1002,Jürgen Müller,Straßenbau\n"


def test_a_windows_1252_file_is_refused_naming_the_row(config_file, tmp_path):
    roster = write_csv(tmp_path / "western.csv", WESTERN, encoding="cp1252")
    before = snapshot(config_file)
    result = enroll_cli(config_file, "import", str(roster))
    assert result.returncode == 2, result
    assert "nothing imported" in result.stderr
    assert "row 2, column name (b'Ren\\xe9e Dupont')" in result.stderr and "is not UTF-8 text" in result.stderr
    assert "--encoding cp1252" in result.stderr and "UTF-8" in result.stderr
    assert snapshot(config_file) == before


def test_a_windows_1252_file_imports_with_its_encoding_named(config_file, tmp_path):
    roster = write_csv(tmp_path / "western.csv", WESTERN, encoding="cp1252")
    result = enroll_cli(config_file, "import", str(roster), "--encoding", "cp1252")
    assert result.returncode == 0, result
    assert "imported 2 rows: 2 added" in result.stdout
    employees = snapshot(config_file)[1]
    assert [(e["name"], e["department"]) for e in employees] == [("Renée Dupont", "Ops"),
                                                                   ("Jürgen Müller", "Straßenbau")]


def test_latin_letters_that_happen_to_read_as_hanzi_are_still_refused(store, tmp_path):
    # "ää" in Windows-1252 is E4 E4, a level-1 hanzi in GB2312: inside a Latin word it is not Chinese
    roster = write_csv(tmp_path / "fi.csv", "number,name\n1,Mika Hääkinen\n", encoding="cp1252")
    with pytest.raises(RosterFileError, match=r"row 2, column name .* is not UTF-8 text"):
        import_roster(store, roster)
    assert import_roster(store, roster, encoding="cp1252").added == 1
    assert find_by_number(store, "1")["name"] == "Mika Hääkinen"


def test_a_gb18030_roster_of_chinese_names_imports_through_the_command(config_file, tmp_path):
    text = "工号,姓名,部门\n3001,王芳,生产部\n3002,欧阳·娜娜,财务部（北京）\n3003,李强,研发部\n"
    roster = write_csv(tmp_path / "gb.csv", text, encoding="gb18030")
    result = enroll_cli(config_file, "import", str(roster))
    assert result.returncode == 0, result
    employees = snapshot(config_file)[1]
    assert [(e["name"], e["department"]) for e in employees] == [("王芳", "生产部"), ("欧阳·娜娜", "财务部（北京）"),
                                                                   ("李强", "研发部")]


def test_a_rare_hanzi_needs_the_encoding_named(store, tmp_path):
    roster = write_csv(tmp_path / "gb.csv", "number,name\n1,朱镕基\n", encoding="gb18030")
    with pytest.raises(RosterFileError, match="row 2, column name"):
        import_roster(store, roster)
    assert import_roster(store, roster, encoding="gb18030").added == 1
    assert find_by_number(store, "1")["name"] == "朱镕基"


def test_utf8_with_and_without_bom_and_bad_named_encodings(store, tmp_path):
    assert import_roster(store, write_csv(tmp_path / "a.csv", "\ufeffnumber,name\n1,Renée\n")).added == 1
    assert import_roster(store, write_csv(tmp_path / "b.csv", "number,name\n2,Jürgen\n")).added == 1
    assert [e["name"] for e in list_employees(store)] == ["Renée", "Jürgen"]
    with pytest.raises(RosterFileError, match="unknown encoding 'klingon'"):
        import_roster(store, tmp_path / "b.csv", encoding="klingon")
    bad = tmp_path / "c.csv"
    bad.write_bytes(b"number,name\n3,Ren\xe9e\n")
    with pytest.raises(RosterFileError, match=r"row 2, column name \(b'Ren\\xe9e'\) is not utf-8 text"):
        import_roster(store, bad, encoding="utf-8")
    assert store.counts()["employees"] == 2



def test_a_row_the_database_refuses_while_writing_rolls_every_row_back(config_file, tmp_path):
    """The store itself refusing row 4 (a trigger standing in for any write error) leaves nothing of rows 2 and 3."""
    seed(config_file)
    with open_store(load_config(config_file).storage) as opened:
        opened.conn.execute("CREATE TRIGGER refuse_1003 BEFORE INSERT ON employees WHEN NEW.number = '1003' "
                            "BEGIN SELECT RAISE(ABORT, 'refused by the database'); END")
    before = snapshot(config_file)
    result = enroll_cli(config_file, "import", str(write_csv(tmp_path / "r.csv", GOOD_ROWS + "1003,Wang Fang,,\n")))
    assert result.returncode == 1, result
    assert "nothing imported: writing row 4 (employee 1003) failed" in result.stderr
    assert "refused by the database" in result.stderr
    assert snapshot(config_file) == before


def test_skip_bad_writes_the_good_rows_and_says_so(config_file, tmp_path):
    roster = write_csv(tmp_path / "r.csv", GOOD_ROWS + "1003," + "N" * 5000 + ",,\n")
    result = enroll_cli(config_file, "import", str(roster), "--skip-bad")
    assert result.returncode == 0, result
    assert "row 4: name: is longer than 100 characters" in result.stderr
    assert "imported 2 of 3 rows: 2 added, 0 updated" in result.stdout and "1 bad row(s) skipped" in result.stdout
    assert [e["number"] for e in snapshot(config_file)[1]] == ["1001", "1002"]


def test_dry_run_checks_against_the_store_and_writes_nothing(config_file, tmp_path):
    seed(config_file)
    before = snapshot(config_file)
    bad = enroll_cli(config_file, "import", "--dry-run", str(write_csv(tmp_path / "b.csv", "number,name,card\n1,A,4318030\n")))
    assert bad.returncode == 2 and "row 2: card: card ending 8030 is already held by employee 2001" in bad.stderr
    good = enroll_cli(config_file, "import", "--dry-run", str(write_csv(tmp_path / "g.csv", GOOD_ROWS)))
    assert good.returncode == 0 and "checked 2 rows: no problems; nothing written (dry run)" in good.stdout
    assert snapshot(config_file) == before


def test_update_leaves_the_columns_the_file_lacks(store, tmp_path):
    add_employee(store, number="1", name="A", department="Ops", card="111", pin="2580", allowed_devices=["door-1"])
    report = import_roster(store, write_csv(tmp_path / "r.csv", "number,name\n1,A Renamed\n"), update=True)
    assert report.ok and report.updated == 1
    employee = find_by_number(store, "1")
    assert (employee["name"], employee["department"], employee["card"], employee["has_pin"],
            employee["allowed_devices"]) == ("A Renamed", "Ops", "111", True, ["door-1"])
    cleared = import_roster(store, write_csv(tmp_path / "c.csv", "number,name,card,pin\n1,A,,\n"), update=True)
    assert cleared.ok and find_by_number(store, "1")["card"] is None and find_by_number(store, "1")["has_pin"]
