"""One contract per device protocol, run against every implementation this machine has.

Simulators always run; real drivers run where their device exists (a video file
stands in for a V4L2 camera through the same OpenCV capture, ALSA's null device for
a sound card, a uinput keyboard for the RFID reader, real GPIO only on a Pi).
"""
from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from terminal.config import CameraSettings, CardReaderSettings, OutputSettings, SpeakerSettings
from terminal.hardware.camera import Camera, Frame, OpenCVCamera, SceneStep, SimCamera
from terminal.hardware.card_reader import CardReader, SimCardReader
from terminal.hardware.errors import CameraGone, DeviceMissing, SpeakerError
from terminal.hardware.outputs import GpioOutputs, Outputs, SimOutputs
from terminal.hardware.speaker import AplaySpeaker, SimSpeaker, Speaker, wav_info

W, H = 320, 240


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# -- camera ---------------------------------------------------------------------------------------
@dataclass
class CameraUnderTest:
    camera: Any
    vanish: Callable[[], None]  # make the device disappear mid-stream


def _video(path: Path, frames: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, (160, 120))
    for i in range(frames):
        writer.write(np.full((120, 160, 3), 20 + 10 * i, np.uint8))
    writer.release()
    return path


def _sim_camera(tmp_path: Path) -> CameraUnderTest:
    camera = SimCamera(W, H, fps=60, realtime=True)
    camera.play_scene([SceneStep(np.full((100, 100, 3), 128, np.uint8), frames=5)], loop=True)
    return CameraUnderTest(camera, camera.disconnect)


def _opencv_file_camera(tmp_path: Path) -> CameraUnderTest:
    video = _video(tmp_path / "stream.avi", 30)
    camera = OpenCVCamera(CameraSettings(device=str(video), width=W, height=H, read_timeout_s=0.5))
    return CameraUnderTest(camera, lambda: os.truncate(video, 0))


def _opencv_v4l2_camera(tmp_path: Path) -> CameraUnderTest:
    camera = OpenCVCamera(CameraSettings(device="0", width=W, height=H, read_timeout_s=2))
    return CameraUnderTest(camera, lambda: pytest.skip("a real camera cannot be unplugged by a test"))


CAMERAS = {"sim": _sim_camera, "opencv-file": _opencv_file_camera}
if os.path.exists("/dev/video0"):
    CAMERAS["opencv-v4l2"] = _opencv_v4l2_camera


@pytest.fixture(params=sorted(CAMERAS))
def camera_case(request, tmp_path):
    try:
        case = CAMERAS[request.param](tmp_path)
    except DeviceMissing as exc:
        pytest.skip(str(exc))
    yield case
    case.camera.close()


def test_camera_contract_frames(camera_case):
    camera = camera_case.camera
    assert isinstance(camera, Camera)
    frames = [camera.read() for _ in range(5)]
    for frame in frames:
        assert isinstance(frame, Frame)
        assert frame.image.shape == (H, W, 3) and frame.image.dtype == np.uint8
        assert frame.t_monotonic <= time.monotonic()
    assert [b.index - a.index for a, b in pairwise(frames)] == [1, 1, 1, 1]
    assert all(b.t_monotonic >= a.t_monotonic for a, b in pairwise(frames))


def test_camera_contract_vanishing_device(camera_case):
    camera = camera_case.camera
    camera.read()
    camera_case.vanish()
    with pytest.raises(CameraGone) as caught:
        for _ in range(200):
            camera.read()
    assert caught.value.device == "camera" and caught.value.reason
    with pytest.raises(CameraGone):  # gone stays gone while the device is away (reopening fails)
        camera.read()
    assert camera.health().startswith("gone since ") and not camera.state().ok
    camera.close()


def test_camera_contract_close(camera_case):
    with camera_case.camera as camera:
        camera.read()
    with pytest.raises(CameraGone, match="closed"):
        camera.read()
    camera.close()  # twice is harmless


# -- card reader -------------------------------------------------------------------------------------
@dataclass
class ReaderUnderTest:
    reader: Any
    present: Callable[[str], None]


def _sim_reader(stack) -> ReaderUnderTest:
    reader = SimCardReader(CardReaderSettings())
    return ReaderUnderTest(reader, reader.present)


def _uinput_reader(stack) -> ReaderUnderTest:
    evdev = pytest.importorskip("evdev")
    from terminal.hardware.card_reader import EvdevCardReader, _key_maps, key_events

    plain, _, _, _ = _key_maps()
    keys = sorted(set(plain) | {evdev.ecodes.KEY_ENTER, evdev.ecodes.KEY_LEFTSHIFT})
    device = stack.enter_context(evdev.UInput({evdev.ecodes.EV_KEY: keys}, name="seed-contract-reader"))
    time.sleep(0.2)
    reader = EvdevCardReader(CardReaderSettings(device=device.device.path))

    def present(raw: str) -> None:
        for event in key_events(raw):
            device.write_event(event)
        device.syn()

    return ReaderUnderTest(reader, present)


READERS = {"sim": _sim_reader}
if os.access("/dev/uinput", os.W_OK):
    READERS["evdev-uinput"] = _uinput_reader


@pytest.fixture(params=sorted(READERS))
def reader_case(request):
    import contextlib

    with contextlib.ExitStack() as stack:
        case = READERS[request.param](stack)
        yield case
        case.reader.close()


def test_card_reader_contract(reader_case):
    reader = reader_case.reader
    assert isinstance(reader, CardReader)
    assert reader.read(timeout=0.05) is None
    reader_case.present("0041E34E")
    assert reader.read(timeout=2) == "4318030"
    reader_case.present("12;4")  # unreadable: skipped with a reason, never returned
    reader_case.present("0004318030")
    assert reader.read(timeout=2) == "4318030"
    assert reader.rejected and "not a card number" in reader.rejected[-1]


def test_card_reader_contract_close(reader_case):
    with reader_case.reader as reader:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        reader.read(timeout=0)


# -- outputs --------------------------------------------------------------------------------------------
def _gpio_available() -> bool:
    try:
        GpioOutputs(OutputSettings(door_pulse_s=0.2, led_on_s=0.2)).close()
        return True
    except DeviceMissing:
        return False


OUTPUTS = {"sim": lambda s: SimOutputs(s)}
if os.path.exists("/dev/gpiochip0") and _gpio_available():
    OUTPUTS["gpio"] = lambda s: GpioOutputs(s)


@pytest.fixture(params=sorted(OUTPUTS))
def outputs(request):
    device = OUTPUTS[request.param](OutputSettings(door_pulse_s=0.2, led_on_s=0.15, beep_s=0.03, beep_gap_s=0.03))
    yield device
    device.close()


def test_outputs_contract_accept_and_refuse(outputs):
    assert isinstance(outputs, Outputs)
    assert not outputs.door_open
    outputs.signal_accept(open_door=True)
    assert outputs.door_open  # returned while the pulse runs
    assert wait_until(lambda: not outputs.door_open)
    outputs.signal_accept(open_door=False)
    assert not outputs.door_open
    outputs.signal_refuse()
    assert not outputs.door_open


def test_outputs_contract_open_door_and_close(outputs):
    outputs.open_door(5)
    assert outputs.door_open
    with pytest.raises(ValueError):
        outputs.open_door(0)
    outputs.close()
    assert not outputs.door_open  # closing never leaves the door unlocked
    with pytest.raises(RuntimeError, match="closed"):
        outputs.signal_accept()


# -- speaker ----------------------------------------------------------------------------------------------
SPEAKERS: dict[str, Callable[[Path], Any]] = {}
if shutil.which("espeak-ng"):
    SPEAKERS["sim"] = lambda cache: SimSpeaker(SpeakerSettings(), cache)
    if shutil.which("aplay"):
        SPEAKERS["aplay-null"] = lambda cache: AplaySpeaker(SpeakerSettings(player="aplay -q -D null"), cache)


@pytest.fixture(params=sorted(SPEAKERS) or [pytest.param(None, marks=pytest.mark.skip(reason="espeak-ng not installed"))])
def speaker(request, tmp_path):
    device = SPEAKERS[request.param](tmp_path / "voice")
    yield device
    device.close()


def test_speaker_contract(speaker):
    assert isinstance(speaker, Speaker)
    paths = speaker.prerender({"ok": "OK", "zh": "请一次一人"})
    for path in paths.values():
        info = wav_info(path)
        assert info.duration_s > 0.1 and info.rms > 500
    speaker.say_phrase("ok")
    speaker.say("Zhang Wei, clocked in", "en")
    assert speaker.wait_idle(timeout=20)
    assert [u.text for u in speaker.played] == ["OK", "Zhang Wei, clocked in"]
    assert speaker.played[0].path == paths["ok"]
    with pytest.raises(SpeakerError):
        speaker.say_phrase("never-prerendered")
    speaker.close()
    with pytest.raises(SpeakerError, match="closed"):
        speaker.say("late")
