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


# -- a hash already stored on a terminal with a hostile cost -----------------------------------------
@pytest.mark.parametrize("n, r, p", [(2**14, 8, 2000), (2**30, 8, 1), (2**14, 1024, 1), (2**17, 8, 1)])
def test_a_stored_hash_with_a_hostile_cost_is_refused_at_the_door_without_running_scrypt(
        store, sim_config, monkeypatch, caplog, n, r, p):
    """A hash an older roster or a hand edit left in the database (no contract check on the way) is refused
    before any scrypt work: the PIN is simply wrong, the lockout counts it, the hash is never logged."""
    import logging
    from datetime import datetime, timezone

    import contract.pins as pins
    from terminal.hardware.clock import SimClock
    from terminal.identify import Authenticator
    from terminal.punch import PunchService
    from terminal.store.employees import add_employee

    employee = add_employee(store, number="7", name="P7", verify_mode="pin", pin="2580")
    salt = base64.b64encode(b"salt" * 4).decode()
    digest = base64.b64encode(b"d" * 32).decode()
    hostile = f"scrypt${n}${r}${p}${salt}${digest}"
    with store.transaction() as conn:
        conn.execute("UPDATE employees SET pin_hash = ? WHERE id = ?", (hostile, employee["id"]))
    calls = []
    real_scrypt = hashlib.scrypt
    monkeypatch.setattr(pins.hashlib, "scrypt", lambda *a, **k: calls.append(k) or real_scrypt(*a, **k))
    clock = SimClock(start=datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    auth = Authenticator(store, sim_config, PunchService(store, sim_config, clock), clock)
    with caplog.at_level(logging.WARNING):
        outcome = auth.pin("7", "2580")
    assert outcome.status == "refused" and outcome.reason == "wrong_pin"
    assert calls == []  # refused from its parameters alone: no work done
    assert store.query("SELECT id FROM punches") == []
    assert hostile not in caplog.text and digest not in caplog.text
    assert "PIN hash refused" in caplog.text
