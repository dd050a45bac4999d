"""``seed-central run`` as systemd runs it (systemd/central/seed-central-receiver.service): it says when it is ready,
feeds the watchdog only while the receiver turns, keeps its status saying whether the broker is reached, and stops
cleanly. The notifications go to a real datagram socket, as systemd's NOTIFY_SOCKET is."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sync_support import central_settings, start_central, wait_for

REPO = Path(__file__).resolve().parents[2]


class NotifySocket:
    """What systemd's end of NOTIFY_SOCKET receives: every datagram, in order."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "notify"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.2)
        self.received: list[str] = []

    def wait_for(self, match: Callable[[str], bool], timeout: float = 30.0, what: str = "") -> str:
        """The first message from now on (or already received and not yet matched) that ``match`` accepts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            self.received.append(message)
            if match(message):
                return message
        raise AssertionError(f"no notification {what} in {timeout} s; received: {self.received[-5:]}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    listener = NotifySocket(tmp_path)
    yield listener
    listener.close()


def test_ready_then_fed_while_it_turns_with_the_broker_in_its_status_and_a_clean_stop(
        site, broker_up, central_db_target, notify_socket, tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(NOTIFY_SOCKET=str(notify_socket.path), WATCHDOG_USEC="1000000")  # WatchdogSec=1: fed every 0.5 s
    with open(tmp_path / "receiver.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "central.cli", "--db", central_db_target, "--pki", str(site["pki"].root), "run",
             "--broker-host", "127.0.0.1", "--broker-port", str(broker_up.port)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    try:
        assert notify_socket.wait_for(lambda m: "READY=1" in m, what="READY=1").startswith("READY=1")
        notify_socket.wait_for(lambda m: "WATCHDOG=1" in m and "已连接代理 connected to the broker" in m,
                               what="fed, and connected")
        broker_up.stop()
        # a broker out of reach is retried, not a reason to restart the receiver: still fed, and said
        gone = notify_socket.wait_for(lambda m: "out of reach" in m, what="the broker out of reach")
        assert "WATCHDOG=1" in gone and f"127.0.0.1:{broker_up.port}" in gone and "代理不可达" in gone
        broker_up.start()
        notify_socket.wait_for(lambda m: "WATCHDOG=1" in m and "connected to the broker" in m, what="back")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, (tmp_path / "receiver.log").read_text()
        notify_socket.wait_for(lambda m: m == "STOPPING=1", timeout=5, what="STOPPING=1")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    log_text = (tmp_path / "receiver.log").read_text()
    assert "Traceback" not in log_text and "the watchdog is no longer fed" not in log_text


def test_a_stuck_receiver_or_an_ended_loop_is_not_fed_and_an_ended_receiver_exits_1(
        site, broker_up, transactional_db, notify_socket, monkeypatch):
    from central.cli import EXIT_FAILURE, _serve_systemd

    service = start_central(central_settings(site, broker_up, attendance_interval_s=60.0))
    try:
        assert service.health() == []
        # a database that never answers, as the receiver meets it: its loop does not turn
        entered, release = threading.Event(), threading.Event()
        real_handle = service.ingest.handle

        def hung(topic: str, payload: bytes):
            entered.set()
            release.wait(30)
            return real_handle(topic, payload)

        monkeypatch.setattr(service.ingest, "handle", hung)
        service.stall_s = 0.5
        service._queue.put(("message", "seed/site/door-x/events", b"{}"))  # as paho hands a message over
        assert entered.wait(10)
        wait_for(lambda: any("stuck" in p for p in service.health()), 10, what="the stuck receiver seen")
        release.set()
        wait_for(lambda: service.health() == [], 10, what="the receiver turning again")
        assert service.attendance is not None
        service.attendance.stop()
        assert service.health() == [f"后台线程已结束 {service.attendance.name} has ended"]
    finally:
        service.stop()
    # the receiver's own thread has ended (stopped here): nothing can bring it back but a restart
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_socket.path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    assert _serve_systemd(service, threading.Event()) == EXIT_FAILURE
    assert "READY=1" in notify_socket.wait_for(lambda m: "READY=1" in m, timeout=5)
    ended = notify_socket.wait_for(lambda m: "receiver's thread has ended" in m, timeout=5, what="the reason")
    assert "WATCHDOG=1" not in ended
    notify_socket.wait_for(lambda m: m == "STOPPING=1", timeout=5, what="STOPPING=1")
    assert not any("WATCHDOG=1" in m for m in notify_socket.received)
