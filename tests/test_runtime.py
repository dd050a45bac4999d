"""The running terminal: card worker to punch, open-door requests from the sync agent, hardware health."""
from __future__ import annotations

import queue

import pytest

from terminal.runtime import Terminal
from terminal.store.employees import add_employee


@pytest.fixture
def terminal(sim_config):
    sim_config.hardware.fingerprint.enabled = False
    sim_config.face.enabled = False
    with Terminal.open(sim_config) as opened:
        yield opened


def test_a_card_tapped_on_the_reader_becomes_a_punch(terminal):
    add_employee(terminal.store, number="1001", name="Alice", card="0004318030")
    outcomes: queue.Queue = queue.Queue()
    terminal.on_outcome(outcomes.put)
    terminal.start()
    terminal.hardware.card_reader.present("0004318030")
    outcome = outcomes.get(timeout=10)
    assert outcome.status == "punched" and outcome.employee["number"] == "1001"
    assert terminal.healthy()
    assert terminal.store.query_one("SELECT method FROM punches")["method"] == "card"


def test_open_door_request_is_carried_out_once(terminal):
    outputs = terminal.hardware.outputs
    terminal.store.set_setting("door.open_request", {"id": "cmd-1", "requested_at": "2026-03-02T01:00:00Z", "seconds": 0.2})
    assert terminal.carry_out_door_request() is True
    assert outputs.door_open
    assert terminal.carry_out_door_request() is False
    entry = terminal.store.query_one("SELECT actor, details FROM audit_log WHERE action = 'door.open'")
    assert entry["actor"] == "central" and "cmd-1" in entry["details"]


def test_housekeeping_publishes_hardware_health(terminal):
    terminal.start()
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not terminal.store.get_setting("hardware.status"):
        time.sleep(0.05)
    health = terminal.store.get_setting("hardware.status")
    assert health["card_reader"] == "ok" or health["card_reader"].startswith("ok")
    assert health["fingerprint"] == "disabled"


def test_missing_real_devices_are_logged_and_recorded_never_simulated(sim_config, caplog):
    sim_config.hardware.profile = "pi"
    sim_config.hardware.clock.driver = "sim"
    sim_config.hardware.fingerprint.enabled = False
    with Terminal.open(sim_config) as terminal:
        problems = terminal.hardware.problems
        assert "outputs" in problems and terminal.hardware.outputs is None
        kinds = {r["payload"] for r in terminal.store.query("SELECT payload FROM events WHERE kind = 'hardware_missing'")}
        assert any('"device": "outputs"' in k for k in kinds)
    assert any("outputs is missing" in r.getMessage() for r in caplog.records)


def test_the_terminal_tells_systemd_it_is_ready_and_feeds_the_watchdog_while_healthy(terminal, tmp_path, monkeypatch):
    import os
    import socket
    import threading

    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:  # the manager's end of NOTIFY_SOCKET
        systemd.bind(address)
        systemd.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        monkeypatch.setenv("WATCHDOG_USEC", "200000")  # WatchdogSec=0.2 s: pinged every 0.1 s
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
        terminal.start()
        assert systemd.recv(256) == b"READY=1"
        stop = threading.Event()
        server = threading.Thread(target=terminal.serve, args=(stop,))
        server.start()
        try:
            assert [systemd.recv(256) for _ in range(3)] == [b"WATCHDOG=1"] * 3
            # a worker that died: the watchdog is withheld, so systemd restarts the terminal
            card_worker = next(w for w in terminal.workers if w.name == "card-reader")
            card_worker.stop()
            while True:  # pings already on their way
                systemd.settimeout(0.5)
                try:
                    systemd.recv(256)
                except TimeoutError:
                    break
            assert not terminal.healthy()
        finally:
            stop.set()
            server.join(5)


def test_a_door_with_every_device_runs_a_worker_for_each_input_and_housekeeping(sim_config):
    """Headless or under the kiosk, the same terminal: face recognition on and a camera present means a camera thread."""
    with Terminal.open(sim_config) as terminal:
        assert sim_config.face.enabled and terminal.hardware.camera is not None
        assert [w.name for w in terminal.workers] == ["face", "card-reader", "fingerprint", "housekeeping"]
        assert terminal.worker("face") is terminal.face_worker and terminal.face_worker.camera is terminal.hardware.camera
        assert terminal.worker("fingerprint") is terminal.fingerprint_worker
        assert terminal.worker("no-such-worker") is None
        terminal.start()
        assert terminal.healthy()


def test_face_recognition_off_or_no_camera_means_no_camera_thread(sim_config):
    sim_config.face.enabled = False
    with Terminal.open(sim_config) as terminal:
        assert terminal.worker("face") is None and terminal.face_worker is None
    sim_config.face.enabled = True
    sim_config.hardware.camera.enabled = False
    with Terminal.open(sim_config) as terminal:
        assert terminal.worker("face") is None
        assert [w.name for w in terminal.workers] == ["card-reader", "fingerprint", "housekeeping"]


@pytest.fixture
def face_models_missing(tmp_path, monkeypatch):
    """The face model package installed without its model files (a broken installation)."""
    import face_recognition_models

    from terminal.vision import models

    package = tmp_path / "face_recognition_models"
    (package / "models").mkdir(parents=True)
    monkeypatch.setattr(face_recognition_models, "__file__", str(package / "__init__.py"))
    models._load.cache_clear()  # forget models loaded by earlier tests: look for the files again
    yield
    models._load.cache_clear()


def test_a_face_pipeline_that_cannot_start_leaves_cards_fingers_and_pins_working(sim_config, face_models_missing, caplog):
    from terminal.vision.models import ModelError

    with Terminal.open(sim_config) as terminal:
        assert terminal.hardware.camera is not None
        assert terminal.face_worker is None
        assert [w.name for w in terminal.workers] == ["card-reader", "fingerprint", "housekeeping"]
        assert terminal.store.query_one("SELECT severity FROM events WHERE kind = 'face_unavailable'")["severity"] == "error"
        [logged] = [r for r in caplog.records if "face recognition could not start" in r.getMessage()]
        assert isinstance(logged.exc_info[1], ModelError) and "shape_predictor_5_face_landmarks.dat" in str(logged.exc_info[1])
        add_employee(terminal.store, number="1001", name="Alice", card="0004318030")
        add_employee(terminal.store, number="1002", name="Bob", pin="2580")
        outcomes: queue.Queue = queue.Queue()
        terminal.on_outcome(outcomes.put)
        terminal.start()
        assert terminal.healthy()
        terminal.hardware.card_reader.present("0004318030")
        assert outcomes.get(timeout=10).status == "punched"
        assert terminal.auth.pin("1002", "2580").status == "punched"
        methods = [r["method"] for r in terminal.store.query("SELECT method FROM punches ORDER BY id")]
        assert methods == ["card", "pin"]
