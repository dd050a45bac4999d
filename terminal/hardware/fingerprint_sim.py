"""A ZFM-20 / R307 fingerprint module emulated on a pseudo-terminal, byte for byte.

The emulator owns the master side of a pty; any client library opens the slave side
(``emulator.port``) exactly as it would open ``/dev/ttyAMA0`` or ``/dev/ttyUSB0``, so the
terminal's real driver (``pyfingerprint``) runs unchanged against it, and so does any
other client of the same sensor family (the tests also drive it with Adafruit's
``adafruit_fingerprint``).

What is modelled from the module's user manual (ZFM-20 / R30x "Fingerprint
Identification Module User Manual", instruction system chapter):

* Framing: header ``EF 01``, 4-byte module address, packet identifier (``01`` command,
  ``02`` data, ``07`` acknowledge, ``08`` end of data), 2-byte length (payload + checksum),
  payload, 2-byte checksum = identifier + length bytes + payload bytes, modulo 0x10000.
  Multi-byte fields are big-endian.
* A packet whose address is not the module's address is ignored (no reply), as the
  manual's "module address" section says. A packet with a wrong checksum is answered
  with confirmation code ``01`` ("error when receiving package"). An instruction code the
  R307 does not have is answered with ``01`` as well (``UNKNOWN_INSTRUCTION_CODE``); the
  R307 manual defines no other code for it (``FC`` "unsupported command" only appears in
  the later R503 manual).
* Handshake password (section "module password"): with a non-zero password, every
  instruction except VfyPwd is refused with ``21`` until the password is verified.
* System parameters (ReadSysPara, 16 bytes): status register (bit 0 busy, bit 1 a
  matching finger was found, bit 2 handshake password verified, bit 3 image buffer holds
  a valid image), system identifier code, finger library size, security level 1-5,
  device address, data packet size code (0..3 = 32/64/128/256 bytes), baud rate as N
  (9600 * N). SetSysPara accepts registers 4, 5 and 6 and answers ``1A`` for others.
* Buffers: ImageBuffer, CharBuffer1 and CharBuffer2 (a BufferID other than 1 or 2 is
  treated as CharBuffer2, as the manual says). RegModel merges both character files
  and leaves the template in both buffers.
* Instructions: GenImg 01, Img2Tz 02, Match 03, Search 04, RegModel 05, Store 06,
  LoadChar 07, UpChar 08, DownChar 09, UpImage 0A, DownImage 0B, DeletChar 0C, Empty 0D,
  SetSysPara 0E, ReadSysPara 0F, SetPwd 12, VfyPwd 13, GetRandomCode 14, SetAdder 15,
  WriteNotepad 18, ReadNotepad 19, HighSpeedSearch 1B, TempleteNum 1D, ReadConList 1F,
  with the confirmation codes the manual lists for each (02 no finger, 03 capture fail,
  06/07 poor image, 08 no match, 09 not found, 0A cannot combine, 0B page beyond library,
  0C invalid template, 0D upload error, 0E cannot receive data, 10 delete failed,
  15 no valid image, 18 flash error, 1A invalid register, 1C wrong notepad page).
* Data transfers: UpChar/UpImage answer with an acknowledge packet followed by data
  packets of the configured packet size, the last one an end-of-data packet; DownChar and
  DownImage acknowledge, then receive data packets until the end-of-data packet without
  answering them. A template is 512 bytes; an image is 256 x 288 pixels, 4 bits each.

What is the emulator's own model (the real module's formats are not published):
a finger is named by any ``finger_id``; from it the emulator derives deterministic
minutiae and a 64-bit ridge "texture", and every capture adds a little noise (jitter,
a few missing or spurious minutiae, flipped texture bits), so two presses of the same
finger match (scores of roughly 150-300) and different fingers do not (0 to ~20).
Match and Search compare a score against the threshold of the security level
(``SECURITY_THRESHOLDS``). The template library lives in a binary file laid out like
flash pages, one fixed-size slot per position, so it survives a restart.

Tests drive it with :meth:`FingerprintEmulator.place_finger`, :meth:`lift_finger`,
:meth:`unplug` / :meth:`replug` and assert on :meth:`stored_positions` and
:attr:`history`. Standalone::

    python -m terminal.hardware.fingerprint_sim --link /tmp/finger --control /tmp/finger.sock
    python -c 'from terminal.hardware.fingerprint_sim import send_control as c; print(c("/tmp/finger.sock", "place alice"))'
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import random
import select
import signal
import socket
import struct
import sys
import threading
import time
import tty
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# -- protocol constants (user manual, "packet format" and "instruction system") ----------
STARTCODE = b"\xef\x01"
PID_COMMAND, PID_DATA, PID_ACK, PID_END = 0x01, 0x02, 0x07, 0x08
DEFAULT_ADDRESS = 0xFFFFFFFF

OK = 0x00
ERR_PACKET = 0x01
ERR_NO_FINGER = 0x02
ERR_CAPTURE = 0x03
ERR_MESSY = 0x06
ERR_FEW_FEATURES = 0x07
ERR_NO_MATCH = 0x08
ERR_NOT_FOUND = 0x09
ERR_COMBINE = 0x0A
ERR_BAD_PAGE = 0x0B
ERR_BAD_TEMPLATE = 0x0C
ERR_UPLOAD = 0x0D
ERR_RECEIVE = 0x0E
ERR_UPLOAD_IMAGE = 0x0F
ERR_DELETE = 0x10
ERR_CLEAR = 0x11
ERR_PASSWORD = 0x13
ERR_NO_IMAGE = 0x15
ERR_FLASH = 0x18
ERR_REGISTER = 0x1A
ERR_NOTEPAD_PAGE = 0x1C
ERR_MUST_VERIFY = 0x21
UNKNOWN_INSTRUCTION_CODE = ERR_PACKET

INSTRUCTIONS: dict[int, str] = {
    0x01: "GenImg", 0x02: "Img2Tz", 0x03: "Match", 0x04: "Search", 0x05: "RegModel", 0x06: "Store",
    0x07: "LoadChar", 0x08: "UpChar", 0x09: "DownChar", 0x0A: "UpImage", 0x0B: "DownImage",
    0x0C: "DeletChar", 0x0D: "Empty", 0x0E: "SetSysPara", 0x0F: "ReadSysPara", 0x12: "SetPwd",
    0x13: "VfyPwd", 0x14: "GetRandomCode", 0x15: "SetAdder", 0x18: "WriteNotepad", 0x19: "ReadNotepad",
    0x1B: "HighSpeedSearch", 0x1D: "TempleteNum", 0x1F: "ReadConList",
}
PACKET_SIZES = (32, 64, 128, 256)
TEMPLATE_SIZE = 512
IMAGE_WIDTH, IMAGE_HEIGHT = 256, 288
IMAGE_SIZE = IMAGE_WIDTH * IMAGE_HEIGHT // 2
NOTEPAD_PAGES, NOTEPAD_PAGE_SIZE = 16, 32
INDEX_PAGE_POSITIONS = 256  # ReadConList: 32 bytes, one bit per position, LSB first

# The emulator's matcher: score needed at each security level (1 lowest .. 5 highest).
SECURITY_THRESHOLDS = {1: 30, 2: 40, 3: 50, 4: 65, 5: 80}
QUALITIES = ("good", "poor", "messy", "partial", "fail")


def checksum(pid: int, length: int, payload: bytes) -> int:
    return (pid + (length >> 8) + (length & 0xFF) + sum(payload)) & 0xFFFF


def frame(pid: int, payload: bytes, address: int = DEFAULT_ADDRESS) -> bytes:
    """One packet on the wire: header, address, identifier, length, payload, checksum."""
    length = len(payload) + 2
    return (STARTCODE + address.to_bytes(4, "big") + bytes([pid]) + length.to_bytes(2, "big") + payload
            + checksum(pid, length, payload).to_bytes(2, "big"))


# -- the emulator's template model -------------------------------------------------------
_MAGIC = b"ZT"
_KIND_CHAR, _KIND_TEMPLATE = 1, 2
_MAX_MINUTIAE = 60


@dataclass(frozen=True)
class Features:
    """Decoded characteristics: minutiae (x, y, angle, type) and a 64-bit texture."""

    minutiae: tuple[tuple[int, int, int, int], ...]
    texture: int
    kind: int = _KIND_CHAR

    def encode(self) -> bytes:
        body = bytearray(_MAGIC + bytes([1, self.kind, len(self.minutiae), 0, 0, 0]))
        body += self.texture.to_bytes(8, "big")
        for minutia in self.minutiae[:_MAX_MINUTIAE]:
            body += bytes(minutia)
        # fill the rest of the slot with bytes derived from the texture, like a real feature map
        seed = self.texture.to_bytes(8, "big")
        while len(body) < TEMPLATE_SIZE - 2:
            seed = hashlib.sha256(seed).digest()
            body += seed
        del body[TEMPLATE_SIZE - 2:]
        body += (sum(body) & 0xFFFF).to_bytes(2, "big")
        return bytes(body)

    @classmethod
    def decode(cls, blob: bytes) -> Features | None:
        """The features of a 512-byte buffer, or None when it holds no valid template."""
        if len(blob) != TEMPLATE_SIZE or blob[:2] != _MAGIC or blob[2] != 1:
            return None
        if int.from_bytes(blob[-2:], "big") != sum(blob[:-2]) & 0xFFFF:
            return None
        count = blob[4]
        if count > _MAX_MINUTIAE:
            return None
        minutiae = tuple(tuple(blob[16 + 4 * i:20 + 4 * i]) for i in range(count))
        return cls(minutiae, int.from_bytes(blob[8:16], "big"), blob[3])  # type: ignore[arg-type]


def _finger_seed(finger_id: object) -> bytes:
    return hashlib.sha256(b"seed-finger:" + str(finger_id).encode("utf-8")).digest()


def finger_features(finger_id: object) -> Features:
    """The noiseless features of a finger: the same for the same ``finger_id``, always."""
    rng = random.Random(_finger_seed(finger_id))
    minutiae: list[tuple[int, int, int, int]] = []
    taken: set[tuple[int, int]] = set()
    while len(minutiae) < rng.randint(36, 48):
        x, y = rng.randint(8, 247), rng.randint(8, 247)
        if any((x + dx, y + dy) in taken for dx in range(-6, 7) for dy in range(-6, 7)):
            continue
        taken.add((x, y))
        minutiae.append((x, y, rng.randint(0, 255), rng.randint(0, 1)))
    return Features(tuple(minutiae), rng.getrandbits(64), _KIND_CHAR)


def capture_features(finger_id: object, capture: int, quality: str = "good") -> Features:
    """One press of a finger: the finger's features plus this capture's noise."""
    base = finger_features(finger_id)
    rng = random.Random(_finger_seed(finger_id) + capture.to_bytes(8, "big"))
    minutiae = []
    lose = rng.randint(0, 3) if quality == "good" else len(base.minutiae) * 3 // 4
    dropped = set(rng.sample(range(len(base.minutiae)), lose))
    for i, (x, y, angle, kind) in enumerate(base.minutiae):
        if i in dropped:
            continue
        minutiae.append((min(255, max(0, x + rng.randint(-1, 1))), min(255, max(0, y + rng.randint(-1, 1))),
                         (angle + rng.randint(-2, 2)) % 256, kind))
    for _ in range(rng.randint(0, 2)):  # spurious minutiae from dirt or skin creases
        minutiae.append((rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 1)))
    rng.shuffle(minutiae)
    texture = base.texture
    for _ in range(rng.randint(0, 2)):
        texture ^= 1 << rng.randint(0, 63)
    return Features(tuple(minutiae), texture, _KIND_CHAR)


def _matched_pairs(a: Features, b: Features) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    grid: dict[tuple[int, int], list[tuple[int, ...]]] = {}
    for m in b.minutiae:
        grid.setdefault((m[0] // 4, m[1] // 4), []).append(m)
    used: set[tuple[int, ...]] = set()
    pairs: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    for m in a.minutiae:
        gx, gy = m[0] // 4, m[1] // 4
        best = None
        for cell in ((gx + i, gy + j) for i in (-1, 0, 1) for j in (-1, 0, 1)):
            for other in grid.get(cell, ()):
                if other in used or other[3] != m[3]:
                    continue
                if abs(other[0] - m[0]) <= 2 and abs(other[1] - m[1]) <= 2 and min(
                        (other[2] - m[2]) % 256, (m[2] - other[2]) % 256) <= 6:
                    best = other
                    break
            if best:
                break
        if best:
            used.add(best)
            pairs.append((m, best))
    return pairs


def match_score(a: Features | None, b: Features | None) -> int:
    """The emulator's matcher: ~150-300 for two captures of one finger, 0-~20 otherwise."""
    if a is None or b is None or not a.minutiae or not b.minutiae:
        return 0
    agreement = 64 - (a.texture ^ b.texture).bit_count()
    background = max(0, agreement - 32) // 2
    if agreement < 48:  # ridge texture rules the pair out, as a sensor's pre-classification would
        return background
    matched = len(_matched_pairs(a, b))
    return min(background + round(matched * 260 / max(len(a.minutiae), len(b.minutiae))), 999)


def merge_features(a: Features, b: Features) -> Features:
    """RegModel: the minutiae both captures agree on, averaged."""
    merged = []
    for m, other in _matched_pairs(a, b):
        merged.append(((m[0] + other[0]) // 2, (m[1] + other[1]) // 2, m[2], m[3]))
    return Features(tuple(merged), a.texture, _KIND_TEMPLATE)


def finger_template(finger_id: object) -> bytes:
    """A stored template of a finger as two good presses and RegModel would make it."""
    return merge_features(capture_features(finger_id, 1), capture_features(finger_id, 2)).encode()


def finger_image(finger_id: object, capture: int) -> bytes:
    """A 256x288, 4-bit grey image (two pixels a byte) with ridges that depend on the finger."""
    seed = _finger_seed(finger_id)
    cx, cy, freq = 96 + seed[0] % 64, 112 + seed[1] % 64, 3 + seed[2] % 3
    shift = capture % 3
    out = bytearray(IMAGE_SIZE)
    i = 0
    for y in range(IMAGE_HEIGHT):
        dy2 = (y - cy) ** 2
        for x in range(0, IMAGE_WIDTH, 2):
            left = 15 if ((((x - cx) ** 2 + dy2) >> freq) + shift) & 2 else 3
            right = 15 if ((((x + 1 - cx) ** 2 + dy2) >> freq) + shift) & 2 else 3
            out[i] = (left << 4) | right
            i += 1
    return bytes(out)


# -- the persistent library ------------------------------------------------------------
class TemplateLibrary:
    """The module's flash: a header and one fixed slot per position, written in place."""

    MAGIC = b"SEEDFPL1"
    HEADER = struct.Struct(">8sHBBIIBB")  # magic, capacity, security level, packet code, address, password, baud N, spare
    HEADER_SIZE = 64
    SLOT = 1 + TEMPLATE_SIZE

    def __init__(self, path: Path | None, capacity: int | None = None):
        self.path = Path(path) if path else None
        self.capacity = capacity or 1000
        self.security_level = 3
        self.packet_code = 2
        self.address = DEFAULT_ADDRESS
        self.password = 0
        self.baud_n = 6
        self.notepad = [bytes(NOTEPAD_PAGE_SIZE) for _ in range(NOTEPAD_PAGES)]
        self.templates: dict[int, bytes] = {}
        self._fd: int | None = None
        if self.path is not None:
            self._open(capacity)

    def _open(self, capacity: int | None) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        exists = self.path.exists() and self.path.stat().st_size > 0
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            self._fd = None
            raise ValueError(f"{self.path} is in use by another fingerprint emulator") from None
        if not exists:
            self._write_all()
            return
        data = os.pread(self._fd, os.fstat(self._fd).st_size, 0)
        try:
            magic, stored_capacity, level, packet_code, address, password, baud_n, _ = self.HEADER.unpack_from(data)
        except struct.error:
            magic = b""
        if magic != self.MAGIC:
            os.close(self._fd)
            self._fd = None
            raise ValueError(f"{self.path} is not a fingerprint emulator library; move it aside or choose another file")
        self.security_level, self.packet_code, self.address, self.password, self.baud_n = (
            level, packet_code, address, password, baud_n)
        notepad_at = self.HEADER_SIZE
        self.notepad = [data[notepad_at + i * NOTEPAD_PAGE_SIZE:notepad_at + (i + 1) * NOTEPAD_PAGE_SIZE]
                        for i in range(NOTEPAD_PAGES)]
        for position in range(stored_capacity):
            at = self._slot_offset(position)
            if at + self.SLOT <= len(data) and data[at] == 1:
                self.templates[position] = data[at + 1:at + self.SLOT]
        self.capacity = capacity or stored_capacity
        beyond = [p for p in self.templates if p >= self.capacity]
        if beyond:
            os.close(self._fd)
            self._fd = None
            raise ValueError(f"{self.path} holds templates at positions up to {max(beyond)}, beyond a capacity of "
                             f"{self.capacity}; use a capacity of at least {max(beyond) + 1}")
        if self.capacity != stored_capacity:
            self._write_all()

    def _slot_offset(self, position: int) -> int:
        return self.HEADER_SIZE + NOTEPAD_PAGES * NOTEPAD_PAGE_SIZE + position * self.SLOT

    def _header(self) -> bytes:
        """Settings and notepad: everything before the first slot."""
        head = self.HEADER.pack(self.MAGIC, self.capacity, self.security_level, self.packet_code, self.address,
                                self.password, self.baud_n, 0)
        return head.ljust(self.HEADER_SIZE, b"\0") + b"".join(self.notepad)

    def _write_all(self) -> None:
        if self._fd is None:
            return
        data = bytearray(self._header())
        for position in range(self.capacity):
            blob = self.templates.get(position)
            data += (b"\x01" + blob) if blob else bytes(self.SLOT)
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, bytes(data), 0)

    def save_settings(self) -> None:
        if self._fd is not None:
            os.pwrite(self._fd, self._header(), 0)

    def put(self, position: int, blob: bytes) -> None:
        self.templates[position] = bytes(blob)
        if self._fd is not None:
            os.pwrite(self._fd, b"\x01" + bytes(blob), self._slot_offset(position))

    def delete(self, positions: Iterable[int]) -> None:
        for position in positions:
            if self.templates.pop(position, None) is not None and self._fd is not None:
                os.pwrite(self._fd, b"\x00", self._slot_offset(position))

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None


# -- the emulator ---------------------------------------------------------------------
@dataclass(frozen=True)
class Exchange:
    """One packet the module received and what it answered (None: it stayed silent)."""

    instruction: int | None
    name: str
    params: bytes
    code: int | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Finger:
    finger_id: str
    quality: str
    captures_left: int | None


class FingerprintEmulator:
    """A ZFM-20/R307 module on a pty. Start with :meth:`start` or use as a context manager."""

    def __init__(self, library: Path | str | None = None, *, capacity: int | None = None,
                 security_level: int | None = None, address: int | None = None, password: int | None = None,
                 system_id: int = 0x0000, unknown_instruction_code: int = UNKNOWN_INSTRUCTION_CODE):
        if capacity is not None and not 1 <= capacity <= 3000:
            raise ValueError("capacity must be between 1 and 3000")
        if security_level is not None and security_level not in SECURITY_THRESHOLDS:
            raise ValueError("security level must be 1-5")
        self.library = TemplateLibrary(Path(library) if library else None, capacity)
        if security_level is not None:
            self.library.security_level = security_level
        if address is not None:
            self.library.address = address
        if password is not None:
            self.library.password = password
        self.library.save_settings()
        self.system_id = system_id
        self.unknown_instruction_code = unknown_instruction_code
        self.history: list[Exchange] = []
        self._lock = threading.RLock()
        self._finger: _Finger | None = None
        self._captures = 0
        self._image: tuple[str, int, str] | None = None  # (finger, capture number, quality)
        self._image_raw: bytes | None = None
        self._buffers: dict[int, bytes | None] = {1: None, 2: None}
        self._verified = False
        self._found = False
        self._plugged = True
        self._receiving: tuple[str, int, bytearray] | None = None  # ("char"|"image", buffer, data so far)
        self._pending_receive: tuple[str, int] | None = None
        self._faults: dict[int, list[int]] = {}
        self._cache: dict[bytes, Features | None] = {}
        self._rx = bytearray()
        self._rx_at = 0.0
        self._master: int | None = None
        self._slave: int | None = None
        self._wake_r, self._wake_w = -1, -1
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._links: list[Path] = []
        self.port = ""

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> FingerprintEmulator:
        if self._thread is not None:
            return self
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line discipline: bytes pass as they are
        self.port = os.ttyname(self._slave)
        os.set_blocking(self._master, False)
        self._wake_r, self._wake_w = os.pipe()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name="fingerprint-emulator", daemon=True)
        self._thread.start()
        log.info("fingerprint emulator serving on %s (capacity %s)", self.port, self.library.capacity)
        return self

    def link(self, path: Path | str) -> Path:
        """Make ``path`` a symlink to the pty, as udev would name a sensor."""
        path = Path(path)
        if path.is_symlink() or path.exists():
            if not path.is_symlink():
                raise FileExistsError(f"{path} exists and is not a symlink; not replacing it")
            path.unlink()
        path.symlink_to(self.port)
        self._links.append(path)
        return path

    def stop(self) -> None:
        self._stopping.set()
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            if fd is not None and fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        self._wake_r = self._wake_w = -1
        for path in self._links:
            with contextlib.suppress(OSError):
                if path.is_symlink():
                    path.unlink()
        self._links.clear()
        self.library.close()

    close = stop

    def __enter__(self) -> FingerprintEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- drive and assert (tests, the control socket) ------------------------------------
    def place_finger(self, finger_id: object, *, quality: str = "good", captures: int | None = None) -> None:
        """Put a finger on the glass; it stays until :meth:`lift_finger` or ``captures`` images."""
        if quality not in QUALITIES:
            raise ValueError(f"quality must be one of {', '.join(QUALITIES)}")
        with self._lock:
            self._finger = _Finger(str(finger_id), quality, captures)

    def lift_finger(self) -> None:
        with self._lock:
            self._finger = None

    @property
    def finger_on_sensor(self) -> str | None:
        with self._lock:
            return self._finger.finger_id if self._finger else None

    def unplug(self) -> None:
        """The module loses power or its cable: it stops answering and forgets its RAM."""
        with self._lock:
            self._plugged = False
            self._reset_ram()

    def replug(self) -> None:
        with self._lock:
            self._plugged = True
            self._rx.clear()

    def fail_next(self, instruction: int, code: int, times: int = 1) -> None:
        """Answer the next ``times`` uses of ``instruction`` with ``code`` (e.g. Store → 0x18 flash error)."""
        with self._lock:
            self._faults.setdefault(instruction, []).extend([code] * times)

    def stored_positions(self) -> list[int]:
        with self._lock:
            return sorted(self.library.templates)

    def template_at(self, position: int) -> bytes | None:
        with self._lock:
            return self.library.templates.get(position)

    def store_finger(self, finger_id: object, position: int | None = None) -> int:
        """Put an enrolled template of a finger straight into the library (fills large libraries fast)."""
        with self._lock:
            if position is None:
                position = next((p for p in range(self.library.capacity) if p not in self.library.templates), None)
                if position is None:
                    raise ValueError("the library is full")
            if not 0 <= position < self.library.capacity:
                raise ValueError(f"position {position} is beyond the library (capacity {self.library.capacity})")
            self._put(position, finger_template(finger_id))
            return position

    def commands(self) -> list[str]:
        """Names of the instructions received so far, in order."""
        with self._lock:
            return [e.name for e in self.history]

    def clear_history(self) -> None:
        with self._lock:
            self.history.clear()

    @property
    def capacity(self) -> int:
        return self.library.capacity

    @property
    def security_level(self) -> int:
        return self.library.security_level

    def status(self) -> dict:
        with self._lock:
            return {"port": self.port, "plugged": self._plugged, "finger": self.finger_on_sensor,
                    "capacity": self.library.capacity, "security_level": self.library.security_level,
                    "templates": len(self.library.templates), "commands": len(self.history)}

    # -- the serial side ---------------------------------------------------------------
    def _serve(self) -> None:
        assert self._master is not None
        while not self._stopping.is_set():
            try:
                ready, _, _ = select.select([self._master, self._wake_r], [], [], 0.5)
            except (OSError, ValueError):
                return
            if self._wake_r in ready:
                return
            if self._master not in ready:
                continue
            try:
                chunk = os.read(self._master, 4096)
            except BlockingIOError:
                continue
            except OSError as exc:
                if exc.errno == errno.EIO:  # no client has the port open right now
                    time.sleep(0.05)
                    continue
                log.error("fingerprint emulator: read failed: %s", exc)
                return
            if not chunk:
                continue
            self.feed(chunk)

    def feed(self, data: bytes) -> None:
        """Bytes arriving on the module's RX line."""
        with self._lock:
            if not self._plugged:
                return
            now = time.monotonic()
            if self._rx and now - self._rx_at > 2.0:  # a half packet left over from a client that went away
                self._rx.clear()
            self._rx_at = now
            self._rx += data
            while True:
                packet = self._take_packet()
                if packet is None:
                    return
                self._handle(*packet)

    def _take_packet(self) -> tuple[int, int, bytes, bool] | None:
        buf = self._rx
        start = buf.find(STARTCODE)
        if start < 0:
            del buf[:max(0, len(buf) - 1)]  # keep a trailing 0xEF that may begin a header
            return None
        if start:
            del buf[:start]
        if len(buf) < 9:
            return None
        address = int.from_bytes(buf[2:6], "big")
        pid = buf[6]
        length = int.from_bytes(buf[7:9], "big")
        if length < 2 or length > max(PACKET_SIZES) + 2 + 64:
            del buf[:2]  # not a believable packet: resynchronise on the next header
            self._reply_packet_error(None, "bad length")
            return None
        if len(buf) < 9 + length:
            return None
        payload = bytes(buf[9:9 + length - 2])
        received = int.from_bytes(buf[9 + length - 2:9 + length], "big")
        del buf[:9 + length]
        return address, pid, payload, received == checksum(pid, length, payload)

    def _send(self, data: bytes) -> None:
        if self._master is None:
            return
        view = memoryview(data)
        deadline = time.monotonic() + 10
        while view:
            try:
                written = os.write(self._master, view)
                view = view[written:]
            except BlockingIOError:
                if self._stopping.is_set() or time.monotonic() > deadline:
                    log.warning("fingerprint emulator: client is not reading; reply dropped")
                    return
                select.select([], [self._master], [], 0.1)
            except OSError as exc:
                log.warning("fingerprint emulator: write failed: %s", exc)
                return

    def _ack(self, code: int, params: bytes = b"") -> None:
        self._send(frame(PID_ACK, bytes([code]) + params, self.library.address))

    def _record(self, instruction: int | None, name: str, params: bytes, code: int | None) -> None:
        if instruction in (0x12, 0x13, 0x15):  # never keep a password
            params = b""
        self.history.append(Exchange(instruction, name, params, code))
        if len(self.history) > 10_000:
            del self.history[:5000]

    def _reply_packet_error(self, instruction: int | None, why: str) -> None:
        log.debug("fingerprint emulator: packet error (%s)", why)
        self._record(instruction, f"packet-error:{why}", b"", ERR_PACKET)
        self._ack(ERR_PACKET)

    def _handle(self, address: int, pid: int, payload: bytes, checksum_ok: bool) -> None:
        if address != self.library.address:
            self._record(None, "wrong-address", b"", None)
            return
        if not checksum_ok:
            self._receiving = None
            self._reply_packet_error(payload[0] if pid == PID_COMMAND and payload else None, "checksum")
            return
        if pid in (PID_DATA, PID_END):
            self._data_packet(pid, payload)
            return
        if pid != PID_COMMAND or not payload:
            self._reply_packet_error(None, f"packet identifier {pid:#04x}")
            return
        self._receiving = None
        instruction, params = payload[0], payload[1:]
        name = INSTRUCTIONS.get(instruction, f"unknown:{instruction:#04x}")
        if instruction not in INSTRUCTIONS:
            self._record(instruction, name, params, self.unknown_instruction_code)
            self._ack(self.unknown_instruction_code)
            return
        if self.library.password and not self._verified and instruction != 0x13:
            self._record(instruction, name, params, ERR_MUST_VERIFY)
            self._ack(ERR_MUST_VERIFY)
            return
        faults = self._faults.get(instruction)
        if faults:
            code = faults.pop(0)
            self._record(instruction, name, params, code)
            self._ack(code, self._error_params(instruction))
            return
        handler = getattr(self, f"_cmd_{name}")
        self._pending_receive = None
        try:
            code, reply, after = handler(params)
        except (IndexError, struct.error):  # parameters missing: the packet was malformed
            code, reply, after = ERR_PACKET, self._error_params(instruction), None
        self._record(instruction, name, params if instruction not in (0x18,) else params[:1], code)
        self._send(frame(PID_ACK, bytes([code]) + reply, self.library.address))
        if after is not None:
            self._send_data(after)
        if code == OK and self._pending_receive is not None:
            kind, buffer = self._pending_receive
            self._receiving = (kind, buffer, bytearray())

    @staticmethod
    def _error_params(instruction: int) -> bytes:
        # replies keep their documented length whatever the confirmation code
        return {0x03: bytes(2), 0x04: bytes(4), 0x1B: bytes(4), 0x0F: bytes(16), 0x1D: bytes(2),
                0x1F: bytes(32), 0x14: bytes(4), 0x19: bytes(NOTEPAD_PAGE_SIZE)}.get(instruction, b"")

    def _send_data(self, data: bytes) -> None:
        size = PACKET_SIZES[self.library.packet_code]
        chunks = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
        out = bytearray()
        for i, chunk in enumerate(chunks):
            out += frame(PID_END if i == len(chunks) - 1 else PID_DATA, chunk, self.library.address)
        self._send(bytes(out))

    def _data_packet(self, pid: int, payload: bytes) -> None:
        if self._receiving is None:
            self._reply_packet_error(None, "data packet without DownChar/DownImage")
            return
        kind, buffer, data = self._receiving
        data += payload
        if len(data) > IMAGE_SIZE:
            self._receiving = None
            self._reply_packet_error(None, "too much data")
            return
        if pid == PID_END:
            self._receiving = None
            if kind == "char":
                blob = bytes(data[:TEMPLATE_SIZE]).ljust(TEMPLATE_SIZE, b"\0")
                self._buffers[buffer] = blob
                self._record(None, "DownChar:data", b"", None)
            else:
                self._image_raw = bytes(data).ljust(IMAGE_SIZE, b"\0")
                self._image = None
                self._record(None, "DownImage:data", b"", None)

    # -- helpers -------------------------------------------------------------------------
    def _reset_ram(self) -> None:
        self._buffers = {1: None, 2: None}
        self._image = None
        self._image_raw = None
        self._verified = False
        self._found = False
        self._receiving = None
        self._rx.clear()

    @staticmethod
    def _buffer_id(value: int) -> int:
        return 1 if value == 1 else 2  # the manual: any other BufferID is processed as CharBuffer2

    def _features(self, blob: bytes | None) -> Features | None:
        if blob is None:
            return None
        if blob not in self._cache:
            if len(self._cache) > 5000:
                self._cache.clear()
            self._cache[blob] = Features.decode(blob)
        return self._cache[blob]

    def _put(self, position: int, blob: bytes) -> None:
        self.library.put(position, blob)

    @property
    def _threshold(self) -> int:
        return SECURITY_THRESHOLDS.get(self.library.security_level, SECURITY_THRESHOLDS[3])

    # -- instructions: each returns (confirmation code, reply parameters, data to follow) --
    def _cmd_VfyPwd(self, p: bytes):
        if len(p) < 4:
            return ERR_PACKET, b"", None
        password = int.from_bytes(p[:4], "big")
        self._verified = password == self.library.password
        return (OK if self._verified else ERR_PASSWORD), b"", None

    def _cmd_SetPwd(self, p: bytes):
        if len(p) < 4:
            return ERR_PACKET, b"", None
        self.library.password = int.from_bytes(p[:4], "big")
        self.library.save_settings()
        return OK, b"", None

    def _cmd_SetAdder(self, p: bytes):
        if len(p) < 4:
            return ERR_PACKET, b"", None
        self.library.address = int.from_bytes(p[:4], "big")  # the reply already carries the new address
        self.library.save_settings()
        return OK, b"", None

    def _cmd_SetSysPara(self, p: bytes):
        register, value = p[0], p[1]
        if register == 4 and 1 <= value <= 12:
            self.library.baud_n = value
        elif register == 5 and value in SECURITY_THRESHOLDS:
            self.library.security_level = value
        elif register == 6 and value <= 3:
            self.library.packet_code = value
        elif register in (4, 5, 6):
            return 0x1B, b"", None  # incorrect configuration of register
        else:
            return ERR_REGISTER, b"", None
        self.library.save_settings()
        return OK, b"", None

    def _cmd_ReadSysPara(self, p: bytes):
        status = (0x02 if self._found else 0) | (0x04 if self._verified else 0) | (
            0x08 if (self._image or self._image_raw) else 0)
        lib = self.library
        params = struct.pack(">HHHHIHH", status, self.system_id, lib.capacity, lib.security_level, lib.address,
                             lib.packet_code, lib.baud_n)
        return OK, params, None

    def _cmd_TempleteNum(self, p: bytes):
        return OK, len(self.library.templates).to_bytes(2, "big"), None

    def _cmd_ReadConList(self, p: bytes):
        page = p[0]
        if page > 3:
            return ERR_PACKET, bytes(32), None
        table = bytearray(32)
        base = page * INDEX_PAGE_POSITIONS
        for position in self.library.templates:
            if base <= position < base + INDEX_PAGE_POSITIONS:
                offset = position - base
                table[offset // 8] |= 1 << (offset % 8)
        return OK, bytes(table), None

    def _cmd_GenImg(self, p: bytes):
        finger = self._finger
        if finger is None:
            return ERR_NO_FINGER, b"", None
        if finger.quality == "fail":
            code = ERR_CAPTURE
        else:
            self._captures += 1
            self._image = (finger.finger_id, self._captures, finger.quality)
            self._image_raw = None
            code = OK
        if finger.captures_left is not None:
            finger.captures_left -= 1
            if finger.captures_left <= 0:
                self._finger = None
        return code, b"", None

    def _cmd_Img2Tz(self, p: bytes):
        buffer = self._buffer_id(p[0])
        if self._image is None:
            return ERR_NO_IMAGE, b"", None
        finger_id, capture, quality = self._image
        if quality == "messy":
            return ERR_MESSY, b"", None
        if quality == "partial":
            return ERR_FEW_FEATURES, b"", None
        self._buffers[buffer] = capture_features(finger_id, capture, quality).encode()
        return OK, b"", None

    def _cmd_Match(self, p: bytes):
        score = match_score(self._features(self._buffers[1]), self._features(self._buffers[2]))
        if score >= self._threshold:
            return OK, score.to_bytes(2, "big"), None
        return ERR_NO_MATCH, bytes(2), None

    def _cmd_Search(self, p: bytes):
        if len(p) < 5:
            return ERR_PACKET, bytes(4), None
        buffer, start, count = self._buffer_id(p[0]), int.from_bytes(p[1:3], "big"), int.from_bytes(p[3:5], "big")
        probe = self._features(self._buffers[buffer])
        self._found = False
        best_position, best_score = -1, -1
        end = min(self.library.capacity, start + count)
        if probe is not None:
            for position, blob in self.library.templates.items():
                if start <= position < end:
                    score = match_score(probe, self._features(blob))
                    if score > best_score or (score == best_score and position < best_position):
                        best_position, best_score = position, score
        if best_score >= self._threshold:
            self._found = True
            return OK, struct.pack(">HH", best_position, min(best_score, 0xFFFF)), None
        return ERR_NOT_FOUND, bytes(4), None

    _cmd_HighSpeedSearch = _cmd_Search

    def _cmd_RegModel(self, p: bytes):
        a, b = self._features(self._buffers[1]), self._features(self._buffers[2])
        if a is None or b is None or match_score(a, b) < SECURITY_THRESHOLDS[3]:
            return ERR_COMBINE, b"", None
        merged = merge_features(a, b).encode()
        self._buffers[1] = self._buffers[2] = merged
        return OK, b"", None

    def _cmd_Store(self, p: bytes):
        if len(p) < 3:
            return ERR_PACKET, b"", None
        buffer, position = self._buffer_id(p[0]), int.from_bytes(p[1:3], "big")
        if position >= self.library.capacity:
            return ERR_BAD_PAGE, b"", None
        blob = self._buffers[buffer]
        if blob is None:
            blob = bytes(TEMPLATE_SIZE)  # an empty buffer is written as it is, like the real flash
        try:
            self._put(position, blob)
        except OSError as exc:
            log.error("fingerprint emulator: library write failed: %s", exc)
            return ERR_FLASH, b"", None
        return OK, b"", None

    def _cmd_LoadChar(self, p: bytes):
        if len(p) < 3:
            return ERR_PACKET, b"", None
        buffer, position = self._buffer_id(p[0]), int.from_bytes(p[1:3], "big")
        if position >= self.library.capacity:
            return ERR_BAD_PAGE, b"", None
        blob = self.library.templates.get(position)
        if blob is None or self._features(blob) is None:
            return ERR_BAD_TEMPLATE, b"", None
        self._buffers[buffer] = blob
        return OK, b"", None

    def _cmd_UpChar(self, p: bytes):
        blob = self._buffers[self._buffer_id(p[0])]
        if blob is None:
            return ERR_UPLOAD, b"", None
        return OK, b"", blob

    def _cmd_DownChar(self, p: bytes):
        if not p:
            return ERR_PACKET, b"", None
        self._pending_receive = ("char", self._buffer_id(p[0]))
        return OK, b"", None

    def _cmd_UpImage(self, p: bytes):
        if self._image_raw is not None:
            return OK, b"", self._image_raw
        if self._image is None:
            return ERR_UPLOAD_IMAGE, b"", None
        finger_id, capture, _ = self._image
        return OK, b"", finger_image(finger_id, capture)

    def _cmd_DownImage(self, p: bytes):
        self._pending_receive = ("image", 0)
        return OK, b"", None

    def _cmd_DeletChar(self, p: bytes):
        if len(p) < 4:
            return ERR_PACKET, b"", None
        start, count = int.from_bytes(p[0:2], "big"), int.from_bytes(p[2:4], "big")
        if start >= self.library.capacity or start + count > self.library.capacity:
            return ERR_DELETE, b"", None
        try:
            self.library.delete(range(start, start + count))
        except OSError:
            return ERR_DELETE, b"", None
        return OK, b"", None

    def _cmd_Empty(self, p: bytes):
        try:
            self.library.delete(list(self.library.templates))
        except OSError:
            return ERR_CLEAR, b"", None
        return OK, b"", None

    def _cmd_GetRandomCode(self, p: bytes):
        return OK, random.getrandbits(32).to_bytes(4, "big"), None

    def _cmd_WriteNotepad(self, p: bytes):
        page = p[0]
        if page >= NOTEPAD_PAGES:
            return ERR_NOTEPAD_PAGE, b"", None
        self.library.notepad[page] = bytes(p[1:1 + NOTEPAD_PAGE_SIZE]).ljust(NOTEPAD_PAGE_SIZE, b"\0")
        self.library.save_settings()
        return OK, b"", None

    def _cmd_ReadNotepad(self, p: bytes):
        page = p[0]
        if page >= NOTEPAD_PAGES:
            return ERR_NOTEPAD_PAGE, bytes(NOTEPAD_PAGE_SIZE), None
        return OK, self.library.notepad[page], None


# -- the control socket ---------------------------------------------------------------
CONTROL_HELP = """commands, one a line; each answer is one line starting with "ok" or "error":
  place FINGER [good|poor|messy|partial|fail] [CAPTURES]   put a finger on the sensor
  tap FINGER                                             a finger that lifts itself after one image
  lift                                                   lift the finger
  unplug | replug                                        cut or restore the module's power
  enrol FINGER [POSITION]                                store a template of FINGER directly
  positions | count | status | history [N] | help"""


class ControlServer:
    """Line commands on a unix socket, for placing fingers on a standalone emulator."""

    def __init__(self, emulator: FingerprintEmulator, path: Path | str):
        self.emulator = emulator
        self.path = Path(path)
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> ControlServer:
        if self.path.exists() or self.path.is_symlink():
            if not self.path.is_socket():
                raise FileExistsError(f"{self.path} exists and is not a socket; not replacing it")
            self.path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self.path))
        except OSError as exc:
            sock.close()
            raise OSError(f"cannot listen on {self.path}: {exc}") from None
        os.chmod(self.path, 0o600)
        sock.listen(4)
        sock.settimeout(0.5)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept, name="fingerprint-control", daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve_client, args=(conn,), daemon=True).start()

    def _serve_client(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            for raw in stream:
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                stream.write((self.execute(line) + "\n").encode("utf-8"))
                stream.flush()

    def execute(self, line: str) -> str:
        """Run one control command; the answer is one line."""
        emu = self.emulator
        words = line.split()
        command, args = words[0].lower(), words[1:]
        try:
            if command == "place" and args:
                quality = args[1] if len(args) > 1 else "good"
                captures = int(args[2]) if len(args) > 2 else None
                emu.place_finger(args[0], quality=quality, captures=captures)
                return f"ok finger {args[0]} placed"
            if command == "tap" and len(args) == 1:
                emu.place_finger(args[0], captures=1)
                return f"ok finger {args[0]} placed for one image"
            if command == "lift" and not args:
                emu.lift_finger()
                return "ok lifted"
            if command == "unplug" and not args:
                emu.unplug()
                return "ok unplugged"
            if command == "replug" and not args:
                emu.replug()
                return "ok replugged"
            if command == "enrol" and args:
                position = emu.store_finger(args[0], int(args[1]) if len(args) > 1 else None)
                return f"ok stored at {position}"
            if command == "positions" and not args:
                return "ok " + " ".join(str(p) for p in emu.stored_positions())
            if command == "count" and not args:
                return f"ok {len(emu.stored_positions())}"
            if command == "status" and not args:
                return "ok " + json.dumps(emu.status(), sort_keys=True)
            if command == "history":
                count = int(args[0]) if args else 20
                names = emu.commands()[-count:] if count else []
                return "ok " + " ".join(names)
            if command == "help":
                return "ok " + CONTROL_HELP.replace("\n", " | ")
        except ValueError as exc:
            return f"error {exc}"
        return f"error unknown command {line!r}; try help"

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() waiting in the other thread
            self._sock.close()
            self._sock = None
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        with contextlib.suppress(OSError):
            if self.path.is_socket():
                self.path.unlink()

    def __enter__(self) -> ControlServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def send_control(path: Path | str, line: str, timeout: float = 5.0) -> str:
    """Send one command to a running emulator's control socket and return its answer line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(line.strip().encode("utf-8") + b"\n")
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.decode("utf-8").strip()


# -- standalone ---------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m terminal.hardware.fingerprint_sim",
        description="Emulate a ZFM-20/R307 fingerprint sensor on a pseudo-terminal until stopped.",
        epilog=CONTROL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--link", required=True, type=Path, help="symlink to create for the pty (e.g. /tmp/seed-finger)")
    parser.add_argument("--library", type=Path, help="file holding the template library (default: kept in memory)")
    parser.add_argument("--capacity", type=int, help="library size (R307: 1000; default: the library file's, else 1000)")
    parser.add_argument("--security-level", type=int, choices=sorted(SECURITY_THRESHOLDS), help="matching security level")
    parser.add_argument("--control", type=Path, help="unix socket for line commands (default: LINK.sock)")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose > 1 else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    control_path = args.control or args.link.with_name(args.link.name + ".sock")
    try:
        emulator = FingerprintEmulator(args.library, capacity=args.capacity, security_level=args.security_level)
    except ValueError as exc:
        print(f"fingerprint_sim: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        with emulator:
            try:
                emulator.link(args.link)
                control = ControlServer(emulator, control_path).start()
            except OSError as exc:
                print(f"fingerprint_sim: {exc}", file=sys.stderr)
                return 2
            try:
                print(f"serving {emulator.port} at {args.link}; control socket {control_path}", flush=True)
                while not stop.wait(1.0):
                    pass
            finally:
                control.stop()
    finally:
        log.info("fingerprint emulator stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
