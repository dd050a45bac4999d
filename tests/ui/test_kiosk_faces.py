"""Faces at the kiosk with the real models on real pictures played by the simulated camera.

A stranger walks up (the live clip of a man nobody enrolled) and is refused; two people at
once are asked to come one at a time; then an admin enrols that man's face from the
camera and a finger from the sensor emulator, and he punches in by face and out by finger.
"""
from __future__ import annotations

import json

import pytest
from ui_support import STAFF, kiosk_config, press_when_asked, running_kiosk

pytestmark = pytest.mark.faces

LIN = {"number": "3001", "name": "Lin-Manuel Miranda", "department": "Stage"}
JOHN = {"number": "2001", "name": "John Simm"}
# the recorded clip stands in for the man: it cannot answer a prompted turn, but it blinks
FACE_SETTINGS = {"enabled": True, "min_face_px": 60, "window_s": 2.0, "turn_challenge_s": 2.0,
                 "liveness": "blink_or_turn"}


@pytest.fixture(scope="module")
def singer(faces_dir):
    """The part of the clip where the singer faces the camera, at the camera's 15 fps."""
    from terminal.vision.attacks import video_presentation

    clip = video_presentation(faces_dir / "video" / "short_hamilton_clip.mp4")
    return clip.frames[82:211:2]


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory, faces_dir):
    from enrollment.faces import enrol_photos

    config = kiosk_config(tmp_path_factory.mktemp("faces") / "data", fingerprint=True, face=FACE_SETTINGS)
    with running_kiosk(config, staff=STAFF + [LIN, JOHN]) as running:
        # someone else is enrolled from photos, as seed-enroll face-add would do
        photos = sorted((faces_dir / "people" / "John_Simm").iterdir())[:4]
        enrol_photos(running.terminal.store, JOHN["number"], photos, min_shots=3)
        running.wait_until(lambda: len(face_worker(running).recognizer.gallery) >= 3, 15, "the gallery to load")
        yield running


def face_worker(kiosk):
    return next(w for w in kiosk.terminal.workers if w.name == "face")


def events(kiosk, kind):
    return [json.loads(r["payload"]) for r in kiosk.terminal.store.query(
        "SELECT payload FROM events WHERE kind = ? ORDER BY id", (kind,))]


def walk_up(kiosk, frames):
    """Play frames at the camera, then the empty doorway."""
    from terminal.hardware.camera import SceneStep

    kiosk.terminal.hardware.camera.play_scene([SceneStep(frame, frames=1, label="person") for frame in frames]
                                              + [SceneStep(None, seconds=1.0, label="gone")])


def leave_doorway(kiosk):
    """Nobody in front of the camera until the pipeline has let go of the last face; idle screen again."""
    kiosk.terminal.hardware.camera.clear()
    worker = face_worker(kiosk)
    kiosk.wait_until(lambda: worker.recognizer.state == "idle" and not worker.last_result.faces, 10, "an empty doorway")
    kiosk.app.go_idle()
    kiosk.pump(2)


def test_an_unknown_face_walks_up_and_is_refused(kiosk, singer):
    preview = kiosk.app.screens["idle"].ids.preview
    kiosk.app.dim()  # nobody came for a while: the screen is dimmed
    kiosk.pump(2)
    shown_before = preview.frames_shown
    boxes = []
    walk_up(kiosk, singer)
    kiosk.wait_until(lambda: not kiosk.app.dimmed, 10, "a face to wake the screen")
    kiosk.wait_until(lambda: boxes.append(len(preview.faces)) or kiosk.screen_name == "refusal", 30,
                     "the stranger to be refused")
    texts = kiosk.texts()
    assert "未识别，请重试" in texts and "请再看一次摄像头，或使用卡、指纹或密码" in texts
    # the preview showed the camera with a box around the face while he approached
    assert preview.frames_shown - shown_before > 10 and max(boxes) >= 1
    assert events(kiosk, "unknown_face")
    assert kiosk.terminal.store.query("SELECT * FROM punches") == []
    leave_doorway(kiosk)


def test_two_faces_at_once_are_asked_to_come_one_at_a_time(kiosk, faces_dir):
    kiosk.terminal.hardware.camera.sway(faces_dir / "groups" / "two_people.jpg", seconds=3)
    kiosk.wait_screen("refusal", timeout=20)
    assert {"请一次一人", "请其他人稍后，一个一个来"} <= set(kiosk.texts())
    assert events(kiosk, "tailgating")[-1]["count"] >= 2
    assert kiosk.terminal.hardware.outputs.relay_pulses() == []
    leave_doorway(kiosk)


def test_admin_enrols_face_and_finger_then_the_employee_punches_in_by_face_and_out_by_finger(kiosk, faces_dir,
                                                                                             singer):
    store, camera = kiosk.terminal.store, kiosk.terminal.hardware.camera
    unknown_before = len(events(kiosk, "unknown_face"))
    # admin login on the PIN pad
    kiosk.tap("admin")
    kiosk.wait_screen("admin_login")
    kiosk.tap("admin_pin")
    kiosk.type_digits("9001")
    kiosk.tap("key_ok")
    kiosk.type_digits("9090")
    kiosk.tap("key_ok")
    kiosk.wait_screen("admin_menu")
    # face: live capture from the camera
    kiosk.tap("enrol_face")
    kiosk.wait_screen("pinpad")
    kiosk.type_digits(LIN["number"])
    kiosk.tap("key_ok")
    screen = kiosk.wait_screen("enrol_face")
    assert "人脸登记 · Lin-Manuel Miranda" in kiosk.texts()
    kiosk.wait_until(lambda: screen.rejected == "未采用：未找到人脸", 20, "the empty doorway to be refused with its reason")
    assert screen.accepted == 0
    camera.show(faces_dir / "video" / "enrol_lin_manuel_miranda.png")
    kiosk.wait_until(lambda: screen.accepted >= 1, 20, "a first accepted shot")
    ring = screen.ids.ring
    assert ring.value == screen.accepted and ring.total == 5
    kiosk.wait_until(lambda: screen.done, 40, "five accepted shots saved")
    assert ring.value == 5 and "人脸已登记（5 张）" in kiosk.texts()
    lin = store.query_one("SELECT id, photo FROM employees WHERE number = ?", (LIN["number"],))
    assert store.query_one("SELECT count(*) AS n FROM face_templates WHERE employee_id = ?", (lin["id"],))["n"] == 5
    assert lin["photo"]  # the best shot became his photo
    audit = store.query("SELECT actor FROM audit_log WHERE action = 'face.enrol'")
    assert audit[-1]["actor"] == "9001"
    camera.clear()
    kiosk.tap("back")
    # finger: press, lift, press again on the emulator
    kiosk.tap("enrol_finger")
    kiosk.wait_screen("pinpad")
    kiosk.type_digits(LIN["number"])
    kiosk.tap("key_ok")
    kiosk.wait_screen("enrol_finger")
    kiosk.tap("start")
    emulator = kiosk.terminal.hardware.fingerprint.emulator
    press_when_asked(kiosk, emulator, "lin-right-index")
    assert kiosk.screen.done and store.query_one("SELECT count(*) AS n FROM finger_templates")["n"] == 1
    kiosk.tap("back")
    kiosk.tap("leave")
    kiosk.wait_screen("idle")
    # while the admin worked, the door judged nobody
    assert len(events(kiosk, "unknown_face")) == unknown_before
    # he walks up: recognised, live, punched in
    worker = face_worker(kiosk)
    kiosk.wait_until(lambda: lin["id"] in worker.recognizer.gallery.identities, 15, "the new face in the gallery")
    walk_up(kiosk, singer)
    result = kiosk.wait_screen("result", timeout=30)
    assert {"Lin-Manuel Miranda", "工号 3001", "上班"} <= set(kiosk.texts())
    assert result.ids.photo.texture is not None  # his enrolled photo
    punch = store.query("SELECT * FROM punches WHERE employee_number = ?", (LIN["number"],))[-1]
    assert punch["method"] == "face" and punch["direction"] == "in" and 0.4 < punch["score"] < 1
    leave_doorway(kiosk)
    # in the evening, out by finger
    kiosk.terminal.hardware.clock.advance(9 * 3600)
    emulator.place_finger("lin-right-index")
    kiosk.wait_screen("result", timeout=10)
    emulator.lift_finger()
    assert {"Lin-Manuel Miranda", "下班"} <= set(kiosk.texts())
    assert store.query("SELECT method FROM punches WHERE employee_number = ? ORDER BY punched_at", (LIN["number"],))[-1] \
        == {"method": "finger"}


def test_an_admin_logs_in_with_his_face(kiosk, singer):
    from terminal.store.employees import update_employee

    update_employee(kiosk.terminal.store, LIN["number"], role="admin", actor="test")
    leave_doorway(kiosk)
    punches_before = kiosk.terminal.store.query_one("SELECT count(*) AS n FROM punches")["n"]
    kiosk.tap("admin")
    kiosk.wait_screen("admin_login")
    walk_up(kiosk, singer)
    kiosk.wait_screen("admin_menu", timeout=30)
    assert kiosk.app.admin["number"] == LIN["number"] and "管理 · Lin-Manuel Miranda" in kiosk.texts()
    login = kiosk.terminal.store.query("SELECT actor, details FROM audit_log WHERE action = 'admin.login'")[-1]
    assert login["actor"] == LIN["number"] and json.loads(login["details"]) == {"method": "face"}
    assert kiosk.terminal.store.query_one("SELECT count(*) AS n FROM punches")["n"] == punches_before
    kiosk.tap("leave")
    kiosk.wait_screen("idle")
