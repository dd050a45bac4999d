"""The kiosk keeps serving while the fingerprint sensor is gone, and greets employees added while it runs.

A sensor that stops answering (its cable pulled: the emulator goes silent) must not stall
the screen: the clock keeps moving and a PIN still punches. An employee added by roster sync
or by ``seed-enroll`` in another process gets the greeting with their name rendered ahead,
without anyone restarting the kiosk.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from ui_support import STAFF, kiosk_config, running_kiosk, type_pin

from terminal.store.employees import add_employee


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory):
    import terminal.ui.voice as voice_module

    patch = pytest.MonkeyPatch()
    patch.setattr(voice_module, "VOICE_REFRESH_S", 0.5)  # the kiosk checks for new names every half second here
    config = kiosk_config(tmp_path_factory.mktemp("sensor") / "data", fingerprint=True)
    try:
        with running_kiosk(config, staff=STAFF) as running:
            yield running
    finally:
        patch.undo()


def shown_clock(kiosk) -> str:
    return kiosk.app.screens["idle"].clock


def terminal_clock(kiosk) -> str:
    return kiosk.terminal.hardware.clock.now().wall.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M:%S")


def test_a_pulled_sensor_is_reported_while_the_clock_ticks_and_a_pin_still_punches(kiosk):
    worker = kiosk.terminal.fingerprint_worker
    emulator = kiosk.terminal.hardware.fingerprint.emulator
    kiosk.wait_until(lambda: worker.state == "ready", 10, "the sensor to be ready")
    emulator.unplug()
    try:
        kiosk.wait_until(lambda: worker.state == "unavailable", 5, "the lost sensor to be reported")
        assert worker.reason  # the status screen says why
        for _ in range(3):  # the screen is not waiting for the sensor
            kiosk.terminal.hardware.clock.advance(1)
            expected = terminal_clock(kiosk)
            kiosk.wait_until(lambda expected=expected: shown_clock(kiosk) == expected, 2, "the clock to move")
        type_pin(kiosk, "1002", "4321")
        kiosk.wait_screen("result")
        assert "李娜" in kiosk.texts()
        [punch] = kiosk.terminal.store.query("SELECT method FROM punches WHERE employee_number = '1002'")
        assert punch["method"] == "pin"
    finally:
        emulator.replug()
    kiosk.wait_until(lambda: worker.state == "ready", 40, "the sensor to come back after it is plugged in again")


def test_an_employee_added_while_the_kiosk_runs_gets_the_greeting_rendered_ahead(kiosk):
    speaker = kiosk.terminal.hardware.speaker
    voice = speaker.renderer.voice_for("zh")
    greeting = speaker.renderer.cache_path("周敏，上班打卡成功", voice)
    assert not greeting.exists()
    # written by another process in production (seed-sync applying the roster, seed-enroll add)
    add_employee(kiosk.terminal.store, actor="test", number="1010", name="周敏", pin="7531")
    kiosk.wait_until(greeting.exists, 15, "the new employee's greeting to be rendered")
    kiosk.wait_until(speaker.renderer.cache_path("周敏，下班打卡成功", voice).exists, 15, "the clock-out greeting too")
