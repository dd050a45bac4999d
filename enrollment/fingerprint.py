"""Fingerprint enrolment: two presses, a duplicate search, the sensor library and the database in step.

Used by the admin screens (with the door's :class:`~terminal.fingerprint_service.FingerprintWorker`
paused) and by ``seed-enroll finger ...``. :func:`enrol_finger` walks the sensor through

1. press the finger (GenImg, Img2Tz into buffer 1) — a poor image is asked for again;
2. lift it, press it again (buffer 2);
3. RegModel: the two presses must be the same finger;
4. Search: a finger already enrolled under another employee is refused and named;
5. Store at a free position, upload the template (UpChar) and keep it with the employee
   in ``finger_templates`` (encrypted with the rest of the database).

Each step is reported through ``progress``; each failure raises
:class:`FingerEnrolError` whose ``reason`` is one of :data:`REASONS`.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from terminal.fingerprint_service import clear_positions, employee_at_position, first_free_position, queue_purge
from terminal.hardware.errors import HardwareError
from terminal.hardware.fingerprint import FingerprintSensor, LibraryFull, PoorImage, SensorUnavailable
from terminal.store.database import Store
from terminal.store.employees import add_finger_template, find_by_number

log = logging.getLogger(__name__)

FINGER_NAMES = {
    1: "right thumb", 2: "right index", 3: "right middle", 4: "right ring", 5: "right little",
    6: "left thumb", 7: "left index", 8: "left middle", 9: "left ring", 10: "left little",
}
# Offered in this order when no finger is named: index fingers first, as terminals usually ask.
PREFERRED_FINGERS = (2, 7, 3, 8, 1, 6, 4, 9, 5, 10)
REASONS = {
    "unknown_employee": "no such employee",
    "bad_finger": "a finger is numbered 1-10 (1 right thumb ... 6 left thumb ... 10 left little)",
    "too_many_fingers": "this employee already has the most fingers allowed",
    "no_finger": "no finger was placed in time",
    "not_lifted": "the finger was not lifted in time",
    "poor_image": "the fingerprint image was too poor: clean the glass and press the finger flat",
    "mismatch": "the two presses were not the same finger: press the same finger twice",
    "duplicate": "this finger is already enrolled for another employee",
    "already_enrolled": "this finger is already enrolled for this employee",
    "library_full": "the sensor's template library is full",
    "sensor_unavailable": "the fingerprint sensor does not answer",
    "sensor_error": "the fingerprint sensor reported an error",
    "cancelled": "enrolment was cancelled",
}


def finger_name(finger: int) -> str:
    return FINGER_NAMES.get(int(finger), f"finger {finger}")


class FingerEnrolError(Exception):
    """Enrolment stopped; ``reason`` is a key of :data:`REASONS`, the message says what to do."""

    def __init__(self, reason: str, message: str | None = None, **details: Any):
        self.reason = reason
        self.details = details
        super().__init__(message or REASONS.get(reason, reason))


@dataclass(frozen=True)
class EnrolStep:
    """Progress of an enrolment: what the person at the sensor should do now."""

    step: str  # place, lift, place_again, retry, checking, storing, done
    press: int
    message: str


@dataclass(frozen=True)
class FingerEnrolment:
    employee_id: int
    number: str
    finger: int
    position: int
    score: int
    replaced_position: int | None = None


STEP_TEXT = {
    "place": "place the finger on the sensor",
    "lift": "lift the finger",
    "place_again": "place the same finger again",
    "retry": "image too poor: lift, clean the glass and press again",
    "checking": "checking the finger is not already enrolled",
    "storing": "storing the template",
    "done": "fingerprint enrolled",
}


def _exclusive(sensor: FingerprintSensor) -> contextlib.AbstractContextManager[FingerprintSensor]:
    return sensor.exclusive() if hasattr(sensor, "exclusive") else contextlib.nullcontext(sensor)


def enrol_finger(store: Store, sensor: FingerprintSensor, number: str, finger: int | None = None, *,
                 max_fingers: int = 3, step_timeout_s: float = 20.0, poor_retries: int = 3,
                 progress: Callable[[EnrolStep], None] | None = None, stop: threading.Event | None = None,
                 actor: str = "admin") -> FingerEnrolment:
    """Enrol one finger of employee ``number``; ``finger`` 1-10 (default: the first of
    :data:`PREFERRED_FINGERS` not enrolled yet). Replacing an enrolled finger is allowed."""
    employee = find_by_number(store, number)
    if employee is None:
        raise FingerEnrolError("unknown_employee", f"no employee {number}")
    have = {r["finger"]: r["sensor_position"] for r in store.query(
        "SELECT finger, sensor_position FROM finger_templates WHERE employee_id = ?", (employee["id"],))}
    if finger is None:
        finger = next((f for f in PREFERRED_FINGERS if f not in have), None)
        if finger is None or len(have) >= max_fingers:
            raise FingerEnrolError("too_many_fingers", f"employee {number} already has {len(have)} finger(s) enrolled "
                                   f"(at most {max_fingers}); delete one first")
    if finger not in FINGER_NAMES:
        raise FingerEnrolError("bad_finger")
    if finger not in have and len(have) >= max_fingers:
        raise FingerEnrolError("too_many_fingers", f"employee {number} already has {len(have)} finger(s) enrolled "
                               f"(at most {max_fingers}); delete one first or enrol one of {sorted(have)} again")

    def say(step: str, press: int) -> None:
        _check_stop(stop)  # the admin may cancel between any two steps
        log.info("finger enrolment %s: %s", number, step)
        if progress is not None:
            progress(EnrolStep(step, press, STEP_TEXT[step]))

    try:
        with _exclusive(sensor):
            sensor.probe()
            for press, buffer in ((1, 1), (2, 2)):
                _take_press(sensor, press, buffer, step_timeout_s, poor_retries, say, stop)
                say("lift", press)
                if not sensor.wait_for_lift(step_timeout_s, stop):
                    _check_stop(stop)
                    raise FingerEnrolError("not_lifted", f"the finger was not lifted within {step_timeout_s:g} s")
            score = sensor.compare()  # how alike the two presses are
            if not sensor.create_model():
                raise FingerEnrolError("mismatch")
            say("checking", 2)
            match = sensor.search(1)
            if match is not None:
                owner = employee_at_position(store, match.position)
                if owner is None:
                    log.warning("sensor position %s holds a template no employee owns; clearing it", match.position)
                    sensor.delete(match.position)
                elif owner["id"] != employee["id"]:
                    raise FingerEnrolError("duplicate", f"this finger is already enrolled for employee {owner['number']} "
                                           f"({owner['name']})", number=owner["number"], name=owner["name"])
                elif owner["finger"] != finger:
                    raise FingerEnrolError("already_enrolled", f"this finger is already enrolled for {number} as "
                                           f"{finger_name(owner['finger'])}", finger=owner["finger"])
            say("storing", 2)
            position = first_free_position(store, sensor)
            if position is None:
                raise FingerEnrolError("library_full", f"the sensor's library is full ({sensor.capacity} templates); "
                                       "delete unused fingerprints first")
            try:
                sensor.store(position, 1)
            except LibraryFull:
                raise FingerEnrolError("library_full", f"the sensor's library is full ({sensor.capacity} templates)") from None
            template = sensor.read_template(1)
            old_position = have.get(finger)
            try:
                add_finger_template(store, employee["id"], finger, template, position, actor=actor)
            except BaseException:
                with contextlib.suppress(Exception):
                    sensor.delete(position)
                raise
            if old_position is not None and old_position != position:
                try:
                    sensor.delete(old_position)
                except HardwareError:
                    queue_purge(store, [old_position])
    except SensorUnavailable as exc:
        raise FingerEnrolError("sensor_unavailable", f"the fingerprint sensor does not answer: {exc.reason}") from None
    except HardwareError as exc:
        raise FingerEnrolError("sensor_error", f"the fingerprint sensor reported an error: {exc.reason}") from None
    say("done", 2)
    log.info("employee %s: %s enrolled at sensor position %s", number, finger_name(finger), position)
    return FingerEnrolment(employee["id"], employee["number"], finger, position, score, old_position)


def _check_stop(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise FingerEnrolError("cancelled")


def _take_press(sensor: FingerprintSensor, press: int, buffer: int, timeout: float, retries: int,
                say: Callable[[str, int], None], stop: threading.Event | None) -> None:
    for attempt in range(retries):
        say("place" if press == 1 else "place_again", press)
        if not sensor.wait_for_finger(timeout, stop):
            _check_stop(stop)
            raise FingerEnrolError("no_finger", f"no finger was placed within {timeout:g} s")
        try:
            sensor.convert(buffer)
            return
        except PoorImage:
            if attempt == retries - 1:
                raise FingerEnrolError("poor_image", f"{REASONS['poor_image']} ({retries} tries)") from None
            say("retry", press)
            if not sensor.wait_for_lift(timeout, stop):
                _check_stop(stop)
                raise FingerEnrolError("not_lifted", f"the finger was not lifted within {timeout:g} s") from None


def list_fingers(store: Store, number: str | None = None) -> list[dict]:
    """Enrolled fingers (no template bytes): employee number and name, finger, sensor position."""
    sql = ("SELECT e.number, e.name, f.finger, f.sensor_position, f.created_at FROM finger_templates f "
           "JOIN employees e ON e.id = f.employee_id")
    params: tuple = ()
    if number is not None:
        sql += " WHERE e.number = ?"
        params = (str(number),)
    rows = store.query(sql + " ORDER BY e.number, f.finger", params)
    for row in rows:
        row["finger_name"] = finger_name(row["finger"])
    return rows


def delete_fingers(store: Store, sensor: FingerprintSensor | None, number: str, finger: int | None = None, *,
                   actor: str = "admin") -> list[int]:
    """Delete an employee's fingers (one, or all) from the database and their positions from the sensor.

    A sensor that cannot be reached gets the positions queued (``fingerprint.purge_positions``)
    and cleared when the terminal next reaches it. Returns the positions freed.
    """
    employee = find_by_number(store, number)
    if employee is None:
        raise FingerEnrolError("unknown_employee", f"no employee {number}")
    sql, params = "FROM finger_templates WHERE employee_id = ?", [employee["id"]]
    if finger is not None:
        sql += " AND finger = ?"
        params.append(int(finger))
    with store.transaction() as conn:
        positions = [r[0] for r in conn.execute(f"SELECT sensor_position {sql} AND sensor_position IS NOT NULL",
                                                 params).fetchall()]
        removed = conn.execute(f"DELETE {sql}", params).rowcount
        if finger is not None and not removed:
            raise FingerEnrolError("bad_finger", f"employee {number} has no {finger_name(finger)} enrolled")
        queue_purge(store, positions, conn=conn)
        store.audit(actor, "finger.delete", {"employee_id": employee["id"], "number": employee["number"],
                                              "finger": finger, "templates": removed, "sensor_positions": positions},
                    conn=conn)
    if sensor is not None and positions:
        clear_now(store, sensor, positions)
    return positions


def clear_now(store: Store, sensor: FingerprintSensor, positions: list[int]) -> bool:
    """Clear positions on the sensor now; they stay queued if it cannot be reached. True when cleared."""
    from terminal.fingerprint_service import apply_purges

    try:
        with _exclusive(sensor):
            apply_purges(store, sensor)
        return True
    except HardwareError as exc:
        log.warning("sensor positions %s stay queued for clearing: %s", positions, exc)
        return False


__all__ = ["FINGER_NAMES", "REASONS", "EnrolStep", "FingerEnrolError", "FingerEnrolment", "clear_now",
           "clear_positions", "delete_fingers", "enrol_finger", "finger_name", "list_fingers"]
