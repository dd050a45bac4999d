"""The clock contract, run against the system clock and the simulator."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from terminal.hardware.clock import (
    TIME_SOURCES,
    Clock,
    SimClock,
    SystemClock,
    kernel_clock_synchronised,
    open_clock,
    parse_utc,
    read_boot_id,
)


@pytest.fixture(params=["system", "sim"])
def clock(request) -> Clock:
    return SystemClock() if request.param == "system" else SimClock(start=datetime.now(timezone.utc))


def test_contract_stamps_are_utc_with_boot_and_monotonic(clock):
    first = clock.now()
    if isinstance(clock, SimClock):
        clock.advance(0.25)
    second = clock.now()
    assert isinstance(clock, Clock)
    assert first.wall.tzinfo is not None and first.wall.utcoffset() == timedelta(0)
    assert first.source in TIME_SOURCES
    assert first.boot_id == second.boot_id and len(first.boot_id) >= 8
    assert second.monotonic_ns >= first.monotonic_ns and second.wall >= first.wall
    assert parse_utc(first.iso()) == first.wall.replace(microsecond=first.wall.microsecond)
    assert first.iso().endswith("Z")


def test_system_clock_uses_the_kernel_boot_id():
    if not Path("/proc/sys/kernel/random/boot_id").exists():
        pytest.skip("no /proc boot id on this system")
    assert SystemClock().now().boot_id == read_boot_id() == Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def test_system_clock_source_follows_kernel_state_hint_and_rtc(tmp_path):
    synced = kernel_clock_synchronised()
    assert synced in (True, False, None)
    rtc = tmp_path / "rtc0"
    if not synced:
        assert SystemClock(rtc_path=rtc).now().source == "unsynced"
        assert SystemClock(rtc_path=rtc, sync_hint=lambda: True).now().source == "ntp"
        rtc.touch()
        assert SystemClock(rtc_path=rtc).now().source == "rtc"
    else:
        assert SystemClock(rtc_path=rtc).now().source == "ntp"


def test_sim_clock_jumps_and_reboots():
    clock = SimClock(start=datetime(2026, 1, 1, tzinfo=timezone.utc), source="ntp")
    before = clock.now()
    clock.set_wall(datetime(2025, 6, 1, tzinfo=timezone.utc))
    jumped = clock.now()
    assert jumped.wall.year == 2025 and jumped.monotonic_ns == before.monotonic_ns
    clock.reboot(source="unsynced")
    after = clock.now()
    assert after.boot_id != before.boot_id and after.source == "unsynced"
    assert after.monotonic_ns < before.monotonic_ns + 1  # a new boot restarts monotonic time


def test_factory_chooses_by_driver():
    assert isinstance(open_clock("sim"), SimClock)
    assert isinstance(open_clock("pi"), SystemClock)
