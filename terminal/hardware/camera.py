"""Cameras: OpenCV capture (USB/V4L2), picamera2 (Raspberry Pi camera) and a simulator.

Every camera gives :class:`Frame` objects holding a BGR ``uint8`` image of the
configured width × height (other sizes are letterboxed), the monotonic time of the
capture and a running index. A camera that is unplugged, stops answering within
``read_timeout_s`` or whose stream ends raises :class:`CameraGone` from ``read()``
with the reason. Every driver then reopens its device itself (:class:`ReopeningCamera`):
the next reads wait for the next attempt (0.5 s, doubling to ``retry_max_s``) and raise
:class:`CameraGone` until the device opens and delivers again, so the object the
terminal holds (``Hardware.camera``) stays the same for everyone reading it.
:meth:`ReopeningCamera.state` says whether it is gone, since when and why. Built with
``wait_for_device=True`` (as the terminal builds it), a camera that is not there yet when it is
opened (unplugged at boot) starts gone and is found the same way once it is plugged in; a
misconfiguration (:class:`DeviceMisconfigured`: a video file that does not exist, a driver that
is not installed) still raises at once.

:class:`SimCamera` plays an image folder, a video file or a scripted scene at the
configured frame rate; tests drive it (``show``, ``play_scene``, ``disconnect`` /
``reconnect`` — which unplug and plug its source, so it comes back only through the same
reopening as a real camera) and check what it served (``served``, ``labels_served``, ``assert_served``).
"""
from __future__ import annotations

import concurrent.futures
import itertools
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from contract.stamps import utc_stamp
from terminal.config import CameraSettings
from terminal.hardware.errors import CameraGone, DeviceMisconfigured, DeviceMissing, HardwareError

log = logging.getLogger(__name__)

RETRY_START_S = 0.5  # first reopening attempt after a camera went away; pauses double from here
RETRY_MAX_S = 30.0  # longest pause between two attempts
GONE_WAIT_S = 1.0  # a read while gone waits at most this long for the next attempt, so its caller's loop goes on
MISSING_AT_START = "not found at start-up:"  # how the reason of a camera missing since it was first opened begins

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
BACKGROUND_BGR = (96, 104, 100)  # an evenly lit, empty doorway


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # H × W × 3, BGR, uint8
    t_monotonic: float
    index: int


@runtime_checkable
class Camera(Protocol):
    def read(self) -> Frame:
        """The next frame; raises CameraGone when the camera has disappeared, timed out or ended."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Camera: ...

    def __exit__(self, *exc: object) -> None: ...


@dataclass(frozen=True)
class CameraState:
    """Whether a camera delivers; while gone: why, since when (monotonic and UTC stamp), failed reopenings."""

    ok: bool
    reason: str | None = None
    gone_since: float | None = None  # time.monotonic() of the first failed read
    gone_at: str | None = None  # the same moment as a UTC stamp, for screens and messages
    attempts: int = 0  # reopenings that failed since
    last_error: str | None = None  # why the last reopening failed
    retry_in_s: float | None = None  # until the next reopening (None: it will not be reopened)
    at_start: bool = False  # missing since it was first opened: it has not delivered a frame yet

    def gone_for_s(self, now: float | None = None) -> float:
        return 0.0 if self.gone_since is None else max(0.0, (time.monotonic() if now is None else now) - self.gone_since)


class ReopeningCamera:
    """What every driver shares: a read that fails marks the camera gone, and later reads reopen it.

    A driver implements ``_open()`` (raise :class:`DeviceMissing` or any error when the device is not
    there), ``_read_frame()`` (raise :class:`CameraGone` when it disappears) and ``_close_device()``.
    While gone, ``read()`` waits (at most ``GONE_WAIT_S``, woken by ``close()``) for the next attempt,
    closes what is left of the device, opens it again and, if that works, returns its first frame;
    otherwise it raises :class:`CameraGone` with the original reason and the pause doubles
    (``retry_start_s`` up to ``retry_max_s``). The simulator goes through exactly this path.
    """

    _reopens = True  # False: a source that ended stays gone (a video file)

    def _init_reopening(self, retry_start_s: float = RETRY_START_S, retry_max_s: float = RETRY_MAX_S,
                        wait_s: float = GONE_WAIT_S) -> None:
        if retry_start_s <= 0 or retry_max_s < retry_start_s:
            raise ValueError("reopening needs 0 < retry_start_s <= retry_max_s")
        self.retry_start_s, self.retry_max_s, self.wait_s = retry_start_s, retry_max_s, wait_s
        self._read_lock = threading.Lock()
        self._closing = threading.Event()
        self._gone: str | None = None
        self._gone_since: float | None = None
        self._gone_at: str | None = None
        self._gone_at_start = False
        self._attempts = 0
        self._last_error: str | None = None
        self._delay = retry_start_s
        self._next_try = 0.0

    def _start(self, wait_for_device: bool) -> None:
        """Open the device when the camera is built. With ``wait_for_device`` a camera that is not there yet
        (unplugged at boot, a network camera not up yet) starts gone — ``state().at_start`` — and the reads
        reopen it with the same pauses as one that went away. A misconfiguration (:class:`DeviceMisconfigured`)
        and a source that never reopens (a video file) raise either way."""
        try:
            self._open()
        except DeviceMisconfigured:
            raise
        except Exception as exc:
            if not wait_for_device or not self._reopens:
                raise
            reason = exc.reason if isinstance(exc, HardwareError) else f"{type(exc).__name__}: {exc}"
            self._went(f"{MISSING_AT_START} {reason}", at_start=True)
            self._last_error = reason

    # -- driver hooks ------------------------------------------------------------------------------
    def _open(self) -> None:
        raise NotImplementedError

    def _read_frame(self) -> Frame:
        raise NotImplementedError

    def _close_device(self) -> None:
        raise NotImplementedError

    def _wake_reader(self) -> None:
        """Interrupt a read waiting inside the driver (close)."""

    # -- Camera ---------------------------------------------------------------------------------------
    def read(self) -> Frame:
        if self._closing.is_set():
            raise CameraGone("camera is closed")
        with self._read_lock:
            if self._gone is not None:
                self._reopen_when_due()
            try:
                return self._read_frame()
            except CameraGone as exc:
                if self._closing.is_set():
                    raise CameraGone("camera is closed") from None
                self._went(exc.reason)
                raise

    def reopen(self) -> bool:
        """Try to open a gone camera now, whatever the pause; True when it is (or already was) back."""
        with self._read_lock:
            if self._gone is None:
                return True
            self._next_try = 0.0
            try:
                self._reopen_when_due()
            except CameraGone:
                return False
            return True

    def state(self) -> CameraState:
        gone = self._gone
        if gone is None:
            return CameraState(ok=True)
        retry = max(0.0, self._next_try - time.monotonic()) if self._reopens and not self._closing.is_set() else None
        return CameraState(False, gone, self._gone_since, self._gone_at, self._attempts, self._last_error, retry,
                           self._gone_at_start)

    def health(self) -> str:
        """'ok', or 'gone since <UTC stamp>: <reason>' (what the status screen and the status message show)."""
        state = self.state()
        return "ok" if state.ok else f"gone since {state.gone_at}: {state.reason}"

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        self._wake_reader()
        with self._read_lock:
            try:
                self._close_device()
            except Exception:
                log.debug("closing the camera", exc_info=True)

    # -- internals ---------------------------------------------------------------------------------
    def _went(self, reason: str, at_start: bool = False) -> None:
        if self._gone is None:
            self._gone, self._gone_since, self._gone_at = reason, time.monotonic(), utc_stamp()
            self._gone_at_start = at_start
            self._attempts, self._last_error, self._delay = 0, None, self.retry_start_s
            self._next_try = self._gone_since + self._delay
            if at_start:
                log.error("camera %s; waiting for it to be plugged in", reason)
            else:
                log.error("camera gone: %s", reason)

    def _reopen_when_due(self) -> None:
        """With the read lock held: wait for the next attempt and reopen; CameraGone while still gone."""
        assert self._gone is not None
        if not self._reopens:
            raise CameraGone(self._gone)
        remaining = self._next_try - time.monotonic()
        if remaining > 0:
            self._closing.wait(min(remaining, self.wait_s))
            if self._closing.is_set():
                raise CameraGone("camera is closed")
            if time.monotonic() < self._next_try:
                raise CameraGone(self._gone)
        try:
            self._close_device()
        except Exception:
            log.debug("releasing the lost camera", exc_info=True)
        try:
            self._open()
        except Exception as exc:
            self._attempts += 1
            self._last_error = exc.reason if isinstance(exc, HardwareError) else str(exc)
            self._delay = min(self._delay * 2, self.retry_max_s)
            self._next_try = time.monotonic() + self._delay
            log.warning("camera still gone (attempt %d: %s); next attempt in %.1f s", self._attempts, self._last_error,
                        self._delay)
            raise CameraGone(self._gone) from None
        log.info("camera back after %.1f s (%d failed attempts)", time.monotonic() - (self._gone_since or 0.0),
                 self._attempts)
        self._gone = self._gone_since = self._gone_at = self._last_error = None
        self._gone_at_start = False
        self._attempts = 0
        self._delay = self.retry_start_s


# -- images ------------------------------------------------------------------------------
def as_bgr(image: np.ndarray) -> np.ndarray:
    """Gray, BGRA or BGR uint8 → BGR uint8."""
    import cv2

    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"expected an 8-bit image, got {array.dtype}")
    if array.ndim == 2:
        return cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    if array.ndim == 3 and array.shape[2] == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2BGR)
    if array.ndim == 3 and array.shape[2] == 3:
        return array
    raise ValueError(f"expected a gray, BGR or BGRA image, got shape {array.shape}")


def letterbox(image: np.ndarray, width: int, height: int, fill: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """Scale to fit width × height keeping the aspect ratio; pad the rest with ``fill``."""
    import cv2

    image = as_bgr(image)
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return np.ascontiguousarray(image)
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = fill
    top, left = (height - new_h) // 2, (width - new_w) // 2
    canvas[top:top + new_h, left:left + new_w] = resized
    return canvas


def load_image(path: Path | str) -> np.ndarray:
    """An image file as BGR uint8 (through OpenCV, which also reads WebP); ValueError naming the file otherwise."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"image {path} not found")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path} is not an image OpenCV can read")
    return image


def side_by_side(images: Sequence[np.ndarray], width: int, height: int) -> np.ndarray:
    """Several pictures next to each other in one frame ("two people at the door")."""
    if not images:
        raise ValueError("side_by_side needs at least one image")
    cell = width // len(images)
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = BACKGROUND_BGR
    for i, image in enumerate(images):
        canvas[:, i * cell:(i + 1) * cell] = letterbox(image, cell, height, BACKGROUND_BGR)
    return canvas


def background(width: int, height: int) -> np.ndarray:
    image = np.empty((height, width, 3), np.uint8)
    image[:] = BACKGROUND_BGR
    return image


Result = TypeVar("Result")


class _CallThread:
    """One daemon thread running driver calls in order; a call that hangs in a driver never blocks the
    caller (it waits with a timeout) nor the process exit (unlike a ThreadPoolExecutor, which joins its
    workers at exit)."""

    def __init__(self, name: str):
        import queue

        self._calls: queue.Queue[tuple[concurrent.futures.Future[Any], Callable[[], Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            item = self._calls.get()
            if item is None:
                return
            future, call = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as exc:
                future.set_exception(exc)

    def submit(self, call: Callable[[], Result]) -> concurrent.futures.Future[Result]:
        future: concurrent.futures.Future[Result] = concurrent.futures.Future()
        self._calls.put((future, call))
        return future

    def stop(self) -> None:
        self._calls.put(None)


# -- OpenCV -------------------------------------------------------------------------------
def _capture_source(device: str) -> int | str:
    return int(device) if device.isdigit() else device


class OpenCVCamera(ReopeningCamera):
    """A USB/V4L2 camera (index or /dev/video path) — or any source OpenCV opens: a video file, a network stream.

    Each ``cv2.VideoCapture.read`` runs on one worker thread, so a camera that hangs
    is reported as gone after ``read_timeout_s`` instead of freezing the caller. A
    camera that is gone (unplugged, read error, no frame for ``read_timeout_s``) is
    opened again as a new capture (:class:`ReopeningCamera`); a video file that ended
    stays ended. With ``wait_for_device`` a camera (index, /dev path, stream URL) that
    cannot be opened yet starts gone and is waited for; a video file that does not exist
    is a misconfiguration (:class:`DeviceMisconfigured`) either way.
    """

    def __init__(self, settings: CameraSettings, *, retry_start_s: float = RETRY_START_S,
                 retry_max_s: float = RETRY_MAX_S, wait_s: float = GONE_WAIT_S, wait_for_device: bool = False):
        self.settings = settings
        self.source = _capture_source(settings.device)
        self._is_url = isinstance(self.source, str) and "://" in self.source
        self._is_file = isinstance(self.source, str) and not self._is_url and os.path.isfile(self.source)
        self._reopens = not self._is_file
        self._init_reopening(retry_start_s, retry_max_s, wait_s)
        self._capture: Any = None
        self._worker: _CallThread | None = None
        self._pending: concurrent.futures.Future | None = None
        self._index = 0
        self._start(wait_for_device)

    def _open(self) -> None:
        import cv2

        source = self.source
        if isinstance(source, str) and not self._is_url and not os.path.exists(source):
            if not source.startswith("/dev/"):
                raise DeviceMisconfigured("camera", f"video file {source} does not exist (hardware.camera.device names "
                                          "a camera index, a /dev/video path, a stream URL, picamera2 or a video file)")
            raise DeviceMissing("camera", f"no camera at {source}")
        if isinstance(source, int) or str(source).startswith("/dev/"):
            api = cv2.CAP_V4L2
        else:
            api = cv2.CAP_FFMPEG if self._is_url else cv2.CAP_ANY
        capture = cv2.VideoCapture(source, api)
        if not capture.isOpened():
            capture.release()
            what = f"camera {source}" + (" (V4L2)" if api == cv2.CAP_V4L2 else "")
            raise DeviceMissing("camera", f"cannot open {what}: not connected, not a camera, or in use by another program")
        if not self._is_file and not self._is_url:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.settings.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.settings.height)
            capture.set(cv2.CAP_PROP_FPS, self.settings.fps)
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not one from a second ago
        self._capture = capture
        self._worker = _CallThread("seed-camera")
        self._pending = None
        log.info("camera %s opened (%s)", source, capture.getBackendName())

    def _read_frame(self) -> Frame:
        capture, worker = self._capture, self._worker
        if capture is None or worker is None:
            raise CameraGone(f"camera {self.source} is not open")
        timeout = self.settings.read_timeout_s
        deadline = time.monotonic() + timeout
        while True:
            if self._pending is None:
                self._pending = worker.submit(capture.read)
            try:
                ok, image = self._pending.result(timeout=max(0.0, deadline - time.monotonic()))
            except concurrent.futures.TimeoutError:
                # the read is still hanging in the driver: leave it, the camera is gone
                raise CameraGone(f"no frame from camera {self.source} for {timeout:g} s") from None
            except Exception as exc:
                self._pending = None
                raise CameraGone(f"camera {self.source} failed: {exc}") from None
            self._pending = None
            if ok and image is not None:
                break
            if self._is_file:
                raise CameraGone(f"video {self.source} ended or is unreadable after {self._index} frames")
            if time.monotonic() >= deadline or self._closing.is_set():
                raise CameraGone(f"camera {self.source} stopped delivering frames (unplugged?)")
            time.sleep(0.02)
        frame = Frame(letterbox(image, self.settings.width, self.settings.height), time.monotonic(), self._index)
        self._index += 1
        return frame

    def _close_device(self) -> None:
        capture, worker, pending = self._capture, self._worker, self._pending
        self._capture = self._worker = self._pending = None
        if capture is None:
            return
        if pending is not None and not pending.done():
            log.warning("camera %s: a read is still hanging; not releasing the device under it", self.source)
        else:
            capture.release()
        if worker is not None:
            worker.stop()

    def __enter__(self) -> OpenCVCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- picamera2 ------------------------------------------------------------------------------
class Picamera2Camera(ReopeningCamera):
    """The Raspberry Pi camera through picamera2 (libcamera). Frames come as BGR ('RGB888' in libcamera's naming).

    A camera that stops answering is stopped, closed and started again (:class:`ReopeningCamera`);
    with ``wait_for_device`` one libcamera does not detect yet starts gone and is waited for
    (picamera2 not installed is a misconfiguration: :class:`DeviceMisconfigured`).
    """

    def __init__(self, settings: CameraSettings, *, retry_start_s: float = RETRY_START_S,
                 retry_max_s: float = RETRY_MAX_S, wait_s: float = GONE_WAIT_S, wait_for_device: bool = False):
        self.settings = settings
        self._init_reopening(retry_start_s, retry_max_s, wait_s)
        self._camera: Any = None
        self._worker: _CallThread | None = None
        self._index = 0
        self._start(wait_for_device)

    def _open(self) -> None:
        settings = self.settings
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise DeviceMisconfigured("camera", f"picamera2 is not installed ({exc}); on Raspberry Pi OS it is the "
                                "python3-picamera2 package, visible to a venv made with --system-site-packages") from None
        try:
            if not Picamera2.global_camera_info():
                raise DeviceMissing("camera", "no Raspberry Pi camera detected by libcamera")
            camera = Picamera2()
            config = camera.create_video_configuration(main={"size": (settings.width, settings.height), "format": "RGB888"},
                                                       controls={"FrameRate": float(settings.fps)})
            camera.configure(config)
            camera.start()
        except DeviceMissing:
            raise
        except Exception as exc:
            raise DeviceMissing("camera", f"Raspberry Pi camera could not start: {exc}") from None
        self._camera = camera
        self._worker = _CallThread("seed-picamera")

    def _read_frame(self) -> Frame:
        camera, worker = self._camera, self._worker
        if camera is None or worker is None:
            raise CameraGone("the Raspberry Pi camera is not open")
        future = worker.submit(lambda: camera.capture_array("main"))
        try:
            image = future.result(timeout=self.settings.read_timeout_s)
        except concurrent.futures.TimeoutError:
            raise CameraGone(f"no frame from the Raspberry Pi camera for {self.settings.read_timeout_s:g} s") from None
        except Exception as exc:
            raise CameraGone(f"Raspberry Pi camera failed: {exc}") from None
        frame = Frame(letterbox(image, self.settings.width, self.settings.height), time.monotonic(), self._index)
        self._index += 1
        return frame

    def _close_device(self) -> None:
        camera, worker = self._camera, self._worker
        self._camera = self._worker = None
        if camera is not None:
            try:
                camera.stop()
                camera.close()
            except Exception:
                log.debug("closing the Raspberry Pi camera", exc_info=True)
        if worker is not None:
            worker.stop()

    def __enter__(self) -> Picamera2Camera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- simulator ------------------------------------------------------------------------------
ImageLike = np.ndarray | Path | str | None


@dataclass
class SceneStep:
    """One step of a scripted scene: an image (None: the empty doorway) for a number of frames or seconds.

    With neither ``frames`` nor ``seconds`` the image stays until the scene is changed.
    """

    image: ImageLike = None
    seconds: float | None = None
    frames: int | None = None
    label: str = ""


@dataclass(frozen=True)
class Served:
    index: int
    label: str  # the step label, file name or "background"


class SimCamera(ReopeningCamera):
    """A camera playing an image folder, a video file or a scripted scene at ``fps``.

    ``realtime=True`` paces reads to the frame rate and, like a live camera, skips the
    frames a slow reader missed; ``realtime=False`` serves every frame at once, in
    order (deterministic tests).

    ``disconnect()`` pulls its plug: the stream it had open is dead for good (like a
    capture whose USB camera was unplugged), and opening it again fails until
    ``reconnect()`` plugs it back — it returns through :class:`ReopeningCamera`'s
    reopening, with its pauses, as a real camera does. ``plugged=False`` builds it
    unplugged (a camera missing at boot): like a real driver it then raises
    :class:`DeviceMissing`, or with ``wait_for_device`` starts gone until plugged in and reopened.
    """

    def __init__(self, width: int = 640, height: int = 480, fps: float = 15.0, source: Path | None = None,
                 loop: bool = True, realtime: bool = True, hold_s: float = 1.0, *,
                 retry_start_s: float = RETRY_START_S, retry_max_s: float = RETRY_MAX_S, wait_s: float = GONE_WAIT_S,
                 plugged: bool = True, wait_for_device: bool = False):
        if fps <= 0:
            raise ValueError("fps must be positive")
        self._init_reopening(retry_start_s, retry_max_s, wait_s)
        self.width, self.height, self.fps = width, height, fps
        self.loop = loop
        self.realtime = realtime
        self.hold_s = hold_s
        self.served: list[Served] = []
        self._background = background(width, height)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._plugged = plugged
        self._unplugs = 0  # times the plug was pulled; a stream opened before the last pull is dead
        self._opened_at_unplug = 0
        self._unplug_reason = "simulated camera was unplugged"
        self._index = 0
        self._started: float | None = None
        self._program: Iterator[tuple[np.ndarray, str]] = iter(())
        self._video: Any = None
        if source is not None:
            self.play_source(Path(source))
        try:
            self._start(wait_for_device)
        except BaseException:
            self._release_video()
            raise

    @classmethod
    def from_settings(cls, settings: CameraSettings, realtime: bool = True) -> SimCamera:
        source = settings.sim_source
        if source is not None and not Path(source).exists():
            raise DeviceMisconfigured("camera", f"simulated camera source {source} not found")
        try:
            return cls(settings.width, settings.height, settings.fps, source, loop=settings.sim_loop, realtime=realtime)
        except ValueError as exc:
            raise DeviceMisconfigured("camera", f"simulated camera source {source}: {exc}") from None

    # -- drive ---------------------------------------------------------------------------------
    def play_source(self, source: Path) -> None:
        """Play an image folder (each image held ``hold_s``) or a video file."""
        source = Path(source)
        if source.is_dir():
            files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise ValueError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {source}")
            steps = [SceneStep(p, seconds=self.hold_s, label=p.name) for p in files]
            self.play_scene(steps, loop=self.loop)
        elif source.is_file():
            capture, program = self._open_video(source)
            self._set_program(program, video=capture)
        else:
            raise ValueError(f"{source} is neither an image folder nor a video file")

    def play_scene(self, steps: Iterable[SceneStep | tuple], loop: bool = False) -> None:
        """Replace what the camera sees with a scripted scene; after its end the doorway is empty (or it loops)."""
        prepared = [self._prepare(step if isinstance(step, SceneStep) else SceneStep(*step)) for step in steps]
        if loop and any(count is None for _, _, count in prepared):
            raise ValueError("a looping scene needs a length (frames or seconds) on every step")
        self._set_program(self._scene_frames(prepared, loop))

    def show(self, image: ImageLike, seconds: float | None = None, frames: int | None = None, label: str = "") -> None:
        """Put one picture in front of the camera (for a while, or until changed)."""
        self.play_scene([SceneStep(image, seconds, frames, label)])

    def sway(self, image: ImageLike, seconds: float, amplitude_px: float = 8.0, period_s: float = 2.0,
             label: str = "") -> None:
        """People standing in the doorway: one picture that drifts to and fro as standing people do (a head sways
        a couple of centimetres: ~8 px at a metre from a 640x480 camera), moved by whole pixels.

        A picture held perfectly still is what a poster on the wall looks like to the door (the
        anti-tailgating counter leaves faces that never change out), so scenes of people use this.
        """
        import cv2

        base, name, count = self._prepare(SceneStep(image, seconds=seconds, label=label))
        steps = []
        for i in range(count or 1):
            # whole pixels: a fractional shift would resample the picture, and bilinear resampling of a JPEG
            # sharpens its 8x8 block grid into the peaked fine-detail spectrum the door takes for a screen
            dx = round(amplitude_px * math.sin(2 * math.pi * i / (self.fps * period_s)))
            dy = round(0.5 * amplitude_px * math.sin(2 * math.pi * i / (self.fps * period_s * 1.7)))
            shift = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]], dtype=np.float32)
            moved = cv2.warpAffine(base, shift, (base.shape[1], base.shape[0]), borderMode=cv2.BORDER_REPLICATE)
            steps.append(SceneStep(moved, frames=1, label=name))
        self.play_scene(steps)

    def clear(self) -> None:
        """Nobody in front of the camera."""
        self._set_program(iter(()))

    def disconnect(self, reason: str = "was unplugged") -> None:
        """Pull the plug: the open stream dies (reads raise CameraGone) and reopening fails until ``reconnect()``."""
        self._unplug_reason = f"simulated camera {reason}"
        self._plugged = False
        self._unplugs += 1
        self._wake.set()

    def reconnect(self) -> None:
        """Plug it back: the camera's next reopening attempt succeeds (reads do not resume before it)."""
        self._plugged = True

    @property
    def plugged(self) -> bool:
        return self._plugged

    # -- ReopeningCamera -------------------------------------------------------------------------
    def _open(self) -> None:
        if not self._plugged:
            raise DeviceMissing("camera", "simulated camera is not plugged in")
        with self._lock:
            self._opened_at_unplug = self._unplugs
            self._wake.clear()
            if self._started is not None:  # a new stream: frames are due from now on
                self._started = time.monotonic() - self._index / self.fps

    def _close_device(self) -> None:
        """Nothing to release on reopening: the picture in front of the camera stays (``close()`` releases a video)."""

    def _wake_reader(self) -> None:
        self._wake.set()

    def _dead(self) -> str | None:
        if self._closing.is_set():
            return "camera is closed"
        return self._unplug_reason if self._opened_at_unplug != self._unplugs else None

    def _read_frame(self) -> Frame:
        dead = self._dead()
        if dead:
            raise CameraGone(dead)
        with self._lock:
            now = time.monotonic()
            if self._started is None:
                self._started = now
            if self.realtime:
                due = self._started + self._index / self.fps
                if due > now:
                    self._lock.release()
                    try:
                        self._wake.wait(due - now)  # disconnect() and close() wake a waiting reader at once
                    finally:
                        self._lock.acquire()
                    dead = self._dead()
                    if dead:
                        raise CameraGone(dead)
                else:
                    # a slow reader: skip the frames it missed, as a live camera would
                    missed = int((now - due) * self.fps)
                    for _ in range(missed):
                        self._next_image()
                        self._index += 1
            image, label = self._next_image()
            frame = Frame(image.copy(), time.monotonic(), self._index)
            self.served.append(Served(self._index, label))
            if len(self.served) > 10_000:
                del self.served[:5_000]
            self._index += 1
            return frame

    def labels_served(self) -> list[str]:
        return [s.label for s in self.served]

    def assert_served(self, label: str, at_least: int = 1) -> None:
        count = sum(1 for s in self.served if s.label == label)
        assert count >= at_least, f"camera served {label!r} {count} times, expected at least {at_least}"

    def close(self) -> None:
        super().close()
        with self._lock:
            self._release_video()

    def __enter__(self) -> SimCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------------
    def _prepare(self, step: SceneStep) -> tuple[np.ndarray, str, int | None]:
        if step.image is None:
            image, label = self._background, step.label or "background"
        elif isinstance(step.image, (str, Path)):
            image, label = letterbox(load_image(step.image), self.width, self.height), step.label or Path(step.image).name
        else:
            image, label = letterbox(step.image, self.width, self.height), step.label or "image"
        if step.frames is not None and step.frames < 0 or step.seconds is not None and step.seconds < 0:
            raise ValueError("a scene step cannot last a negative time")
        count = step.frames if step.frames is not None else (
            max(1, round(step.seconds * self.fps)) if step.seconds is not None else None)
        return image, label, count

    def _scene_frames(self, steps: list[tuple[np.ndarray, str, int | None]], loop: bool) -> Iterator[tuple[np.ndarray, str]]:
        while True:
            for image, label, count in steps:
                yield from itertools.repeat((image, label), count) if count is not None else itertools.repeat((image, label))
            if not loop:
                return

    def _open_video(self, path: Path) -> tuple[Any, Iterator[tuple[np.ndarray, str]]]:
        import cv2

        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            capture.release()
            raise ValueError(f"{path} is not a video OpenCV can read")

        def frames() -> Iterator[tuple[np.ndarray, str]]:
            produced = 0
            while True:
                ok, image = capture.read()
                if ok and image is not None:
                    produced += 1
                    yield letterbox(image, self.width, self.height), path.name
                    continue
                if not self.loop or produced == 0:
                    return
                capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                produced = 0

        return capture, frames()

    def _set_program(self, program: Iterator[tuple[np.ndarray, str]], video: Any = None) -> None:
        with self._lock:
            self._release_video()
            self._video = video
            self._program = program

    def _release_video(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None

    def _next_image(self) -> tuple[np.ndarray, str]:
        try:
            return next(self._program)
        except StopIteration:
            self._program = iter(())
            return self._background, "background"
