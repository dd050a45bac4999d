"""From factors to an identity: verification modes, second factors, PIN lockout.

Each employee has a verification mode, as commercial terminals offer: a single factor
(``face``, ``finger``, ``card``, ``pin``), ``any`` (the default: whichever arrives), or
two factors that must both arrive within ``punch.second_factor_timeout_s``
(``card+pin``, ``face+card``, ``finger+pin``...). The :class:`Authenticator` receives
factors from the face, fingerprint, card and PIN workers, tells the UI what is still
needed, and hands a complete identity to the punch path (or, for admin login, back to
the caller).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from contract.pins import verify_pin
from terminal.config import TerminalConfig
from terminal.hardware.clock import Clock, format_utc, parse_utc
from terminal.i18n import t
from terminal.punch import Feedback, Identity, PunchResult, PunchService
from terminal.store.database import Store
from terminal.store.employees import find_by_card, find_by_number, get_employee, pin_hash_of

log = logging.getLogger(__name__)

Purpose = Literal["punch", "admin"]


def required_factors(mode: str) -> tuple[frozenset[str], bool]:
    """(factors, all_required) for a verification mode: 'any' → any one of all four."""
    if mode == "any":
        return frozenset(("face", "finger", "card", "pin")), False
    parts = frozenset(mode.split("+"))
    return parts, len(parts) > 1


@dataclass
class Outcome:
    """What happened with one factor: a punch/admin identity, a request for more, or a refusal."""

    status: Literal["punched", "identified", "need_more", "refused"]
    reason: str = ""
    employee: dict | None = None
    missing: tuple[str, ...] = ()
    message: str = ""
    punch: PunchResult | None = None
    identity: Identity | None = None
    details: dict = field(default_factory=dict)


@dataclass
class _Pending:
    employee_id: int
    purpose: Purpose
    seen: dict[str, float | None]
    started: float


class Authenticator:
    def __init__(self, store: Store, config: TerminalConfig, punches: PunchService, clock: Clock,
                 feedback: Feedback | None = None, monotonic: Callable[[], float] = time.monotonic):
        self.store = store
        self.config = config
        self.punches = punches
        self.clock = clock
        self.feedback = feedback
        self.monotonic = monotonic
        self.listeners: list[Callable[[Outcome], None]] = []
        self._pending: _Pending | None = None
        self._lock = threading.RLock()

    @property
    def language(self) -> str:
        return self.config.device.language

    # -- factor entry points ---------------------------------------------------------------
    def face(self, employee_id: int, score: float | None = None, purpose: Purpose = "punch") -> Outcome:
        return self._factor(employee_id, "face", score, purpose)

    def finger(self, employee_id: int, score: float | None = None, purpose: Purpose = "punch") -> Outcome:
        return self._factor(employee_id, "finger", score, purpose)

    def card(self, card_number: str, purpose: Purpose = "punch") -> Outcome:
        employee = find_by_card(self.store, card_number)
        if employee is None:
            self.store.record_event("unknown_card", {"card_suffix": card_number[-4:]}, severity="warning")
            return self.refuse("unknown_card")
        return self._factor(employee["id"], "card", None, purpose)

    def pin(self, number: str, pin: str, purpose: Purpose = "punch") -> Outcome:
        """A PIN typed with the employee number (the pad asks for both)."""
        employee = find_by_number(self.store, number)
        if employee is None or not employee["has_pin"]:
            return self.refuse("wrong_pin")
        locked = self._locked_until(employee["id"])
        if locked is not None:
            return self.refuse("pin_locked", employee, details={"locked_until": locked})
        if not verify_pin(pin, pin_hash_of(self.store, employee["id"])):
            return self._wrong_pin(employee)
        self._clear_pin_failures(employee["id"])
        return self._factor(employee["id"], "pin", None, purpose)

    def expire(self) -> Outcome | None:
        """Drop a second-factor wait that has run out; the UI calls this on its tick."""
        with self._lock:
            pending = self._pending
            if pending and self.monotonic() - pending.started > self.config.punch.second_factor_timeout_s:
                self._pending = None
                return self.refuse("second_factor_timeout", get_employee(self.store, pending.employee_id))
        return None

    @property
    def waiting_for(self) -> tuple[int, tuple[str, ...]] | None:
        with self._lock:
            if not self._pending:
                return None
            employee = get_employee(self.store, self._pending.employee_id)
            factors, _ = required_factors(employee["verify_mode"] if employee else "any")
            return self._pending.employee_id, tuple(sorted(factors - set(self._pending.seen)))

    def cancel(self) -> None:
        with self._lock:
            self._pending = None

    # -- core --------------------------------------------------------------------------------
    def _factor(self, employee_id: int, factor: str, score: float | None, purpose: Purpose) -> Outcome:
        with self._lock:
            expired = self.expire()
            employee = get_employee(self.store, employee_id)
            if employee is None:
                return self.refuse("unknown_employee")
            factors, all_required = required_factors(employee["verify_mode"])
            if factor not in factors:
                return self.refuse("wrong_factor", employee, details={"mode": employee["verify_mode"]})
            if not all_required:
                self._pending = None
                return self._complete(employee, {factor: score}, purpose)
            pending = self._pending
            if pending is None or pending.employee_id != employee_id or pending.purpose != purpose:
                pending = _Pending(employee_id, purpose, {}, self.monotonic())
            pending.seen[factor] = score
            missing = tuple(sorted(factors - set(pending.seen)))
            if missing:
                self._pending = pending
                outcome = Outcome("need_more", "second_factor", employee, missing,
                                  message=" / ".join(missing), details={"timed_out_before": bool(expired)})
                self._emit(outcome)
                return outcome
            self._pending = None
            return self._complete(employee, pending.seen, purpose)

    def _complete(self, employee: dict, seen: dict[str, float | None], purpose: Purpose) -> Outcome:
        order = ("face", "finger", "card", "pin")
        method = "+".join(f for f in order if f in seen)
        scores = [s for s in seen.values() if s is not None]
        identity = Identity(employee["id"], method, scores[0] if scores else None)
        if purpose == "admin":
            if employee["role"] != "admin":
                return self.refuse("not_admin", employee)
            self.store.audit(employee["number"], "admin.login", {"method": method})
            outcome = Outcome("identified", "admin", employee, identity=identity)
            self._emit(outcome)
            return outcome
        result = self.punches.punch(identity)
        outcome = Outcome("punched" if result.accepted else "refused", result.reason, result.employee,
                          message=result.message, punch=result, identity=identity)
        self._emit(outcome)
        return outcome

    def refuse(self, reason: str, employee: dict | None = None, details: dict | None = None) -> Outcome:
        """A refusal decided before a punch (unknown finger, not live, one at a time...): red LED,
        buzzer and voice, and an outcome for the screen."""
        message = t(f"refuse.{reason}", self.language)
        if self.feedback is not None and hasattr(self.feedback, "refusal"):
            try:
                self.feedback.refusal(reason)
            except Exception:
                log.exception("feedback failed")
        outcome = Outcome("refused", reason, employee, message=message, details=details or {})
        self._emit(outcome)
        return outcome

    def _emit(self, outcome: Outcome) -> None:
        for listener in list(self.listeners):
            try:
                listener(outcome)
            except Exception:
                log.exception("authenticator listener failed")

    # -- PIN lockout ---------------------------------------------------------------------------
    def _locked_until(self, employee_id: int) -> str | None:
        row = self.store.query_one("SELECT * FROM pin_attempts WHERE employee_id = ?", (employee_id,))
        if not row or not row["locked_until"]:
            return None
        now = self.clock.now()
        if row["locked_boot_id"] == now.boot_id and row["locked_until_monotonic_ns"] is not None:
            still = now.monotonic_ns < row["locked_until_monotonic_ns"]
        else:  # after a reboot only wall time is left to judge by
            still = now.wall < parse_utc(row["locked_until"])
        if still:
            return row["locked_until"]
        self._clear_pin_failures(employee_id, audit_expiry=True)
        return None

    def _wrong_pin(self, employee: dict) -> Outcome:
        limit = self.config.punch.pin_max_attempts
        lockout = self.config.punch.pin_lockout_s
        now = self.clock.now()
        with self.store.transaction() as conn:
            row = conn.execute("SELECT failures FROM pin_attempts WHERE employee_id = ?", (employee["id"],)).fetchone()
            failures = (row[0] if row else 0) + 1
            locked_until = None
            if failures >= limit:
                locked_until = format_utc(now.wall + timedelta(seconds=lockout))
                conn.execute(
                    "INSERT OR REPLACE INTO pin_attempts VALUES (?, ?, ?, ?, ?)",
                    (employee["id"], failures, locked_until, now.boot_id, now.monotonic_ns + lockout * 1_000_000_000))
                self.store.audit("terminal", "pin.lockout", {"employee_id": employee["id"], "number": employee["number"],
                                                             "failures": failures, "locked_until": locked_until}, conn=conn)
                self.store.record_event("pin_lockout", {"employee_number": employee["number"], "locked_until": locked_until},
                                        severity="warning", conn=conn)
            else:
                conn.execute("INSERT OR REPLACE INTO pin_attempts (employee_id, failures) VALUES (?, ?)",
                             (employee["id"], failures))
        if locked_until:
            log.warning("PIN entry locked for employee %s until %s", employee["number"], locked_until)
            return self.refuse("pin_locked", employee, details={"locked_until": locked_until})
        return self.refuse("wrong_pin", employee, details={"attempts_left": limit - failures})

    def _clear_pin_failures(self, employee_id: int, audit_expiry: bool = False) -> None:
        with self.store.transaction() as conn:
            removed = conn.execute("DELETE FROM pin_attempts WHERE employee_id = ?", (employee_id,)).rowcount
            if removed and audit_expiry:
                self.store.audit("terminal", "pin.lockout_expired", {"employee_id": employee_id}, conn=conn)
