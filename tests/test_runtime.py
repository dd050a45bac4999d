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
