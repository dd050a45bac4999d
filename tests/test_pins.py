"""PINs: 4 to 8 ASCII digits, kept only as salted scrypt hashes that verify the right PIN and nothing else."""
from __future__ import annotations

import base64
import hashlib

import pytest

from contract.pins import PinFormatError, check_pin_format, hash_pin, verify_pin


@pytest.mark.parametrize("pin", ["1234", "00000000", "2580", "1357913"])
def test_pins_of_four_to_eight_digits_are_accepted(pin):
    assert check_pin_format(pin) == pin


@pytest.mark.parametrize("pin", ["", "123", "123456789", "12a4", " 1234", "1234 ", "١٢٣٤", "１２３４", 1234, None])
def test_other_pins_are_refused_with_the_rule(pin):
    with pytest.raises(PinFormatError, match="4 to 8 digits"):
        check_pin_format(pin)
    if isinstance(pin, str) and pin:
        with pytest.raises(PinFormatError):
            hash_pin(pin)


def test_the_stored_form_is_a_salted_scrypt_hash_that_an_independent_computation_reproduces():
    stored = hash_pin("2580")
    scheme, n, r, p, salt, digest = stored.split("$")
    assert scheme == "scrypt" and "2580" not in stored
    assert int(n) >= 2**14 and len(base64.b64decode(salt)) == 16
    again = hashlib.scrypt(b"2580", salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    assert again == base64.b64decode(digest)


def test_the_same_pin_gets_a_new_salt_each_time():
    first, second = hash_pin("2580"), hash_pin("2580")
    assert first != second
    assert verify_pin("2580", first) and verify_pin("2580", second)


def test_only_the_right_pin_verifies():
    stored = hash_pin("2580")
    assert verify_pin("2580", stored)
    for wrong in ("2581", "0258", "25800", "", "abcd"):
        assert not verify_pin(wrong, stored)


@pytest.mark.parametrize("stored", [None, "", "2580", "plain$2580", "md5$1$1$1$AAAA$AAAA",
                                    "scrypt$x$8$1$AAAA$AAAA", "scrypt$16384$8$1$!!!$AAAA"])
def test_a_missing_or_damaged_hash_never_verifies(stored):
    assert verify_pin("2580", stored) is False
