"""Cameras: OpenCV capture (USB/V4L2), picamera2 (Raspberry Pi camera) and a simulator.

Every camera gives :class:`Frame` objects holding a BGR ``uint8`` image of the
configured width × height (other sizes are letterboxed), the monotonic time of the
capture and a running index. A camera that is unplugged, stops answering within
``read_timeout_s`` or whose stream ends raises :class:`CameraGone` from ``read()``
with the reason, and keeps raising it: the vision worker reports it and opens the
camera again later.

:class:`SimCamera` plays an image folder, a video file or a scripted scene at the
configured frame rate; tests drive it (``show``, ``play_scene``, ``disconnect``) and
check what it served (``served``, ``labels_served``, ``assert_served``).
"""
from __future__ import annotations

import concurrent.futures
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from terminal.config import CameraSettings
from terminal.hardware.errors import CameraGone, DeviceMissing

log = logging.getLogger(__name__)

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


class OpenCVCamera:
    """A USB/V4L2 camera (index or /dev/video path) — or any source OpenCV opens, e.g. a video file.

    Each ``cv2.VideoCapture.read`` runs on one worker thread, so a camera that hangs
    is reported as gone after ``read_timeout_s`` instead of freezing the caller.
    """

    def __init__(self, settings: CameraSettings):
        import cv2

        self.settings = settings
        self.source = _capture_source(settings.device)
        self._is_file = isinstance(self.source, str) and os.path.isfile(self.source)
        if isinstance(self.source, str) and not os.path.exists(self.source):
            raise DeviceMissing("camera", f"no camera at {self.source}")
        api = cv2.CAP_V4L2 if (isinstance(self.source, int) or str(self.source).startswith("/dev/")) else cv2.CAP_ANY
        capture = cv2.VideoCapture(self.source, api)
        if not capture.isOpened():
            capture.release()
            what = f"camera {self.source}" + (" (V4L2)" if api == cv2.CAP_V4L2 else "")
            raise DeviceMissing("camera", f"cannot open {what}: not connected, not a camera, or in use by another program")
        if not self._is_file:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, settings.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, settings.height)
            capture.set(cv2.CAP_PROP_FPS, settings.fps)
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not one from a second ago
        self._capture = capture
        self._worker = _CallThread("seed-camera")
        self._pending: concurrent.futures.Future | None = None
        self._gone: str | None = None
        self._index = 0
        self._closed = False
        self._lock = threading.Lock()
        log.info("camera %s opened (%s)", self.source, capture.getBackendName())

    def read(self) -> Frame:
        with self._lock:
            if self._closed:
                raise CameraGone("camera is closed")
            if self._gone:
                raise CameraGone(self._gone)
            deadline = time.monotonic() + self.settings.read_timeout_s
            while True:
                if self._pending is None:
                    self._pending = self._worker.submit(self._capture.read)
                try:
                    ok, image = self._pending.result(timeout=max(0.0, deadline - time.monotonic()))
                except concurrent.futures.TimeoutError:
                    # the read is still hanging in the driver: leave it, the camera is gone
                    return self._fail(f"no frame from camera {self.source} for {self.settings.read_timeout_s:g} s")
                except Exception as exc:
                    self._pending = None
                    return self._fail(f"camera {self.source} failed: {exc}")
                self._pending = None
                if ok and image is not None:
                    break
                if self._is_file:
                    return self._fail(f"video {self.source} ended or is unreadable after {self._index} frames")
                if time.monotonic() >= deadline:
                    return self._fail(f"camera {self.source} stopped delivering frames (unplugged?)")
                time.sleep(0.02)
            frame = Frame(letterbox(image, self.settings.width, self.settings.height), time.monotonic(), self._index)
            self._index += 1
            return frame

    def _fail(self, reason: str) -> Frame:
        self._gone = reason
        log.error("camera gone: %s", reason)
        raise CameraGone(reason)

    def health(self) -> str:
        return f"gone: {self._gone}" if self._gone else "ok"

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            hung = self._pending is not None and not self._pending.done()
            if hung:
                log.warning("camera %s: a read is still hanging; not releasing the device under it", self.source)
            else:
                self._capture.release()
            self._worker.stop()

    def __enter__(self) -> OpenCVCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- picamera2 ------------------------------------------------------------------------------
class Picamera2Camera:
    """The Raspberry Pi camera through picamera2 (libcamera). Frames come as BGR ('RGB888' in libcamera's naming)."""

    def __init__(self, settings: CameraSettings):
        self.settings = settings
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise DeviceMissing("camera", f"picamera2 is not installed ({exc}); on Raspberry Pi OS it is the "
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
        self._gone: str | None = None
        self._index = 0
        self._closed = False

    def read(self) -> Frame:
        if self._closed:
            raise CameraGone("camera is closed")
        if self._gone:
            raise CameraGone(self._gone)
        future = self._worker.submit(lambda: self._camera.capture_array("main"))
        try:
            image = future.result(timeout=self.settings.read_timeout_s)
        except concurrent.futures.TimeoutError:
            self._gone = f"no frame from the Raspberry Pi camera for {self.settings.read_timeout_s:g} s"
            raise CameraGone(self._gone) from None
        except Exception as exc:
            self._gone = f"Raspberry Pi camera failed: {exc}"
            raise CameraGone(self._gone) from None
        frame = Frame(letterbox(image, self.settings.width, self.settings.height), time.monotonic(), self._index)
        self._index += 1
        return frame

    def health(self) -> str:
        return f"gone: {self._gone}" if self._gone else "ok"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._camera.stop()
            self._camera.close()
        except Exception:
            log.debug("closing the Raspberry Pi camera", exc_info=True)
        self._worker.stop()

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


class SimCamera:
    """A camera playing an image folder, a video file or a scripted scene at ``fps``.

    ``realtime=True`` paces reads to the frame rate and, like a live camera, skips the
    frames a slow reader missed; ``realtime=False`` serves every frame at once, in
    order (deterministic tests).
    """

    def __init__(self, width: int = 640, height: int = 480, fps: float = 15.0, source: Path | None = None,
                 loop: bool = True, realtime: bool = True, hold_s: float = 1.0):
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.width, self.height, self.fps = width, height, fps
        self.loop = loop
        self.realtime = realtime
        self.hold_s = hold_s
        self.served: list[Served] = []
        self._background = background(width, height)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._gone: str | None = None
        self._closed = False
        self._index = 0
        self._started: float | None = None
        self._program: Iterator[tuple[np.ndarray, str]] = iter(())
        self._video: Any = None
        if source is not None:
            self.play_source(Path(source))

    @classmethod
    def from_settings(cls, settings: CameraSettings, realtime: bool = True) -> SimCamera:
        source = settings.sim_source
        if source is not None and not Path(source).exists():
            raise DeviceMissing("camera", f"simulated camera source {source} not found")
        try:
            return cls(settings.width, settings.height, settings.fps, source, loop=settings.sim_loop, realtime=realtime)
        except ValueError as exc:
            raise DeviceMissing("camera", f"simulated camera source {source}: {exc}") from None

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

    def clear(self) -> None:
        """Nobody in front of the camera."""
        self._set_program(iter(()))

    def disconnect(self, reason: str = "was unplugged") -> None:
        """The camera vanishes: every read from now on raises CameraGone."""
        self._gone = f"simulated camera {reason}"
        self._wake.set()

    def reconnect(self) -> None:
        self._gone = None
        self._wake.clear()

    # -- Camera ----------------------------------------------------------------------------------
    def read(self) -> Frame:
        if self._closed:
            raise CameraGone("camera is closed")
        if self._gone:
            raise CameraGone(self._gone)
        with self._lock:
            now = time.monotonic()
            if self._started is None:
                self._started = now
            if self.realtime:
                due = self._started + self._index / self.fps
                if due > now:
                    self._lock.release()
                    try:
                        self._wake.wait(due - now)  # disconnect() wakes a waiting reader at once
                    finally:
                        self._lock.acquire()
                    if self._gone:
                        raise CameraGone(self._gone)
                    if self._closed:
                        raise CameraGone("camera is closed")
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

    def health(self) -> str:
        return f"gone: {self._gone}" if self._gone else "ok"

    def close(self) -> None:
        self._closed = True
        self._wake.set()
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
