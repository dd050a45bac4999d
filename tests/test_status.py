"""Device status: queue depth, storage, sync state and hardware health in one dictionary."""
from __future__ import annotations

import pytest

from terminal.config import parse_config
from terminal.hardware.clock import SimClock
from terminal.hardware.factory import build_hardware
from terminal.hardware.fingerprint import SensorUnavailable
from terminal.punch import Identity, PunchService
from terminal.status import device_status
from terminal.store.employees import add_employee


def test_status_reports_queue_sync_storage_and_hardware(store, sim_config, tmp_path):
    employee = add_employee(store, number="1", name="A")
    PunchService(store, sim_config, SimClock()).punch(Identity(employee["id"], "card"))
    store.set_setting("sync.status", {"connected": True, "last_ack_at": "2026-03-02T01:00:00.000000Z",
                                      "clock_offset_s": 0.012, "time_source": "ntp"})
    # the simulated devices, with a camera whose video is gone and a sensor whose cable is pulled
    devices = parse_config({
        "device": {"id": "test-door-1", "site": "test", "language": "en", "timezone": "UTC"},
        "storage": {"data_dir": str(tmp_path / "hw"), "min_free_mb": 1},
        "hardware": {"profile": "sim", "camera": {"sim_source": str(tmp_path / "no-such-video.mp4")},
                     "card_reader": {"enabled": False}, "fingerprint": {"probe_timeout_s": 0.5}},
    })
    with build_hardware(devices, tmp_path / "hw") as hardware:
        hardware.fingerprint.emulator.unplug()
        with pytest.raises(SensorUnavailable):
            hardware.fingerprint.probe()
        status = device_status(store, sim_config, hardware)
    assert status["queue"]["punches"] == 1 and status["queue"]["oldest"]
    assert status["broker"]["connected"] is True and status["clock"]["offset_s"] == 0.012
    assert status["storage"]["free_mb"] > 0 and status["storage"]["database_mb"] > 0
    assert status["hardware"]["camera"].startswith("missing: ") and "no-such-video.mp4" in status["hardware"]["camera"]
    assert status["hardware"]["fingerprint"] not in ("ok", "disabled") and "answer" in status["hardware"]["fingerprint"]
    assert status["hardware"]["card_reader"] == "disabled" and status["hardware"]["outputs"] == "ok"
    assert status["device_id"] == "test-door-1" and status["version"]
