"""The door pipeline on real frames: the live clip is accepted, attacks from photos are refused."""
from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

from terminal.config import FaceSettings
from terminal.vision.attacks import (
    ATTACK_KINDS,
    Presentation,
    challenge_answers,
    clip_poses,
    compose_attack,
    iso_rates,
    play,
    play_answering,
    video_presentation,
)
from terminal.vision.gallery import FaceGallery
from terminal.vision.images import load_image
from terminal.vision.recognizer import FaceRecognizer

pytestmark = pytest.mark.faces  # the real photos of ../shared/testdata/faces

LIN = 100  # employee id given to the man in the clip


@pytest.fixture(scope="module")
def clip(faces_dir):
    return video_presentation(faces_dir / "video" / "short_hamilton_clip.mp4", subject="lin_manuel_miranda")


@pytest.fixture(scope="module")
def singer(clip):
    """The part of the clip where the singer faces the camera, at the terminal's 15 fps."""
    return Presentation("bona_fide", clip.subject, clip.frames[82:211:2], clip.fps / 2, "singer, 15 fps")


@pytest.fixture(scope="module")
def gallery(analyzer, faces_dir, people_dir):
    gallery = FaceGallery()
    gallery.add(LIN, analyzer.largest_face(load_image(faces_dir / "video" / "enrol_lin_manuel_miranda.png")).descriptor)
    for number, person in enumerate(sorted(p for p in people_dir.iterdir() if p.is_dir()), start=1):
        first = sorted(person.iterdir())[0]
        gallery.add(number, analyzer.largest_face(load_image(first)).descriptor)
    return gallery


def _settings(**overrides):
    values = {"min_face_px": 60, "window_s": 2.0, "turn_challenge_s": 2.0}
    values.update(overrides)
    return FaceSettings(**values)


def _recognizer(models, gallery, **overrides):
    return FaceRecognizer(gallery, _settings(**overrides), models=models, rng=random.Random(3))


def test_the_real_clip_is_accepted_as_the_enrolled_man_on_a_blink_where_a_site_allows_blinks(models, gallery, clip):
    # face.liveness = "blink_or_turn": the singer's blink is evidence (a replayed video would blink too: the
    # default "challenge" is tested in test_replay.py)
    with _recognizer(models, gallery, liveness="blink_or_turn") as recognizer:
        decisions = play(recognizer, clip)
    accepted = [d for d in decisions if d.outcome == "accepted"]
    assert [d.employee_id for d in accepted] == [LIN]
    assert accepted[0].liveness == "blink"
    assert accepted[0].distance < gallery.threshold
    assert accepted[0].score == pytest.approx(1 - accepted[0].distance, abs=1e-4)
    assert accepted[0].event() is None
    # the audience shots hold several faces at once: tailgating, never a punch
    assert any(d.outcome == "tailgating" and d.face_count >= 2 for d in decisions)
    assert not any(d.outcome == "spoof_suspected" for d in decisions)


@pytest.fixture(scope="module")
def attack_photos(analyzer, faces_dir):
    names = ["people/obama/obama.jpg", "video/enrol_lin_manuel_miranda.png", "people/John_Simm/000288_00470387.jpg"]
    photos = []
    for name in names:
        image = load_image(faces_dir / name)
        photos.append((name, image, analyzer.detect(image)[0]))
    return photos


def test_attacks_from_still_photos_are_all_refused_as_spoofs(models, gallery, attack_photos, singer):
    settings = _settings()
    results = []
    for seed, (name, photo, box) in enumerate(attack_photos):
        for kind in ATTACK_KINDS:
            attack = compose_attack(photo, box, kind, seconds=3.0, fps=15, seed=seed, subject=name)
            with FaceRecognizer(gallery, settings, models=models, rng=random.Random(seed)) as recognizer:
                decisions = play(recognizer, attack, hold_for_s=settings.window_s + settings.turn_challenge_s + 1)
            assert [d.outcome for d in decisions] == ["spoof_suspected"], (name, kind, decisions)
            event = decisions[0].event()
            assert event[0] == "spoof_suspected" and event[1]["reasons"]
            if kind == "framed" or "enrol" in name:  # the print's edge is in view
                assert "border" in decisions[0].reasons or "no_turn" in decisions[0].reasons
            if kind == "still":
                assert set(decisions[0].reasons) & {"no_motion", "border"}
            results.append((attack, False))
    with _recognizer(models, gallery) as recognizer:  # a live man answers the challenge he is asked
        live = play_answering(recognizer, singer, challenge_answers(clip_poses(singer.frames), singer.fps))
    results.append((singer, any(d.outcome == "accepted" for d in live)))
    rates = iso_rates(results)
    assert rates["apcer"] == {"still": 0.0, "handheld": 0.0, "framed": 0.0}
    assert rates["bpcer"] == 0.0


def test_head_turn_challenge_passes_only_in_the_asked_direction(models, gallery, clip):
    # from frame 88 the singer keeps his eyes open, then turns to his right (the image's left), whatever is asked
    turning = Presentation("bona_fide", clip.subject, clip.frames[88:131], clip.fps)
    asked = {}
    for seed in range(6):
        settings = _settings(liveness="turn", turn_challenge_s=1.4)
        with FaceRecognizer(gallery, settings, models=models, rng=random.Random(seed)) as recognizer:
            decisions = play(recognizer, turning)
        assert len(decisions) == 1, decisions
        direction = decisions[0].metrics["challenge"]
        asked[direction] = decisions[0]
        if direction == "right":
            assert decisions[0].outcome == "accepted" and decisions[0].liveness == "turn"
            assert decisions[0].employee_id == LIN
        else:  # turning the other way fails the challenge at once
            assert decisions[0].outcome == "spoof_suspected" and decisions[0].reasons == ("wrong_turn",)
    assert set(asked) == {"left", "right"}


def test_unknown_face_is_refused_and_fallback_offered_after_repeated_attempts(models, analyzer, people_dir, singer):
    strangers = FaceGallery()
    strangers.add(1, analyzer.largest_face(load_image(people_dir / "obama" / "obama.jpg")).descriptor)
    strangers.add(2, analyzer.largest_face(load_image(people_dir / "biden" / "biden.jpg")).descriptor)
    settings = _settings(unknown_attempts_before_fallback=2, liveness="blink_or_turn")
    with FaceRecognizer(strangers, settings, models=models) as recognizer:
        first = play(recognizer, singer)
        # the person steps away for a second and tries again
        away = Presentation("bona_fide", "", [np.zeros((360, 640, 3), np.uint8)] * 15, 15.0)
        assert play(recognizer, away, start=10.0) == [] and recognizer.state == "idle"
        second = play(recognizer, singer, start=12.0)
    assert [d.outcome for d in first] == ["unknown"] and not first[0].offer_fallback
    assert [d.outcome for d in second] == ["unknown"] and second[0].offer_fallback
    kind, payload = second[0].event()
    assert kind == "unknown_face" and payload["attempts"] == 2 and payload["fallback_offered"] is True
    assert payload["nearest_distance"] > strangers.threshold
    assert second[0].refusal_key == "not_recognised"


def test_two_people_in_the_zone_is_tailgating_and_never_identified(models, gallery, groups_dir):
    photo = load_image(groups_dir / "two_people.jpg")
    frame = cv2.resize(photo, (640, 384))
    frame = cv2.copyMakeBorder(frame, 48, 48, 0, 0, cv2.BORDER_CONSTANT)
    # the two people sway (2 px a frame): a still photo of two faces is a poster to the counter
    frames = [np.clip(np.roll(frame, 2 * i, axis=1).astype(np.int16)
                      + np.random.default_rng(i).integers(-3, 4, frame.shape), 0, 255).astype(np.uint8) for i in range(10)]
    with _recognizer(models, gallery, min_face_px=50, tailgate_min_face_px=40, zone=(0.0, 0.0, 1.0, 1.0)) as recognizer:
        decisions = play(recognizer, Presentation("bona_fide", "two", frames, 15.0))
    assert [d.outcome for d in decisions] == ["tailgating"]
    assert decisions[0].face_count == 2 and decisions[0].employee_id is None
    assert decisions[0].event() == ("tailgating", {"count": 2, "elapsed_s": pytest.approx(decisions[0].elapsed_s, abs=0.01)})


def _cut_at_the_right_edge(singer, people_dir):
    """The singer with a second person behind him, about 55 % of whose face the frame's right edge shows."""
    from enrollment.count_eval import face_region, paste
    from terminal.vision.detection import FaceDetector

    photo = load_image(people_dir / "obama" / "obama.jpg")
    with FaceDetector("full") as detector:
        region = face_region(photo, detector.detect(photo)[0], 100)  # the face spans x 50..150 of the region
    frames = []
    for i, frame in enumerate(singer.frames[:20]):
        frame = cv2.copyMakeBorder(frame, 60, 60, 0, 0, cv2.BORDER_CONSTANT)  # 640x480, as the door's camera
        # the second person moves a few px a frame, as people do
        frames.append(paste(frame, region, 640 - 105 + 3 * (i % 4), 110 + 2 * (i % 3)))
    return Presentation("bona_fide", "two, one cut", frames, singer.fps)


def test_a_second_person_cut_by_the_frames_edge_is_tailgating_and_one_person_alone_is_not(models, gallery, singer,
                                                                                          people_dir):
    cut = _cut_at_the_right_edge(singer, people_dir)
    with _recognizer(models, gallery, liveness="off") as recognizer:
        decisions = play(recognizer, cut)
    assert decisions and decisions[0].outcome == "tailgating" and decisions[0].face_count == 2, decisions
    # the capture zone alone (the face's centre is outside it) would have let him through
    with _recognizer(models, gallery, liveness="off", tailgate_zone=(0.1, 0.0, 0.9, 1.0)) as recognizer:
        assert [d.outcome for d in play(recognizer, cut)][:1] == ["accepted"]
    # the singer alone, with the whole frame counted: accepted, never tailgating
    alone = Presentation("bona_fide", "alone", [cv2.copyMakeBorder(f, 60, 60, 0, 0, cv2.BORDER_CONSTANT)
                                                for f in singer.frames[:20]], singer.fps)
    with _recognizer(models, gallery, liveness="off") as recognizer:
        decisions = play(recognizer, alone)
    assert [d.outcome for d in decisions][:1] == ["accepted"] and decisions[0].employee_id == LIN
    assert not any(d.outcome == "tailgating" for d in decisions)


def test_guidance_for_a_small_a_dark_and_a_turned_face(models, gallery, singer, clip):
    with _recognizer(models, gallery) as recognizer:
        small = cv2.resize(singer.frames[30], (320, 180))
        result = recognizer.process(cv2.copyMakeBorder(small, 150, 150, 160, 160, cv2.BORDER_CONSTANT), 0.0)
        assert result.guidance.code == "move_closer" and result.decision is None and result.state == "idle"
    with _recognizer(models, gallery) as recognizer:
        dark = (singer.frames[30].astype(np.float32) * 0.25).astype(np.uint8)
        assert recognizer.process(dark, 0.0).guidance.code == "too_dark"
    with _recognizer(models, gallery) as recognizer:
        # the singer turned about 30 degrees away (the door's limit is 25)
        assert recognizer.process(clip.frames[208], 0.0).guidance.code == "look_at_camera"


def test_a_bad_frame_is_refused_clearly(models, gallery):
    from terminal.vision.images import ImageError

    with _recognizer(models, gallery) as recognizer:
        with pytest.raises(ImageError):
            recognizer.process(np.zeros((4, 4), np.float32), 0.0)
        assert recognizer.process(np.zeros((480, 640, 3), np.uint8), 0.0).faces == []
