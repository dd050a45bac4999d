"""PINs: 4-8 digits, stored only as salted scrypt hashes.

The stored form is ``scrypt$n$r$p$salt$digest`` (salt and digest in standard base64), as
:func:`hash_pin` writes it. A hash arrives on a terminal from the central's roster, so its
cost parameters are bounded before any work is done: a hostile ``n=2**30`` or ``p=2000``
would otherwise make one PIN check at the door take seconds (or gigabytes). The bounds
below allow the scheme's own parameters with room to raise them, and nothing that costs
more than a few times the default.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

log = logging.getLogger(__name__)

# n=2**14, r=8 costs ~16 MiB and tens of milliseconds on a Pi 4: slow for guessing, fine at the door.
_N, _R, _P, _LEN = 2**14, 8, 1, 32

SCHEME = "scrypt"
MIN_N, MAX_N = 2**10, 2**16  # n is a power of two in this range
MIN_R, MAX_R = 1, 16
MIN_P, MAX_P = 1, 4
MAX_COST = 2**14 * 8 * 4  # n*r*p at most four times the default (memory is 128*n*r bytes, time ~ n*r*p)
SALT_BYTES = (8, 64)
DIGEST_BYTES = (16, 64)


class PinFormatError(ValueError):
    pass


class PinHashError(ValueError):
    """A stored PIN hash that is not exactly the scheme's form or costs too much to check."""


@dataclass(frozen=True)
class PinHash:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes


def check_pin_format(pin: str) -> str:
    if not isinstance(pin, str) or not pin.isdigit() or not 4 <= len(pin) <= 8 or not pin.isascii():
        raise PinFormatError("PIN must be 4 to 8 digits")
    return pin


def _b64(text: str, what: str, sizes: tuple[int, int]) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise PinHashError(f"{what} is not base64") from None
    if not sizes[0] <= len(raw) <= sizes[1]:
        raise PinHashError(f"{what} must be {sizes[0]} to {sizes[1]} bytes, not {len(raw)}")
    return raw


def _integer(text: str, what: str, low: int, high: int) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        raise PinHashError(f"{what} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise PinHashError(f"{what}={value} is outside {low}..{high}")
    return value


def parse_pin_hash(stored: str) -> PinHash:
    """The parts of a stored hash; :class:`PinHashError` unless it is exactly the scheme with sane costs."""
    if not isinstance(stored, str):
        raise PinHashError("PIN hash must be text")
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise PinHashError(f"PIN hash must have the form {SCHEME}$n$r$p$salt$digest")
    n = _integer(parts[1], "n", MIN_N, MAX_N)
    if n & (n - 1):
        raise PinHashError(f"n={n} is not a power of two")
    r = _integer(parts[2], "r", MIN_R, MAX_R)
    p = _integer(parts[3], "p", MIN_P, MAX_P)
    if n * r * p > MAX_COST:
        raise PinHashError(f"n*r*p={n * r * p} exceeds {MAX_COST}: too slow to check at the door")
    return PinHash(n, r, p, _b64(parts[4], "salt", SALT_BYTES), _b64(parts[5], "digest", DIGEST_BYTES))


def _b64_text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_pin(pin: str) -> str:
    check_pin_format(pin)
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_LEN)
    return f"{SCHEME}${_N}${_R}${_P}${_b64_text(salt)}${_b64_text(digest)}"


def verify_pin(pin: str, stored: str | None) -> bool:
    """True only for the right PIN; a missing, damaged or too costly hash never verifies (and costs nothing)."""
    if not stored or not isinstance(pin, str) or not pin.isdigit():
        return False
    try:
        parsed = parse_pin_hash(stored)
    except PinHashError as exc:
        log.warning("stored PIN hash refused: %s", exc)
        return False
    actual = hashlib.scrypt(pin.encode(), salt=parsed.salt, n=parsed.n, r=parsed.r, p=parsed.p,
                            dklen=len(parsed.digest), maxmem=256 * parsed.n * parsed.r + 1024 * 1024)
    return hmac.compare_digest(actual, parsed.digest)
