"""RFID card readers: the keyboard-wedge reader on evdev, and its simulator.

A keyboard-wedge reader is a USB keyboard that types the card number and presses
Enter. :class:`EvdevCardReader` grabs it exclusively (its keystrokes never reach the
kiosk or a console), turns key events into the typed string with
:class:`KeyDecoder` and returns the number in the canonical form of
:mod:`contract.cards`. :class:`SimCardReader` is a queue tests push reader strings
into with :meth:`SimCardReader.present`; both normalise through the same code, and
both report unreadable input (logged, counted in ``rejected``) without returning it.
"""
from __future__ import annotations

import errno
import logging
import queue
import select
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from contract.cards import CardFormatError, card_suffix, normalize_card
from terminal.config import CardReaderSettings
from terminal.hardware.errors import CardReaderGone, DeviceMissing

log = logging.getLogger(__name__)

MAX_TYPED = 64


@runtime_checkable
class CardReader(Protocol):
    def read(self, timeout: float | None = None) -> str | None:
        """The next card, normalised (see contract.cards), or None when none came within ``timeout`` seconds."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> CardReader: ...

    def __exit__(self, *exc: object) -> None: ...


class _Normalising:
    """What every reader does with a typed string: normalise it, or log and count why not."""

    def __init__(self, fmt: str):
        self.format = fmt
        self.accepted = 0
        self.rejected: list[str] = []  # reasons, newest last (never the whole number)

    def _normalise(self, raw: str) -> str | None:
        try:
            card = normalize_card(raw, self.format)
        except CardFormatError as exc:
            reason = str(exc)
            self.rejected.append(reason)
            del self.rejected[:-50]
            log.warning("card reader: unreadable card (%s)", reason)
            return None
        self.accepted += 1
        log.debug("card reader: card ...%s", card_suffix(card))
        return card

    def health(self) -> str:
        return "ok"


# -- evdev key events to text -------------------------------------------------------------
def _key_maps() -> tuple[dict[int, str], dict[int, str], set[int], set[int]]:
    from evdev import ecodes

    plain: dict[int, str] = {}
    shifted: dict[int, str] = {}
    for digit in "0123456789":
        plain[ecodes.ecodes[f"KEY_{digit}"]] = digit
        plain[ecodes.ecodes[f"KEY_KP{digit}"]] = digit
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        code = ecodes.ecodes[f"KEY_{letter}"]
        plain[code], shifted[code] = letter.lower(), letter
    for name, char, shifted_char in (("KEY_COMMA", ",", "<"), ("KEY_SEMICOLON", ";", ":"), ("KEY_MINUS", "-", "_"),
                                     ("KEY_KPMINUS", "-", "-"), ("KEY_DOT", ".", ">"), ("KEY_KPDOT", ".", "."),
                                     ("KEY_SPACE", " ", " "), ("KEY_EQUAL", "=", "+")):
        plain[ecodes.ecodes[name]], shifted[ecodes.ecodes[name]] = char, shifted_char
    shift = {ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT}
    enter = {ecodes.KEY_ENTER, ecodes.KEY_KPENTER, ecodes.KEY_TAB}
    return plain, shifted, shift, enter


class KeyDecoder:
    """Key events (evdev ``InputEvent``) from a keyboard-wedge reader → the strings it typed, one per Enter.

    A string not finished by Enter within ``key_timeout_s`` of its last key is a misread
    and is discarded when the next key arrives (or on :meth:`expire`).
    """

    def __init__(self, key_timeout_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        from evdev import ecodes

        self._ev_key = ecodes.EV_KEY
        self._plain, self._shifted, self._shift_keys, self._enter_keys = _key_maps()
        self.key_timeout_s = key_timeout_s
        self._clock = clock
        self._buffer: list[str] = []
        self._last_key = 0.0
        self._shift = False
        self._overflow = False  # too long: everything up to the next Enter is dropped
        self.discarded = 0

    def expire(self, now: float | None = None) -> bool:
        """Drop a half-typed string older than the key timeout; True if one was dropped."""
        now = self._clock() if now is None else now
        if not (self._buffer or self._overflow) or now - self._last_key <= self.key_timeout_s:
            return False
        dropped = bool(self._buffer)
        if dropped:  # an overflow was already counted when it happened
            log.warning("card reader: discarded %d characters not finished by Enter", len(self._buffer))
            self.discarded += 1
        self._buffer.clear()
        self._overflow = False
        return dropped

    def feed(self, event: Any) -> str | None:
        if event.type != self._ev_key:
            return None
        code, value = event.code, event.value
        if code in self._shift_keys:
            self._shift = value != 0
            return None
        if value != 1:  # key up (0) and autorepeat (2) type nothing
            return None
        now = self._clock()
        self.expire(now)
        self._last_key = now
        if code in self._enter_keys:
            typed = "".join(self._buffer)
            self._buffer.clear()
            if self._overflow:
                self._overflow = False
                return None
            return typed or None
        char = (self._shifted if self._shift else self._plain).get(code)
        if char is None:
            log.debug("card reader: ignoring key code %s", code)
            return None
        if self._overflow:
            return None
        if len(self._buffer) >= MAX_TYPED:
            log.warning("card reader: more than %d characters without Enter; discarded", MAX_TYPED)
            self._buffer.clear()
            self._overflow = True
            self.discarded += 1
            return None
        self._buffer.append(char)
        return None


def key_strokes(text: str, enter: bool = True) -> list[tuple[int, bool]]:
    """The (key code, shifted) strokes a US-layout keyboard-wedge reader uses to type ``text`` (+ Enter)."""
    from evdev import ecodes

    plain, shifted, _, _ = _key_maps()
    by_char: dict[str, tuple[int, bool]] = {}
    for code, char in plain.items():
        by_char.setdefault(char, (code, False))
    for code, char in shifted.items():
        by_char.setdefault(char, (code, True))
    strokes = []
    for char in text:
        if char not in by_char:
            raise ValueError(f"a keyboard-wedge reader cannot type {char!r}")
        strokes.append(by_char[char])
    if enter:
        strokes.append((ecodes.KEY_ENTER, False))
    return strokes


def key_events(text: str, enter: bool = True, sec: int = 0) -> list[Any]:
    """The evdev events (scan code, key down, sync, key up, sync; Shift around capitals) for typing ``text``."""
    from evdev import InputEvent, ecodes

    events = []
    usec = 0

    def emit(etype: int, code: int, value: int) -> None:
        nonlocal usec
        usec += 1000
        events.append(InputEvent(sec, usec, etype, code, value))

    for code, shift in key_strokes(text, enter):
        if shift:
            emit(ecodes.EV_KEY, ecodes.KEY_LEFTSHIFT, 1)
            emit(ecodes.EV_SYN, ecodes.SYN_REPORT, 0)
        emit(ecodes.EV_MSC, ecodes.MSC_SCAN, 0x70000 + code)
        emit(ecodes.EV_KEY, code, 1)
        emit(ecodes.EV_SYN, ecodes.SYN_REPORT, 0)
        emit(ecodes.EV_KEY, code, 0)
        emit(ecodes.EV_SYN, ecodes.SYN_REPORT, 0)
        if shift:
            emit(ecodes.EV_KEY, ecodes.KEY_LEFTSHIFT, 0)
            emit(ecodes.EV_SYN, ecodes.SYN_REPORT, 0)
    return events


class EvdevCardReader(_Normalising):
    """A keyboard-wedge reader on ``/dev/input/...``, grabbed exclusively. A context manager.

    Unplugging raises :class:`CardReaderGone` from :meth:`read`; later reads try to
    open the device again and raise :class:`DeviceMissing` until it is back.
    """

    def __init__(self, settings: CardReaderSettings):
        super().__init__(settings.format)
        self.settings = settings
        self.path = settings.device
        try:
            import evdev  # noqa: F401
        except ImportError as exc:
            raise DeviceMissing("card_reader", f"the evdev package is not installed ({exc})") from None
        self.decoder = KeyDecoder(settings.key_timeout_s)
        self._device: Any = None
        self._lock = threading.Lock()
        self._closed = False
        self._open()

    def _open(self) -> None:
        from evdev import InputDevice, ecodes

        try:
            device = InputDevice(self.path)
        except FileNotFoundError:
            raise DeviceMissing("card_reader", f"no input device at {self.path} (reader unplugged?)") from None
        except PermissionError:
            raise DeviceMissing("card_reader", f"no permission to open {self.path} (the service user needs the input group)") from None
        except OSError as exc:
            raise DeviceMissing("card_reader", f"cannot open {self.path}: {exc.strerror or exc}") from None
        keys = device.capabilities().get(ecodes.EV_KEY, [])
        if ecodes.KEY_ENTER not in keys and ecodes.KEY_KPENTER not in keys:
            device.close()
            raise DeviceMissing("card_reader", f"{self.path} ({device.name}) has no Enter key: not a keyboard-wedge reader")
        if self.settings.grab:
            try:
                device.grab()
            except OSError as exc:
                device.close()
                reason = "another program holds it" if exc.errno == errno.EBUSY else (exc.strerror or str(exc))
                raise DeviceMissing("card_reader", f"cannot grab {self.path}: {reason}") from None
        self._device = device
        log.info("card reader %s (%s) opened%s, format %s", self.path, device.name,
                 " and grabbed" if self.settings.grab else "", self.format)

    def read(self, timeout: float | None = None) -> str | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._closed:
                raise RuntimeError("card reader is closed")
            if self._device is None:
                self._open()
            while True:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                wait = self.settings.key_timeout_s if remaining is None else min(remaining, self.settings.key_timeout_s)
                try:
                    ready, _, _ = select.select([self._device.fd], [], [], wait)
                    events = list(self._device.read()) if ready else []
                except OSError as exc:
                    if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                        events = []
                    else:
                        self._drop_device()
                        raise CardReaderGone(f"reader at {self.path} went away: {exc.strerror or exc}") from None
                if not events:
                    self.decoder.expire()
                for event in events:
                    typed = self.decoder.feed(event)
                    if typed is not None:
                        card = self._normalise(typed)
                        if card is not None:
                            return card
                if deadline is not None and time.monotonic() >= deadline:
                    return None

    def _drop_device(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            try:
                device.close()
            except OSError:
                pass

    def health(self) -> str:
        return "ok" if self._device is not None else f"missing: {self.path}"

    def close(self) -> None:
        self._closed = True
        device, self._device = self._device, None
        if device is not None:
            try:
                if self.settings.grab:
                    device.ungrab()
            except OSError:
                pass
            device.close()

    def __enter__(self) -> EvdevCardReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SimCardReader(_Normalising):
    """A reader the test drives: ``present(raw)`` is a card held to it, typed as the reader would type it."""

    def __init__(self, settings: CardReaderSettings | None = None):
        settings = settings or CardReaderSettings()
        super().__init__(settings.format)
        self.settings = settings
        self._queue: queue.Queue[str] = queue.Queue()
        self._gone: str | None = None
        self._closed = False
        self.presented: list[str] = []
        self.delivered: list[str] = []

    # -- drive -------------------------------------------------------------------------------
    def present(self, raw: str) -> None:
        """A card is held to the reader; ``raw`` is what the reader types before Enter."""
        self.presented.append(raw)
        self._queue.put(raw)

    def unplug(self, reason: str = "unplugged") -> None:
        self._gone = reason

    def plug_in(self) -> None:
        self._gone = None

    # -- CardReader ----------------------------------------------------------------------------
    def read(self, timeout: float | None = None) -> str | None:
        if self._closed:
            raise RuntimeError("card reader is closed")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._gone is not None:
                raise CardReaderGone(f"simulated reader {self._gone}")
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            try:
                raw = self._queue.get(timeout=min(0.2, remaining) if remaining is not None else 0.2)
            except queue.Empty:
                continue
            card = self._normalise(raw)
            if card is not None:
                self.delivered.append(card)
                return card

    def health(self) -> str:
        return f"missing: {self._gone}" if self._gone else "ok"

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> SimCardReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
