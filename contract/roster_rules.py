"""The roster rules: which employee records a terminal accepts, checked the same way everywhere.

The central checks a record with these rules before it takes a roster version, and the
terminal checks every record it receives with the same code, so the central never
publishes a record a terminal refuses. A record that breaks a rule anyway (an older
central, a hand-made message) is skipped on its own, with a :class:`RosterRuleError`
naming the employee, the field and the reason; it never stalls the rest of the roster.

Rules for one record (validators of :class:`contract.protocol.RosterEmployee`, so any
code that builds the model applies them):

* ``number``: 1-32 letters, digits, ``.``, ``_`` or ``-``, starting with a letter or digit.
* ``name`` (1-100 characters) and ``department`` (up to 100): no control characters.
* ``verify_mode``: one of :data:`VERIFY_MODES`.
* ``card``: any reader format :mod:`contract.cards` understands, stored in its canonical
  form (decimal data bits); empty means no card.
* ``pin_hash``: exactly the form :mod:`contract.pins` writes, ``scrypt$n$r$p$salt$digest``,
  with n a power of two in ``MIN_N..MAX_N``, r in ``MIN_R..MAX_R``, p in ``MIN_P..MAX_P``
  and n*r*p at most ``MAX_COST`` (so a hostile hash cannot make a PIN check take seconds),
  salt 8-64 and digest 16-64 bytes of base64; empty means no PIN.
* ``faces``: each a base64 descriptor of :data:`FACE_DESCRIPTOR_DIM` float32 values
  (:data:`FACE_DESCRIPTOR_BYTES` bytes), every value finite (NaN or infinity refused), the
  vector's norm within :data:`FACE_DESCRIPTOR_MIN_NORM`..:data:`FACE_DESCRIPTOR_MAX_NORM`.
* ``fingers``: finger 0-9, each template base64 of :data:`FINGER_TEMPLATE_MIN_BYTES` to
  :data:`FINGER_TEMPLATE_MAX_BYTES` bytes (a ZFM/R30x sensor's template is 512).
* ``allowed_devices``: device ids; ``role``: ``employee`` or ``admin``.

Rules across records (:func:`check_roster`, :func:`check_unique_card`):

* one employee number appears once in a roster: every later record with the same number
  is refused (field ``number``);
* one card per employee, compared after normalisation (``0041E34E`` and ``4318030`` are
  the same card): the second holder in the roster is refused (field ``card``), and so is a
  record whose card is held by another employee outside it (:func:`check_unique_card`,
  given the holders the caller knows: the central's database, the terminal's table).

This module is pure: no I/O, no clock, nothing from ``terminal``, ``sync_agent`` or ``central``.
"""
from __future__ import annotations

import base64
import binascii
import logging
import math
import operator
import re
from array import array
from collections.abc import Mapping, Sequence

from contract.cards import CardFormatError, card_suffix, normalize_card
from contract.pins import (
    MAX_COST,
    MAX_N,
    MAX_P,
    MAX_R,
    MIN_N,
    MIN_P,
    MIN_R,
    PinHashError,
    parse_pin_hash,
)
from contract.protocol import NUMBER_RE, ProtocolError, RosterEmployee, validate

log = logging.getLogger(__name__)

FACTORS: tuple[str, ...] = ("face", "finger", "card", "pin")
VERIFY_MODES: tuple[str, ...] = (
    "any", "face", "finger", "card", "pin",
    "card+pin", "face+card", "face+pin", "finger+pin", "finger+card", "face+finger",
)
FACE_DESCRIPTOR_DIM = 128
FACE_DESCRIPTOR_BYTES = FACE_DESCRIPTOR_DIM * 4  # float32
# Euclidean norm of a descriptor. Measured with the terminal's own pipeline (dlib ResNet, 5-point
# alignment) on the 134 faces of the shared test photos: 1.29 to 1.59; on chips of noise, black, grey
# and white: 1.27 to 1.34. The bounds refuse what no face gives (all zeros, a vector scaled to nothing)
# and anything large enough to overflow float32 distances (then NaN, which compares as a match),
# with ample room for other descriptor scales.
FACE_DESCRIPTOR_MIN_NORM = 0.5
FACE_DESCRIPTOR_MAX_NORM = 16.0
FINGER_TEMPLATE_MIN_BYTES = 64
FINGER_TEMPLATE_MAX_BYTES = 4096
PIN_HASH_LIMITS = {"n": (MIN_N, MAX_N), "r": (MIN_R, MAX_R), "p": (MIN_P, MAX_P), "n*r*p": (1, MAX_COST)}

RosterRecord = Mapping[str, object] | RosterEmployee

_NUMBER = re.compile(NUMBER_RE)


class RosterRuleError(ValueError):
    """One employee record refused by a roster rule: ``number`` (None when unknown), ``field`` and ``reason``."""

    def __init__(self, number: str | None, field: str, reason: str, *, holder: str | None = None):
        self.number = number
        self.field = field
        self.reason = reason
        self.holder = holder  # a card already held: the employee who holds it
        super().__init__(f"employee {number or '?'}: {field}: {reason}")

    def as_dict(self) -> dict[str, str | None]:
        """What may be reported (an event, an API answer): never a PIN hash or a template."""
        return {"number": self.number, "field": self.field, "reason": self.reason}


# -- rules for one value (used by the validators of RosterEmployee) -------------------------------
def check_verify_mode(value: str) -> str:
    if value not in VERIFY_MODES:
        raise ValueError(f"{str(value)[:32]!r} is not a verification mode (one of {', '.join(VERIFY_MODES)})")
    return value


def roster_card(value: str | None) -> str | None:
    """The canonical card number (:func:`contract.cards.normalize_card`); None for no card."""
    if value is None or value.strip() == "":
        return None
    try:
        return normalize_card(value)
    except CardFormatError as exc:
        raise ValueError(str(exc)) from None


def check_pin_hash(value: str | None) -> str | None:
    """The hash unchanged when it is the scheme's form with bounded costs; None for no PIN."""
    if value is None or value == "":
        return None
    try:
        parse_pin_hash(value)
    except PinHashError as exc:
        raise ValueError(str(exc)) from None
    return value


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError(f"{what} is not base64") from None


def check_face_descriptor(text: str) -> bytes:
    """The raw bytes of a base64 face descriptor: 128 float32 values, all finite, of a norm a face can have."""
    raw = _b64(text, "face descriptor")
    if len(raw) != FACE_DESCRIPTOR_BYTES:
        raise ValueError(f"a face descriptor must be {FACE_DESCRIPTOR_DIM} float32 values ({FACE_DESCRIPTOR_BYTES} bytes), "
                         f"not {len(raw)} bytes")
    values = array("f")
    values.frombytes(raw)
    squares = math.fsum(map(operator.mul, values, values))  # NaN or infinite when a value is (float32 squared fits)
    if not math.isfinite(squares):
        raise ValueError("a face descriptor must hold finite numbers (found NaN or infinity)")
    norm = math.sqrt(squares)
    if not FACE_DESCRIPTOR_MIN_NORM <= norm <= FACE_DESCRIPTOR_MAX_NORM:
        raise ValueError(f"a face descriptor's norm must be {FACE_DESCRIPTOR_MIN_NORM:g} to {FACE_DESCRIPTOR_MAX_NORM:g} "
                         "(no face gives a vector this small or this large)")
    return raw


def check_finger_template(text: str) -> bytes:
    """The raw bytes of a base64 finger template of an accepted size."""
    raw = _b64(text, "finger template")
    if not FINGER_TEMPLATE_MIN_BYTES <= len(raw) <= FINGER_TEMPLATE_MAX_BYTES:
        raise ValueError(f"a finger template must be {FINGER_TEMPLATE_MIN_BYTES} to {FINGER_TEMPLATE_MAX_BYTES} bytes, "
                         f"not {len(raw)}")
    return raw


# -- one record ------------------------------------------------------------------------------------
def _number_of(data: object) -> str | None:
    """The record's employee number when it is a valid one (safe to report), else None."""
    number = data.get("number") if isinstance(data, Mapping) else None
    return number if isinstance(number, str) and _NUMBER.match(number) else None


def check_employee(data: Mapping[str, object]) -> RosterEmployee:
    """One record as a :class:`RosterEmployee`; :class:`RosterRuleError` naming the first bad field otherwise."""
    number = _number_of(data)
    if not isinstance(data, Mapping):
        raise RosterRuleError(None, "(record)", "an employee record must be a JSON object")
    try:
        return validate(RosterEmployee, dict(data))
    except ProtocolError as exc:
        field = str(exc.where[0]) if exc.where else "(record)"
        reason = exc.detail
        if len(exc.where) > 1:
            reason = f"{reason} (at {'.'.join(str(part) for part in exc.where)})"
        raise RosterRuleError(number, field, reason[:300]) from None


# -- across records --------------------------------------------------------------------------------
def check_unique_card(card: str | None, number: str, holders: Mapping[str, str], *,
                      where: str = "") -> str | None:
    """The card's canonical form, unless another employee holds it.

    ``holders`` maps canonical card → employee number (the central passes the cards of its
    database, the terminal those of its table); a card held by ``number`` itself is fine.
    ``where`` ends the reason (e.g. ``"on this terminal"``). Raises :class:`RosterRuleError`
    with field ``card`` for an unreadable card or one held by someone else.
    """
    try:
        canonical = roster_card(card)
    except ValueError as exc:
        raise RosterRuleError(number, "card", str(exc)) from None
    if canonical is None:
        return None
    other = holders.get(canonical)
    if other is not None and other != number:
        place = f" {where}" if where else ""
        raise RosterRuleError(number, "card", f"card ending {card_suffix(canonical)} is already held by employee {other}{place}",
                              holder=other)
    return canonical


def check_roster(records: Sequence[RosterRecord]) -> tuple[list[RosterEmployee], list[RosterRuleError]]:
    """Every record checked alone and against the records before it: (accepted in order, refused).

    A record that repeats an employee number, or carries a card an earlier record holds, is
    refused; the earlier one stands. A record refused for its own fields still claims its
    number, so a later duplicate of it is refused too.
    """
    good: list[RosterEmployee] = []
    bad: list[RosterRuleError] = []
    seen: set[str] = set()
    holders: dict[str, str] = {}
    for record in records:
        number = record.number if isinstance(record, RosterEmployee) else _number_of(record)
        try:
            if number is not None and number in seen:
                raise RosterRuleError(number, "number", f"employee {number} appears more than once in this roster")
            if number is not None:
                seen.add(number)
            employee = record if isinstance(record, RosterEmployee) else check_employee(record)
            check_unique_card(employee.card, employee.number, holders, where="in this roster")
        except RosterRuleError as error:
            log.debug("roster record refused: %s", error)
            bad.append(error)
            continue
        if employee.card:
            holders[employee.card] = employee.number
        good.append(employee)
    return good, bad


__all__ = [
    "FACE_DESCRIPTOR_BYTES",
    "FACE_DESCRIPTOR_DIM",
    "FACE_DESCRIPTOR_MAX_NORM",
    "FACE_DESCRIPTOR_MIN_NORM",
    "FACTORS",
    "FINGER_TEMPLATE_MAX_BYTES",
    "FINGER_TEMPLATE_MIN_BYTES",
    "PIN_HASH_LIMITS",
    "VERIFY_MODES",
    "RosterRecord",
    "RosterRuleError",
    "check_employee",
    "check_face_descriptor",
    "check_finger_template",
    "check_pin_hash",
    "check_roster",
    "check_unique_card",
    "check_verify_mode",
    "roster_card",
]
