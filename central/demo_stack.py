"""A whole central side on one machine, for ``make demo`` and the benchmarks.

``local_stack()`` creates a site PKI, provisions one terminal, writes the broker
configuration, starts the real ``mosquitto`` (TLS, per-device ACL, a free port on
127.0.0.1) and ``seed-central`` (in this process, SQLite), and yields a :class:`Stack`
whose ``sync_settings`` are the ``[sync]`` section for the terminal::

    from central.demo_stack import local_stack, drain_outbox

    with local_stack(Path("demo-data/central"), device_id="demo-door-01", site="demo") as stack:
        config.sync = config.sync.model_copy(update=stack.sync_settings)   # or write them to the TOML
        ... the terminal punches ...
        drain_outbox(config)                    # seed-sync until the outbox is empty and acknowledged
        stack.punches()                         # what arrived centrally
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from central.broker import write_broker_config
from central.django_setup import migrate, setup
from central.pki import SitePki
from central.provision import Bundle, provision_device, sync_settings

if TYPE_CHECKING:
    from central.ingest.service import CentralService

log = logging.getLogger(__name__)


class StackError(RuntimeError):
    """The local broker or receiver could not be started; the message says why."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_mosquitto(config: Path, port: int, log_file: Path, timeout_s: float = 10.0) -> subprocess.Popen:
    """Start mosquitto with ``config`` and wait until it listens on ``port``."""
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        raise StackError("mosquitto is not installed (apt-get install mosquitto)")
    with open(log_file, "ab") as out:
        # a session of its own: Ctrl-C in the demo reaches the demo, which stops the broker after the receiver
        proc = subprocess.Popen([binary, "-c", str(config)], stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"mosquitto exited: {log_file.read_text(errors='replace')[-1000:]}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    proc.kill()
    raise StackError(f"mosquitto did not listen on port {port} within {timeout_s} s")


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """SIGTERM, a bounded wait, then SIGKILL: a child never outlives the demo or a test."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass
class Stack:
    folder: Path
    site: str
    device_id: str
    pki: SitePki
    broker_port: int
    broker: subprocess.Popen
    central: CentralService
    bundle: Path

    @property
    def sync_settings(self) -> dict[str, Any]:
        """The terminal's ``[sync]`` settings (TLS files in the bundle folder)."""
        return sync_settings(self.bundle, "127.0.0.1", self.broker_port)

    def punches(self, device: str | None = None) -> list[dict]:
        from central.ingest import selectors

        return selectors.punches(device=device)

    def devices(self) -> list[dict]:
        from central.ingest import selectors

        return selectors.devices()

    def events(self) -> list[dict]:
        from central.ingest import selectors

        return selectors.events()


@dataclass
class SiteBroker:
    """A site's PKI, one provisioned terminal's bundle and the running mosquitto for them."""

    pki: SitePki
    bundle: Bundle
    port: int
    broker: subprocess.Popen

    @property
    def sync_settings(self) -> dict[str, Any]:
        """The terminal's ``[sync]`` settings (TLS files in the bundle folder)."""
        return sync_settings(self.bundle.folder, "127.0.0.1", self.port)


@contextlib.contextmanager
def site_broker(folder: Path, *, device_id: str, site: str) -> Iterator[SiteBroker]:
    """A new site PKI, one provisioned terminal and mosquitto (TLS, per-device ACL) on a free loopback port.

    The broker is stopped on exit.
    """
    folder.mkdir(parents=True, exist_ok=True)
    pki = SitePki(folder / "pki", site)
    bundle = provision_device(pki, device_id, folder / "bundles", site=site, broker_host="127.0.0.1",
                              install_dir=folder / "bundles" / device_id)
    port = free_port()
    files = write_broker_config(pki, folder / "broker", port=port, bind="127.0.0.1",
                                run_as_user="root" if os.geteuid() == 0 else None)
    broker = start_mosquitto(files.config, port, folder / "broker" / "mosquitto.log")
    try:
        yield SiteBroker(pki, bundle, port, broker)
    finally:
        stop_process(broker)


@contextlib.contextmanager
def local_stack(folder: Path | str, *, device_id: str = "demo-door-01", site: str = "demo",
                database: str | None = None) -> Iterator[Stack]:
    """mosquitto + seed-central + one provisioned terminal; everything stopped on exit."""
    folder = Path(folder)
    with site_broker(folder, device_id=device_id, site=site) as parts:
        setup(database or folder / "central.db")  # a process that already started Django keeps its database
        migrate()
        from central.ingest.service import CentralService, CentralSettings

        settings = CentralSettings.from_pki(parts.pki.root, broker_host="127.0.0.1", broker_port=parts.port)
        central = CentralService(settings).start()
        try:
            if not central.wait_connected(10):
                raise StackError("seed-central could not connect to the local broker")
            yield Stack(folder, site, device_id, parts.pki, parts.port, parts.broker, central, parts.bundle.folder)
        finally:
            central.stop()


def drain_outbox(config: Any, *, timeout_s: float = 60.0, ntp: bool = False) -> Any:
    """Run the sync agent on ``config`` until the outbox is empty and acknowledged (or the timeout).

    Returns the agent's :class:`~sync_agent.agent.RunResult` (``queue_depth`` is what is left).
    """
    from sync_agent.agent import SyncAgent
    from terminal.hardware.clock import open_clock
    from terminal.store.database import open_store

    with open_store(config.storage) as store:
        agent = SyncAgent(config, store, open_clock(config.hardware.driver_for("clock")), ntp=ntp)
        return agent.run(until_empty=True, timeout_s=timeout_s)
