"""Punches reach the central exactly once through a real mosquitto with TLS, whatever fails on the way."""
from __future__ import annotations

import os
import signal
import threading

from sync_support import (
    Terminal,
    assert_exactly_once,
    central_ids,
    central_settings,
    device_config,
    run_seed_sync,
    start_central,
    wait_for,
    write_config_file,
)

from central.ingest.models import Event
from central.people.models import Device
from sync_agent.status import read_status


def test_punches_arrive_once_and_the_status_line_is_written(terminal_a, central, agent_factory):
    terminal_a.punch(25)
    terminal_a.store.record_event("tailgating", {"faces": 2}, severity="warning")
    agent = agent_factory(terminal_a.config)
    wait_for(lambda: terminal_a.outbox_depth() == 0, what="outbox to drain")
    assert_exactly_once(terminal_a)
    # events travel the same way and are acknowledged too
    kinds = list(Event.objects.filter(device_id="door-a").values_list("kind", flat=True))
    assert "tailgating" in kinds
    # the kiosk's status line
    status = wait_for(lambda: (s := read_status(terminal_a.store)) and s["last_ack_at"] and s["queue_depth"] == 0 and s,
                      what="status line")
    assert status["connected"] is True and status["stale"] is False
    # the central knows the device from its retained status
    device = wait_for(lambda: Device.objects.filter(device_id="door-a").first(), what="device row")
    assert device.online is True and device.status["device"] == "door-a"
    # a punch made while online is delivered promptly too
    later = terminal_a.punch(1)[0]
    wait_for(lambda: later in central_ids(), what="online punch")
    agent.stop()
    # a clean stop publishes the retained offline status
    wait_for(lambda: Device.objects.get(device_id="door-a").online is False, what="offline status")


def test_broker_killed_mid_stream_and_restarted(site, terminal_a, broker_up, transactional_db, agent_factory):
    """The broker dies with batches in flight: at a known point, one batch stored and the rest still on their way."""
    held, release = threading.Event(), threading.Event()

    def hold_after_the_first_batch(kind: str, batch: object) -> None:
        if kind == "punches" and not release.is_set():  # committed, not yet acknowledged
            held.set()
            release.wait(60)

    central = start_central(central_settings(site, broker_up), after_commit=hold_after_the_first_batch)
    try:
        terminal_a.bulk_punch(6000)
        agent = agent_factory(terminal_a.config)
        assert held.wait(60), "no batch reached the central"
        stored = len(central_ids())
        assert 0 < stored < 6000  # killed mid-stream: the receiver holds after its first batch
        broker_up.kill()
        release.set()
        wait_for(lambda: not agent.agent.connected, what="the agent to notice the broker is gone")
        terminal_a.punch(5)  # the door keeps working while the broker is gone
        assert terminal_a.outbox_depth() > 5  # what was in flight waits for its acknowledgement
        broker_up.start()
        wait_for(lambda: terminal_a.outbox_depth() == 0, timeout=90, what="outbox to drain after the restart")
        assert_exactly_once(terminal_a)
    finally:
        release.set()
        central.stop()


def test_partition_while_punches_accumulate(terminal_a, central, broker_up, agent_factory):
    """A long partition is simulated by a stopped broker: punches accumulate, nothing is lost.

    The wall time of the outage does not matter to the agent (it only retries with backoff,
    capped at sync.retry_max_s); what matters is the backlog, so the test builds one.
    """
    agent = agent_factory(terminal_a.config)
    wait_for(lambda: agent.agent.connected, what="agent connected")
    broker_up.stop()
    wait_for(lambda: not agent.agent.connected, what="agent to notice the outage")
    terminal_a.punch(10)
    terminal_a.bulk_punch(1500)
    # the kiosk's status line says so too (the agent writes it on its own schedule)
    wait_for(lambda: read_status(agent.store)["connected"] is False, what="the status line to show the outage")
    assert terminal_a.outbox_depth() == 1510
    broker_up.start()
    wait_for(lambda: terminal_a.outbox_depth() == 0, timeout=60, what="backlog drained")
    assert_exactly_once(terminal_a)


def test_agent_killed_mid_batch_resends_and_nothing_is_doubled(site, broker_up, central, tmp_path):
    config = device_config(site, broker_up, "door-a", tmp_path / "door-a")
    terminal = Terminal(config)
    try:
        terminal.bulk_punch(6000)
        config_file = write_config_file(config, tmp_path / "terminal.toml")
        log = tmp_path / "seed-sync.log"
        proc = run_seed_sync(config_file, "--no-ntp", log=log)
        # kill -9 as soon as some (not all) batches were acknowledged: claims are left in the database
        wait_for(lambda: len(central_ids()) >= 500, timeout=30, what="first acknowledged batches")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        left = terminal.outbox_depth()
        assert left > 0, left  # (acks of the stored batches may or may not have been applied yet)
        claimed = terminal.store.query_one("SELECT count(*) AS n FROM outbox WHERE batch_id IS NOT NULL")["n"]
        assert claimed > 0  # it died with batches in flight
        proc = run_seed_sync(config_file, "--no-ntp", "--until-empty", "--timeout", "60", log=log)
        assert proc.wait(90) == 0, log.read_text()[-3000:]
        assert_exactly_once(terminal)
    finally:
        terminal.close()


def test_central_killed_between_commit_and_ack(site, broker_up, terminal_a, tmp_path, agent_factory, central_db_target):
    """The receiver dies right after committing a batch, before acking it: the batch comes again, stored once."""
    import subprocess
    import sys

    database = central_db_target
    script = tmp_path / "central_dies.py"
    script.write_text(
        "import os, sys, time\n"
        "def die(kind, batch):\n"
        "    if kind == 'punches':\n"
        "        os._exit(137)\n"
        "from central.django_setup import setup\n"
        f"setup({database!r})\n"
        "from central.ingest.service import CentralService, CentralSettings\n"
        f"s = CentralSettings.from_pki({str(site['pki'].root)!r},"
        f" broker_host='127.0.0.1', broker_port={broker_up.port})\n"
        "CentralService(s, after_commit=die).start()\n"
        "time.sleep(60)\n", encoding="utf-8")
    terminal_a.punch(20)
    dying = subprocess.Popen([sys.executable, str(script)], cwd=str(tmp_path.parent),
                             env={**os.environ, "PYTHONPATH": str(os.getcwd())})
    try:
        agent_factory(terminal_a.config)
        assert dying.wait(30) == 137
    finally:
        if dying.poll() is None:
            dying.kill()
    committed = len(central_ids())
    assert committed > 0  # committed, never acknowledged
    assert terminal_a.outbox_depth() == 20
    from central.ingest.service import CentralService

    with CentralService(central_settings(site, broker_up)):
        wait_for(lambda: terminal_a.outbox_depth() == 0, timeout=30, what="resend after the ack timeout")
        assert_exactly_once(terminal_a)


def test_a_database_locked_for_long_only_delays_the_agent(site, broker_up, central, tmp_path, agent_factory, caplog):
    config = device_config(site, broker_up, "door-a", tmp_path / "door-a")
    config.storage.busy_timeout_ms = 100
    terminal = Terminal(config)
    try:
        agent = agent_factory(config)
        wait_for(lambda: agent.agent.connected, what="agent connected")
        with terminal.store.transaction():  # the other process holds the write lock until the agent ran into it
            wait_for(lambda: "database is locked" in caplog.text, timeout=60, what="the agent to meet the lock")
        terminal.punch(5)
        wait_for(lambda: terminal.outbox_depth() == 0, what="outbox drained after the lock")
        assert agent.thread.is_alive()
        assert "database is locked" in caplog.text  # it did run into the lock, and went on
        assert_exactly_once(terminal)
    finally:
        terminal.close()


def test_two_receivers_share_the_load_and_store_each_punch_once(site, broker_up, terminal_a, transactional_db,
                                                                agent_factory):
    """Several `seed-central run` share the terminals' traffic through a shared subscription."""
    first = start_central(central_settings(site, broker_up, client_id="central-one"))
    second = start_central(central_settings(site, broker_up, client_id="central-two"))  # both have their SUBACKs
    try:
        terminal_a.bulk_punch(3000)
        agent_factory(terminal_a.config)
        wait_for(lambda: terminal_a.outbox_depth() == 0, timeout=60, what="outbox drained by two receivers")
        assert_exactly_once(terminal_a)
        assert first.ingest.counters["punches"] > 0 and second.ingest.counters["punches"] > 0
        assert first.ingest.counters["punches"] + second.ingest.counters["punches"] >= 3000
    finally:
        first.stop()
        second.stop()
