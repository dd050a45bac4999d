"""seed-enroll: add, list, show, delete, punches — and bad input refused naming the field."""
from __future__ import annotations

import csv
import io
import json

import pytest

from enrollment.cli import main
from terminal.config import load_config
from terminal.hardware.clock import SimClock
from terminal.punch import Identity, PunchService
from terminal.store.database import open_store


def run(config_file, *args):
    return main(["--config", config_file, *args])


def test_add_list_show(config_file, capsys):
    assert run(config_file, "add", "1001", "张伟", "--department", "研发", "--pin", "4321") == 0
    assert run(config_file, "add", "1002", "Li Na", "--role", "admin", "--mode", "face+pin") == 0
    capsys.readouterr()
    assert run(config_file, "list") == 0
    table = capsys.readouterr().out
    assert "张伟" in table and "Li Na" in table and "face+pin" in table
    assert run(config_file, "show", "1001", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["name"] == "张伟" and shown["has_pin"] is True and "pin_hash" not in shown


@pytest.mark.parametrize("args, field", [
    (["add", "bad number!", "X"], "number"),
    (["add", "2001", ""], "name"),
    (["add", "2002", "X", "--pin", "12"], "pin"),
    (["add", "2003", "X", "--pin", "12ab"], "pin"),
    (["add", "2004", "X", "--mode", "retina"], "verify_mode"),
    (["add", "2005", "X", "--device", "bad device"], "allowed_devices"),
])
def test_bad_input_is_refused_naming_the_field(config_file, capsys, args, field):
    assert run(config_file, *args) == 2
    err = capsys.readouterr().err
    assert f"refused: {field}:" in err


def test_employee_numbers_are_unique(config_file, capsys):
    assert run(config_file, "add", "1001", "A") == 0
    assert run(config_file, "add", "1001", "B") == 2
    assert "already exists" in capsys.readouterr().err


def test_delete_purges_templates_and_is_audited(config_file, capsys):
    assert run(config_file, "add", "1001", "A") == 0
    config = load_config(config_file)
    with open_store(config.storage) as store:
        from terminal.store.employees import add_face_templates, add_finger_template, find_by_number

        employee = find_by_number(store, "1001")
        add_face_templates(store, employee["id"], [[0.1] * 128, [0.2] * 128])
        add_finger_template(store, employee["id"], 0, b"\x03" * 512, 7)
    assert run(config_file, "delete", "1001", "--yes") == 0
    with open_store(config.storage) as store:
        assert store.counts()["face_templates"] == 0 and store.counts()["finger_templates"] == 0
        entry = store.query_one("SELECT actor, details FROM audit_log WHERE action = 'employee.delete'")
        assert entry["actor"] == "cli" and '"face_templates":2' in entry["details"]
    assert run(config_file, "delete", "1001", "--yes") == 1
    assert "no employee 1001" in capsys.readouterr().err


def test_punches_since_as_csv(config_file, capsys):
    assert run(config_file, "add", "1001", "A") == 0
    config = load_config(config_file)
    with open_store(config.storage) as store:
        from terminal.store.employees import find_by_number

        PunchService(store, config, SimClock()).punch(Identity(find_by_number(store, "1001")["id"], "card"))
    capsys.readouterr()
    assert run(config_file, "punches", "--since", "2026-03-01", "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1 and rows[0]["employee_number"] == "1001" and rows[0]["sync"] == "queued"
    assert run(config_file, "punches", "--since", "2026-04-01", "--format", "csv") == 0
    assert len(list(csv.DictReader(io.StringIO(capsys.readouterr().out)))) == 0
    with pytest.raises(SystemExit):
        run(config_file, "punches", "--since", "yesterday-ish")


def test_punches_csv_escapes_a_name_that_would_be_a_formula(config_file, capsys):
    name = '=HYPERLINK("http://x","y")'
    assert run(config_file, "add", "1001", name) == 0
    assert run(config_file, "add", "--", "1002", "-2+3") == 0
    config = load_config(config_file)
    with open_store(config.storage) as store:
        from terminal.store.employees import find_by_number

        service = PunchService(store, config, SimClock())
        for number in ("1001", "1002"):
            service.punch(Identity(find_by_number(store, number)["id"], "card"))
    capsys.readouterr()
    assert run(config_file, "punches", "--since", "2026-03-01", "--format", "csv") == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted(r["name"] for r in rows) == sorted(["'" + name, "'-2+3"])
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r.values())
    assert "\n=" not in out and ",=" not in out and ",\"=" not in out
