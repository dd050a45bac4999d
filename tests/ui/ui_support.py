"""Helpers of the kiosk tests: a simulated terminal with staff, the real app running offscreen on top of it."""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DOOR_PULSE_S = 0.4
LED_ON_S = 0.3


class FakeMonotonic:
    """The kiosk's own clock for timeouts (screensaver, admin timeout, result screens), moved by the test."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def kiosk_config(data_dir: Path, *, language: str = "zh", fingerprint: bool = False, **sections: dict) -> Any:
    """A simulated terminal's configuration; face recognition is off unless ``face={"enabled": True, ...}``."""
    from terminal.config import parse_config

    values: dict = {
        "device": {"id": "ui-door-1", "site": "test", "language": language, "timezone": "Asia/Shanghai",
                   "company_name": "Seed 示例公司", "name": "东门"},
        "storage": {"data_dir": str(data_dir), "min_free_mb": 1},
        "hardware": {"profile": "sim",
                     "outputs": {"door_pulse_s": DOOR_PULSE_S, "led_on_s": LED_ON_S},
                     "fingerprint": {"enabled": fingerprint, "probe_timeout_s": 1.0},
                     "camera": {"fps": 15}},
        "face": {"enabled": False},
        "ui": {"fullscreen": False, "result_s": 3.0},
    }
    for name, overrides in sections.items():
        values.setdefault(name, {}).update(overrides)
    return parse_config(values)


@contextlib.contextmanager
def running_kiosk(config: Any, *, size: tuple[int, int] = (800, 480), staff: list[dict] | None = None,
                  monotonic: Any = None) -> Iterator[Any]:
    """A terminal opened on the simulators, staff enrolled, the kiosk running offscreen on top of it."""
    from terminal.runtime import Terminal
    from terminal.store.employees import add_employee
    from terminal.ui.harness import OffscreenKiosk

    with Terminal.open(config) as terminal:
        for person in staff or ():
            add_employee(terminal.store, actor="test", **person)
        kwargs = {"monotonic": monotonic} if monotonic is not None else {}
        kiosk = OffscreenKiosk(terminal, size=size, **kwargs)
        kiosk.start()
        try:
            yield kiosk
        finally:
            kiosk.stop()


STAFF = [
    {"number": "1001", "name": "张伟", "department": "生产部", "card": "0004318030", "pin": "2580"},
    {"number": "1002", "name": "李娜", "department": "财务部", "pin": "4321"},
    {"number": "1003", "name": "Wang Fang", "department": "R&D", "card": "0x00A1B2C3", "pin": "1357",
     "verify_mode": "card+pin"},
    {"number": "1004", "name": "Chen Jie", "pin": "8642", "allowed_devices": ["another-door"]},
    {"number": "9001", "name": "管理员", "department": "IT", "pin": "9090", "role": "admin", "verify_mode": "pin"},
]


def spoken(kiosk: Any, timeout: float = 10.0) -> list[Any]:
    """Everything the simulated speaker has played so far (after it finished what was queued)."""
    speaker = kiosk.terminal.hardware.speaker
    assert speaker.wait_idle(timeout)
    return list(speaker.played)


def wait_spoken(kiosk: Any, text: str, timeout: float = 10.0) -> Any:
    speaker = kiosk.terminal.hardware.speaker
    return kiosk.wait_until(lambda: next((u for u in reversed(speaker.played) if u.text == text), None),
                            timeout, f"the speaker to say {text!r}")


def type_pin(kiosk: Any, number: str, pin: str) -> None:
    """An employee at the pad: PIN entry, their number, OK, their PIN, OK."""
    kiosk.tap("pin")
    kiosk.wait_screen("pinpad")
    kiosk.type_digits(number)
    kiosk.tap("key_ok")
    kiosk.type_digits(pin)
    kiosk.tap("key_ok")


def press_when_asked(kiosk: Any, emulator: Any, finger_id: str, timeout: float = 20.0) -> None:
    """Someone at the sensor following the screen: press, lift, press again, lift."""
    screen = kiosk.screen

    def follow():
        answer, params = screen._sensor
        on = emulator.finger_on_sensor is not None
        if answer in ("finger.waiting", "finger.lifted", "finger.poor") and not on and screen.running:
            emulator.place_finger(finger_id)
        elif answer == "finger.read_ok" and on:
            emulator.lift_finger()
        return screen.done or (screen._final is not None and not screen.running)

    kiosk.wait_until(follow, timeout, "the finger enrolment to finish")
    emulator.lift_finger()
