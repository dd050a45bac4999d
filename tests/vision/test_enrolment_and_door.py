"""Face enrolment with quality gates, the seed-enroll face commands, and the path from camera to punch."""
from __future__ import annotations

import json
import threading

import cv2
import numpy as np
import pytest

from enrollment.cli import main
from enrollment.faces import EnrolmentSession, FaceEnroller, enrol_photos
from terminal.vision.images import load_image

pytestmark = pytest.mark.faces  # the real photos of ../shared/testdata/faces


@pytest.fixture(scope="module")
def enroller(models):
    with FaceEnroller(models) as face_enroller:
        yield face_enroller


OBAMA = ["obama/obama.jpg", "obama/obama2.jpg", "obama/obama3.jpg"]


def test_good_photos_pass_and_each_bad_shot_gets_its_reason(enroller, people_dir, faces_dir, tmp_path):
    good = enroller.check_file(people_dir / "obama" / "obama.jpg")
    assert good.ok and good.descriptor.shape == (128,) and good.quality > 0
    photo = load_image(people_dir / "obama" / "obama.jpg")
    cases = {
        "several_faces": load_image(faces_dir / "groups" / "kit_with_rose.jpg"),
        "no_face": load_image(faces_dir / "nonface" / "dogs.jpg"),
        "blurry": cv2.GaussianBlur(photo, (0, 0), 6),
        "too_dark": (photo * 0.2).astype(np.uint8),
        "face_too_small": cv2.resize(photo, None, fx=0.2, fy=0.2),
        "not_frontal": load_image(people_dir / "kit_harington" / "john2.jpeg"),
    }
    for reason, image in cases.items():
        check = enroller.check(image, reason)
        assert not check.ok and check.reason == reason, (reason, check)
        assert check.message.startswith(f"{reason}: ") and len(check.message) > len(reason) + 10
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG but not really")
    check = enroller.check_file(broken)
    assert not check.ok and check.reason == "unreadable" and "broken.png" in check.message


def test_a_live_session_takes_spaced_shots_and_refuses_another_person(enroller, faces_dir, people_dir):
    from terminal.vision.attacks import video_presentation

    clip = video_presentation(faces_dir / "video" / "short_hamilton_clip.mp4", max_frames=211)
    session = EnrolmentSession(enroller, min_shots=3, max_shots=5, min_interval_s=0.3)
    results = [session.offer_frame(frame, i / clip.fps) for i, frame in enumerate(clip.frames[146:211], start=146)]
    assert session.ready and len(session.shots) <= 5
    assert any(r.reason == "too_similar" for r in results)
    other = session.offer_frame(load_image(people_dir / "obama" / "obama.jpg"), 100.0)
    assert not other.ok and other.reason == "different_person"



def test_face_add_enrols_from_photos_and_refuses_duplicates_and_bad_sets(config_file, people_dir, capsys):
    from terminal.config import load_config
    from terminal.store.database import open_store

    assert main(["--config", config_file, "add", "1001", "Barack"]) == 0
    assert main(["--config", config_file, "add", "1002", "Someone Else"]) == 0
    photos = [str(people_dir / p) for p in OBAMA]
    capsys.readouterr()
    assert main(["--config", config_file, "face-add", "1001", *photos, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["templates"] == 3 and all(p["ok"] for p in report["photos"])

    # the same face under another number is refused, and nothing is written
    assert main(["--config", config_file, "face-add", "1002", *photos]) == 1
    err = capsys.readouterr().err
    assert "already enrolled for employee 1001" in err
    # too few usable photos: refused with each photo's reason
    bad = [str(people_dir / "kit_harington" / "john2.jpeg"), str(people_dir / "biden" / "biden.jpg")]
    assert main(["--config", config_file, "face-add", "1002", *bad]) == 1
    err = capsys.readouterr().err
    assert "1 of 2 photo(s) usable" in err and "not frontal" in err
    assert main(["--config", config_file, "face-add", "9999", *photos]) == 1
    assert "no employee 9999" in capsys.readouterr().err

    config = load_config(config_file)
    with open_store(config.storage) as store:
        counts = {r["number"]: r["n"] for r in store.query(
            "SELECT e.number, count(f.id) AS n FROM employees e LEFT JOIN face_templates f ON f.employee_id = e.id "
            "GROUP BY e.number")}
        assert counts == {"1001": 3, "1002": 0}
        events = store.query("SELECT kind, payload FROM events WHERE kind = 'enrol_duplicate_face'")
        assert len(events) == 1 and json.loads(events[0]["payload"])["matches"] == "1001"
        # re-enrolment replaces rather than piles up
        report = enrol_photos(store, "1001", [people_dir / p for p in OBAMA[:2]] + [people_dir / "obama" / "obama4.jpg"],
                              replace=True)
        assert report["templates"] == 3
        assert store.query_one("SELECT count(*) AS n FROM face_templates")["n"] == 3


def test_face_check_and_eval_commands_print_json(people_dir, groups_dir, tmp_path, capsys):
    assert main(["face-check", str(people_dir / "obama" / "obama.jpg"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["ok"] is True
    assert main(["count-faces", str(groups_dir / "t1.jpg"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {str(groups_dir / "t1.jpg"): 6}
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("a,b,same\nobama/obama.jpg,obama/obama2.jpg,1\nobama/obama.jpg,biden/biden.jpg,0\n")
    assert main(["eval-pairs", str(pairs), "--images", str(people_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pairs"] == 2 and result["accuracy"] == 1.0 and "eer_threshold" in result
    pairs.write_text("left,right\nx,y\n")
    assert main(["eval-pairs", str(pairs), "--images", str(people_dir)]) == 2
    assert "a,b,same" in capsys.readouterr().err
    assert main(["eval-faces", str(tmp_path)]) == 2
    assert "two person folders" in capsys.readouterr().err


@pytest.fixture
def punch_setup(store, sim_config):
    from terminal.hardware.clock import SimClock
    from terminal.punch import PunchService
    from terminal.store.employees import add_employee

    employee = add_employee(store, number="2001", name="Lin")
    return store, PunchService(store, sim_config, SimClock()), employee


def test_the_clip_played_by_the_simulated_camera_ends_in_one_face_punch(punch_setup, sim_config, faces_dir, models):
    from terminal.hardware.camera import SimCamera
    from terminal.vision.door import FaceDoor, FaceWorker
    from terminal.vision.gallery import FaceGallery
    from terminal.vision.recognizer import FaceRecognizer

    store, punches, employee = punch_setup
    enrol_photos(store, "2001", [faces_dir / "video" / "enrol_lin_manuel_miranda.png"], min_shots=1)
    # the clip cannot answer a prompted turn; a site allowing blinks (blink_or_turn) accepts it on its blink
    settings = sim_config.face.model_copy(update={"min_face_px": 60, "liveness": "blink_or_turn"})
    recognizer = FaceRecognizer(FaceGallery.from_store(store), settings, models=models)
    door = FaceDoor(store, punches=punches)
    camera = SimCamera(640, 480, fps=30, source=faces_dir / "video" / "short_hamilton_clip.mp4", loop=False,
                       realtime=False)
    worker = FaceWorker(camera, recognizer, door)
    seen = []
    worker.listeners.append(seen.append)
    stop = threading.Event()
    with camera:
        for _ in range(275):
            worker.step(stop)
    recognizer.close()
    rows = store.query("SELECT employee_id, method, score FROM punches")
    assert len(rows) == 1 and rows[0]["employee_id"] == employee["id"] and rows[0]["method"] == "face"
    assert 0.4 < rows[0]["score"] < 1.0
    kinds = [r["kind"] for r in store.query("SELECT kind FROM events")]
    assert "tailgating" in kinds and "spoof_suspected" not in kinds
    assert len(seen) == 275 and any(r.decision is not None for r in seen)


def test_refusals_become_events_and_feedback_never_punches(punch_setup, sim_config):
    from terminal.feedback import DoorFeedback
    from terminal.vision.door import FaceDoor
    from terminal.vision.recognizer import Decision

    store, punches, employee = punch_setup
    spoken = []

    class Speaker:  # the speaker simulator's interface: say(text, language)
        def say(self, text, language):
            spoken.append(text)

    door = FaceDoor(store, punches=punches, feedback=DoorFeedback(sim_config, None, Speaker()))
    assert door.handle(Decision("spoof_suspected", reasons=("border",), metrics={"parallax": 0.01})) is None
    assert door.handle(Decision("tailgating", face_count=3)) is None
    assert door.handle(Decision("unknown", distance=0.71, reasons=("too_far",), unknown_attempts=3,
                                offer_fallback=True)) is None
    events = {r["kind"]: json.loads(r["payload"]) for r in store.query("SELECT kind, payload FROM events")}
    assert events["spoof_suspected"]["reasons"] == ["border"]
    assert events["tailgating"]["count"] == 3
    assert events["unknown_face"] == {"attempts": 3, "nearest_distance": 0.71, "reason": "too_far",
                                      "fallback_offered": True, "elapsed_s": 0.0}
    assert store.query_one("SELECT count(*) AS n FROM outbox WHERE kind = 'event'")["n"] == 3
    assert store.query_one("SELECT count(*) AS n FROM punches")["n"] == 0
    assert spoken[:2] == ["Not live: please turn your head as the screen asks", "One at a time, please"]
    assert "Please use fingerprint, card or PIN" in spoken
    result = door.handle(Decision("accepted", employee_id=employee["id"], distance=0.4))
    assert result.accepted and result.punch["method"] == "face" and result.punch["score"] == pytest.approx(0.6)


def test_worker_reloads_the_gallery_when_templates_change_and_survives_a_lost_camera(punch_setup, sim_config, people_dir,
                                                                                    models):
    from terminal.hardware.camera import SimCamera
    from terminal.vision.door import FaceDoor, FaceWorker, gallery_signature
    from terminal.vision.gallery import FaceGallery
    from terminal.vision.recognizer import FaceRecognizer

    store, punches, employee = punch_setup
    recognizer = FaceRecognizer(FaceGallery.from_store(store), sim_config.face, models=models)
    camera = SimCamera(640, 480, fps=15, realtime=False)
    now = [0.0]
    worker = FaceWorker(camera, recognizer, FaceDoor(store, punches=punches), monotonic=lambda: now[0])
    stop = threading.Event()
    stop.set()  # no waiting between camera retries in the test
    with camera:
        assert worker.refresh_gallery(force=True) and len(recognizer.gallery) == 0
        before = gallery_signature(store)
        enrol_photos(store, "2001", [people_dir / p for p in OBAMA])
        assert gallery_signature(store) != before
        assert worker.refresh_gallery() is False and len(recognizer.gallery) == 0  # looked at most every 5 s
        now[0] += 6.0
        assert worker.refresh_gallery() and len(recognizer.gallery) == 3
        assert recognizer.gallery.identities == [employee["id"]]

        assert worker.step(stop).faces == []  # an empty doorway
        camera.disconnect("was unplugged")
        assert worker.step(stop) is None and worker.step(stop) is None
        assert worker.camera_error and "unplugged" in worker.camera_error
        events = store.query("SELECT kind, severity, payload FROM events WHERE kind = 'camera_gone'")
        assert len(events) == 1 and events[0]["severity"] == "error"  # reported once, not per frame
        camera.reconnect()
        assert worker.step(stop) is not None and worker.camera_error is None
    recognizer.close()


def _clip_camera(faces_dir):
    from terminal.hardware.camera import SimCamera

    return SimCamera(640, 480, fps=30, source=faces_dir / "video" / "short_hamilton_clip.mp4", loop=False, realtime=False)


def test_a_paused_worker_offers_every_frame_but_the_door_decides_nothing_until_resumed(punch_setup, sim_config, faces_dir,
                                                                                       models):
    from terminal.vision.door import FaceDoor, FaceWorker
    from terminal.vision.gallery import FaceGallery
    from terminal.vision.recognizer import FaceRecognizer

    store, punches, employee = punch_setup
    enrol_photos(store, "2001", [faces_dir / "video" / "enrol_lin_manuel_miranda.png"], min_shots=1)
    # the clip cannot answer a prompted turn; with blink_or_turn it punches on its blink
    settings = sim_config.face.model_copy(update={"min_face_px": 60, "liveness": "blink_or_turn"})
    recognizer = FaceRecognizer(FaceGallery.from_store(store), settings, models=models)
    camera = _clip_camera(faces_dir)
    worker = FaceWorker(camera, recognizer, FaceDoor(store, punches=punches))
    frames, results = [], []
    worker.add_frame_listener(frames.append)
    worker.listeners.append(results.append)
    stop = threading.Event()

    worker.pause()  # e.g. the admin enrols this person's face at the door
    assert worker.paused
    with camera:
        for _ in range(275):  # the whole clip that ends in a punch when the door is watching
            assert worker.step(stop) is None
    assert [f.index for f in frames] == list(range(275)) and all(f.image.shape == (480, 640, 3) for f in frames)
    assert results == [] and worker.last_result is None
    assert store.query_one("SELECT count(*) AS n FROM punches")["n"] == 0
    assert store.query_one("SELECT count(*) AS n FROM events")["n"] == 0

    worker.resume()
    assert not worker.paused
    frames.clear()
    camera = _clip_camera(faces_dir)
    worker.camera = camera
    with camera:
        for _ in range(275):
            worker.step(stop)
    recognizer.close()
    assert len(frames) == 275 and len(results) == 275
    rows = store.query("SELECT employee_id, method FROM punches")
    assert [(r["employee_id"], r["method"]) for r in rows] == [(employee["id"], "face")]


def test_a_reset_requested_from_another_thread_is_done_on_the_camera_thread(punch_setup, sim_config, models):
    from terminal.hardware.camera import SimCamera
    from terminal.vision.door import FaceDoor, FaceWorker
    from terminal.vision.gallery import FaceGallery
    from terminal.vision.recognizer import FaceRecognizer

    store, punches, _employee = punch_setup
    recognizer = FaceRecognizer(FaceGallery.from_store(store), sim_config.face, models=models)
    camera = SimCamera(640, 480, fps=15, realtime=False)
    worker = FaceWorker(camera, recognizer, FaceDoor(store, punches=punches))
    reset_on: list[str] = []
    done = threading.Event()
    original_reset = recognizer.reset

    def reset() -> None:  # records where the recognizer is reset, and resets it
        reset_on.append(threading.current_thread().name)
        original_reset()
        done.set()

    recognizer.reset = reset
    with camera:
        worker.start()
        try:
            worker.request_reset()
            assert done.wait(10)
            done.clear()
            worker.pause()  # pausing drops the approach in progress the same way
            assert done.wait(10)
        finally:
            worker.stop()
    assert reset_on == ["seed-face", "seed-face"]


def test_frame_listeners_get_each_frame_read_until_removed(punch_setup, sim_config, models):
    from terminal.hardware.camera import SimCamera
    from terminal.vision.door import FaceDoor, FaceWorker
    from terminal.vision.gallery import FaceGallery
    from terminal.vision.recognizer import FaceRecognizer

    store, punches, _employee = punch_setup
    recognizer = FaceRecognizer(FaceGallery.from_store(store), sim_config.face, models=models)
    camera = SimCamera(640, 480, fps=15, realtime=False)
    worker = FaceWorker(camera, recognizer, FaceDoor(store, punches=punches))
    seen, also_seen = [], []

    def broken(_frame) -> None:
        raise RuntimeError("a listener that fails")

    worker.add_frame_listener(broken)  # logged, and the others still get the frame
    worker.add_frame_listener(seen.append)
    worker.add_frame_listener(also_seen.append)
    stop = threading.Event()
    with camera:
        results = [worker.step(stop) for _ in range(3)]
        worker.remove_frame_listener(seen.append)
        worker.remove_frame_listener(broken)
        results.append(worker.step(stop))
    recognizer.close()
    assert [f.index for f in seen] == [0, 1, 2]
    assert [f.index for f in also_seen] == [0, 1, 2, 3]
    assert all(r is not None and r.faces == [] for r in results)  # recognition went on as usual
