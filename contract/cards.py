"""Card numbers, as RFID readers present them, reduced to one canonical form.

Readers of the same card disagree on how to spell it: a keyboard-wedge reader types
``0004318030`` (decimal) or ``0041E34E`` (hex), a Wiegand-26 controller reports
``65,58190`` (facility, card) or the 26 raw bits, a Wiegand-34 one 34 raw bits.
Everything that compares card numbers (the employee table, the roster, the reader
worker) stores and compares the canonical form produced here, and nowhere else.

Canonical form
--------------
The card's data bits read as one unsigned integer, written in decimal without
leading zeros and without parity bits:

* decimal ``0004318030`` → ``4318030``;
* hex ``0041E34E`` or ``0x41e34e`` → ``4318030``;
* Wiegand "facility,card" ``65,58190`` (also ``65:58190``, ``W26:65,58190``,
  ``W34:65,58190``) → ``65 × 65536 + 58190`` = ``4318030``;
* Wiegand-26 raw bits (even parity, 8-bit facility, 16-bit card, odd parity) and
  Wiegand-34 raw bits (even parity, 16-bit facility, 16-bit card, odd parity) →
  the 24 or 32 data bits as a number.

So the same card normalises to the same string whichever of these ways a reader is
set to present it, as long as the formats carry the same bits. They do not always:
a Wiegand-26 reader keeps only the low 24 bits of the card's id, so its reading
matches a decimal or hex reader's only for ids below 2**24; a Wiegand-34 reader and
the usual 10-digit decimal / 8-digit hex wedge readers all carry the low 32 bits.

Parity errors in raw Wiegand bits are refused with a message naming the failed
half; so are empty input, signs, stray characters, the all-zero card (a misread)
and numbers wider than 64 bits.

In ``auto`` mode, a string of digits is decimal (set the reader's format to
``hex`` when it types hex that happens to contain no letters), ``0x…`` or anything
containing A-F is hex, exactly 26 or 34 characters of 0/1 are Wiegand bits, and
``A,B`` / ``A:B`` is facility and card.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

CardFormat = Literal["auto", "decimal", "hex", "wiegand26", "wiegand34"]
CARD_FORMATS: tuple[str, ...] = get_args(CardFormat)

MAX_BITS = 64

_PREFIX = re.compile(r"^(?:W(?P<width>26|34)\s*[:=]\s*)", re.IGNORECASE)
_DIGITS = re.compile(r"^[0-9]+$")
_HEX = re.compile(r"^(?:0[xX])?(?P<hex>[0-9A-Fa-f]+)$")
_BITS = re.compile(r"^[01]+$")
_PAIR = re.compile(r"^(?P<facility>[0-9]+)\s*[,:]\s*(?P<card>[0-9]+)$")


class CardFormatError(ValueError):
    """A reader string that is not a usable card number; the message says why."""


@dataclass(frozen=True)
class CardNumber:
    value: int  # the data bits as an integer
    source: str  # which presentation it was read as: decimal, hex, wiegand26, wiegand34, facility
    facility: int | None = None
    card: int | None = None

    @property
    def canonical(self) -> str:
        return str(self.value)


def _check_value(value: int, what: str) -> int:
    if value == 0:
        raise CardFormatError(f"card number 0 is not a card ({what} reads as zero: a misread?)")
    if value.bit_length() > MAX_BITS:
        raise CardFormatError(f"{what} is wider than {MAX_BITS} bits")
    return value


def _decimal(text: str) -> CardNumber:
    if not _DIGITS.match(text):
        raise CardFormatError(f"decimal card number may contain only digits 0-9, got {_describe(text)}")
    if len(text) > 20:
        raise CardFormatError(f"decimal card number has {len(text)} digits (at most 20)")
    return CardNumber(_check_value(int(text), "decimal card number"), "decimal")


def _hex(text: str) -> CardNumber:
    match = _HEX.match(text)
    if not match:
        raise CardFormatError(f"hex card number may contain only 0-9 and A-F (optionally after 0x), got {_describe(text)}")
    digits = match.group("hex")
    if len(digits.lstrip("0")) > 16:
        raise CardFormatError(f"hex card number has {len(digits)} digits (at most 16)")
    return CardNumber(_check_value(int(digits, 16), "hex card number"), "hex")


def _facility_pair(text: str, width: int | None) -> CardNumber:
    match = _PAIR.match(text)
    if not match:
        raise CardFormatError(f"expected 'facility,card' (e.g. 123,45678), got {_describe(text)}")
    facility, card = int(match.group("facility")), int(match.group("card"))
    max_facility = 0xFF if width == 26 else 0xFFFF
    if facility > max_facility:
        raise CardFormatError(f"facility code {facility} is out of range 0-{max_facility}"
                              + (" for Wiegand-26" if width == 26 else ""))
    if card > 0xFFFF:
        raise CardFormatError(f"card code {card} is out of range 0-65535")
    value = _check_value((facility << 16) | card, "facility and card code")
    return CardNumber(value, f"wiegand{width}" if width else "facility", facility, card)


def _parity_ones(bits: str) -> int:
    return bits.count("1")


def _wiegand_bits(bits: str, width: int) -> CardNumber:
    if len(bits) != width or not _BITS.match(bits):
        raise CardFormatError(f"Wiegand-{width} expects {width} characters of 0/1, got {_describe(bits)}")
    half = width // 2
    # The leading bit makes the first half (including itself) even; the trailing bit makes the second half odd.
    if _parity_ones(bits[:half]) % 2 != 0:
        raise CardFormatError(f"Wiegand-{width} parity error: leading even-parity bit does not match bits 1-{half - 1}")
    if _parity_ones(bits[half:]) % 2 != 1:
        raise CardFormatError(f"Wiegand-{width} parity error: trailing odd-parity bit does not match bits {half}-{width - 2}")
    data = int(bits[1:-1], 2)
    facility_bits = 8 if width == 26 else 16
    facility, card = data >> 16, data & 0xFFFF
    assert facility < (1 << facility_bits)
    return CardNumber(_check_value(data, f"Wiegand-{width} data"), f"wiegand{width}", facility, card)


def _wiegand(text: str, width: int) -> CardNumber:
    """A Wiegand reading: raw bits, 'facility,card', or the data bits as a decimal number."""
    if len(text) == width and _BITS.match(text):
        return _wiegand_bits(text, width)
    if _PAIR.match(text):
        return _facility_pair(text, width)
    if _DIGITS.match(text):
        number = _decimal(text)
        data_bits = width - 2
        if number.value.bit_length() > data_bits:
            raise CardFormatError(f"{text} does not fit in the {data_bits} data bits of Wiegand-{width}")
        return CardNumber(number.value, f"wiegand{width}", number.value >> 16, number.value & 0xFFFF)
    raise CardFormatError(
        f"Wiegand-{width} reading must be {width} bits of 0/1, 'facility,card' or a decimal number, got {_describe(text)}")


def _describe(text: str) -> str:
    shown = text if len(text) <= 40 else text[:37] + "..."
    return repr(shown)


def _auto(text: str) -> CardNumber:
    if text[:2].lower() == "0x":
        return _hex(text)
    if _BITS.match(text) and len(text) in (26, 34):
        return _wiegand_bits(text, len(text))
    if _DIGITS.match(text):
        return _decimal(text)
    if _PAIR.match(text):
        return _facility_pair(text, None)
    if _HEX.match(text):
        return _hex(text)
    raise CardFormatError(
        f"not a card number: {_describe(text)} (expected decimal digits, hex, 'facility,card' or Wiegand bits)")


def parse_card(raw: str, fmt: CardFormat | str = "auto") -> CardNumber:
    """Read one reader string as ``fmt`` (see the module docstring); raise CardFormatError when it is not one."""
    if fmt not in CARD_FORMATS:
        raise CardFormatError(f"unknown card format {fmt!r} (one of {', '.join(CARD_FORMATS)})")
    if not isinstance(raw, str):
        raise CardFormatError(f"card number must be text, got {type(raw).__name__}")
    text = raw.strip()
    prefix = _PREFIX.match(text)
    if prefix:
        width = int(prefix.group("width"))
        if fmt not in ("auto", f"wiegand{width}"):
            raise CardFormatError(f"{_describe(text)} is marked Wiegand-{width} but the reader is set to {fmt}")
        fmt, text = f"wiegand{width}", text[prefix.end():].strip()
    if not text:
        raise CardFormatError("empty card number")
    if fmt == "decimal":
        return _decimal(text)
    if fmt == "hex":
        return _hex(text)
    if fmt == "wiegand26":
        return _wiegand(text, 26)
    if fmt == "wiegand34":
        return _wiegand(text, 34)
    return _auto(text)


def normalize_card(raw: str, fmt: CardFormat | str = "auto") -> str:
    """The canonical form (decimal data bits, no leading zeros) of a card number as a reader presented it."""
    return parse_card(raw, fmt).canonical


normalise_card = normalize_card


def wiegand_bits(value: int, width: int) -> str:
    """The raw Wiegand-26/34 bit string (with both parity bits) carrying ``value`` as its data bits."""
    if width not in (26, 34):
        raise ValueError("Wiegand width must be 26 or 34")
    data_bits = width - 2
    if not 0 <= value < (1 << data_bits):
        raise ValueError(f"{value} does not fit in {data_bits} data bits")
    data = format(value, f"0{data_bits}b")
    half = data_bits // 2
    leading = "1" if data[:half].count("1") % 2 else "0"
    trailing = "0" if data[half:].count("1") % 2 else "1"
    return leading + data + trailing


def card_suffix(card: str, keep: int = 4) -> str:
    """The last digits of a card number, enough for a log line or an event without the whole number."""
    return card[-keep:] if card else ""
