"""Trusted time against a real chrony on loopback, skewed with faketime."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import pairwise

import pytest
from sync_support import Chrony, Terminal, assert_exactly_once, device_config, wait_for

from central.ingest.models import Event, Punch
from sync_agent.status import clock_trusted, read_status
from terminal.hardware.clock import SimClock, parse_utc

SKEW_S = 3600.0  # the NTP server's (true) time is one hour ahead of this machine's clock


@pytest.fixture(scope="module")
def chrony_ahead(tmp_path_factory):
    server = Chrony(tmp_path_factory.mktemp("chrony"), skew_s=SKEW_S).start()
    yield server
    server.stop()


def ntp_config(site, broker, tmp_path, port: int, device: str = "door-a"):
    config = device_config(site, broker, device, tmp_path / device)
    config.hardware.clock.ntp_servers = ["127.0.0.1"]
    config.hardware.clock.ntp_port = port
    config.hardware.clock.max_offset_s = 2.0
    config.hardware.clock.check_interval_s = 5
    return config


def events_of(store, kind: str) -> list[dict]:
    return store.query("SELECT kind, payload FROM events WHERE kind = ?", (kind,))


def test_offset_is_reported_and_an_offset_beyond_bound_is_an_event(site, broker_up, central, chrony_ahead,
                                                                   tmp_path, agent_factory):
    terminal = Terminal(ntp_config(site, broker_up, tmp_path, chrony_ahead.port))
    try:
        agent = agent_factory(terminal.config, ntp=True)  # the real system clock
        status = wait_for(lambda: (s := read_status(terminal.store))["last_ntp_at"] and s, what="an NTP check")
        assert status["clock_offset_s"] == pytest.approx(SKEW_S, abs=0.5)
        assert status["ntp_server"] == "127.0.0.1"
        assert status["time_source"] == "unsynced"  # measured, but far beyond the bound
        assert abs((parse_utc(status["last_ntp_at"]) - datetime.now(timezone.utc)).total_seconds() - SKEW_S) < 5
        assert not clock_trusted(terminal.store)
        [event] = events_of(terminal.store, "clock_offset")
        assert '"bound_s": 2.0' in event["payload"]
        # the event reaches the central like any other
        wait_for(lambda: Event.objects.filter(kind="clock_offset").exists(), what="clock_offset event centrally")
        agent.stop()
    finally:
        terminal.close()


def test_unsynced_punches_are_restamped_from_monotonic_time(site, broker_up, central, chrony_ahead, tmp_path,
                                                            agent_factory):
    # After a power cut without network, the clock starts where fake-hwclock left it (days behind).
    clock = SimClock(datetime(2026, 2, 20, 6, 0, tzinfo=timezone.utc), source="unsynced")
    terminal = Terminal(ntp_config(site, broker_up, tmp_path, chrony_ahead.port))
    terminal.clock = terminal.punches.clock = clock
    try:
        old_boot = terminal.punch(1)  # a punch of an earlier boot cannot be placed in time
        clock.reboot(wall=datetime(2026, 2, 21, 6, 0, tzinfo=timezone.utc), source="unsynced")
        made = []
        for _ in range(3):
            made += terminal.punch(1)
            clock.advance(7.5)
        before = {r["id"]: r for r in terminal.store.query("SELECT * FROM punches")}
        mono_now = clock.now().monotonic_ns
        start = datetime.now(timezone.utc)
        agent = agent_factory(terminal.config, clock=clock, ntp=True)
        wait_for(lambda: terminal.store.query_one("SELECT count(*) AS n FROM punches WHERE restamped_at IS NOT NULL")["n"] == 3,
                 what="re-stamping")
        end = datetime.now(timezone.utc)
        after = {r["id"]: r for r in terminal.store.query("SELECT * FROM punches")}
        for punch_id in made:
            row, old = after[punch_id], before[punch_id]
            assert row["time_source"] == "ntp"
            assert row["original_punched_at"] == old["punched_at"]
            back = timedelta(microseconds=(mono_now - old["monotonic_ns"]) // 1000)
            corrected = parse_utc(row["punched_at"])
            # true time = system time + skew at the check, minus how long ago (monotonic) the punch was
            assert start + timedelta(seconds=SKEW_S) - back - timedelta(seconds=1) <= corrected
            assert corrected <= end + timedelta(seconds=SKEW_S) - back + timedelta(seconds=1)
        gaps = [(parse_utc(after[b]["punched_at"]) - parse_utc(after[a]["punched_at"])).total_seconds()
                for a, b in pairwise(made)]
        assert gaps == [pytest.approx(8.5, abs=1e-6)] * 2  # 7.5 s + the 1 s each punch advances
        assert after[old_boot[0]]["time_source"] == "unsynced" and after[old_boot[0]]["restamped_at"] is None
        # the central gets both stamps, once
        wait_for(lambda: Punch.objects.filter(restamped_at__isnull=False).count() == 3, what="restamped punches centrally")
        wait_for(lambda: terminal.outbox_depth() == 0, what="outbox drained")
        for punch_id in made:
            stored = Punch.objects.values("punched_at", "original_punched_at", "time_source").get(id=punch_id)
            assert stored == {"punched_at": parse_utc(after[punch_id]["punched_at"]), "time_source": "ntp",
                              "original_punched_at": parse_utc(before[punch_id]["punched_at"])}
        assert_exactly_once(terminal)
        agent.stop()
    finally:
        terminal.close()


def test_punches_delivered_before_the_first_sync_are_corrected_centrally(site, broker_up, central, tmp_path,
                                                                         agent_factory):
    """No NTP at first: punches go out 'unsynced'; once a server answers they are re-stamped and re-sent."""
    clock = SimClock(datetime(2026, 2, 20, 6, 0, tzinfo=timezone.utc), source="unsynced")
    (tmp_path / "chrony-late").mkdir()
    server = Chrony(tmp_path / "chrony-late", skew_s=0)
    terminal = Terminal(ntp_config(site, broker_up, tmp_path, server.port))
    terminal.clock = terminal.punches.clock = clock
    try:
        made = terminal.punch(4)
        agent = agent_factory(terminal.config, clock=clock, ntp=True)
        wait_for(lambda: terminal.outbox_depth() == 0, what="unsynced punches delivered")
        assert set(Punch.objects.values_list("time_source", flat=True)) == {"unsynced"}
        assert read_status(terminal.store)["last_ntp_at"] is None
        server.start()
        try:
            wait_for(lambda: Punch.objects.filter(restamped_at__isnull=False).count() == 4, timeout=30,
                     what="corrections centrally")
        finally:
            server.stop()
        rows = list(Punch.objects.order_by("id").values("id", "punched_at", "original_punched_at"))
        assert [r["id"] for r in rows] == sorted(made)
        assert all(r["original_punched_at"].astimezone(timezone.utc).date().isoformat() == "2026-02-20" for r in rows)
        assert all(abs((r["punched_at"] - datetime.now(timezone.utc)).total_seconds()) < 60 for r in rows)
        wait_for(lambda: terminal.outbox_depth() == 0, what="outbox drained")
        assert_exactly_once(terminal)
        agent.stop()
    finally:
        terminal.close()


def test_a_wall_clock_step_is_a_clock_jump_event(site, broker_up, tmp_path, agent_factory):
    clock = SimClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc), source="ntp")
    config = device_config(site, broker_up, "door-a", tmp_path / "door-a")
    config.hardware.clock.ntp_servers = ["127.0.0.1"]
    config.hardware.clock.ntp_port = 9  # nothing answers: jump detection does not need NTP
    terminal = Terminal(config)
    try:
        agent_factory(config, clock=clock, ntp=True)
        wait_for(lambda: agent_factory_started(terminal), what="agent status")
        clock.set_wall(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
        event = wait_for(lambda: events_of(terminal.store, "clock_jump"), what="clock_jump event")
        assert '"jump_s": 3600.0' in event[0]["payload"]
    finally:
        terminal.close()


def agent_factory_started(terminal: Terminal) -> bool:
    return read_status(terminal.store)["updated_at"] is not None


def test_an_in_bound_ntp_check_by_the_agent_makes_the_terminals_own_stamps_trusted(site, broker_up, central, tmp_path,
                                                                                 agent_factory, monkeypatch):
    """A Pi without an RTC whose kernel clock is not disciplined: seed-sync's NTP check vouches for it."""
    import terminal.hardware.clock as clock_module
    from terminal.punch import Identity
    from terminal.runtime import Terminal as Door
    from terminal.store.employees import add_employee

    monkeypatch.setattr(clock_module, "kernel_clock_synchronised", lambda: False)
    (tmp_path / "chrony").mkdir()
    server = Chrony(tmp_path / "chrony", skew_s=0.0).start()  # a server that agrees with this machine
    try:
        config = ntp_config(site, broker_up, tmp_path, server.port)
        config.hardware.clock.driver = "pi"  # the real system clock, not the simulator
        config.hardware.fingerprint.enabled = False
        config.face.enabled = False
        with Door.open(config) as door:
            clock = door.hardware.clock
            assert isinstance(clock, clock_module.SystemClock)
            clock._recheck_s = 0  # decide the source at every stamp (10 s in production)
            employee = add_employee(door.store, number="T1", name="Time Keeper")
            before = door.punches.punch(Identity(employee["id"], "card"))
            assert before.accepted and before.punch["time_source"] == "unsynced"
            agent = agent_factory(config, ntp=True)
            wait_for(lambda: clock_trusted(door.store), what="an NTP check within the bound")
            door.config.punch.debounce_s = 0
            after = door.punches.punch(Identity(employee["id"], "card"))
            assert after.accepted and after.punch["time_source"] == "ntp"
            status = read_status(door.store)
            assert abs(status["clock_offset_s"]) < 0.5 and status["time_source"] == "ntp"
            wait_for(lambda: door.store.query_one("SELECT count(*) AS n FROM outbox")["n"] == 0,
                     what="both punches acknowledged")
            agent.stop()
    finally:
        server.stop()
