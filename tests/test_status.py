"""Device status: queue depth, storage, sync state and hardware health in one dictionary."""
from __future__ import annotations

from types import SimpleNamespace

from terminal.hardware.clock import SimClock
from terminal.punch import Identity, PunchService
from terminal.status import device_status
from terminal.store.employees import add_employee


def test_status_reports_queue_sync_storage_and_hardware(store, sim_config):
    employee = add_employee(store, number="1", name="A")
    PunchService(store, sim_config, SimClock()).punch(Identity(employee["id"], "card"))
    store.set_setting("sync.status", {"connected": True, "last_ack_at": "2026-03-02T01:00:00.000000Z",
                                      "clock_offset_s": 0.012, "time_source": "ntp"})

    class Failing:
        def health(self):
            raise OSError("sensor does not answer")

    hardware = SimpleNamespace(camera=object(), fingerprint=Failing(), card_reader=None, outputs=object(),
                               speaker=object(), clock=SimClock(), problems={"camera": "no /dev/video0"})
    status = device_status(store, sim_config, hardware)
    assert status["queue"]["punches"] == 1 and status["queue"]["oldest"]
    assert status["broker"]["connected"] is True and status["clock"]["offset_s"] == 0.012
    assert status["storage"]["free_mb"] > 0 and status["storage"]["database_mb"] > 0
    assert status["hardware"]["camera"] == "missing: no /dev/video0"
    assert status["hardware"]["fingerprint"].startswith("error: sensor does not answer")
    assert status["hardware"]["card_reader"] == "disabled" and status["hardware"]["outputs"] == "ok"
    assert status["device_id"] == "test-door-1" and status["version"]
