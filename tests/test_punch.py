"""The punch path: permission, debounce, direction, one transaction, full disk, kill -9."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from terminal.config import parse_config
from terminal.hardware.clock import SimClock
from terminal.punch import Identity, PunchService
from terminal.store.audit import verify_audit
from terminal.store.database import open_store
from terminal.store.employees import add_employee, update_employee


@pytest.fixture
def clock():
    return SimClock(start=datetime(2026, 3, 2, 8, 55, tzinfo=timezone.utc))


@pytest.fixture
def service(store, sim_config, clock):
    return PunchService(store, sim_config, clock)


@pytest.fixture
def alice(store):
    return add_employee(store, number="1001", name="Alice Wang", department="R&D")


def counts(store):
    return {t: store.query_one(f"SELECT count(*) AS n FROM {t}")["n"] for t in ("punches", "outbox", "audit_log")}


def test_accepted_punch_writes_punch_outbox_and_audit_together(service, store, alice, clock):
    before = counts(store)
    result = service.punch(Identity(alice["id"], "face", 0.31))
    assert result.accepted and result.reason == "recorded"
    assert result.message == "Alice Wang, clocked in"
    punch = store.query_one("SELECT * FROM punches")
    assert punch["id"] == result.punch["id"]
    assert punch["direction"] == "in" and punch["method"] == "face" and punch["score"] == pytest.approx(0.31)
    assert punch["punched_at"] == "2026-03-02T08:55:00.000000Z"
    assert punch["boot_id"] == clock.boot_id and punch["time_source"] == "ntp"
    queued = store.query_one("SELECT * FROM outbox WHERE kind = 'punch'")
    body = json.loads(queued["payload"])
    assert queued["ref_id"] == punch["id"] and body["employee_number"] == "1001" and body["monotonic_ns"] == punch["monotonic_ns"]
    after = counts(store)
    assert after["punches"] - before["punches"] == 1 and after["outbox"] - before["outbox"] == 1
    assert after["audit_log"] - before["audit_log"] == 1
    assert verify_audit(store.conn).ok


def test_second_punch_within_the_debounce_window_is_already_recorded(service, store, alice, clock):
    first = service.punch(Identity(alice["id"], "card"))
    clock.advance(30)
    second = service.punch(Identity(alice["id"], "face"))
    assert not second.accepted and second.reason == "already_recorded"
    assert second.previous_at == first.punch["punched_at"]
    assert counts(store)["punches"] == 1
    clock.advance(31)
    third = service.punch(Identity(alice["id"], "face"))
    assert third.accepted and third.direction == "out"


def test_debounce_across_a_reboot_uses_wall_time(service, store, alice, clock):
    service.punch(Identity(alice["id"], "card"))
    clock.reboot(wall=clock.now().wall, source="ntp")
    clock.advance(10)
    assert service.punch(Identity(alice["id"], "card")).reason == "already_recorded"


def test_direction_alternates_and_restarts_each_local_day(store, sim_config, alice, clock):
    config = sim_config.model_copy(update={"punch": sim_config.punch.model_copy(update={"debounce_s": 0})})
    config.device.timezone = "Asia/Shanghai"
    service = PunchService(store, config, clock)
    directions = []
    for _ in range(3):
        directions.append(service.punch(Identity(alice["id"], "pin")).direction)
        clock.advance(3600)
    assert directions == ["in", "out", "in"]
    # 04:00 in Shanghai is 20:00 UTC: the next local day starts with IN again
    clock.set_wall(datetime(2026, 3, 2, 20, 30, tzinfo=timezone.utc))
    assert service.punch(Identity(alice["id"], "pin")).direction == "in"


@pytest.mark.parametrize("mode, requested, expected", [
    ("in_only", None, "in"), ("out_only", None, "out"), ("buttons", "out", "out"), ("buttons", None, "in"),
])
def test_fixed_and_button_directions(store, sim_config, alice, clock, mode, requested, expected):
    sim_config.punch.direction_mode = mode
    service = PunchService(store, sim_config, clock)
    assert service.punch(Identity(alice["id"], "card"), direction=requested).direction == expected


def test_not_allowed_on_this_device_and_inactive(service, store, alice):
    update_employee(store, "1001", allowed_devices=["warehouse-door"])
    result = service.punch(Identity(alice["id"], "face"))
    assert not result.accepted and result.reason == "not_allowed"
    assert store.query_one("SELECT kind FROM events")["kind"] == "not_allowed"
    update_employee(store, "1001", allowed_devices=["test-door-1"], active=False)
    assert service.punch(Identity(alice["id"], "face")).reason == "inactive"
    update_employee(store, "1001", active=True)
    assert service.punch(Identity(alice["id"], "face")).accepted
    assert service.punch(Identity(987654, "face")).reason == "unknown_employee"


def test_listeners_hear_every_result(service, alice):
    heard = []
    service.listeners.append(heard.append)
    service.punch(Identity(alice["id"], "card"))
    service.punch(Identity(alice["id"], "card"))
    assert [r.reason for r in heard] == ["recorded", "already_recorded"]


def fill(folder: Path, leave_bytes: int) -> Path:
    filler = folder / "filler"
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    with open(filler, "wb") as handle:
        handle.write(b"\0" * max(0, free - leave_bytes))
    return filler


def test_full_disk_refuses_the_punch_visibly_and_writes_nothing_partial(tiny_disk, clock):
    config = parse_config({"device": {"id": "d1", "timezone": "UTC", "language": "en"},
                           "storage": {"data_dir": str(tiny_disk), "min_free_mb": 0},
                           "punch": {"debounce_s": 0}})
    with open_store(config.storage) as store:
        people = [add_employee(store, number=f"{i:04d}", name=f"Person {i}") for i in range(3)]
        service = PunchService(store, config, clock)
        filler = fill(tiny_disk, leave_bytes=16 * 1024)
        outcomes = []
        for i in range(400):
            clock.advance(1)
            outcomes.append(service.punch(Identity(people[i % 3]["id"], "card")))
            if outcomes[-1].reason == "storage_full":
                break
        refused = outcomes[-1]
        assert refused.reason == "storage_full" and not refused.accepted
        assert "Storage full" in refused.message
        recorded = [o.punch["id"] for o in outcomes if o.accepted]
        rows = {r["id"] for r in store.query("SELECT id FROM punches")}
        assert rows == set(recorded)
        queued = {r["ref_id"] for r in store.query("SELECT ref_id FROM outbox WHERE kind = 'punch'")}
        assert queued == rows
        filler.unlink()
        clock.advance(1)
        assert service.punch(Identity(people[0]["id"], "card")).accepted
        assert store.query_one("PRAGMA integrity_check")["integrity_check"] == "ok"
        assert verify_audit(store.conn).ok


def test_low_free_space_refuses_before_writing_and_raises_an_event(tiny_disk, clock):
    config = parse_config({"device": {"id": "d1", "timezone": "UTC"},
                           "storage": {"data_dir": str(tiny_disk / "data"), "min_free_mb": 1}})
    (tiny_disk / "data").mkdir()
    config.storage.min_free_mb = 0
    with open_store(config.storage) as store:
        alice = add_employee(store, number="1", name="A")
        config.storage.min_free_mb = 1
        fill(tiny_disk, leave_bytes=600 * 1024)
        result = PunchService(store, config, clock).punch(Identity(alice["id"], "card"))
        assert result.reason == "storage_full"
        assert store.query_one("SELECT count(*) AS n FROM punches")["n"] == 0
        assert store.query_one("SELECT kind FROM events")["kind"] == "disk_low"


BURST = textwrap.dedent("""
    import sys
    from terminal.config import parse_config
    from terminal.hardware.clock import SystemClock
    from terminal.punch import Identity, PunchService
    from terminal.store.database import open_store
    from terminal.store.employees import add_employee, find_by_number

    config = parse_config({"device": {"id": "d1", "timezone": "UTC"}, "storage": {"data_dir": sys.argv[1]},
                           "punch": {"debounce_s": 0}})
    with open_store(config.storage) as store:
        people = [find_by_number(store, str(i)) or add_employee(store, number=str(i), name=f"P{i}") for i in range(5)]
        service = PunchService(store, config, SystemClock())
        print("ready", flush=True)
        i = 0
        while True:
            result = service.punch(Identity(people[i % 5]["id"], "card"))
            assert result.accepted, result.reason
            print(result.punch["id"], flush=True)
            i += 1
""")


def test_kill_9_during_a_burst_keeps_every_reported_punch_exactly_once(tmp_path):
    data = tmp_path / "data"
    reported: list[str] = []
    for round_ in range(2):
        proc = subprocess.Popen([sys.executable, "-c", BURST, str(data)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        while len(reported) < 150 * (round_ + 1):
            line = proc.stdout.readline().strip()
            assert line, "the punching process stopped early"
            reported.append(line)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        reported.extend(line.strip() for line in proc.stdout if line.strip())
    config = parse_config({"storage": {"data_dir": str(data)}})
    with open_store(config.storage) as store:
        stored = [r["id"] for r in store.query("SELECT id FROM punches")]
        queued = [r["ref_id"] for r in store.query("SELECT ref_id FROM outbox WHERE kind = 'punch'")]
        assert set(reported) <= set(stored)
        assert len(stored) == len(set(stored))
        assert sorted(queued) == sorted(stored)
        assert store.query_one("PRAGMA integrity_check")["integrity_check"] == "ok"
        assert verify_audit(store.conn).ok


# -- a wall clock no one should trust ------------------------------------------------------------
IMPLAUSIBLE = [datetime(1970, 1, 1, 0, 0, 42, tzinfo=timezone.utc), datetime(2025, 6, 1, 9, 0, tzinfo=timezone.utc),
               datetime(2100, 1, 1, 9, 0, tzinfo=timezone.utc)]


@pytest.mark.parametrize("source", ["ntp", "rtc"])
@pytest.mark.parametrize("wall", IMPLAUSIBLE, ids=["1970", "before-release", "2100"])
def test_a_punch_at_an_implausible_wall_time_is_stamped_unsynced_with_one_event(store, sim_config, alice, wall, source):
    clock = SimClock(start=wall, source=source)
    sim_config.punch.debounce_s = 0
    service = PunchService(store, sim_config, clock)
    first = service.punch(Identity(alice["id"], "card"))
    clock.advance(5)
    second = service.punch(Identity(alice["id"], "card"))
    assert first.accepted and second.accepted  # the employee is never turned away for the clock
    assert first.punch["time_source"] == second.punch["time_source"] == "unsynced"
    rows = store.query("SELECT time_source, punched_at, boot_id FROM punches ORDER BY punched_at")
    assert [r["time_source"] for r in rows] == ["unsynced", "unsynced"] and rows[0]["boot_id"] == clock.boot_id
    queued = [json.loads(r["payload"]) for r in store.query("SELECT payload FROM outbox WHERE kind = 'punch'")]
    assert [q["time_source"] for q in queued] == ["unsynced", "unsynced"]
    events = store.query("SELECT payload, severity FROM events WHERE kind = 'clock_implausible'")
    assert len(events) == 1 and events[0]["severity"] == "warning"
    payload = json.loads(events[0]["payload"])
    assert payload["wall"] == rows[0]["punched_at"] and payload["source"] == source
    assert payload["earliest"] < payload["latest"]


def test_a_plausible_wall_time_keeps_its_source(store, sim_config, alice):
    for source in ("ntp", "rtc", "unsynced"):
        clock = SimClock(start=datetime(2026, 3, 2, 8, 55, tzinfo=timezone.utc), source=source)
        result = PunchService(store, sim_config, clock).punch(Identity(alice["id"], "card"), "in")
        assert result.punch["time_source"] == source
        store.conn.execute("DELETE FROM punches")
    assert store.query("SELECT * FROM events WHERE kind = 'clock_implausible'") == []


def test_a_punch_at_an_implausible_time_is_restamped_once_the_clock_is_right(store, sim_config, alice):
    from sync_agent.timekeeper import Timekeeper

    clock = SimClock(start=datetime(1970, 1, 1, 0, 1, tzinfo=timezone.utc), source="ntp")
    result = PunchService(store, sim_config, clock).punch(Identity(alice["id"], "card"))
    clock.advance(90)
    true_now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    assert Timekeeper(store, clock, []).restamp(true_now, clock.now().monotonic_ns, clock.boot_id) == 1
    row = store.query_one("SELECT * FROM punches WHERE id = ?", (result.punch["id"],))
    assert row["punched_at"] == "2026-03-02T08:58:30.000000Z" and row["time_source"] == "ntp"
    assert row["original_punched_at"] == "1970-01-01T00:01:00.000000Z"
