"""Verification modes, a second factor arriving late, PIN lockout and its expiry, admin login."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from terminal.hardware.clock import SimClock
from terminal.identify import Authenticator, required_factors
from terminal.punch import PunchService
from terminal.store.employees import VERIFY_MODES, add_employee


class Ticker:
    """A monotonic clock the test moves by hand (the authenticator takes it as a parameter)."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return SimClock(start=datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))


@pytest.fixture
def ticker():
    return Ticker()


@pytest.fixture
def auth(store, sim_config, clock, ticker):
    sim_config.punch.debounce_s = 0
    return Authenticator(store, sim_config, PunchService(store, sim_config, clock), clock, monotonic=ticker)


def person(store, number, mode, **extra):
    return add_employee(store, number=number, name=f"P{number}", verify_mode=mode, pin=extra.pop("pin", "2468"), **extra)


def test_every_mode_is_parsed():
    for mode in VERIFY_MODES:
        factors, both = required_factors(mode)
        assert factors and (both == ("+" in mode))


@pytest.mark.parametrize("mode, accepted, refused", [
    ("any", ["face", "finger", "card", "pin"], []),
    ("face", ["face"], ["finger", "card", "pin"]),
    ("finger", ["finger"], ["face", "card", "pin"]),
    ("card", ["card"], ["face", "finger", "pin"]),
    ("pin", ["pin"], ["face", "finger", "card"]),
])
def test_single_factor_modes(store, auth, clock, mode, accepted, refused):
    employee = person(store, "1", mode, card="0004318030")
    send = {"face": lambda: auth.face(employee["id"], 0.3), "finger": lambda: auth.finger(employee["id"], 120),
            "card": lambda: auth.card("4318030"), "pin": lambda: auth.pin("1", "2468")}
    for factor in accepted:
        clock.advance(5)
        outcome = send[factor]()
        assert outcome.status == "punched", (factor, outcome)
        assert outcome.punch.punch["method"] == factor
    for factor in refused:
        assert send[factor]().reason == "wrong_factor"


def test_two_factor_mode_needs_both_and_says_what_is_missing(store, auth, ticker):
    employee = person(store, "7", "finger+pin")
    first = auth.finger(employee["id"], 95)
    assert first.status == "need_more" and first.missing == ("pin",)
    assert auth.waiting_for == (employee["id"], ("pin",))
    ticker.now += 3
    second = auth.pin("7", "2468")
    assert second.status == "punched" and second.punch.punch["method"] == "finger+pin"
    assert second.punch.punch["score"] == 95
    assert auth.waiting_for is None


@pytest.mark.parametrize("mode, first, second", [("face+card", "face", "card"), ("card+pin", "card", "pin")])
def test_card_combinations_need_both_in_either_order(store, auth, ticker, mode, first, second):
    employee = person(store, "9", mode, card="0x00A1B2C3")
    send = {"face": lambda: auth.face(employee["id"], 0.31), "card": lambda: auth.card("10597059"),
            "pin": lambda: auth.pin("9", "2468")}
    for a, b in ((first, second), (second, first)):
        ticker.now += 120  # past the debounce of the previous round
        half = send[a]()
        assert half.status == "need_more" and half.missing == (b,), (a, half)
        assert auth.waiting_for == (employee["id"], (b,))
        ticker.now += 2
        done = send[b]()
        assert done.status == "punched", (b, done)
        assert set(done.punch.punch["method"].split("+")) == {first, second}
    assert store.query_one("SELECT count(*) AS n FROM punches")["n"] == 2


def test_second_factor_arriving_late_starts_over(store, auth, ticker, sim_config):
    employee = person(store, "8", "face+pin")
    assert auth.face(employee["id"], 0.3).status == "need_more"
    ticker.now += sim_config.punch.second_factor_timeout_s + 0.5
    expired = auth.expire()
    assert expired.status == "refused" and expired.reason == "second_factor_timeout"
    late = auth.pin("8", "2468")
    assert late.status == "need_more" and late.missing == ("face",)
    assert store.query_one("SELECT count(*) AS n FROM punches")["n"] == 0


def test_another_person_during_a_wait_does_not_inherit_the_first_factor(store, auth):
    a = person(store, "10", "face+pin")
    b = person(store, "11", "face+pin", pin="1357")
    assert auth.face(a["id"], 0.3).status == "need_more"
    assert auth.pin("11", "1357").status == "need_more"  # B's PIN does not complete A
    assert auth.face(b["id"], 0.3).status == "punched"


def test_three_wrong_pins_lock_pin_entry_until_it_expires(store, auth, clock, sim_config):
    person(store, "20", "any")
    outcomes = [auth.pin("20", "0000") for _ in range(3)]
    assert [o.reason for o in outcomes] == ["wrong_pin", "wrong_pin", "pin_locked"]
    assert outcomes[0].details["attempts_left"] == 2
    assert auth.pin("20", "2468").reason == "pin_locked"  # even the right PIN, while locked
    lockouts = store.query("SELECT actor, details FROM audit_log WHERE action = 'pin.lockout'")
    assert len(lockouts) == 1 and '"failures":3' in lockouts[0]["details"]
    assert store.query_one("SELECT kind FROM events WHERE kind = 'pin_lockout'")
    clock.advance(sim_config.punch.pin_lockout_s + 1)
    assert auth.pin("20", "2468").status == "punched"
    assert store.query_one("SELECT count(*) AS n FROM audit_log WHERE action = 'pin.lockout_expired'")["n"] == 1


def test_lockout_survives_a_restart_by_wall_time(store, auth, clock, sim_config, ticker):
    person(store, "21", "any")
    for _ in range(3):
        auth.pin("21", "9999")
    clock.reboot(wall=clock.now().wall, source="ntp")
    fresh = Authenticator(store, sim_config, PunchService(store, sim_config, clock), clock, monotonic=ticker)
    assert fresh.pin("21", "2468").reason == "pin_locked"
    clock.advance(sim_config.punch.pin_lockout_s + 1)
    assert fresh.pin("21", "2468").status == "punched"


def test_a_right_pin_resets_the_failure_count(store, auth, clock):
    person(store, "22", "any")
    auth.pin("22", "1111")
    auth.pin("22", "1111")
    assert auth.pin("22", "2468").status == "punched"
    clock.advance(5)
    assert auth.pin("22", "1111").details["attempts_left"] == 2


def test_unknown_number_and_employee_without_pin(store, auth):
    add_employee(store, number="30", name="No PIN")
    assert auth.pin("30", "1234").reason == "wrong_pin"
    assert auth.pin("31", "1234").reason == "wrong_pin"


def test_admin_login_uses_the_admins_own_mode_and_makes_no_punch(store, auth):
    admin = person(store, "99", "face+pin", role="admin")
    worker = person(store, "98", "any")
    assert auth.face(admin["id"], 0.2, purpose="admin").status == "need_more"
    outcome = auth.pin("99", "2468", purpose="admin")
    assert outcome.status == "identified" and outcome.employee["number"] == "99"
    assert auth.face(worker["id"], 0.2, purpose="admin").reason == "not_admin"
    assert store.query_one("SELECT count(*) AS n FROM punches")["n"] == 0
    assert store.query_one("SELECT count(*) AS n FROM audit_log WHERE action = 'admin.login'")["n"] == 1
