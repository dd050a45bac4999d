"""Fingerprint enrolment from the admin screen: the door's sensor worker steps aside, the flow runs, it resumes.

Runs on its own thread; ``progress(step_index, step_key, answer_key, params)`` and
``finished(ok, position, reason_key, params)`` are called with i18n keys, already
scheduled onto the main thread by the caller.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# enrolment step -> (step shown 1-3 or None to keep it, what to do or None to keep it, what the sensor answered)
STEP_ANSWERS = {
    "place": (1, "enrol.finger_place", "finger.waiting"),
    "lift": (None, "enrol.finger_lift", "finger.read_ok"),
    "place_again": (3, "enrol.finger_again", "finger.lifted"),
    "retry": (None, None, "finger.poor"),
    "checking": (3, None, "finger.checking"),
    "storing": (3, None, "finger.storing"),
    "done": (3, None, "finger.stored"),
}


def run_finger_enrolment(app: Any, employee: dict, cancel: threading.Event,
                         progress: Callable[..., None], finished: Callable[..., None]) -> None:
    from enrollment.fingerprint import FingerEnrolError, enrol_finger

    sensor = getattr(app.terminal.hardware, "fingerprint", None)
    if sensor is None:
        finished(False, None, "enrol.no_sensor", {})
        return
    worker = app.finger_worker

    def on_step(step: Any) -> None:
        index, key, answer = STEP_ANSWERS.get(step.step, (None, None, "finger.waiting"))
        if step.step == "lift":
            index = 2 if step.press == 1 else 3
        progress(index, key, answer, {"press": step.press})

    try:
        with (worker.paused() if worker is not None else contextlib.nullcontext(sensor)) as held:
            settings = app.tconfig.hardware.fingerprint
            result = enrol_finger(app.terminal.store, held, employee["number"], progress=on_step, stop=cancel,
                                  actor=app.admin_actor, max_fingers=settings.max_fingers,
                                  step_timeout_s=settings.enrol_step_timeout_s)
    except FingerEnrolError as exc:
        if exc.reason != "cancelled":
            log.info("finger enrolment of %s stopped: %s", employee.get("number"), exc)
        finished(False, None, f"finger.error.{exc.reason}", {k: v for k, v in exc.details.items()})
        return
    except Exception as exc:
        log.exception("finger enrolment failed")
        finished(False, None, "enrol.failed", {"reason": str(exc)})
        return
    finished(True, result.position, "", {})
