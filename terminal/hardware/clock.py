"""The terminal's clock: wall time for stamps, monotonic time and boot id for re-stamping.

Every punch carries the UTC wall time together with the boot id and the monotonic
nanoseconds of the moment, and a ``source`` saying how far the wall time can be
trusted:

* ``ntp``: the kernel reports the clock as synchronised (chrony/timesyncd disciplined it);
* ``rtc``: not synchronised, but a hardware real-time clock set it at boot;
* ``unsynced``: neither — on a Pi without RTC the clock starts wherever
  ``fake-hwclock`` left it, so the sync agent re-stamps these punches later.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from contract.stamps import parse_stamp, utc_stamp

log = logging.getLogger(__name__)

TimeSource = Literal["ntp", "rtc", "unsynced"]
TIME_SOURCES: tuple[TimeSource, ...] = ("ntp", "rtc", "unsynced")

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class Timestamp:
    wall: datetime
    monotonic_ns: int
    boot_id: str
    source: TimeSource

    def iso(self) -> str:
        return format_utc(self.wall)


def format_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a Z, the form every stored stamp uses (:mod:`contract.stamps`)."""
    return utc_stamp(moment)


def parse_utc(text: str) -> datetime:
    """A stored stamp back as an aware UTC datetime (:func:`contract.stamps.parse_stamp`)."""
    return parse_stamp(text)


@runtime_checkable
class Clock(Protocol):
    def now(self) -> Timestamp:
        """The current wall time (UTC), monotonic ns, boot id and time source."""
        ...


def read_boot_id() -> str:
    try:
        return BOOT_ID_PATH.read_text().strip()
    except OSError:
        # Not Linux: a per-process id still tells "same boot" apart from "other boot" conservatively.
        return f"process-{os.getpid()}-{uuid.uuid4()}"


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h> (Linux); only `status` is read, the rest reserves room.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


_TIME_ERROR = 5  # adjtimex() return value: clock not synchronised
_STA_UNSYNC = 0x0040


def kernel_clock_synchronised() -> bool | None:
    """Ask the kernel (adjtimex, read-only) whether an NTP daemon has disciplined the clock."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        tx = _Timex()
        state = libc.adjtimex(ctypes.byref(tx))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != _TIME_ERROR and not (tx.status & _STA_UNSYNC)


class SystemClock:
    """The real clock: system wall time, kernel NTP state, RTC presence.

    ``sync_hint`` lets the sync agent's NTP check vouch for the clock (it records the last
    successful check in the database); the kernel state is consulted otherwise.
    """

    def __init__(self, rtc_path: Path = Path("/dev/rtc0"), sync_hint: Callable[[], bool] | None = None,
                 recheck_s: float = 10.0):
        self._boot_id = read_boot_id()
        self._rtc = rtc_path.exists()
        self._sync_hint = sync_hint
        self._recheck_s = recheck_s
        self._source: TimeSource | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def _current_source(self) -> TimeSource:
        mono = time.monotonic()
        with self._lock:
            if self._source is not None and mono - self._checked_at <= self._recheck_s:
                return self._source
            hint = self._sync_hint
        # decided outside the lock: the hint reads the database, whose lock a punch may hold while stamping
        synced = bool(kernel_clock_synchronised())
        if not synced and hint is not None:
            try:
                synced = bool(hint())
            except Exception as exc:  # an unreadable hint leaves the clock untrusted, never stops a punch
                log.warning("clock sync hint failed: %s", exc)
        source: TimeSource = "ntp" if synced else ("rtc" if self._rtc else "unsynced")
        with self._lock:
            self._source, self._checked_at = source, mono
        return source

    def vouch_by(self, sync_hint: Callable[[], bool]) -> None:
        """Let ``sync_hint`` (the sync agent's last NTP check) mark the clock synchronised from now on."""
        with self._lock:
            self._sync_hint = sync_hint
            self._source = None  # decided again at the next stamp

    def now(self) -> Timestamp:
        source = self._current_source()
        return Timestamp(datetime.now(timezone.utc), time.monotonic_ns(), self._boot_id, source)


class SimClock:
    """A clock tests drive: set the wall time, advance it, change the source, reboot."""

    def __init__(self, start: datetime | None = None, source: TimeSource = "ntp", boot_id: str | None = None):
        self._wall = (start or datetime(2026, 3, 2, 0, 55, tzinfo=timezone.utc)).astimezone(timezone.utc)
        self._mono_ns = 1_000_000_000
        self.boot_id = boot_id or str(uuid.uuid4())
        self.source: TimeSource = source
        self._lock = threading.Lock()

    def now(self) -> Timestamp:
        with self._lock:
            return Timestamp(self._wall, self._mono_ns, self.boot_id, self.source)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._wall += timedelta(seconds=seconds)
            self._mono_ns += int(seconds * 1e9)

    def set_wall(self, wall: datetime) -> None:
        """Jump the wall clock (as an NTP step would); monotonic time is unaffected."""
        with self._lock:
            self._wall = wall.astimezone(timezone.utc)

    def reboot(self, wall: datetime | None = None, source: TimeSource = "unsynced") -> None:
        with self._lock:
            self.boot_id = str(uuid.uuid4())
            self._mono_ns = 1_000_000_000
            if wall is not None:
                self._wall = wall.astimezone(timezone.utc)
            self.source = source


def open_clock(driver: str) -> Clock:
    if driver == "sim":
        return SimClock()
    return SystemClock()
