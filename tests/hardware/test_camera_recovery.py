"""A camera that goes away and comes back: the same case against the real OpenCV driver and the simulator.

The real driver reads an MJPEG stream served over HTTP on loopback (``mjpeg_server``);
stopping the server drops the connection and closes the port (the camera is unplugged),
starting it again on the same port plugs it back. The simulator's ``disconnect`` /
``reconnect`` pull and push its plug; it comes back only through the driver's reopening.

A camera missing at boot is the same case from the start: the server is not started yet when
the camera (or the whole terminal) is opened, the simulator is built unplugged.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pytest

from terminal.config import CameraSettings
from terminal.hardware.camera import Frame, OpenCVCamera, ReopeningCamera, SimCamera, letterbox, load_image
from terminal.hardware.errors import CameraGone, DeviceMissing

if TYPE_CHECKING:
    from terminal.runtime import Terminal
    from terminal.vision.door import FaceWorker

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the test support beside this file (tests/hardware has no conftest)
from mjpeg_server import MjpegServer, free_port  # noqa: E402

W, H = 320, 240
RETRY_START_S, RETRY_MAX_S, WAIT_S = 0.05, 0.4, 0.2  # pauses short enough for a test


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def picture() -> np.ndarray:
    """A doorway with a green square: easy to tell from black or grey frames."""
    image = np.full((H, W, 3), 90, np.uint8)
    image[H // 4:3 * H // 4, W // 4:3 * W // 4] = (0, 200, 0)
    return image


def read_until_gone(camera: ReopeningCamera, limit: int = 500) -> CameraGone:
    for _ in range(limit):  # frames already buffered may still come
        try:
            camera.read()
        except CameraGone as exc:
            return exc
    raise AssertionError(f"the camera kept delivering {limit} frames after it was unplugged")


def read_until_frame(camera: ReopeningCamera, timeout: float = 10.0) -> Frame:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return camera.read()
        except CameraGone:
            if time.monotonic() > deadline:
                raise


@dataclass
class Plug:
    camera: Any
    unplug: Callable[[], object]
    plug: Callable[[], object]


@pytest.fixture
def mjpeg() -> Iterator[MjpegServer]:
    with MjpegServer(picture(), fps=30) as server:
        yield server


def _opencv(server: MjpegServer) -> Plug:
    camera = OpenCVCamera(CameraSettings(device=server.url, width=W, height=H, read_timeout_s=0.5),
                          retry_start_s=RETRY_START_S, retry_max_s=RETRY_MAX_S, wait_s=WAIT_S)
    return Plug(camera, server.stop, server.start)


def _sim(server: MjpegServer) -> Plug:
    camera = SimCamera(W, H, fps=30, realtime=True, retry_start_s=RETRY_START_S, retry_max_s=RETRY_MAX_S, wait_s=WAIT_S)
    camera.show(picture())
    return Plug(camera, camera.disconnect, camera.reconnect)


CASES = {"opencv-mjpeg": _opencv, "sim": _sim}


@pytest.fixture(params=sorted(CASES))
def plugged(request, mjpeg) -> Iterator[Plug]:
    case = CASES[request.param](mjpeg)
    with case.camera:
        yield case


def is_green(frame: Frame) -> bool:
    b, g, r = frame.image[H // 2, W // 2]
    return int(g) > 150 and int(b) < 60 and int(r) < 60


def test_a_camera_that_goes_away_is_reported_gone_and_comes_back_by_itself(plugged):
    camera = plugged.camera
    assert isinstance(camera, ReopeningCamera)
    first = [camera.read() for _ in range(3)]
    assert all(f.image.shape == (H, W, 3) for f in first) and is_green(first[-1])
    assert camera.state().ok and camera.health() == "ok"

    plugged.unplug()
    gone = read_until_gone(camera)
    assert gone.device == "camera" and gone.reason
    state = camera.state()
    assert not state.ok and state.reason == gone.reason and state.gone_at
    assert camera.health() == f"gone since {state.gone_at}: {gone.reason}"
    for _ in range(4):  # still unplugged: every reopening fails, the reads keep saying so
        with pytest.raises(CameraGone):
            camera.read()
    state = camera.state()
    assert state.attempts >= 2 and state.last_error and state.retry_in_s is not None
    assert state.gone_at == camera.state().gone_at  # one episode, one start

    plugged.plug()
    back = read_until_frame(camera)
    assert is_green(back) and back.image.shape == (H, W, 3)
    assert back.index > first[-1].index
    assert camera.state().ok and camera.health() == "ok"
    more = [camera.read() for _ in range(3)]  # and it keeps delivering
    assert [b.index - a.index for a, b in pairwise([back, *more])] == [1, 1, 1]


def test_reopening_can_be_forced_and_close_ends_it(plugged):
    camera = plugged.camera
    camera.read()
    plugged.unplug()
    read_until_gone(camera)
    assert camera.reopen() is False  # still unplugged
    plugged.plug()
    assert camera.reopen() is True and camera.state().ok
    assert is_green(read_until_frame(camera))
    camera.close()
    with pytest.raises(CameraGone, match="closed"):
        camera.read()


def test_close_wakes_a_read_waiting_for_the_next_reopening(mjpeg):
    camera = OpenCVCamera(CameraSettings(device=mjpeg.url, width=W, height=H, read_timeout_s=0.5),
                          retry_start_s=5.0, retry_max_s=5.0, wait_s=5.0)
    camera.read()
    mjpeg.stop()
    read_until_gone(camera)
    errors: list[CameraGone] = []

    def reader() -> None:
        try:
            camera.read()
        except CameraGone as exc:
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    assert wait_until(lambda: camera.state().retry_in_s is not None)
    camera.close()
    thread.join(timeout=3)
    assert not thread.is_alive() and "closed" in str(errors[0])


def test_an_unplugged_simulator_does_not_come_back_by_being_plugged_in_alone():
    """Plugging back is not enough: the stream it had is dead, only reopening brings frames (as for a USB camera)."""
    with SimCamera(W, H, fps=30, realtime=False, retry_start_s=0.3, retry_max_s=0.3, wait_s=0.01) as camera:
        camera.read()
        camera.disconnect()
        camera.reconnect()  # before any read noticed
        with pytest.raises(CameraGone, match="unplugged"):
            camera.read()
        assert not camera.state().ok
        with pytest.raises(CameraGone):  # the pause before the next reopening has not passed
            camera.read()
        assert read_until_frame(camera).index == 1 and camera.state().ok


# -- missing at boot -------------------------------------------------------------------------------------
@pytest.fixture
def not_yet() -> Iterator[MjpegServer]:
    """A network camera whose address is known but which is not up yet."""
    server = MjpegServer(picture(), fps=30, port=free_port())
    try:
        yield server
    finally:
        server.stop()


def _opencv_at_boot(server: MjpegServer, wait_for_device: bool) -> Plug:
    camera = OpenCVCamera(CameraSettings(device=server.url, width=W, height=H, read_timeout_s=0.5),
                          retry_start_s=RETRY_START_S, retry_max_s=RETRY_MAX_S, wait_s=WAIT_S,
                          wait_for_device=wait_for_device)
    return Plug(camera, server.stop, server.start)


def _sim_at_boot(server: MjpegServer, wait_for_device: bool) -> Plug:
    camera = SimCamera(W, H, fps=30, realtime=True, retry_start_s=RETRY_START_S, retry_max_s=RETRY_MAX_S, wait_s=WAIT_S,
                       plugged=False, wait_for_device=wait_for_device)
    camera.show(picture())
    return Plug(camera, camera.disconnect, camera.reconnect)


BOOT_CASES = {"opencv-mjpeg": _opencv_at_boot, "sim": _sim_at_boot}


@pytest.mark.parametrize("case", sorted(BOOT_CASES))
def test_a_camera_missing_at_boot_is_waited_for_and_found_when_plugged_in(case, not_yet):
    build = BOOT_CASES[case]
    with pytest.raises(DeviceMissing, match="camera: "):  # asked to be there now, it is missing (strict build)
        build(not_yet, False)

    boot = build(not_yet, True)
    with boot.camera as camera:
        state = camera.state()
        assert not state.ok and state.at_start and state.gone_at and state.retry_in_s is not None
        assert state.reason.startswith("not found at start-up: ") and state.last_error
        assert camera.health() == f"gone since {state.gone_at}: {state.reason}"
        for _ in range(4):  # still not plugged in: every reopening fails, each read says so
            with pytest.raises(CameraGone, match="not found at start-up"):
                camera.read()
        assert camera.state().attempts >= 2 and camera.state().gone_at == state.gone_at

        boot.plug()
        first = read_until_frame(camera)
        assert is_green(first) and first.image.shape == (H, W, 3) and first.index == 0
        assert camera.state().ok and not camera.state().at_start and camera.health() == "ok"
        more = [camera.read() for _ in range(3)]
        assert [b.index - a.index for a, b in pairwise([first, *more])] == [1, 1, 1] and is_green(more[-1])

        boot.unplug()  # from now on it is an ordinary camera that went away, not one missing at boot
        gone = read_until_gone(camera)
        assert not camera.state().at_start and not gone.reason.startswith("not found at start-up")


def test_a_door_without_face_recognition_still_says_its_camera_is_missing_at_boot(sim_config, store):
    from terminal.hardware.clock import SimClock
    from terminal.hardware.factory import Hardware
    from terminal.runtime import Terminal

    sim_config.face.enabled = False
    camera = SimCamera(W, H, fps=30, realtime=False, retry_start_s=RETRY_START_S, retry_max_s=RETRY_MAX_S, wait_s=WAIT_S,
                       plugged=False, wait_for_device=True)
    terminal = Terminal(sim_config, store, Hardware(clock=SimClock(), camera=camera))
    try:
        assert terminal.face_worker is None and terminal.worker("face") is None
        gone = terminal.camera_gone()
        assert gone is not None and gone["at_start"] and gone["reason"].startswith("not found at start-up")
        status = terminal.hardware_status()
        assert status["camera"] == f"gone since {gone['since']}: {gone['reason']}"
        assert status["camera_gone_since"] == gone["since"]
        events = store.query("SELECT kind, severity, payload FROM events WHERE kind LIKE 'camera_%'")
        assert [(e["kind"], e["severity"]) for e in events] == [("camera_gone", "error")]
        assert json.loads(events[0]["payload"]) == {"reason": gone["reason"], "since": gone["since"], "at_start": True}
        camera.reconnect()
        assert camera.reopen() and terminal.camera_gone() is None
        assert "camera_gone_since" not in terminal.hardware_status()
    finally:
        terminal.close()
        camera.close()


# -- the terminal: face worker, events, status, watchdog -------------------------------------------------
@pytest.fixture
def face_stream(faces_dir) -> Iterator[MjpegServer]:
    face = letterbox(load_image(faces_dir / "people" / "obama" / "obama.jpg"), 640, 480, (96, 104, 100))
    with MjpegServer(face, fps=15) as server:
        yield server


class SystemdSocket:
    """The service manager's end of NOTIFY_SOCKET: every message the terminal sends, in order."""

    def __init__(self, path: Path):
        self.messages: list[str] = []
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(path))
        self._socket.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                self.messages.append(self._socket.recv(1024).decode("utf-8"))
            except TimeoutError:
                continue

    def statuses(self) -> list[str]:
        return [m.removeprefix("STATUS=") for m in list(self.messages) if m.startswith("STATUS=")]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._socket.close()


@pytest.fixture
def systemd(tmp_path, monkeypatch) -> Iterator[SystemdSocket]:
    manager = SystemdSocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # pinged every 0.1 s
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    try:
        yield manager
    finally:
        manager.close()


def test_the_face_worker_of_a_real_camera_survives_it_going_away(sim_config, face_stream, systemd):
    """The whole door on the real driver: the camera goes, the door says so everywhere, and it comes back."""
    from terminal.runtime import Terminal
    from terminal.vision.door import FaceWorker

    sim_config.hardware.camera.driver = "pi"
    sim_config.hardware.camera.device = face_stream.url
    sim_config.hardware.camera.read_timeout_s = 0.5
    sim_config.hardware.fingerprint.enabled = False
    with Terminal.open(sim_config) as terminal:
        camera = terminal.hardware.camera
        assert isinstance(camera, OpenCVCamera)
        worker = terminal.face_worker
        assert isinstance(worker, FaceWorker) and worker.camera is camera
        with _serving(terminal, camera, worker) as (frames, faces_seen):
            _recover(terminal, worker, face_stream, systemd, frames, faces_seen)


@contextmanager
def _serving(terminal: Terminal, camera: OpenCVCamera, worker: FaceWorker) -> Iterator[tuple[list[Frame], list[int]]]:
    """The terminal running and serving (systemd notifications), with quick reopening; yields the frames the face
    worker hands out and the number of faces in each of its results."""
    camera.retry_start_s, camera.retry_max_s, camera.wait_s = RETRY_START_S, RETRY_MAX_S, WAIT_S
    worker.camera_grace_s = 0.0  # face recognition counts as stopped as soon as the camera is gone
    frames: list[Frame] = []
    faces_seen: list[int] = []
    worker.add_frame_listener(frames.append)
    worker.listeners.append(lambda result: faces_seen.append(len(result.faces)))
    terminal.start()
    serving = threading.Event()
    server = threading.Thread(target=terminal.serve, args=(serving,))
    server.start()
    try:
        yield frames, faces_seen
    finally:
        serving.set()
        server.join(5)


def _recover(terminal: Terminal, worker: FaceWorker, face_stream: MjpegServer, systemd: SystemdSocket, frames: list[Frame],
             faces_seen: list[int]) -> None:
    assert wait_until(lambda: len(faces_seen) >= 2 and faces_seen[-1] >= 1, timeout=30)  # the face is seen
    assert terminal.status_line().startswith("运行中 Running")
    assert systemd.statuses() == []  # nothing to tell while it runs as it started

    face_stream.stop()
    assert wait_until(lambda: worker.camera_error is not None)
    assert wait_until(lambda: not worker.face_ok())
    gone = terminal.camera_gone()
    assert gone is not None and gone["since"] and gone["face_stopped"]
    assert terminal.healthy()  # the watchdog is still fed: no restart loop for an unplugged camera
    assert terminal.status_line() == (f"人脸识别已停止：摄像头自 {gone['since']} 断开 "
                                      f"Face recognition stopped: camera gone since {gone['since']}")
    assert wait_until(lambda: (terminal.store.get_setting("hardware.status") or {}).get("camera_gone_since")
                      == gone["since"])
    published = terminal.store.get_setting("hardware.status")
    assert published["camera"].startswith(f"gone since {gone['since']}")
    events = terminal.store.query("SELECT kind, severity, payload FROM events WHERE kind LIKE 'camera_%'")
    assert [(e["kind"], e["severity"]) for e in events] == [("camera_gone", "error")]
    assert wait_until(lambda: systemd.statuses() == [terminal.status_line()])  # systemctl status says so
    pings = len(systemd.messages)
    assert wait_until(lambda: systemd.messages[pings:].count("WATCHDOG=1") >= 3)  # and the watchdog is still fed
    seen_before = len(frames)

    face_stream.start()  # plugged back, same address
    assert wait_until(lambda: worker.camera_error is None)
    assert wait_until(lambda: len(frames) >= seen_before + 5)
    faces_before = len(faces_seen)
    assert wait_until(lambda: len(faces_seen) > faces_before + 1 and faces_seen[-1] >= 1, timeout=30)
    assert worker.face_ok() and terminal.camera_gone() is None and terminal.healthy()
    assert terminal.status_line().startswith("运行中 Running")
    assert wait_until(lambda: systemd.statuses()[-1:] == [terminal.status_line()])
    assert wait_until(lambda: "camera_gone_since" not in (terminal.store.get_setting("hardware.status") or {}))
    assert terminal.store.get_setting("hardware.status")["camera"] == "ok"
    events = terminal.store.query("SELECT kind, payload FROM events WHERE kind LIKE 'camera_%' ORDER BY id")
    assert [e["kind"] for e in events] == ["camera_gone", "camera_back"]
    back = json.loads(events[1]["payload"])
    assert back["since"] == gone["since"] and back["gone_s"] > 0


class _NoRecognizer:
    """The recognizer's part a worker needs when no frame ever comes."""

    def reset(self) -> None: ...

    def close(self) -> None: ...


class _HangingCamera:
    """A camera whose read hangs inside the driver and never returns (a wedged camera thread)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.reading = threading.Event()

    def read(self) -> Frame:
        self.reading.set()
        self.release.wait()
        raise CameraGone("released")

    def close(self) -> None:
        self.release.set()

    def __enter__(self) -> _HangingCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_a_stuck_camera_thread_withholds_the_watchdog_but_a_gone_camera_does_not(store):
    from terminal.vision.door import FaceDoor, FaceWorker
    from terminal.vision.recognizer import FaceRecognizer

    door = FaceDoor(store, punches=cast(Any, object()))
    recognizer = cast(FaceRecognizer, _NoRecognizer())
    with SimCamera(W, H, fps=30, realtime=True, retry_start_s=0.05, retry_max_s=0.1, wait_s=0.05) as sim:
        gone = FaceWorker(sim, recognizer, door, camera_grace_s=0.0, stuck_after_s=1.0)
        sim.disconnect()
        gone.start()
        try:
            assert wait_until(lambda: gone.camera_error is not None and not gone.face_ok())
            time.sleep(1.2)  # longer than stuck_after_s: the loop keeps turning while the camera is away
            assert gone.healthy()
        finally:
            gone.stop()
    with _HangingCamera() as hanging:
        stuck = FaceWorker(hanging, recognizer, door, stuck_after_s=0.3)
        stuck.start()
        try:
            assert hanging.reading.wait(5)
            assert wait_until(lambda: not stuck.healthy(), timeout=5)
        finally:
            hanging.release.set()
            stuck.stop()


def test_a_door_booted_without_its_camera_recognises_faces_once_it_is_plugged_in(sim_config, faces_dir, systemd):
    """The whole door on the real driver, powered before its (network) camera is up: it boots, says the camera is
    missing, takes the other inputs, and sees faces as soon as the camera appears."""
    from terminal.runtime import Terminal
    from terminal.vision.door import FaceWorker

    face = letterbox(load_image(faces_dir / "people" / "obama" / "obama.jpg"), 640, 480, (96, 104, 100))
    later = MjpegServer(face, fps=15, port=free_port())
    sim_config.hardware.camera.driver = "pi"
    sim_config.hardware.camera.device = later.url
    sim_config.hardware.camera.read_timeout_s = 0.5
    sim_config.hardware.fingerprint.enabled = False
    try:
        with Terminal.open(sim_config) as terminal:
            camera = terminal.hardware.camera
            assert isinstance(camera, OpenCVCamera) and "camera" not in terminal.hardware.problems
            assert not camera.state().ok and camera.state().at_start
            worker = terminal.face_worker
            assert isinstance(worker, FaceWorker) and worker.camera is camera and terminal.worker("face") is worker
            assert terminal.worker("card-reader") is not None  # the other ways in run meanwhile
            with _serving(terminal, camera, worker) as (frames, faces_seen):
                _boot_without_camera(terminal, worker, later, systemd, frames, faces_seen)
    finally:
        later.stop()


def _boot_without_camera(terminal: Terminal, worker: FaceWorker, later: MjpegServer, systemd: SystemdSocket,
                         frames: list[Frame], faces_seen: list[int]) -> None:
    camera = cast(OpenCVCamera, worker.camera)
    assert wait_until(lambda: camera.state().attempts >= 2)  # the face worker keeps trying
    assert frames == [] and faces_seen == [] and worker.healthy() and terminal.healthy()
    gone = terminal.camera_gone()
    assert gone is not None and gone["at_start"] and gone["face_stopped"]
    assert gone["reason"].startswith("not found at start-up: cannot open camera http://127.0.0.1")
    assert terminal.status_line() == (f"人脸识别已停止：开机时未找到摄像头（自 {gone['since']}），等待连接 "
                                      f"Face recognition stopped: camera not found at start-up (since {gone['since']}), "
                                      "waiting for it")
    assert wait_until(lambda: (terminal.store.get_setting("hardware.status") or {}).get("camera_gone_since")
                      == gone["since"])
    assert wait_until(lambda: systemd.statuses()[:1] == [terminal.status_line()])
    events = terminal.store.query("SELECT kind, severity, payload FROM events WHERE kind LIKE 'camera_%' "
                                  "OR kind = 'hardware_missing'")
    assert [(e["kind"], e["severity"]) for e in events] == [("camera_gone", "error")]  # once, however many attempts
    assert json.loads(events[0]["payload"]) == {"reason": gone["reason"], "since": gone["since"], "at_start": True}

    later.start()  # the installer plugs the camera in
    assert wait_until(lambda: worker.camera_error is None)
    assert wait_until(lambda: len(frames) >= 5)
    assert wait_until(lambda: len(faces_seen) >= 2 and faces_seen[-1] >= 1, timeout=30)  # the face is seen
    assert worker.face_ok() and terminal.camera_gone() is None and terminal.healthy()
    assert terminal.status_line().startswith("运行中 Running (face")
    assert wait_until(lambda: systemd.statuses()[-1:] == [terminal.status_line()])
    assert wait_until(lambda: terminal.store.get_setting("hardware.status")["camera"] == "ok")
    events = terminal.store.query("SELECT kind, payload FROM events WHERE kind LIKE 'camera_%' ORDER BY id")
    assert [e["kind"] for e in events] == ["camera_gone", "camera_back"]
    back = json.loads(events[1]["payload"])
    assert back["since"] == gone["since"] and back["at_start"] and back["gone_s"] > 0
