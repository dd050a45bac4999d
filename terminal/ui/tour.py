"""A walk through every kiosk screen with believable data, for ``make screenshots`` and the layout tests.

:func:`tour` drives a running :class:`~terminal.ui.harness.OffscreenKiosk` the way people
would (PIN pad taps, cards on the simulated reader, a finger on the emulator, a face in
front of the simulated camera when the face photos are available) and calls
``visit(name)`` each time a screen worth looking at is up.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from terminal.store.employees import NewEmployee

log = logging.getLogger(__name__)

TOUR_STAFF: list[NewEmployee] = [
    {"number": "1001", "name": "张伟", "department": "生产部", "card": "0004318030", "pin": "2580"},
    {"number": "1002", "name": "李娜", "department": "财务部", "pin": "4321"},
    {"number": "1003", "name": "Wang Fang", "department": "研发部", "card": "0x00A1B2C3", "pin": "1357",
     "verify_mode": "card+pin"},
    {"number": "1004", "name": "陈杰", "department": "销售部", "pin": "8642"},
    {"number": "3001", "name": "Lin-Manuel Miranda", "department": "Stage", "pin": "3001"},
    {"number": "9001", "name": "管理员", "department": "IT", "pin": "9090", "role": "admin", "verify_mode": "pin"},
]
# the tour's "employee" is a recorded clip: it blinks but cannot answer a prompted head turn
FACE_SETTINGS = {"enabled": True, "min_face_px": 60, "liveness": "blink_or_turn"}


def tour_config(data_dir: Path, language: str, *, faces: bool) -> Any:
    from terminal.config import parse_config

    return parse_config({
        "device": {"id": "front-door-01", "site": "hq", "language": language, "timezone": "Asia/Shanghai",
                   "company_name": "Seed 示例科技有限公司", "name": "东门 / East gate"},
        "storage": {"data_dir": str(data_dir), "min_free_mb": 1},
        "hardware": {"profile": "sim", "outputs": {"door_pulse_s": 0.3, "led_on_s": 0.3},
                     "fingerprint": {"enabled": True, "probe_timeout_s": 1.0}},
        "face": FACE_SETTINGS if faces else {"enabled": False},
        "ui": {"fullscreen": False},
    })


def prepare_store(terminal: Any, faces_dir: Path | None) -> None:
    """The staff, a little history for the status screen, and an enrolled face with its photo."""
    from terminal.store.employees import add_employee, update_employee

    for person in TOUR_STAFF:
        add_employee(terminal.store, actor="tour", **person)
    terminal.store.set_setting("sync.status", {
        "connected": True, "last_ack_at": "2026-03-02T00:54:12.000000Z", "queue_depth": 0, "clock_offset_s": 0.008,
        "time_source": "ntp", "last_ntp_at": "2026-03-02T00:50:00.000000Z"})
    if faces_dir is None:
        return
    from enrollment.faces import enrol_photos
    from terminal.ui.photos import face_photo
    from terminal.vision.images import load_image
    from terminal.vision.photos import PhotoAnalyzer

    photo = faces_dir / "video" / "enrol_lin_manuel_miranda.png"
    enrol_photos(terminal.store, "3001", [photo], min_shots=1, actor="tour")
    image = load_image(photo)
    with PhotoAnalyzer() as analyzer:
        box = analyzer.detect(image)[0]
    update_employee(terminal.store, "3001", photo=face_photo(image, box), actor="tour")


def _type(kiosk: Any, digits: str) -> None:
    kiosk.type_digits(digits)


def _pin_login(kiosk: Any) -> None:
    kiosk.tap("admin")
    kiosk.wait_screen("admin_login")
    kiosk.tap("admin_pin")
    kiosk.wait_screen("pinpad")
    _type(kiosk, "9001")
    kiosk.tap("key_ok")
    _type(kiosk, "9090")
    kiosk.tap("key_ok")
    kiosk.wait_screen("admin_menu")


def _back_to_idle(kiosk: Any) -> None:
    kiosk.app.result_until = None
    kiosk.app.go("idle")
    kiosk.terminal.hardware.clock.advance(90)  # past the repeat-punch window
    kiosk.pump(2)


def tour(kiosk: Any, visit: Callable[[str], None], faces_dir: Path | None = None, *,
         finger_number: str = "1002", finger_id: str = "li-na-right-index") -> list[str]:
    """Bring up every screen in turn; ``visit(name)`` is called while it is shown. Returns the names visited.

    ``finger_number`` has ``finger_id`` enrolled on the way (an employee keeps at most three fingers).
    """
    visited: list[str] = []
    hw = kiosk.terminal.hardware

    def shot(name: str) -> None:
        kiosk.pump(3)
        visit(name)
        visited.append(name)

    face_worker = next((w for w in kiosk.terminal.workers if getattr(w, "name", "") == "face"), None)
    # idle, with a face in front of the camera when the pipeline runs
    if face_worker is not None and faces_dir is not None:
        hw.camera.show(faces_dir / "video" / "enrol_lin_manuel_miranda.png")
        preview = kiosk.app.screens["idle"].ids.preview
        kiosk.wait_until(lambda: preview.faces, 20, "a face box on the preview")
        shot("idle")
        # a photo held up never blinks: the terminal asks for a head turn, then refuses it as not live
        kiosk.wait_until(lambda: kiosk.app.screens["idle"].guidance.strip(), 20, "guidance")
        shot("idle_guidance")
        kiosk.wait_screen("refusal", timeout=20)
        shot("refusal_not_live")
        hw.camera.clear()
        kiosk.wait_until(lambda: face_worker.recognizer.state == "idle", 10, "an empty doorway")
        _back_to_idle(kiosk)
    else:
        shot("idle")
    # PIN pad, result with the enrolled photo
    kiosk.tap("pin")
    kiosk.wait_screen("pinpad")
    _type(kiosk, "3001")
    kiosk.tap("key_ok")
    _type(kiosk, "30")
    shot("pinpad")
    _type(kiosk, "01")
    kiosk.tap("key_ok")
    kiosk.wait_screen("result")
    shot("result")
    _back_to_idle(kiosk)
    # refusals: an unknown card, and a second punch within the minute (amber)
    hw.card_reader.present("0000000001")
    kiosk.wait_screen("refusal")
    shot("refusal")
    _back_to_idle(kiosk)
    hw.card_reader.present("0004318030")
    kiosk.wait_screen("result")
    kiosk.app.go("idle")
    hw.clock.advance(8)
    hw.card_reader.present("0004318030")
    kiosk.wait_screen("refusal")
    shot("already_recorded")
    _back_to_idle(kiosk)
    # card + PIN: the second factor
    hw.card_reader.present("00A1B2C3")
    kiosk.wait_screen("second")
    shot("second_factor")
    kiosk.tap("cancel")
    _back_to_idle(kiosk)
    # screensaver
    kiosk.app.dim()
    kiosk.wait_until(lambda: kiosk.app.dimmer.level >= kiosk.terminal.config.ui.screensaver_dim - 0.01, 5, "dimming")
    kiosk.app.tick(0)
    shot("screensaver")
    kiosk.app.wake()
    # admin
    kiosk.tap("admin")
    kiosk.wait_screen("admin_login")
    shot("admin_login")
    kiosk.tap("cancel")
    _pin_login(kiosk)
    shot("admin_menu")
    if face_worker is not None and faces_dir is not None:
        kiosk.tap("enrol_face")
        kiosk.wait_screen("pinpad")
        _type(kiosk, "1004")
        kiosk.tap("key_ok")
        screen = kiosk.wait_screen("enrol_face")
        kiosk.wait_until(lambda: screen.rejected, 20, "a refused shot")
        hw.camera.show(faces_dir / "people" / "obama" / "obama.jpg")
        kiosk.wait_until(lambda: screen.accepted >= 2, 30, "accepted shots")
        screen.last_reason = "not_frontal"  # as when the person looked away a moment ago
        screen.on_language()
        shot("enrol_face")
        screen.leave()
        hw.camera.clear()
        kiosk.wait_screen("admin_menu")
    kiosk.tap("enrol_finger")
    kiosk.wait_screen("pinpad")
    _type(kiosk, finger_number)
    kiosk.tap("key_ok")
    screen = kiosk.wait_screen("enrol_finger")
    kiosk.tap("start")
    emulator = hw.fingerprint.emulator
    kiosk.wait_until(lambda: screen._sensor[0] == "finger.waiting", 10, "the sensor to wait")
    emulator.place_finger(finger_id)
    kiosk.wait_until(lambda: screen._sensor[0] == "finger.read_ok", 10, "the first press")
    shot("enrol_finger")
    emulator.lift_finger()
    kiosk.wait_until(lambda: screen._sensor[0] == "finger.lifted", 10, "the lift")
    emulator.place_finger(finger_id)
    kiosk.wait_until(lambda: screen._sensor == ("finger.read_ok", {"press": 2}), 10, "the second press")
    emulator.lift_finger()
    kiosk.wait_until(lambda: screen.done, 10, "the enrolment")
    shot("enrol_finger_done")
    kiosk.tap("back")
    kiosk.tap("employees")
    kiosk.wait_screen("employees")
    kiosk.settle()
    shot("employees")
    kiosk.tap("employee:1001")
    kiosk.wait_screen("employee")
    kiosk.settle()
    kiosk.tap("delete")
    shot("employee_delete")
    kiosk.tap("keep")
    kiosk.tap("back")
    kiosk.wait_screen("employees")
    kiosk.tap("back")
    kiosk.tap("status")
    status = kiosk.wait_screen("status")
    kiosk.wait_until(lambda: status.row("broker") is not None, 10, "the status")
    shot("status")
    kiosk.tap("back")
    kiosk.tap("settings")
    kiosk.wait_screen("settings")
    shot("settings")
    kiosk.tap("back")
    kiosk.tap("leave")
    kiosk.wait_screen("idle")
    return visited


def run_tour(language: str, size: tuple[int, int], visit: Callable[[Any, str], None], *,
             faces_dir: Path | None = None, data_dir: Path | None = None) -> list[str]:
    """A fresh simulated terminal in ``data_dir`` (a temporary one by default) toured at ``size``."""
    import tempfile

    from terminal.runtime import Terminal
    from terminal.ui.harness import OffscreenKiosk

    with tempfile.TemporaryDirectory(prefix="seed-tour-") as tmp:
        config = tour_config(Path(data_dir or tmp) / language, language, faces=faces_dir is not None)
        with Terminal.open(config) as terminal:
            prepare_store(terminal, faces_dir)
            started = time.monotonic()
            with OffscreenKiosk(terminal, size=size) as kiosk:
                names = tour(kiosk, lambda name: visit(kiosk, name), faces_dir)
            log.info("tour in %s at %dx%d: %d screens in %.1f s", language, *size, len(names), time.monotonic() - started)
            return names
