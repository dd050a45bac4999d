"""Fingerprint enrolment, the template backup in the database, restore and deletion.

Everything runs through the real ``pyfingerprint`` client against the ZFM/R307 emulator;
the sensor's own template index is read back to check what is (and is not) on it.
"""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from enrollment.fingerprint import (
    EnrolStep,
    FingerEnrolError,
    delete_fingers,
    enrol_finger,
    finger_name,
    list_fingers,
)
from terminal.config import parse_config
from terminal.fingerprint_service import PURGE_KEY, apply_purges, queue_purge, restore_sensor, sync_sensor
from terminal.hardware.fingerprint import open_fingerprint
from terminal.hardware.fingerprint_sim import finger_template, send_control
from terminal.store.audit import verify_audit
from terminal.store.database import open_store
from terminal.store.employees import add_employee

REPO = Path(__file__).resolve().parent.parent


def make_config(data_dir: Path, **fingerprint):
    values = {"probe_timeout_s": 1.0, "sim_capacity": 40, **fingerprint}
    return parse_config({"device": {"id": "door-1", "timezone": "UTC", "language": "en"},
                         "storage": {"data_dir": str(data_dir), "min_free_mb": 0},
                         "hardware": {"profile": "sim", "fingerprint": values}})


@pytest.fixture
def config(tmp_path):
    return make_config(tmp_path / "data")


@pytest.fixture
def db(config):
    with open_store(config.storage) as store:
        for number, name in (("1001", "Alice Wang"), ("1002", "Bo Li"), ("1003", "Chen Jie")):
            add_employee(store, number=number, name=name)
        yield store


@pytest.fixture
def sensor(config):
    with open_fingerprint(config.hardware.fingerprint, config.storage.data_dir, "sim") as opened:
        yield opened


class Person:
    """Someone at the sensor who follows the prompts: places and lifts a finger when asked."""

    def __init__(self, emulator, *presses: str, quality: tuple[str, ...] = ()):
        self.emulator = emulator
        self.presses = list(presses)
        self.quality = list(quality)
        self.steps: list[str] = []
        self.on_step: dict[str, callable] = {}

    def __call__(self, step: EnrolStep) -> None:
        self.steps.append(step.step)
        if step.step in self.on_step:
            self.on_step.pop(step.step)()
        if step.step in ("place", "place_again", "retry"):
            if step.step == "retry":
                self.emulator.lift_finger()
                return
            finger = self.presses.pop(0) if len(self.presses) > 1 else self.presses[0]
            self.emulator.place_finger(finger, quality=self.quality.pop(0) if self.quality else "good")
        elif step.step == "lift":
            self.emulator.lift_finger()


def enrol(db, sensor, number, finger_id, **kwargs):
    person = Person(sensor.emulator, finger_id)
    return enrol_finger(db, sensor, number, progress=person, **kwargs), person


def rows(db):
    return db.query("SELECT e.number, f.finger, f.sensor_position, f.template FROM finger_templates f "
                    "JOIN employees e ON e.id = f.employee_id ORDER BY f.id")


# -- enrolment ------------------------------------------------------------------------------------
def test_enrol_two_presses_store_and_keep_the_template(db, sensor):
    done, person = enrol(db, sensor, "1001", "alice-index")
    assert person.steps == ["place", "lift", "place_again", "lift", "checking", "storing", "done"]
    assert done.number == "1001" and done.finger == 2 and finger_name(done.finger) == "right index"
    assert done.score >= 150
    assert sensor.template_positions() == [done.position]
    [row] = rows(db)
    assert (row["number"], row["finger"], row["sensor_position"]) == ("1001", 2, done.position)
    assert bytes(row["template"]) == sensor.emulator.template_at(done.position)  # uploaded with UpChar
    assert "UpChar" in sensor.emulator.commands() and "RegModel" in sensor.emulator.commands()
    audit = db.query("SELECT action, details FROM audit_log WHERE action = 'finger.enrol'")
    assert len(audit) == 1 and verify_audit(db.conn).ok
    assert list_fingers(db, "1001")[0]["finger_name"] == "right index"


def test_a_finger_enrolled_under_another_employee_is_refused_and_named(db, sensor):
    first, _ = enrol(db, sensor, "1001", "shared-finger")
    with pytest.raises(FingerEnrolError) as refused:
        enrol(db, sensor, "1002", "shared-finger")
    assert refused.value.reason == "duplicate"
    assert "1001" in str(refused.value) and "Alice Wang" in str(refused.value)
    assert sensor.template_positions() == [first.position]
    assert [r["number"] for r in rows(db)] == ["1001"]


def test_the_same_finger_twice_for_one_employee_is_refused(db, sensor):
    enrol(db, sensor, "1001", "alice-index", finger=2)
    with pytest.raises(FingerEnrolError) as refused:
        enrol(db, sensor, "1001", "alice-index", finger=7)
    assert refused.value.reason == "already_enrolled" and "right index" in str(refused.value)


def test_presses_of_two_different_fingers_are_refused(db, sensor):
    person = Person(sensor.emulator, "alice-index", "bob-thumb")
    with pytest.raises(FingerEnrolError) as refused:
        enrol_finger(db, sensor, "1001", progress=person)
    assert refused.value.reason == "mismatch" and "same finger" in str(refused.value)
    assert sensor.template_positions() == [] and rows(db) == []


def test_no_finger_within_the_time_allowed(db, sensor):
    with pytest.raises(FingerEnrolError) as refused:
        enrol_finger(db, sensor, "1001", step_timeout_s=0.3)
    assert refused.value.reason == "no_finger" and "0.3 s" in str(refused.value)
    assert rows(db) == []


def test_a_poor_image_is_asked_for_again(db, sensor):
    person = Person(sensor.emulator, "alice-index", quality=("messy", "good", "good"))
    done = enrol_finger(db, sensor, "1001", progress=person)
    assert person.steps[:4] == ["place", "retry", "place", "lift"] and done.position == 0
    person = Person(sensor.emulator, "bob-index", quality=("partial",) * 3)
    with pytest.raises(FingerEnrolError) as refused:
        enrol_finger(db, sensor, "1002", progress=person, poor_retries=3, step_timeout_s=2)
    assert refused.value.reason == "poor_image"


def test_up_to_three_fingers_and_replacing_one(db, sensor):
    positions = [enrol(db, sensor, "1001", f"alice-{i}")[0].position for i in range(3)]
    assert [r["finger"] for r in rows(db)] == [2, 7, 3]
    sensor.emulator.clear_history()
    with pytest.raises(FingerEnrolError) as refused:
        enrol(db, sensor, "1001", "alice-3")
    assert refused.value.reason == "too_many_fingers" and "at most 3" in str(refused.value)
    assert "GenImg" not in sensor.emulator.commands()  # refused before asking for a press
    again, _ = enrol(db, sensor, "1001", "alice-new-index", finger=7)
    assert again.replaced_position == positions[1]
    assert positions[1] not in sensor.template_positions() and again.position in sensor.template_positions()
    assert len(rows(db)) == 3


def test_a_full_library_is_refused_with_its_reason(tmp_path):
    config = make_config(tmp_path / "data", sim_capacity=2)
    with open_store(config.storage) as db, open_fingerprint(config.hardware.fingerprint, tmp_path / "data", "sim") as sensor:
        add_employee(db, number="7", name="Gao")
        sensor.emulator.store_finger("x", 0)
        sensor.emulator.store_finger("y", 1)
        with pytest.raises(FingerEnrolError) as refused:
            enrol(db, sensor, "7", "gao-index")
        assert refused.value.reason == "library_full" and "full (2 templates)" in str(refused.value)
        assert rows(db) == []


def test_sensor_unplugged_mid_enrolment(db, sensor):
    person = Person(sensor.emulator, "alice-index")
    person.on_step["place_again"] = sensor.emulator.unplug
    with pytest.raises(FingerEnrolError) as refused:
        enrol_finger(db, sensor, "1001", progress=person)
    assert refused.value.reason == "sensor_unavailable" and "does not answer" in str(refused.value)
    assert rows(db) == []
    sensor.emulator.replug()
    assert sensor.template_positions() == []
    done, _ = enrol(db, sensor, "1001", "alice-index")  # the next enrolment reconnects
    assert sensor.template_positions() == [done.position]


def test_bad_requests_are_refused_before_the_sensor_is_used(db, sensor):
    with pytest.raises(FingerEnrolError, match="no employee 9999"):
        enrol_finger(db, sensor, "9999")
    with pytest.raises(FingerEnrolError) as bad:
        enrol_finger(db, sensor, "1001", 11)
    assert bad.value.reason == "bad_finger"
    assert sensor.emulator.commands() == []


def test_cancel_from_the_admin_screen(db, sensor):
    stop = threading.Event()
    person = Person(sensor.emulator, "alice-index")
    person.on_step["lift"] = stop.set
    with pytest.raises(FingerEnrolError) as cancelled:
        enrol_finger(db, sensor, "1001", progress=person, stop=stop)
    assert cancelled.value.reason == "cancelled"


# -- templates follow the employee --------------------------------------------------------------------
def identify(sensor, finger_id):
    sensor.emulator.place_finger(finger_id, captures=1)
    assert sensor.wait_for_finger(1)
    return sensor.identify()


def test_restore_onto_an_empty_sensor_gives_the_same_identifications(db, sensor, tmp_path):
    people = {"1001": "alice-index", "1002": "bo-thumb", "1003": "chen-index"}
    for number, finger_id in people.items():
        enrol(db, sensor, number, finger_id)
    before = {finger_id: identify(sensor, finger_id).position for finger_id in people.values()}
    owner = {r["sensor_position"]: r["number"] for r in rows(db)}
    assert {owner[p] for p in before.values()} == set(people)

    replacement = make_config(tmp_path / "spare")  # a new sensor: its own, empty library
    with open_fingerprint(replacement.hardware.fingerprint, tmp_path / "spare", "sim") as spare:
        assert spare.template_positions() == []
        report = restore_sensor(db, spare)
        assert sorted(report.loaded) == sorted(before.values()) and report.kept == 0
        for number, finger_id in people.items():
            match = identify(spare, finger_id)
            assert match is not None and owner[match.position] == number
        assert identify(spare, "stranger") is None
        again = restore_sensor(db, spare)  # everything already there: read back and kept
        assert again.kept == 3 and again.loaded == [] and again.replaced == []


def test_restore_overwrites_a_different_template_and_prunes_unknown_ones(db, sensor):
    done, _ = enrol(db, sensor, "1001", "alice-index")
    sensor.write_template(finger_template("intruder"), 1)
    sensor.store(done.position, 1)  # someone else's template at Alice's position
    sensor.store(30, 1)  # and one the database does not know
    report = restore_sensor(db, sensor, prune=False)
    assert report.replaced == [done.position] and report.foreign == [30] and report.pruned == []
    assert identify(sensor, "alice-index").position == done.position
    report = restore_sensor(db, sensor, prune=True)
    assert report.pruned == [30] and sensor.template_positions() == [done.position]


def test_roster_templates_without_a_position_are_loaded(db, sensor):
    employee = db.query_one("SELECT id FROM employees WHERE number = '1003'")
    with db.transaction() as conn:  # as the roster sync stores a template from the central server
        conn.execute("INSERT INTO finger_templates (employee_id, finger, sensor_position, template, created_at) "
                     "VALUES (?, 2, NULL, ?, '2026-01-01T00:00:00Z')", (employee["id"], finger_template("chen-index")))
    report = sync_sensor(db, sensor)
    [row] = rows(db)
    assert report.loaded == [row["sensor_position"]] and sensor.template_positions() == report.loaded
    assert identify(sensor, "chen-index").position == row["sensor_position"]
    assert sync_sensor(db, sensor).loaded == []


def test_purges_clear_only_positions_nobody_owns(db, sensor):
    done, _ = enrol(db, sensor, "1001", "alice-index")
    sensor.emulator.store_finger("gone-1", 10)
    sensor.emulator.store_finger("gone-2", 11)
    queue_purge(db, [10, 11, done.position])
    assert apply_purges(db, sensor) == [10, 11]
    assert sensor.template_positions() == [done.position]
    assert db.get_setting(PURGE_KEY) == []


def test_purge_key_is_the_one_the_roster_sync_fills():
    from sync_agent.roster import PURGE_KEY as ROSTER_PURGE_KEY

    assert PURGE_KEY == ROSTER_PURGE_KEY


def test_deleting_fingers_leaves_no_trace_on_the_sensor(db, sensor):
    kept, _ = enrol(db, sensor, "1002", "bo-thumb")
    a, _ = enrol(db, sensor, "1001", "alice-index")
    b, _ = enrol(db, sensor, "1001", "alice-middle")
    assert delete_fingers(db, sensor, "1001", a.finger) == [a.position]
    assert sensor.template_positions() == sorted([kept.position, b.position])
    assert delete_fingers(db, sensor, "1001") == [b.position]
    assert sensor.template_positions() == [kept.position]
    assert [r["number"] for r in rows(db)] == ["1002"]
    assert identify(sensor, "alice-index") is None


def test_deleting_while_the_sensor_is_away_clears_it_later(db, sensor):
    done, _ = enrol(db, sensor, "1001", "alice-index")
    sensor.emulator.unplug()
    assert delete_fingers(db, sensor, "1001") == [done.position]
    assert db.get_setting(PURGE_KEY) == [done.position]
    sensor.emulator.replug()
    assert sensor.template_positions() == [done.position]
    sync_sensor(db, sensor)
    assert sensor.template_positions() == [] and db.get_setting(PURGE_KEY) == []


# -- seed-enroll finger ... ------------------------------------------------------------------------------
@pytest.fixture
def config_file(tmp_path):
    data = tmp_path / "data"
    path = tmp_path / "terminal.toml"
    path.write_text(f'[device]\nid = "door-1"\ntimezone = "UTC"\nlanguage = "en"\n[storage]\ndata_dir = "{data}"\n'
                    f'[hardware]\nprofile = "sim"\n[hardware.fingerprint]\nprobe_timeout_s = 1.0\nsim_capacity = 40\n')
    with open_store(make_config(data).storage) as store:
        add_employee(store, number="1001", name="Alice Wang")
        add_employee(store, number="1002", name="Bo Li")
    return path


def seed_enroll(config_file, *args):
    from enrollment.cli import main

    return main(["--config", str(config_file), *args])


def test_cli_enrol_follows_the_prompts_at_the_sensor(config_file, tmp_path, capsys):
    control = tmp_path / "data" / "fingerprint-sim.sock"
    proc = subprocess.Popen([sys.executable, "-m", "enrollment.cli", "--config", str(config_file), "finger", "enrol",
                             "1001", "--finger", "7", "--timeout", "10"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    prompts = []
    for line in proc.stdout:
        prompts.append(line.strip())
        if "place the" in line:
            send_control(control, "place alice-left-index")
        elif "lift the finger" in line:
            send_control(control, "lift")
    proc.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr.read()
    assert prompts[0] == "[press 1] place the finger on the sensor"
    assert prompts[-1].startswith("enrolled left index of employee 1001 at sensor position 0")

    assert seed_enroll(config_file, "finger", "list", "--json") == 0
    listed = capsys.readouterr().out
    assert '"finger_name": "left index"' in listed and '"sensor_position": 0' in listed
    assert seed_enroll(config_file, "finger", "check") == 0
    assert "sensor and database agree" in capsys.readouterr().out
    assert seed_enroll(config_file, "finger", "status") == 0
    assert "1/40 templates, security level 3" in capsys.readouterr().out


def test_cli_delete_employee_clears_the_sensor(config_file, tmp_path, capsys):
    config = make_config(tmp_path / "data")
    with open_store(config.storage) as db, open_fingerprint(config.hardware.fingerprint, tmp_path / "data", "sim") as sensor:
        done, _ = enrol(db, sensor, "1001", "alice-index")
        other, _ = enrol(db, sensor, "1002", "bo-index")
    assert seed_enroll(config_file, "delete", "1001", "--yes") == 0
    assert f"sensor positions [{done.position}] cleared" in capsys.readouterr().out
    with open_store(config.storage) as db, open_fingerprint(config.hardware.fingerprint, tmp_path / "data", "sim") as sensor:
        assert sensor.template_positions() == [other.position]
        assert [r["number"] for r in rows(db)] == ["1002"]


def test_cli_restore_check_and_bad_input(config_file, tmp_path, capsys):
    config = make_config(tmp_path / "data")
    with open_store(config.storage) as db, open_fingerprint(config.hardware.fingerprint, tmp_path / "data", "sim") as sensor:
        enrol(db, sensor, "1001", "alice-index")
        sensor.clear()  # the sensor was replaced
    assert seed_enroll(config_file, "finger", "check") == 1
    assert "missing on the sensor: position 0 (1001 right index)" in capsys.readouterr().out
    assert seed_enroll(config_file, "finger", "restore") == 0
    assert "sensor restored: 1 loaded" in capsys.readouterr().out
    assert seed_enroll(config_file, "finger", "check") == 0
    capsys.readouterr()
    assert seed_enroll(config_file, "finger", "enrol", "4242", "--timeout", "2") == 2
    assert "no employee 4242" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        seed_enroll(config_file, "finger", "enrol", "1001", "--finger", "12")
    assert "a finger is 1-10" in capsys.readouterr().err
    assert seed_enroll(config_file, "finger", "delete", "1002", "--finger", "2") == 2
    assert "has no right index enrolled" in capsys.readouterr().err


def test_cli_reports_a_busy_sensor(config_file, tmp_path, capsys):
    config = make_config(tmp_path / "data")
    with open_fingerprint(config.hardware.fingerprint, tmp_path / "data", "sim"):  # the terminal holds it
        assert seed_enroll(config_file, "finger", "status") == 1
    assert "in use by another fingerprint emulator" in capsys.readouterr().err


def test_positions_promised_in_the_database_are_not_given_away(db, sensor):
    done, _ = enrol(db, sensor, "1001", "alice-index")
    sensor.clear()  # the sensor lost Alice's template; the database still places it at her position
    bo = db.query_one("SELECT id FROM employees WHERE number = '1002'")
    with db.transaction() as conn:
        conn.execute("INSERT INTO finger_templates (employee_id, finger, sensor_position, template, created_at) "
                     "VALUES (?, 2, NULL, ?, '2026-01-01T00:00:00Z')", (bo["id"], finger_template("bo-index")))
    chen, _ = enrol(db, sensor, "1003", "chen-index")
    assert chen.position != done.position
    report = sync_sensor(db, sensor)
    placed = {r["number"]: r["sensor_position"] for r in rows(db)}
    assert placed["1001"] == done.position and len(set(placed.values())) == 3
    assert sorted(report.loaded) == sorted([done.position, placed["1002"]])
    assert identify(sensor, "alice-index").position == done.position
    assert identify(sensor, "bo-index").position == placed["1002"]
