"""Helpers of the sync tests (imported by conftest.py and the test modules): real mosquitto, terminals, agents."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from central.broker import write_broker_config
from central.console.screenshots import wait_for as console_wait_for
from central.demo_stack import free_port
from central.pki import SitePki

SITE = "test"
DEVICES = ("door-a", "door-b")
REPO = Path(__file__).resolve().parents[2]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    """The console tools' wait, with the longer default the sync tests need (a broker restart, a resend)."""
    return console_wait_for(predicate, timeout, interval, what)


class Broker:
    """A real mosquitto with the configuration ``seed-central broker-config`` writes."""

    def __init__(self, pki: SitePki, folder: Path):
        if shutil.which("mosquitto") is None:
            pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
        self.pki = pki
        self.folder = folder
        self.port = free_port()
        self.files = write_broker_config(pki, folder, port=self.port, bind="127.0.0.1",
                                         run_as_user="root" if os.geteuid() == 0 else None)
        self.proc: subprocess.Popen | None = None
        self.log = folder / "mosquitto.log"

    def start(self) -> Broker:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(["mosquitto", "-c", str(self.files.config)], stdout=log, stderr=log)
        wait_for(self._listening, 10, what=f"mosquitto on port {self.port}")
        return self

    def _listening(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"mosquitto exited: {self.log.read_text(errors='replace')[-2000:]}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def log_mark(self) -> int:
        """Where the broker's log ends now: :meth:`log_since` reads only what it writes from here on."""
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, mark: int) -> str:
        with open(self.log, "rb") as log:
            log.seek(mark)
            return log.read().decode(errors="replace")

    def kill(self) -> None:
        """kill -9: no clean disconnect, in-flight messages lost."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def reload(self) -> None:
        """Re-read the ACL (after provisioning) like ``systemctl reload``."""
        write_broker_config(self.pki, self.folder, port=self.port, bind="127.0.0.1",
                            run_as_user="root" if os.geteuid() == 0 else None)
        if self.proc:
            self.proc.send_signal(signal.SIGHUP)
            time.sleep(0.3)  # mosquitto acknowledges a SIGHUP nowhere a test can see (no test uses this at present)


def central_settings(site: dict, broker: Broker, **kwargs):
    """The receiver's settings; its database is the test database Django was started on."""
    from central.ingest.service import CentralSettings

    return CentralSettings.from_pki(site["pki"].root, broker_host="127.0.0.1", broker_port=broker.port, **kwargs)


def start_central(settings, after_commit=None):
    """seed-central's receiver, returned once it is connected and the broker acknowledged each of its subscriptions.

    A punch published before a receiver's SUBACK would find nobody subscribed; the SUBACKs are what say it is listening.
    """
    from central.ingest.service import CentralService

    service = CentralService(settings, after_commit=after_commit)
    service.start()
    try:
        assert service.wait_connected(10), "central did not connect"
        assert service.wait_subscribed(10), "the broker never acknowledged the central's subscriptions"
    except BaseException:
        service.stop()
        raise
    return service


def device_config(site: dict, broker: Broker, device: str, data_dir: Path, **sync):
    from terminal.config import parse_config

    bundle = site["bundles"][device].folder
    return parse_config({
        "device": {"id": device, "site": SITE, "language": "en", "timezone": "UTC"},
        "storage": {"data_dir": str(data_dir), "min_free_mb": 1},
        "hardware": {"profile": "sim", "clock": {"ntp_servers": []}},
        "punch": {"debounce_s": 0},
        "sync": {"broker_host": "127.0.0.1", "broker_port": broker.port, "ca_file": str(bundle / "ca.crt"),
                 "cert_file": str(bundle / "device.crt"), "key_file": str(bundle / "device.key"),
                 "command_public_key": str(bundle / "command-signing.pub"), "ack_timeout_s": 2.0,
                 "retry_max_s": 4.0, "heartbeat_s": 5.0, "keepalive_s": 5, **sync},
    })


def write_config_file(config, path: Path) -> Path:
    """The configuration as TOML, for running ``seed-sync`` as a process."""
    lines = []
    for section in ("device", "storage", "punch", "sync"):
        lines.append(f"[{section}]")
        for key, value in getattr(config, section).model_dump(exclude_none=True).items():
            lines.append(f"{key} = {_toml(value)}")
    lines += ["[hardware]", 'profile = "sim"', "[hardware.clock]"]
    for key, value in config.hardware.clock.model_dump(exclude_none=True).items():
        lines.append(f"{key} = {_toml(value)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class Terminal:
    """A simulated terminal: its config, encrypted store, employees and the real punch path."""

    def __init__(self, config, employees: int = 5):
        from terminal.hardware.clock import SimClock
        from terminal.punch import PunchService
        from terminal.store.database import open_store
        from terminal.store.employees import add_employee

        self.config = config
        self.store = open_store(config.storage)
        self.clock = SimClock(datetime(2026, 3, 2, 0, 30, tzinfo=timezone.utc))
        self.punches = PunchService(self.store, config, self.clock)
        self.employees = [add_employee(self.store, number=f"E{i:03d}", name=f"Employee {i}") for i in range(employees)]
        self.ids: list[str] = []

    def punch(self, n: int = 1, method: str = "card") -> list[str]:
        from terminal.punch import Identity

        made = []
        for i in range(n):
            employee = self.employees[(len(self.ids) + i) % len(self.employees)]
            self.clock.advance(1)
            result = self.punches.punch(Identity(employee["id"], method))
            assert result.accepted, result.reason
            assert result.punch is not None
            made.append(result.punch["id"])
        self.ids += made
        return made

    def bulk_punch(self, n: int) -> list[str]:
        """Many punches in one transaction through the punch path's own writer (fast set-up)."""
        from terminal.punch import Identity

        made = []
        with self.store.transaction() as conn:
            for i in range(n):
                employee = self.employees[i % len(self.employees)]
                self.clock.advance(1)
                row = self.punches._write(conn, employee, Identity(employee["id"], "card"), self.clock.now(),
                                          "in" if i % 2 == 0 else "out")
                made.append(row["id"])
        self.ids += made
        return made

    def outbox_depth(self) -> int:
        return int(self.store.scalar("SELECT count(*) FROM outbox"))

    def close(self) -> None:
        self.store.close()


class AgentThread:
    """seed-sync's agent running in a thread of this process (its own store connection)."""

    def __init__(self, config, clock=None, ntp: bool = False):
        from sync_agent.agent import SyncAgent
        from terminal.store.database import open_store

        self.store = open_store(config.storage)
        self.agent = SyncAgent(config, self.store, clock, ntp=ntp)
        self.result: object = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.result = self.agent.run()
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def start(self) -> AgentThread:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.agent.stop()
        self.thread.join(15)
        self.store.close()
        if self.error:
            raise self.error


def central_ids(device: str | None = None) -> list[str]:
    """Punch ids stored centrally, read in this thread's own connection to the test database."""
    from central.ingest.selectors import punch_ids

    return punch_ids(device)


def assert_exactly_once(terminal: Terminal, device: str = "door-a") -> None:
    """Every punch the terminal recorded is centrally stored exactly once, and its outbox is empty."""
    ids = central_ids(device)
    assert len(ids) == len(set(ids))  # primary key, but say it
    local = [r["id"] for r in terminal.store.query("SELECT id FROM punches")]
    assert sorted(ids) == sorted(local), (len(ids), len(local))
    assert terminal.outbox_depth() == 0


def run_seed_sync(config_file: Path, *args: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "sync_agent.cli", "--config", str(config_file), "-v", *args],
                                stdout=out, stderr=out, env=env, cwd=REPO)


def publish_as_central(site: dict, broker, topic: str, payload: bytes, client_id: str = "old-central") -> None:
    """One message published (QoS 1, PUBACK awaited) with the central's certificate, then disconnect.

    For what an older central or a hand-made message would send beside the running receiver.
    """
    sender = raw_client(site, broker, "central", client_id=client_id)
    connected = sender.connect()
    assert connected is not None and not isinstance(connected, Exception) and not connected.is_failure, connected
    try:
        sender.publish(topic, payload)
    finally:
        sender.close()


class Chrony:
    """A real chronyd serving NTP on loopback, its clock skewed by faketime; it never sets the system clock."""

    def __init__(self, folder: Path, skew_s: float = 0.0):
        for tool in ("chronyd", "faketime"):
            if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
                pytest.skip(f"{tool} is not installed (apt-get install chrony faketime)")
        self.folder = folder
        self.port = free_udp_port()
        self.skew_s = skew_s
        self.conf = folder / "chrony.conf"
        self.conf.write_text("\n".join([
            f"port {self.port}", "bindaddress 127.0.0.1", "local stratum 8", "allow 127.0.0.1", "cmdport 0",
            f"pidfile {folder / 'chronyd.pid'}", f"driftfile {folder / 'drift'}", ""]), encoding="utf-8")
        self.proc: subprocess.Popen | None = None

    def start(self) -> Chrony:
        chronyd = shutil.which("chronyd") or "/usr/sbin/chronyd"
        args = [chronyd, "-x", "-d", "-f", str(self.conf)]
        if os.geteuid() == 0:
            args += ["-u", "root"]
        sign = "+" if self.skew_s >= 0 else "-"
        log = open(self.folder / "chronyd.log", "ab")
        # faketime runs chronyd as its child: a session of their own lets stop() end both
        self.proc = subprocess.Popen(["faketime", "-f", f"{sign}{abs(self.skew_s)}s", *args], stdout=log, stderr=log,
                                     start_new_session=True)
        log.close()
        wait_for(self._answers, 10, what="chronyd to answer")
        return self

    def _answers(self) -> bool:
        import ntplib

        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError((self.folder / "chronyd.log").read_text(errors="replace")[-2000:])
        try:
            ntplib.NTPClient().request("127.0.0.1", version=4, port=self.port, timeout=0.3)
            return True
        except Exception:
            return False

    def stop(self) -> None:
        """Stop faketime and the chronyd it started (the whole process group), leaving nothing behind."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the group is gone once no member answers a signal 0
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


class RawClient:
    """A bare paho client with a given certificate, recording what happens (for ACL and hostile tests)."""

    def __init__(self, port: int, ca: Path, cert: Path, key: Path, client_id: str):
        import queue

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.connects: queue.Queue = queue.Queue()
        self.pubacks: dict[int, object] = {}
        self.messages: list[tuple[str, bytes]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))
        self.client.on_connect = lambda c, u, f, rc, props: self.connects.put(rc)
        self.client.on_publish = lambda c, u, mid, rc, props: self.pubacks.__setitem__(mid, rc)
        self.client.on_message = lambda c, u, msg: self.messages.append((msg.topic, bytes(msg.payload)))
        self.subacks: dict[int, list] = {}
        self.client.on_subscribe = lambda c, u, mid, codes, props: self.subacks.__setitem__(mid, codes)
        self.port = port

    def connect(self, timeout: float = 5.0):
        """The CONNACK reason code, or the TLS/socket error that prevented it."""
        try:
            self.client.connect("127.0.0.1", self.port, keepalive=10, clean_start=True)
        except Exception as exc:  # a refused certificate fails the TLS handshake
            return exc
        self.client.loop_start()
        try:
            return self.connects.get(timeout=timeout)
        except Exception:
            return None

    def subscribe(self, topics: list[str], timeout: float = 5.0) -> list:
        """Subscribe at QoS 1 and return the broker's reason codes, once its SUBACK is in."""
        rc, mid = self.client.subscribe([(topic, 1) for topic in topics])
        assert rc == 0 and mid is not None, rc  # sent: connected
        return wait_for(lambda: self.subacks.get(mid), timeout, interval=0.01, what=f"SUBACK for {topics}")

    def publish(self, topic: str, payload: bytes, timeout: float = 5.0):
        """Publish at QoS 1 and return the PUBACK reason code."""
        info = self.client.publish(topic, payload, qos=1)
        wait_for(lambda: info.mid in self.pubacks, timeout, interval=0.01, what=f"PUBACK on {topic}")
        return self.pubacks[info.mid]

    def publish_nowait(self, topic: str, payload: bytes) -> int:
        """Publish without waiting; the paho return code (non-zero when not connected)."""
        return self.client.publish(topic, payload, qos=1).rc

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def raw_client(site: dict, broker, who: str, client_id: str | None = None) -> RawClient:
    pki = site["pki"]
    if who == "central":
        cert, key = pki.root / "central.crt", pki.root / "central.key"
    else:
        folder = site["bundles"][who].folder
        cert, key = folder / "device.crt", folder / "device.key"
    return RawClient(broker.port, pki.ca_cert, cert, key, client_id or f"{who}-raw-{os.getpid()}-{time.monotonic_ns()}")
