"""The roster rules: the records a terminal accepts, refused with the employee, the field and the reason."""
from __future__ import annotations

import base64
import hashlib
import math
import subprocess
import sys
import time

import numpy as np
import pytest

from contract import protocol as p
from contract.cards import normalize_card
from contract.pins import hash_pin, parse_pin_hash, verify_pin
from contract.roster_rules import (
    FACE_DESCRIPTOR_DIM,
    FINGER_TEMPLATE_MAX_BYTES,
    FINGER_TEMPLATE_MIN_BYTES,
    VERIFY_MODES,
    RosterRuleError,
    check_employee,
    check_roster,
    check_unique_card,
)


def face(values: np.ndarray | None = None, seed: int = 1) -> str:
    array = np.random.default_rng(seed).random(FACE_DESCRIPTOR_DIM, dtype=np.float32) if values is None else values
    return base64.b64encode(np.asarray(array, dtype=np.float32).tobytes()).decode()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def record(number: str = "E1", **extra: object) -> dict:
    return {"number": number, "name": f"Employee {number}", **extra}


def refused(data: object) -> RosterRuleError:
    with pytest.raises(RosterRuleError) as caught:
        check_employee(data)  # type: ignore[arg-type]
    return caught.value


def hostile_hash(n: int, r: int, p_: int) -> str:
    return f"scrypt${n}${r}${p_}${b64(b'salt' * 4)}${b64(b'd' * 32)}"


# -- one record -----------------------------------------------------------------------------------
def test_a_good_record_is_accepted_and_its_card_normalised():
    employee = check_employee(record(card="0041E34E", pin_hash=hash_pin("2580"), verify_mode="card+pin",
                                     faces=[face(seed=1), face(seed=2)],
                                     fingers=[{"finger": 1, "template": b64(bytes(range(256)) * 2)}]))
    assert isinstance(employee, p.RosterEmployee)
    assert employee.card == "4318030" == normalize_card("W26:65,58190")
    assert employee.verify_mode == "card+pin" and len(employee.faces) == 2


@pytest.mark.parametrize("mode", VERIFY_MODES)
def test_every_verification_mode_is_accepted(mode):
    assert check_employee(record(verify_mode=mode)).verify_mode == mode


@pytest.mark.parametrize("mode", ["pin+card", "face+finger+pin", "password", "", "ANY"])
def test_an_unknown_verification_mode_is_refused_naming_the_field(mode):
    error = refused(record("E7", verify_mode=mode))
    assert (error.number, error.field) == ("E7", "verify_mode")
    assert "not a verification mode" in error.reason and "card+pin" in error.reason
    assert str(error).startswith("employee E7: verify_mode: ")


def test_the_central_model_refuses_what_the_terminal_refuses():
    with pytest.raises(p.ProtocolError, match="verify_mode"):
        p.validate(p.Roster, {"version": 1, "base": 0, "upserts": [record(verify_mode="pin+card")]})
    envelope = p.validate(p.RosterEnvelope, {"version": 1, "base": 0, "upserts": [record(verify_mode="pin+card")]})
    assert envelope.upserts == [record(verify_mode="pin+card")]  # left raw, for check_roster


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_face_descriptor_with_a_value_that_is_not_finite_is_refused(bad):
    values = np.random.default_rng(3).random(FACE_DESCRIPTOR_DIM, dtype=np.float32)
    values[77] = bad
    error = refused(record(faces=[face(seed=4), face(values)]))
    assert error.field == "faces" and "finite" in error.reason and "face 1" in error.reason


@pytest.mark.parametrize("raw, words", [(b"\0" * 4 * 127, "128 float32"), (b"\0" * 4 * 129, "128 float32")])
def test_a_face_descriptor_of_the_wrong_size_is_refused(raw, words):
    error = refused(record(faces=[b64(raw)]))
    assert error.field == "faces" and words in error.reason


def test_a_face_descriptor_that_is_not_base64_is_refused():
    assert "base64" in refused(record(faces=["not base64!"])).reason


def test_finger_templates_must_have_a_sensible_size():
    assert check_employee(record(fingers=[{"finger": 0, "template": b64(b"t" * FINGER_TEMPLATE_MIN_BYTES)}]))
    assert check_employee(record(fingers=[{"finger": 9, "template": b64(b"t" * FINGER_TEMPLATE_MAX_BYTES)}]))
    for size in (FINGER_TEMPLATE_MIN_BYTES - 1, FINGER_TEMPLATE_MAX_BYTES + 1):
        error = refused(record(fingers=[{"finger": 2, "template": b64(b"t" * size)}]))
        assert error.field == "fingers" and "fingers.0.template" in error.reason
    assert refused(record(fingers=[{"finger": 10, "template": b64(b"t" * 512)}])).field == "fingers"


def test_the_pin_hash_the_scheme_writes_is_accepted_and_nothing_else():
    stored = hash_pin("2580")
    assert check_employee(record(pin_hash=stored)).pin_hash == stored
    assert check_employee(record(pin_hash="")).pin_hash is None
    for bad in ("2580", "md5$1$1$1$AAAA$AAAA", "scrypt$16384$8$1$AAAA", "scrypt$16384$8$1$!!!$" + b64(b"d" * 32),
                "scrypt$16000$8$1$" + b64(b"s" * 16) + "$" + b64(b"d" * 32), "scrypt$-16384$8$1$AAAA$AAAA",
                stored + "$extra", "scrypt$16384$8$1$" + b64(b"s" * 16) + "$" + b64(b"d" * 4)):
        error = refused(record("P1", pin_hash=bad))
        assert (error.number, error.field) == ("P1", "pin_hash"), bad
        assert bad not in str(error)  # the hash itself is never echoed


@pytest.mark.parametrize("n, r, p_", [(2**30, 8, 1), (2**14, 8, 2000), (2**14, 1024, 1), (2**16, 16, 4), (2, 1, 1)])
def test_a_costly_or_weak_pin_hash_is_refused_without_doing_the_work(n, r, p_):
    started = time.perf_counter()
    error = refused(record(pin_hash=hostile_hash(n, r, p_)))
    assert not verify_pin("2580", hostile_hash(n, r, p_))
    assert time.perf_counter() - started < 0.5
    assert error.field == "pin_hash"


def test_a_hash_with_other_parameters_inside_the_bounds_still_verifies():
    salt = b"pepper-and-salt!"
    digest = hashlib.scrypt(b"2580", salt=salt, n=2**12, r=8, p=2, dklen=32)
    stored = f"scrypt${2**12}$8$2${b64(salt)}${b64(digest)}"
    assert parse_pin_hash(stored).p == 2
    assert check_employee(record(pin_hash=stored)).pin_hash == stored
    assert verify_pin("2580", stored) and not verify_pin("2581", stored)


@pytest.mark.parametrize("card", ["W26:999,1", "12AB-34", "0", "-5"])
def test_an_unreadable_card_is_refused_naming_the_field(card):
    error = refused(record("C9", card=card))
    assert (error.number, error.field) == ("C9", "card")


def test_a_bad_number_an_unknown_key_and_a_non_object_are_named():
    error = refused(record("-bad number-"))
    assert (error.number, error.field) == (None, "number")
    assert str(error).startswith("employee ?: number: ")
    error = refused(record("E2", colour="blue"))
    assert (error.number, error.field, error.reason) == ("E2", "colour", "unknown key")
    error = refused(["E3"])
    assert (error.number, error.field) == (None, "(record)")
    assert error.as_dict() == {"number": None, "field": "(record)", "reason": error.reason}


@pytest.mark.parametrize("name, words", [
    ("Alice\u202egnp.exe", "bidirectional character (U+202E)"),   # shows as "Aliceexe.png"
    ("\u2066王\u2069", "bidirectional character (U+2066)"),
    ("Bob\x85", "control character (U+0085)"),                    # C1 next line
    ("Eve\x7f", "control character (U+007F)"),
    ("Tab\tName", "control character (U+0009)"),
])
def test_a_name_that_displays_as_something_else_is_refused(name, words):
    error = refused(record("N1", name=name))
    assert (error.number, error.field) == ("N1", "name") and words in error.reason
    error = refused(record("N2", department=name))
    assert (error.number, error.field) == ("N2", "department")


def test_names_in_every_script_people_use_are_accepted():
    for name in ("张伟", "Ng Wai-man", "Ólafur Þór", "محمد", "李 小龙", "O'Brien"):
        assert check_employee(record("N3", name=name)).name == name


# -- across records -----------------------------------------------------------------------------------
def test_two_cards_that_are_one_card_refuse_the_second_holder():
    good, bad = check_roster([record("E1", card="0041E34E"), record("E2", card="4318030"), record("E3", card="77")])
    assert [e.number for e in good] == ["E1", "E3"]
    assert len(bad) == 1
    assert (bad[0].number, bad[0].field) == ("E2", "card")
    assert "employee E1" in bad[0].reason and "8030" in bad[0].reason
    assert str(bad[0]).startswith("employee E2: card: ")


def test_one_number_once_the_first_stands():
    good, bad = check_roster([record("E1", department="A"), record("E2"), record("E1", department="B")])
    assert [(e.number, e.department) for e in good] == [("E1", "A"), ("E2", "")]
    assert [(b.number, b.field) for b in bad] == [("E1", "number")]


def test_a_refused_record_still_claims_its_number_and_the_rest_go_on():
    records = [record("E1", verify_mode="pin+card"), record("E1"), {"name": "no number"}, record("E4", card="5"),
               record("E5", faces=[face(np.full(FACE_DESCRIPTOR_DIM, np.nan, dtype=np.float32))]), record("E6", card="5")]
    good, bad = check_roster(records)
    assert [e.number for e in good] == ["E4"]
    assert [(b.number, b.field) for b in bad] == [("E1", "verify_mode"), ("E1", "number"), (None, "number"),
                                                   ("E5", "faces"), ("E6", "card")]


def test_models_already_built_are_checked_across_records_too():
    first = check_employee(record("E1", card="123"))
    good, bad = check_roster([first, record("E2", card="0x7B"), first])
    assert good == [first]
    assert [(b.number, b.field) for b in bad] == [("E2", "card"), ("E1", "number")]


def test_a_card_held_outside_the_roster_is_refused_for_a_new_holder_only():
    holders = {"4318030": "E1"}
    assert check_unique_card("0041E34E", "E1", holders) == "4318030"  # its own card
    assert check_unique_card("77", "E2", holders) == "77"
    assert check_unique_card(None, "E2", holders) is None and check_unique_card("", "E2", holders) is None
    with pytest.raises(RosterRuleError) as caught:
        check_unique_card("65,58190", "E2", holders, where="in the database")
    assert (caught.value.number, caught.value.field) == ("E2", "card")
    assert caught.value.reason.endswith("is already held by employee E1 in the database")
    with pytest.raises(RosterRuleError) as caught:
        check_unique_card("zz", "E2", holders)
    assert caught.value.field == "card"


def test_the_contract_imports_nothing_from_the_terminal_the_agent_or_the_central():
    code = ("import sys, contract.roster_rules, contract.protocol, contract.stamps, contract.pins, contract.cards;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('terminal', 'sync_agent', 'central')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- face descriptor norms -------------------------------------------------------------------------
@pytest.mark.parametrize("values", [
    np.zeros(FACE_DESCRIPTOR_DIM),                                        # all zeros: no face gives it
    np.full(FACE_DESCRIPTOR_DIM, 1e-4),                                   # scaled to almost nothing
    np.full(FACE_DESCRIPTOR_DIM, 1e30),                                   # squared distances overflow
    np.where(np.arange(FACE_DESCRIPTOR_DIM) % 2, 3e38, -3e38),            # finite, and NaN in every distance
], ids=["zeros", "tiny", "1e30", "float32-max"])
def test_a_face_descriptor_of_a_norm_no_face_has_is_refused_without_echoing_it(values):
    from contract.roster_rules import FACE_DESCRIPTOR_MAX_NORM, FACE_DESCRIPTOR_MIN_NORM

    text = face(values)
    error = refused(record("F1", faces=[face(seed=4), text]))
    assert (error.number, error.field) == ("F1", "faces") and "norm" in error.reason and "face 1" in error.reason
    assert f"{FACE_DESCRIPTOR_MIN_NORM:g}" in error.reason and f"{FACE_DESCRIPTOR_MAX_NORM:g}" in error.reason
    assert text[:24] not in str(error)


def test_a_face_descriptor_of_the_norm_the_pipeline_gives_is_accepted():
    from contract.roster_rules import FACE_DESCRIPTOR_MAX_NORM, FACE_DESCRIPTOR_MIN_NORM

    direction = np.random.default_rng(5).normal(size=FACE_DESCRIPTOR_DIM)
    direction /= np.linalg.norm(direction)
    # measured on the shared photos: 1.29 to 1.59; the bounds themselves are accepted too
    for norm in (1.29, 1.43, 1.59, FACE_DESCRIPTOR_MIN_NORM * 1.001, FACE_DESCRIPTOR_MAX_NORM * 0.999):
        assert len(check_employee(record(faces=[face(direction * norm)])).faces) == 1
