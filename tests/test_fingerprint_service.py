"""The fingerprint worker at the door: identification to punch, unknown fingers, a sensor that goes away.

The sensor is the simulated one: ``pyfingerprint`` against the ZFM/R307 emulator on a pty.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from enrollment.fingerprint import EnrolStep, enrol_finger
from terminal.config import parse_config
from terminal.fingerprint_service import FingerprintWorker
from terminal.hardware.clock import SimClock
from terminal.hardware.fingerprint import open_fingerprint
from terminal.hardware.fingerprint_sim import finger_template
from terminal.identify import Authenticator
from terminal.punch import PunchService
from terminal.store.database import open_store
from terminal.store.employees import add_employee, add_finger_template


class Ticker:
    """A monotonic clock moved by hand (the worker takes its clock as a parameter)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_config(data_dir: Path, **fingerprint):
    values = {"probe_timeout_s": 0.25, "sim_capacity": 50, **fingerprint}
    return parse_config({"device": {"id": "door-1", "timezone": "UTC", "language": "en"},
                         "storage": {"data_dir": str(data_dir), "min_free_mb": 0},
                         "punch": {"debounce_s": 0},
                         "hardware": {"profile": "sim", "fingerprint": values}})


@pytest.fixture
def config(tmp_path):
    return make_config(tmp_path / "data")


@pytest.fixture
def db(config):
    with open_store(config.storage) as store:
        yield store


@pytest.fixture
def sensor(config):
    with open_fingerprint(config.hardware.fingerprint, config.storage.data_dir, "sim") as opened:
        yield opened


@pytest.fixture
def auth(db, config):
    clock = SimClock(start=datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    return Authenticator(db, config, PunchService(db, config, clock), clock)


@pytest.fixture
def ticker():
    return Ticker()


@pytest.fixture
def worker(sensor, db, auth, ticker):
    return FingerprintWorker(sensor, db, authenticator=auth, poll_timeout_s=0.1, lift_timeout_s=0.5,
                             retry_max_s=4, monotonic=ticker)


def enrolled(db, sensor, number: str, finger_id: str, mode: str = "any", position: int | None = None) -> dict:
    """An employee whose finger is on the sensor and in the database, as enrolment leaves them."""
    employee = add_employee(db, number=number, name=f"Person {number}", verify_mode=mode, pin="2468")
    position = sensor.emulator.store_finger(finger_id, position)
    add_finger_template(db, employee["id"], 2, sensor.emulator.template_at(position), position)
    return employee


def touch(sensor, finger_id: str) -> None:
    sensor.emulator.place_finger(finger_id, captures=1)


STOP = threading.Event()


# -- identification ---------------------------------------------------------------------------------
def test_a_known_finger_punches_with_the_sensor_score(worker, db, sensor):
    alice = enrolled(db, sensor, "1001", "alice-index", position=4)
    touch(sensor, "alice-index")
    read = worker.step(STOP)
    assert worker.state == "ready"
    assert read.outcome == "identified" and read.employee_id == alice["id"] and read.position == 4
    assert read.result.status == "punched"
    punch = db.query_one("SELECT * FROM punches")
    assert punch["employee_id"] == alice["id"] and punch["method"] == "finger"
    assert punch["score"] == read.score >= 50  # the sensor's own match score is kept with the punch
    assert "Search" in sensor.emulator.commands()


def test_an_unknown_finger_is_refused_with_an_event(worker, db, sensor):
    enrolled(db, sensor, "1001", "alice-index")
    touch(sensor, "stranger")
    read = worker.step(STOP)
    assert read.outcome == "unknown" and read.employee_id is None
    assert db.query_one("SELECT count(*) AS n FROM punches")["n"] == 0
    assert [e["kind"] for e in db.query("SELECT kind FROM events")] == ["unknown_finger"]


def test_a_poor_image_is_not_a_punch(worker, db, sensor):
    enrolled(db, sensor, "1001", "alice-index")
    sensor.emulator.place_finger("alice-index", quality="messy", captures=1)
    assert worker.step(STOP).outcome == "poor_image"
    assert db.query_one("SELECT count(*) AS n FROM punches")["n"] == 0


def test_finger_as_the_first_of_two_factors(worker, db, sensor, auth):
    bo = enrolled(db, sensor, "1002", "bo-thumb", mode="finger+pin")
    touch(sensor, "bo-thumb")
    read = worker.step(STOP)
    assert read.result.status == "need_more" and read.result.missing == ("pin",)
    outcome = auth.pin("1002", "2468")
    assert outcome.status == "punched"
    punch = db.query_one("SELECT * FROM punches")
    assert punch["employee_id"] == bo["id"] and punch["method"] == "finger+pin" and punch["score"] == read.score


def test_a_position_nobody_owns_is_refused(worker, db, sensor):
    sensor.emulator.store_finger("left-behind", 9)  # on the sensor, not in the database
    touch(sensor, "left-behind")
    read = worker.step(STOP)
    assert read.outcome == "unmapped" and read.position == 9
    assert db.query_one("SELECT count(*) AS n FROM punches")["n"] == 0


# -- the sensor goes away -------------------------------------------------------------------------------
def test_lost_sensor_is_reported_retried_with_backoff_and_found_again(worker, db, sensor, ticker):
    alice = enrolled(db, sensor, "1001", "alice-index")
    assert worker.step(STOP) is None and worker.state == "ready"
    sensor.emulator.unplug()
    assert worker.step(STOP) is None
    assert worker.state == "unavailable" and "no answer" in worker.reason
    assert worker.health().startswith("unavailable: no answer") and "no answer" in sensor.health()
    delays = []
    for _ in range(4):
        delays.append(worker._next_try - ticker.now)
        before = len(sensor.emulator.history)
        worker.step(STOP)  # too early: the sensor is left alone
        assert len(sensor.emulator.history) == before
        ticker.now = worker._next_try
        worker.step(STOP)  # due: one more attempt, still silent
    assert delays == [1, 2, 4, 4]  # doubling pauses, capped at retry_max_s
    assert [e["kind"] for e in db.query("SELECT kind FROM events")] == ["fingerprint_lost"]

    sensor.emulator.replug()
    ticker.now = worker._next_try
    touch(sensor, "alice-index")
    read = worker.step(STOP)  # reconnects, then reads the finger
    assert worker.state == "ready" and worker.health() == "ok"
    assert read.outcome == "identified" and read.employee_id == alice["id"]
    assert [e["kind"] for e in db.query("SELECT kind FROM events ORDER BY created_at")] == [
        "fingerprint_lost", "fingerprint_back"]


def test_a_silent_sensor_never_blocks_pin_and_is_reported(tmp_path, db, auth, ticker):
    config = make_config(tmp_path / "data", probe_timeout_s=3.0)  # the default probe timeout
    sensor = open_fingerprint(config.hardware.fingerprint, tmp_path / "other", "sim")
    sensor.emulator.unplug()
    # the worker's own clock stands still: after the report, no retry comes to change the state again
    worker = FingerprintWorker(sensor, db, authenticator=auth, poll_timeout_s=0.1, monotonic=ticker)
    add_employee(db, number="1003", name="Chen", pin="1357")
    happened: list[str] = []
    reported = threading.Event()

    def on_state(state: str, reason: str | None) -> None:
        happened.append(state)
        if state == "unavailable":
            reported.set()

    worker.state_listeners.append(on_state)
    try:
        worker.start()
        wait_until(lambda: [t for t in threading.enumerate() if t.name.startswith("fingerprint-io")],
                   "the sensor's i/o thread to start")
        outcome = auth.pin("1003", "1357")  # while the worker waits on the silent sensor
        happened.append("pin punched")
        assert outcome.status == "punched"
        # pyfingerprint alone would wait ~24 s on a silent port; the reason says the driver's own deadline ended it
        assert reported.wait(60), "the silent sensor was never reported"
        assert happened == ["pin punched", "unavailable"]  # the PIN did not wait for the probe to give up
        assert "within 3 s" in worker.reason
        assert [e["kind"] for e in db.query("SELECT kind FROM events")] == ["fingerprint_lost"]
        assert worker.healthy()
    finally:
        worker.stop()
        sensor.close()


def wait_until(predicate, what: str, timeout: float = 30.0) -> None:
    """Poll a condition with a generous deadline (a failure names what never happened)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


# -- the library follows the database while the door runs ---------------------------------------------
def test_templates_arriving_with_the_roster_are_loaded_and_recognised(sensor, db, auth, ticker):
    worker = FingerprintWorker(sensor, db, authenticator=auth, poll_timeout_s=0.1, sync_check_s=0, monotonic=ticker)
    worker.step(STOP)
    zoe = add_employee(db, number="2001", name="Zoe")
    add_finger_template(db, zoe["id"], 7, finger_template("zoe-left-index"), None, actor="central")
    touch(sensor, "zoe-left-index")
    read = worker.step(STOP)
    assert worker.last_sync.loaded and read.outcome == "identified" and read.employee_id == zoe["id"]
    position = db.query_one("SELECT sensor_position FROM finger_templates")["sensor_position"]
    assert sensor.template_positions() == [position] == worker.last_sync.loaded


def test_enrolment_on_the_admin_screen_pauses_the_door(sensor, db, auth):
    worker = FingerprintWorker(sensor, db, authenticator=auth, poll_timeout_s=0.1)
    add_employee(db, number="3001", name="Dana")
    emulator = sensor.emulator

    def person(step: EnrolStep) -> None:
        if step.step in ("place", "place_again"):
            emulator.place_finger("dana-index")
        elif step.step == "lift":
            emulator.lift_finger()

    worker.start()
    try:
        with worker.paused() as paused_sensor:
            done = enrol_finger(db, paused_sensor, "3001", progress=person)
        reads = []
        worker.listeners.append(reads.append)
        touch(sensor, "dana-index")
        wait_until(lambda: reads, "the door to resume")
    finally:
        worker.stop()
    assert reads[0].outcome == "identified" and reads[0].position == done.position
    assert db.query_one("SELECT method FROM punches")["method"] == "finger"


def test_for_terminal_uses_the_terminals_sensor_and_authenticator(tmp_path):
    from terminal.hardware.factory import build_hardware
    from terminal.runtime import Terminal

    config = parse_config({"device": {"language": "en", "timezone": "UTC"},
                           "storage": {"data_dir": str(tmp_path / "t"), "min_free_mb": 0},
                           "hardware": {"profile": "sim", "camera": {"enabled": False},
                                        "speaker": {"enabled": False}, "fingerprint": {"retry_max_s": 7}}})
    store = open_store(config.storage)
    with Terminal(config, store, build_hardware(config, tmp_path / "t")) as terminal:
        worker = FingerprintWorker.for_terminal(terminal)
        assert worker.sensor is terminal.hardware.fingerprint and worker.authenticator is terminal.auth
        assert worker.retry_max_s == 7
        terminal.hardware.fingerprint.close()
        terminal.hardware.fingerprint = None
        assert FingerprintWorker.for_terminal(terminal) is None
