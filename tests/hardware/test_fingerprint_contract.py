"""The fingerprint sensor contract, run against every implementation available here.

* ``sim``: ``open_fingerprint`` with the sim driver (pyfingerprint on the emulator it owns);
* ``pi-on-emulator``: the real (``pi``) driver on the serial port of a standalone emulator
  process, fingers placed through its control socket;
* ``pi-hardware``: a real sensor, when ``SEED_FINGERPRINT_PORT`` names its serial port
  (tests that need a finger placed are skipped there).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from terminal.config import parse_config
from terminal.hardware.errors import DeviceMissing
from terminal.hardware.fingerprint import (
    TEMPLATE_SIZE,
    FingerprintSensor,
    LibraryFull,
    Match,
    PoorImage,
    PyFingerprintSensor,
    SensorUnavailable,
    open_fingerprint,
)
from terminal.hardware.fingerprint_sim import send_control

REPO = Path(__file__).resolve().parents[2]
CAPACITY = 24
HARDWARE_PORT = os.environ.get("SEED_FINGERPRINT_PORT")


def settings(**fingerprint):
    values = {"probe_timeout_s": 1.0, "sim_capacity": CAPACITY, **fingerprint}
    return parse_config({"hardware": {"profile": "sim", "fingerprint": values}}).hardware.fingerprint


@dataclass
class Rig:
    sensor: FingerprintSensor
    capacity: int | None
    place: Callable[[str, str], None] | None = None
    lift: Callable[[], None] | None = None
    unplug: Callable[[], None] | None = None
    replug: Callable[[], None] | None = None

    def need_fingers(self) -> None:
        if self.place is None:
            pytest.skip("fingers cannot be placed on this sensor automatically")

    def press(self, finger: str, buffer: int, quality: str = "good") -> None:
        assert self.place and self.lift
        self.place(finger, quality)
        assert self.sensor.wait_for_finger(2)
        self.sensor.convert(buffer)
        self.lift()
        assert self.sensor.wait_for_lift(2)

    def enrol(self, finger: str) -> int:
        self.press(finger, 1)
        self.press(finger, 2)
        assert self.sensor.create_model()
        return self.sensor.store()

    def identify(self, finger: str) -> Match | None:
        assert self.place and self.lift
        self.place(finger, "good")
        assert self.sensor.wait_for_finger(2)
        try:
            return self.sensor.identify()
        finally:
            self.lift()


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """A standalone emulator process, as ``python -m terminal.hardware.fingerprint_sim`` runs."""
    base = tmp_path_factory.mktemp("fp")
    link, control = base / "ttyFP", base / "ctl.sock"
    proc = subprocess.Popen([sys.executable, "-m", "terminal.hardware.fingerprint_sim", "--link", str(link),
                             "--library", str(base / "lib.bin"), "--capacity", str(CAPACITY), "--control",
                             str(control)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not (link.is_symlink() and control.exists()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"standalone emulator did not start: {proc.stderr.read()}")
        time.sleep(0.05)
    yield link, control
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)


@pytest.fixture(params=["sim", "pi-on-emulator", "pi-hardware"])
def rig(request, tmp_path):
    if request.param == "sim":
        sensor = open_fingerprint(settings(), tmp_path, "sim")
        emu = sensor.emulator
        rig = Rig(sensor, CAPACITY, lambda f, q: emu.place_finger(f, quality=q), emu.lift_finger, emu.unplug, emu.replug)
    elif request.param == "pi-on-emulator":
        link, control = request.getfixturevalue("standalone")
        sensor = open_fingerprint(settings(driver="pi", port=str(link)), tmp_path)
        ctl = lambda line: send_control(control, line)  # noqa: E731
        ctl("replug")
        ctl("lift")
        rig = Rig(sensor, CAPACITY, lambda f, q: ctl(f"place {f} {q}"), lambda: ctl("lift"),
                  lambda: ctl("unplug"), lambda: ctl("replug"))
    else:
        if not HARDWARE_PORT:
            pytest.skip("no real sensor: set SEED_FINGERPRINT_PORT to its serial port to run the contract on it")
        sensor = open_fingerprint(settings(driver="pi", port=HARDWARE_PORT, probe_timeout_s=3.0), tmp_path)
        rig = Rig(sensor, None)
    try:
        sensor.probe()
        sensor.clear()
        yield rig
    finally:
        sensor.close()


# -- the contract --------------------------------------------------------------------------------
def test_probe_reports_what_the_sensor_says(rig):
    assert isinstance(rig.sensor, FingerprintSensor)
    info = rig.sensor.probe()
    if rig.capacity is not None:
        assert info.capacity == rig.capacity == rig.sensor.capacity  # from ReadSysPara, not a constant
    assert 1 <= info.security_level <= 5 and info.security_level == rig.sensor.security_level
    assert info.packet_size in (32, 64, 128, 256)
    assert rig.sensor.health() == "ok"
    assert rig.sensor.template_count() == 0 and rig.sensor.template_positions() == []


def test_enrol_then_identify_and_refuse_an_unknown_finger(rig):
    rig.need_fingers()
    position = rig.enrol("anna-left-index")
    assert rig.sensor.template_positions() == [position]
    assert rig.sensor.template_count() == 1
    match = rig.identify("anna-left-index")
    assert match is not None and match.position == position and match.score > 0
    assert rig.identify("boris-right-thumb") is None


def test_two_different_fingers_do_not_make_a_template(rig):
    rig.need_fingers()
    rig.press("anna", 1)
    rig.press("boris", 2)
    assert rig.sensor.compare() == 0
    assert rig.sensor.create_model() is False


def test_templates_leave_and_return_to_the_sensor(rig):
    rig.need_fingers()
    position = rig.enrol("carla")
    rig.sensor.load(position, 1)
    template = rig.sensor.read_template(1)
    assert isinstance(template, bytes) and len(template) == TEMPLATE_SIZE
    rig.sensor.clear()
    assert rig.identify("carla") is None
    rig.sensor.write_template(template, 1)
    assert rig.sensor.store(5, 1) == 5
    match = rig.identify("carla")
    assert match is not None and match.position == 5
    with pytest.raises(ValueError, match="512 bytes"):
        rig.sensor.write_template(template[:100])


def test_delete_and_clear_show_in_the_index(rig):
    template = _some_template(rig)
    for position in (1, 3, 4):
        rig.sensor.write_template(template, 1)
        rig.sensor.store(position)
    assert rig.sensor.template_positions() == [1, 3, 4]
    assert rig.sensor.store() == 0  # the first free position
    rig.sensor.delete(3)
    assert rig.sensor.template_positions() == [0, 1, 4]
    rig.sensor.delete(0, 2)
    assert rig.sensor.template_positions() == [4]
    rig.sensor.clear()
    assert rig.sensor.template_positions() == [] and rig.sensor.template_count() == 0
    with pytest.raises(ValueError):
        rig.sensor.store(rig.sensor.capacity)


def test_a_full_library_is_refused(rig):
    if rig.capacity is None:
        pytest.skip("filling a real sensor's library is not done automatically")
    template = _some_template(rig)
    rig.sensor.write_template(template, 1)
    for position in range(rig.capacity):
        rig.sensor.store(position)
    assert len(rig.sensor.template_positions()) == rig.capacity
    with pytest.raises(LibraryFull, match="full"):
        rig.sensor.store()


def test_poor_images_and_no_finger(rig):
    assert rig.sensor.wait_for_finger(0.2) is False
    assert rig.sensor.capture() is False
    rig.need_fingers()
    rig.place("dora", "messy")
    assert rig.sensor.wait_for_finger(2)
    with pytest.raises(PoorImage) as caught:
        rig.sensor.convert(1)
    assert caught.value.kind == "messy"
    rig.lift()


def test_a_sensor_that_stops_answering_is_reported_and_found_again(rig):
    if rig.unplug is None:
        pytest.skip("this sensor cannot be unplugged automatically")
    rig.unplug()
    with pytest.raises(SensorUnavailable, match="no answer"):
        rig.sensor.probe()
    assert "no answer" in rig.sensor.health()
    with pytest.raises(SensorUnavailable):
        rig.sensor.template_count()
    rig.replug()
    assert rig.sensor.probe().capacity == rig.capacity
    assert rig.sensor.health() == "ok"


def _some_template(rig: Rig) -> bytes:
    if rig.place is not None:
        rig.press("eve", 1)
        rig.press("eve", 2)
        assert rig.sensor.create_model()
        return rig.sensor.read_template(1)
    from terminal.hardware.fingerprint_sim import finger_template

    return finger_template("eve")


# -- the driver on its own ------------------------------------------------------------------------
def test_a_port_nobody_answers_on_is_an_error_not_a_hang():
    master, slave = os.openpty()
    try:
        sensor = PyFingerprintSensor(os.ttyname(slave))  # the configured 3 s, not pyfingerprint's ~24 s
        with pytest.raises(SensorUnavailable, match="no answer from the sensor"):
            sensor.probe()
        assert sensor.health().startswith("no answer")
        sensor.close()
    finally:
        os.close(master)
        os.close(slave)


def test_a_missing_port_is_reported_and_pi_never_falls_back_to_the_simulator(tmp_path):
    sensor = open_fingerprint(settings(driver="pi", port=str(tmp_path / "ttyAMA9")), tmp_path, "sim")
    assert isinstance(sensor, PyFingerprintSensor) and not hasattr(sensor, "emulator")
    with pytest.raises(SensorUnavailable, match="ttyAMA9"):
        sensor.probe()
    assert isinstance(SensorUnavailable("x"), DeviceMissing)
    sensor.close()
    assert open_fingerprint(settings(enabled=False), tmp_path, "sim") is None


def test_the_simulator_library_lives_in_the_data_dir_and_survives(tmp_path):
    with open_fingerprint(settings(), tmp_path, "sim") as sensor:
        sensor.write_template(sensor.emulator.template_at(sensor.emulator.store_finger("finn")) or b"", 1)
        assert sensor.store(7) == 7
    assert (tmp_path / "fingerprint-sim.bin").exists()
    with open_fingerprint(settings(), tmp_path, "sim") as sensor:
        assert sensor.template_positions() == [0, 7]
        assert send_control(tmp_path / "fingerprint-sim.sock", "count") == "ok 2"


def test_a_simulator_library_in_use_is_a_missing_device(tmp_path):
    with open_fingerprint(settings(), tmp_path, "sim"):
        with pytest.raises(DeviceMissing, match="in use"):
            open_fingerprint(settings(), tmp_path, "sim")


def test_index_pages_beyond_the_first(tmp_path):
    with open_fingerprint(settings(sim_capacity=600), tmp_path, "sim") as sensor:
        for position in (3, 255, 256, 599):
            sensor.emulator.store_finger(f"x{position}", position)
        assert sensor.template_positions() == [3, 255, 256, 599]
        assert sensor.template_count() == 4


def test_only_one_program_talks_to_the_sensor(tmp_path):
    with open_fingerprint(settings(), tmp_path, "sim") as sensor:
        sensor.probe()
        second = PyFingerprintSensor(sensor.port, timeout_s=1.0)
        with pytest.raises(SensorUnavailable, match="in use by another program"):
            second.probe()
        second.close()
        assert sensor.template_count() == 0
