"""The hardware factory: drivers chosen by configuration, missing devices reported, never simulated in their place."""
from __future__ import annotations

import shutil
import sys

import pytest
from gpiozero import Device

from terminal.config import parse_config
from terminal.hardware import factory
from terminal.hardware.camera import OpenCVCamera, SimCamera
from terminal.hardware.card_reader import SimCardReader
from terminal.hardware.clock import SimClock, SystemClock
from terminal.hardware.errors import DeviceMissing, MissingDevices
from terminal.hardware.factory import Hardware, build_hardware, fixed_phrases
from terminal.hardware.outputs import SimOutputs
from terminal.hardware.speaker import SimSpeaker

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def config(tmp_path, profile="sim", **hardware):
    section = {"profile": profile, "fingerprint": {"enabled": False}}
    for name, values in hardware.items():
        section[name] = {**section.get(name, {}), **values}
    return parse_config({"device": {"language": "en"}, "storage": {"data_dir": str(tmp_path)}, "hardware": section})


@pytest.fixture(autouse=True)
def no_global_pin_factory(monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.setattr(Device, "pin_factory", None)


@needs_espeak
def test_sim_profile_builds_every_simulator(tmp_path):
    with build_hardware(config(tmp_path), tmp_path) as hw:
        assert isinstance(hw.camera, SimCamera) and isinstance(hw.card_reader, SimCardReader)
        assert isinstance(hw.outputs, SimOutputs) and isinstance(hw.speaker, SimSpeaker)
        assert isinstance(hw.clock, SimClock)
        assert hw.fingerprint is None and hw.drivers["fingerprint"] == "disabled"
        assert hw.problems == {}
        hw.require()
        # the spoken phrases of the device language are rendered in the background, into data_dir/voice
        assert hw.speaker.wait_idle(timeout=30)
        assert hw.speaker.phrases["refuse.not_recognised"] == ("Not recognised, please try again", "en")
        assert hw.speaker.renderer.cache_dir == tmp_path / "voice"
        assert len(list((tmp_path / "voice").glob("*.wav"))) == len(fixed_phrases("en"))
        outputs, speaker = hw.outputs, hw.speaker
    with pytest.raises(RuntimeError, match="closed"):
        outputs.signal_refuse()
    assert not speaker._thread.is_alive()


def test_the_camera_reopens_with_the_configured_longest_pause(tmp_path):
    from terminal.hardware.factory import open_camera

    settings = config(tmp_path, camera={"reopen_max_s": 7.0}).hardware.camera
    camera = open_camera(settings, "sim")
    try:
        assert camera.retry_max_s == 7.0
    finally:
        camera.close()
    assert config(tmp_path).hardware.camera.reopen_max_s == 30.0


def test_spoken_phrases_are_fixed_texts_only():
    phrases = fixed_phrases("zh")
    assert phrases["refuse.not_recognised"] == "未识别，请重试"
    assert "punch.in" not in phrases  # carries a name: rendered when said
    assert all("{" not in text for text in phrases.values())


def test_disabled_devices_are_none(tmp_path):
    cfg = config(tmp_path, camera={"enabled": False}, card_reader={"enabled": False}, outputs={"enabled": False},
                 speaker={"enabled": False})
    with build_hardware(cfg, tmp_path) as hw:
        assert (hw.camera, hw.card_reader, hw.outputs, hw.speaker, hw.fingerprint) == (None,) * 5
        assert isinstance(hw.clock, SimClock) and hw.problems == {}
        assert set(hw.drivers.values()) == {"disabled", "sim"}


def test_a_device_overridden_to_real_is_missing_not_simulated(tmp_path):
    cfg = config(tmp_path, outputs={"driver": "pi"}, speaker={"enabled": False}, camera={"enabled": False})
    with build_hardware(cfg, tmp_path) as hw:
        if hw.outputs is not None:  # a Raspberry Pi: real pins
            assert not isinstance(hw.outputs, SimOutputs)
            return
        assert hw.drivers["outputs"] == "pi"
        assert hw.problems["outputs"].startswith("no GPIO available")
        assert isinstance(hw.card_reader, SimCardReader)  # the others are unaffected
        with pytest.raises(MissingDevices, match="outputs: no GPIO available") as caught:
            hw.require("outputs", "card_reader")
        assert set(caught.value.problems) == {"outputs"}
        hw.require("card_reader")


def test_pi_profile_on_a_machine_without_devices(tmp_path):
    """No GPIO, no camera, no reader, no sound card here: each is named with its reason and left out."""
    cfg = config(tmp_path, profile="pi", fingerprint={"enabled": True, "port": str(tmp_path / "ttyNone")},
                 card_reader={"device": str(tmp_path / "event-kbd")}, camera={"device": "/dev/video-none"})
    with build_hardware(cfg, tmp_path) as hw:
        assert isinstance(hw.clock, SystemClock)
        assert set(hw.drivers.values()) == {"pi"}
        for name in ("camera", "fingerprint", "card_reader", "outputs", "speaker"):
            device = getattr(hw, name)
            assert "Sim" not in type(device).__name__, f"{name} fell back to a simulator"
        # a configured camera is waited for, not left out: plugging it in after boot is enough
        assert isinstance(hw.camera, OpenCVCamera) and "camera" not in hw.problems
        state = hw.camera.state()
        assert not state.ok and state.at_start and state.retry_in_s is not None
        assert state.reason == "not found at start-up: no camera at /dev/video-none"
        assert hw.camera.health() == f"gone since {state.gone_at}: {state.reason}"
        assert hw.card_reader is None and "event-kbd" in hw.problems["card_reader"]
        assert hw.outputs is None and "no GPIO" in hw.problems["outputs"]
        if shutil.which("aplay") and shutil.which("espeak-ng"):
            assert hw.speaker is None and "cannot play sound" in hw.problems["speaker"]
        # the fingerprint driver opens lazily and reports through its health; it is never the emulator
        assert hw.fingerprint is None or hw.fingerprint.health() != "ok" or "fingerprint" in hw.problems


def test_strict_build_raises_naming_every_missing_device(tmp_path):
    cfg = config(tmp_path, profile="pi", card_reader={"device": str(tmp_path / "event-kbd")},
                 camera={"device": "/dev/video-none"}, speaker={"enabled": False})
    with pytest.raises(MissingDevices) as caught:
        build_hardware(cfg, tmp_path, strict=True)
    assert {"camera", "card_reader", "outputs"} <= set(caught.value.problems)
    assert "camera: no camera at /dev/video-none" in str(caught.value)


def test_a_misconfigured_camera_is_left_out_with_a_clear_reason_and_a_disabled_one_stays_absent(tmp_path):
    """Only a camera that plugging in could bring is waited for: a video file that is not there is a mistake."""
    movie = tmp_path / "door.mp4"
    cfg = config(tmp_path, profile="pi", camera={"device": str(movie)}, card_reader={"enabled": False},
                 outputs={"enabled": False}, speaker={"enabled": False})
    with build_hardware(cfg, tmp_path) as hw:
        assert hw.camera is None and hw.drivers["camera"] == "pi"
        assert hw.problems["camera"].startswith(f"video file {movie} does not exist")
    cfg = config(tmp_path, camera={"driver": "sim", "sim_source": str(tmp_path / "frames")}, card_reader={"enabled": False},
                 outputs={"enabled": False}, speaker={"enabled": False})
    with build_hardware(cfg, tmp_path) as hw:
        assert hw.camera is None and "simulated camera source" in hw.problems["camera"]
    cfg = config(tmp_path, profile="pi", camera={"enabled": False}, card_reader={"enabled": False},
                 outputs={"enabled": False}, speaker={"enabled": False})
    with build_hardware(cfg, tmp_path) as hw:
        assert hw.camera is None and hw.drivers["camera"] == "disabled" and "camera" not in hw.problems


def test_a_driver_module_that_is_not_there_is_a_missing_device(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "terminal.hardware.fingerprint", None)
    cfg = config(tmp_path, fingerprint={"enabled": True}, camera={"enabled": False}, speaker={"enabled": False})
    with build_hardware(cfg, tmp_path) as hw:
        assert hw.fingerprint is None
        assert hw.problems["fingerprint"] == "driver module terminal.hardware.fingerprint is not installed"


def test_a_missing_clock_is_fatal(tmp_path, monkeypatch):
    def no_clock(config, driver):
        raise DeviceMissing("clock", "no clock today")

    monkeypatch.setattr(factory, "open_clock", no_clock)
    with pytest.raises(DeviceMissing, match="clock: no clock today"):
        build_hardware(config(tmp_path, camera={"enabled": False}, speaker={"enabled": False}), tmp_path)


def test_a_failed_strict_build_closes_what_it_opened(tmp_path, monkeypatch):
    opened = []
    real_reader = factory.open_card_reader

    def spy(settings, driver):
        opened.append(real_reader(settings, driver))
        return opened[-1]

    monkeypatch.setattr(factory, "open_card_reader", spy)
    cfg = config(tmp_path, outputs={"driver": "pi"}, camera={"enabled": False}, speaker={"enabled": False})
    try:
        hw = build_hardware(cfg, tmp_path, strict=True)
    except MissingDevices as exc:
        assert set(exc.problems) == {"outputs"}
    else:  # a Raspberry Pi has the pins
        hw.close()
        pytest.skip("GPIO is available here")
    (reader,) = opened
    with pytest.raises(RuntimeError, match="closed"):
        reader.read(timeout=0)


def test_a_driver_bug_is_reported_not_hidden(tmp_path, monkeypatch, caplog):
    def broken(settings, driver):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(factory, "open_card_reader", broken)
    cfg = config(tmp_path, camera={"enabled": False}, speaker={"enabled": False})
    with build_hardware(cfg, tmp_path) as hw:
        assert hw.problems["card_reader"] == "ZeroDivisionError: division by zero"
        assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)


def test_hardware_closes_every_device_even_if_one_fails(monkeypatch):
    camera, reader, outputs = SimCamera(realtime=False), SimCardReader(), SimOutputs(parse_config({}).hardware.outputs)

    def stuck():
        raise OSError("stuck")

    monkeypatch.setattr(camera, "close", stuck)
    with Hardware(camera=camera, card_reader=reader, outputs=outputs, clock=SimClock()):
        pass
    with pytest.raises(RuntimeError, match="closed"):
        reader.read(timeout=0)
    with pytest.raises(RuntimeError, match="closed"):
        outputs.signal_accept()
