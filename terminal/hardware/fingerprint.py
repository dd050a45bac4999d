"""The fingerprint sensor: what the terminal needs from it, and the driver that provides it.

:class:`FingerprintSensor` is the protocol the rest of the terminal uses. There is one
driver, :class:`PyFingerprintSensor`, built on ``pyfingerprint`` over a serial port: on a
Pi it talks to the ZFM-20/R307 module on ``/dev/ttyAMA0`` (or a USB adapter); in
simulation (:class:`SimulatedFingerprintSensor`) the very same driver talks to the
byte-level emulator of :mod:`terminal.hardware.fingerprint_sim` on a pseudo-terminal, so
tests and the demo run the real client code.

``pyfingerprint`` waits 2 s for each byte of a reply and reads twelve before it gives
up, so a sensor that does not answer blocks it for ~24 s. Every call here therefore
runs on the connection's own worker thread and the caller waits at most
``timeout_s`` (``hardware.fingerprint.probe_timeout_s``, 3 s): past that the call raises
:class:`SensorUnavailable`, the port is closed to free the worker, and the next call
opens a fresh connection.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from terminal.hardware.errors import DeviceMissing, HardwareError

if TYPE_CHECKING:
    from terminal.config import FingerprintSettings
    from terminal.hardware.fingerprint_sim import ControlServer, FingerprintEmulator

log = logging.getLogger(__name__)

TEMPLATE_SIZE = 512
INDEX_PAGE_POSITIONS = 256
T = TypeVar("T")


class FingerprintError(HardwareError):
    """The sensor answered, but with an error (see ``reason``)."""

    def __init__(self, message: str):
        super().__init__("fingerprint", message)


class SensorUnavailable(DeviceMissing):
    """The sensor cannot be reached: port missing, no answer within the timeout, garbled replies."""

    def __init__(self, message: str):
        super().__init__("fingerprint", message)


class PoorImage(FingerprintError):
    """The image could not be turned into features; ``kind`` is messy, few_features or no_image."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


class LibraryFull(FingerprintError):
    pass


@dataclass(frozen=True)
class SensorInfo:
    """What ReadSysPara reports."""

    capacity: int
    security_level: int
    packet_size: int
    baudrate: int
    address: int
    status_register: int
    system_id: int


@dataclass(frozen=True)
class Match:
    """A template found on the sensor: its position and the sensor's match score."""

    position: int
    score: int


@runtime_checkable
class FingerprintSensor(Protocol):
    """A ZFM/R30x-style sensor with an on-board template library.

    Buffers are the sensor's two character buffers (1 and 2). Every method may raise
    :class:`SensorUnavailable` (within ``timeout_s``) or :class:`FingerprintError`.
    """

    name: str
    timeout_s: float

    def probe(self) -> SensorInfo:
        """Handshake (password) and system parameters; also reconnects a lost sensor."""
        ...

    def health(self) -> str:
        """'ok', or why the sensor is not usable; never blocks."""
        ...

    @property
    def capacity(self) -> int: ...

    @property
    def security_level(self) -> int: ...

    def capture(self) -> bool:
        """Take one image (GenImg): True when a finger was on the glass."""
        ...

    def wait_for_finger(self, timeout: float, stop: threading.Event | None = None) -> bool: ...

    def wait_for_lift(self, timeout: float, stop: threading.Event | None = None) -> bool: ...

    def convert(self, buffer: int = 1) -> None:
        """Turn the last image into features in ``buffer`` (Img2Tz); :class:`PoorImage` if it cannot."""
        ...

    def search(self, buffer: int = 1) -> Match | None:
        """Search the whole library for the features in ``buffer``."""
        ...

    def identify(self) -> Match | None:
        """Convert the last image into buffer 1 and search the library."""
        ...

    def compare(self) -> int:
        """Match score of buffer 1 against buffer 2 (0 when they do not match)."""
        ...

    def create_model(self) -> bool:
        """Merge buffers 1 and 2 into a template (RegModel); False when they are not the same finger."""
        ...

    def store(self, position: int | None = None, buffer: int = 1) -> int:
        """Store ``buffer`` at ``position`` (default: the first free one); returns the position."""
        ...

    def load(self, position: int, buffer: int = 1) -> None: ...

    def delete(self, position: int, count: int = 1) -> None: ...

    def clear(self) -> None: ...

    def read_template(self, buffer: int = 1) -> bytes:
        """The 512-byte template in ``buffer``, from the sensor to the host (UpChar)."""
        ...

    def write_template(self, template: bytes, buffer: int = 1) -> None:
        """Put a 512-byte template into ``buffer``, from the host to the sensor (DownChar)."""
        ...

    def template_positions(self) -> list[int]:
        """Positions in use, read from the sensor's index table."""
        ...

    def template_count(self) -> int: ...

    def close(self) -> None: ...


# -- the driver -------------------------------------------------------------------------
_GARBLED = ("do not begin with a valid header", "checksum is wrong", "is no ack packet", "is no data packet")
_POOR = {"The image is too messy": "messy", "The image contains too few feature points": "few_features",
         "The image is invalid": "no_image"}


class _Connection:
    """One open serial connection and the daemon thread that alone talks over it."""

    def __init__(self, port: str):
        self.port = port
        self.finger: Any = None
        self.abandoned = False
        self._jobs: queue.Queue[tuple[Callable[[], Any], concurrent.futures.Future] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"fingerprint-io {port}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the caller
                future.set_exception(exc)

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put((fn, future))
        return future

    def serial(self) -> Any:
        return getattr(self.finger, "_PyFingerprint__serial", None)

    def abandon(self) -> None:
        """Stop using this connection, and free the port at once.

        The worker may be blocked in a read that pyfingerprint would repeat for ~24 s:
        reads are made non-blocking and the current one is cancelled, so it gives up
        within milliseconds; only then is the port closed. (Closing it under a thread
        still in select() would keep the port's lock until that select returned.)
        """
        self.abandoned = True
        self._jobs.put(None)
        port = self.serial()
        if port is not None:
            with contextlib.suppress(Exception):
                port.timeout = 0
            with contextlib.suppress(Exception):
                port.cancel_read()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=0.5)
        self.close_port()

    def close_port(self) -> None:
        port = self.serial()
        if port is not None:
            with contextlib.suppress(Exception):
                port.cancel_read()
            with contextlib.suppress(Exception):
                port.close()

    def adopt(self, finger: Any) -> None:
        """Keep the client the worker just opened; if the caller gave up meanwhile, close it at once."""
        self.finger = finger
        if self.abandoned:  # abandon() may have run before the port existed
            self.close_port()
            raise SensorUnavailable(f"gave up on {self.port} while it was opening")


class PyFingerprintSensor:
    """:class:`FingerprintSensor` on ``pyfingerprint`` over a serial port (real sensor or emulator pty)."""

    def __init__(self, port: str, baudrate: int = 57600, address: int = 0xFFFFFFFF, password: int = 0,
                 timeout_s: float = 3.0, poll_s: float = 0.05):
        self.port = str(port)
        self.baudrate = baudrate
        self.address = address
        self.password = password
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.name = f"pyfingerprint {self.port}"
        self.info: SensorInfo | None = None
        self.last_error: str | None = None
        self._conn: _Connection | None = None
        self._lock = threading.RLock()
        self._closed = False

    # -- connection handling -----------------------------------------------------------
    def _open(self) -> _Connection:
        conn = _Connection(self.port)

        def connect() -> SensorInfo:
            from pyfingerprint.pyfingerprint import PyFingerprint

            conn.adopt(PyFingerprint(self.port, self.baudrate, self.address, self.password))
            _lock_port(conn.serial(), self.port)
            if not conn.finger.verifyPassword():
                raise FingerprintError("the sensor refused the configured password")
            return _info(conn.finger.getSystemParameters())

        future = conn.submit(connect)
        try:
            info = self._wait(conn, future, "connecting")
        except BaseException:
            conn.abandon()
            raise
        self._conn = conn
        self.info = info
        log.info("fingerprint sensor on %s: capacity %s, security level %s", self.port, info.capacity,
                 info.security_level)
        return conn

    def _wait(self, conn: _Connection, future: concurrent.futures.Future[T], what: str,
              timeout: float | None = None) -> T:
        try:
            return future.result(timeout=timeout or self.timeout_s)
        except concurrent.futures.TimeoutError:
            self._lost(conn, f"no answer from the sensor on {self.port} within {timeout or self.timeout_s:g} s ({what})")
        except SensorUnavailable as exc:
            self._lost(conn, exc.reason)
        except FingerprintError:
            raise
        except ValueError:
            raise
        except Exception as exc:
            text = str(exc)
            if text in _POOR:
                raise PoorImage(_POOR[text], text) from None
            if any(marker in text for marker in _GARBLED):
                self._lost(conn, f"garbled reply from the sensor on {self.port}: {text} ({what})")
            if _is_serial_error(exc):
                self._lost(conn, f"serial port {self.port} unusable: {text} ({what})")
            raise FingerprintError(f"{text} (while {what})") from None
        raise AssertionError("unreachable")

    def _lost(self, conn: _Connection, reason: str) -> None:
        conn.abandon()
        if self._conn is conn:
            self._conn = None
        self.last_error = reason
        log.warning("fingerprint sensor lost: %s", reason)
        raise SensorUnavailable(self.last_error)

    def _call(self, what: str, fn: Callable[[Any], T], timeout: float | None = None) -> T:
        with self._lock:
            if self._closed:
                raise SensorUnavailable("the fingerprint driver is closed")
            conn = self._conn or self._open()
            result = self._wait(conn, conn.submit(lambda: fn(conn.finger)), what, timeout)
            self.last_error = None
            return result

    @contextlib.contextmanager
    def exclusive(self):
        """Hold the sensor for a sequence of calls (an enrolment) so no other thread interleaves."""
        with self._lock:
            yield self

    # -- FingerprintSensor ---------------------------------------------------------------
    def probe(self) -> SensorInfo:
        with self._lock:
            if self._conn is None:
                self._open()
                self.last_error = None
                assert self.info is not None
                return self.info
            self.info = self._call("probing", lambda f: (f.verifyPassword(), _info(f.getSystemParameters()))[1])
            return self.info

    def health(self) -> str:
        if self._closed:
            return "closed"
        if self.last_error:
            return self.last_error
        if self.info is None:
            return "not probed yet"
        return "ok"

    @property
    def capacity(self) -> int:
        return (self.info or self.probe()).capacity

    @property
    def security_level(self) -> int:
        return (self.info or self.probe()).security_level

    def capture(self) -> bool:
        return bool(self._call("taking an image", lambda f: f.readImage()))

    def wait_for_finger(self, timeout: float, stop: threading.Event | None = None) -> bool:
        return self._poll(True, timeout, stop)

    def wait_for_lift(self, timeout: float, stop: threading.Event | None = None) -> bool:
        return self._poll(False, timeout, stop)

    def _poll(self, present: bool, timeout: float, stop: threading.Event | None) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self.capture() == present:
                return True
            if (stop is not None and stop.is_set()) or time.monotonic() >= deadline:
                return False
            if stop is not None:
                stop.wait(self.poll_s)
            else:
                time.sleep(self.poll_s)

    def convert(self, buffer: int = 1) -> None:
        self._call("converting the image", lambda f: f.convertImage(_buffer(buffer)))

    def search(self, buffer: int = 1) -> Match | None:
        if buffer != 1:
            raise ValueError("pyfingerprint searches buffer 1 only")
        position, score = self._call("searching", lambda f: f.searchTemplate())
        return None if position < 0 else Match(position, score)

    def identify(self) -> Match | None:
        with self._lock:
            self.convert(1)
            return self.search(1)

    def compare(self) -> int:
        return int(self._call("comparing", lambda f: f.compareCharacteristics()))

    def create_model(self) -> bool:
        return bool(self._call("creating a template", lambda f: f.createTemplate()))

    def store(self, position: int | None = None, buffer: int = 1) -> int:
        with self._lock:
            if position is None:
                used = set(self.template_positions())
                position = next((p for p in range(self.capacity) if p not in used), None)
                if position is None:
                    raise LibraryFull(f"the sensor's library is full ({self.capacity} templates)")
            elif not 0 <= position < self.capacity:
                raise ValueError(f"position {position} is outside the sensor's library (0-{self.capacity - 1})")
            chosen = position
            return int(self._call("storing a template", lambda f: f.storeTemplate(chosen, _buffer(buffer))))

    def load(self, position: int, buffer: int = 1) -> None:
        self._call("loading a template", lambda f: f.loadTemplate(position, _buffer(buffer)))

    def delete(self, position: int, count: int = 1) -> None:
        if not self._call("deleting templates", lambda f: f.deleteTemplate(position, count)):
            raise FingerprintError(f"the sensor could not delete positions {position}-{position + count - 1}")

    def clear(self) -> None:
        if not self._call("clearing the library", lambda f: f.clearDatabase()):
            raise FingerprintError("the sensor could not clear its library")

    def read_template(self, buffer: int = 1) -> bytes:
        data = self._call("reading a template", lambda f: f.downloadCharacteristics(_buffer(buffer)))
        return bytes(data)

    def write_template(self, template: bytes, buffer: int = 1) -> None:
        if not isinstance(template, (bytes, bytearray)) or len(template) != TEMPLATE_SIZE:
            raise ValueError(f"a sensor template is {TEMPLATE_SIZE} bytes")
        data = list(template)
        if not self._call("writing a template", lambda f: f.uploadCharacteristics(_buffer(buffer), data)):
            raise FingerprintError("the template read back from the sensor differs from the one written")

    def template_positions(self) -> list[int]:
        with self._lock:
            capacity = self.capacity
            pages = (capacity + INDEX_PAGE_POSITIONS - 1) // INDEX_PAGE_POSITIONS
            used: list[int] = []
            for page in range(pages):
                table = self._call("reading the index table", partial(_template_index, page=page))
                used += [page * INDEX_PAGE_POSITIONS + i for i, bit in enumerate(table)
                         if bit and page * INDEX_PAGE_POSITIONS + i < capacity]
            return used

    def template_count(self) -> int:
        return int(self._call("counting templates", lambda f: f.getTemplateCount()))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.abandon()
                self._conn = None

    def __enter__(self) -> PyFingerprintSensor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lock_port(port: Any, name: str) -> None:
    """Only one program may talk to the sensor: two interleaved conversations garble both."""
    if port is None:
        return
    try:
        fcntl.flock(port.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        port.close()
        raise SensorUnavailable(f"{name} is in use by another program (is seed-terminal running? "
                                "enrol on its admin screen, or stop it first)") from None
    except OSError:
        pass  # a port that cannot be locked is used unlocked


def _template_index(finger: Any, page: int) -> list[bool]:
    """One page of the sensor's index table: which of its positions hold a template."""
    return list(finger.getTemplateIndex(page))


def _buffer(buffer: int) -> int:
    if buffer not in (1, 2):
        raise ValueError("the sensor has character buffers 1 and 2")
    return buffer


def _info(params: tuple) -> SensorInfo:
    status, system_id, capacity, level, address, packet_code, baud_n = params
    return SensorInfo(capacity=capacity, security_level=level, packet_size=32 << packet_code,
                      baudrate=baud_n * 9600, address=address, status_register=status, system_id=system_id)


def _is_serial_error(exc: BaseException) -> bool:
    try:
        import serial
    except ImportError:  # pragma: no cover - pyserial is a dependency
        return isinstance(exc, OSError)
    return isinstance(exc, (serial.SerialException, OSError))


# -- the simulator: the same driver on the emulator's pty ----------------------------------
class SimulatedFingerprintSensor(PyFingerprintSensor):
    """:class:`PyFingerprintSensor` talking to an emulator it owns; drive it through ``emulator``."""

    def __init__(self, emulator: FingerprintEmulator, *, control: Path | None = None, timeout_s: float = 3.0,
                 poll_s: float = 0.02, password: int = 0, address: int = 0xFFFFFFFF):
        self.emulator = emulator.start()
        self.control: ControlServer | None = None
        if control is not None:
            from terminal.hardware.fingerprint_sim import ControlServer

            try:
                self.control = ControlServer(emulator, control).start()
            except OSError as exc:
                log.warning("fingerprint simulator: no control socket: %s", exc)
        super().__init__(emulator.port, 57600, address, password, timeout_s=timeout_s, poll_s=poll_s)
        self.name = f"simulated {emulator.port}"

    def close(self) -> None:
        super().close()
        if self.control is not None:
            self.control.stop()
        self.emulator.stop()


def open_fingerprint(settings: FingerprintSettings, data_dir: Path | str, profile: str = "pi") -> FingerprintSensor | None:
    """The sensor ``settings`` describe (``settings.driver`` or else ``profile``); None when disabled.

    Opening never waits for the sensor: the first call (or :meth:`probe`) connects, so a
    sensor plugged in later is found by the next probe. ``pi`` never falls back to the
    simulator.
    """
    if not settings.enabled:
        return None
    driver = settings.driver or profile
    if driver == "pi":
        return PyFingerprintSensor(settings.port, settings.baudrate, settings.address, settings.password,
                                   timeout_s=settings.probe_timeout_s, poll_s=settings.poll_interval_s)
    if driver == "sim":
        from terminal.hardware.fingerprint_sim import FingerprintEmulator

        data_dir = Path(data_dir)
        library = settings.sim_library or data_dir / "fingerprint-sim.bin"
        try:
            emulator = FingerprintEmulator(library, capacity=settings.sim_capacity, address=settings.address,
                                           password=settings.password)
        except (ValueError, OSError) as exc:
            raise DeviceMissing("fingerprint", f"simulator: {exc}") from None
        control = settings.sim_control or data_dir / "fingerprint-sim.sock"
        return SimulatedFingerprintSensor(emulator, control=control, timeout_s=settings.probe_timeout_s,
                                          poll_s=min(settings.poll_interval_s, 0.02),
                                          password=settings.password, address=settings.address)
    raise ValueError(f"unknown fingerprint driver {driver!r} (pi or sim)")
