"""The face mesh run directly with LiteRT gives the points mediapipe's graph gives, and follows a turning head."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from terminal.vision.attacks import challenge_answers, clip_poses, letterbox, video_presentation
from terminal.vision.detection import FaceDetector
from terminal.vision.images import load_image
from terminal.vision.landmarks import FaceMesh

FRAME = (640, 480)


@pytest.fixture(scope="module")
def clip_frames(faces_dir: Path) -> list[np.ndarray]:
    clip = video_presentation(faces_dir / "video" / "short_hamilton_clip.mp4")
    return [letterbox(frame, FRAME) for frame in clip.frames]


@pytest.fixture(scope="module")
def meshes():
    with FaceMesh(refine=False) as litert, FaceMesh(refine=False, backend="mediapipe") as graph:
        yield litert, graph


def _faces(images: list[np.ndarray]) -> list[tuple[np.ndarray, object]]:
    with FaceDetector("full") as detector:
        found = [(image, detector.detect(image)) for image in images]
    return [(image, boxes[0]) for image, boxes in found if boxes]


def test_litert_gives_the_points_of_mediapipes_graph(meshes, clip_frames, people_dir):
    litert, graph = meshes
    photos = [load_image(path) for path in sorted(people_dir.glob("*/*.jpg"))[:40]]
    pairs = _faces(clip_frames[::6] + photos)
    assert len(pairs) >= 60
    errors, yaws, pitches, ears, missed = [], [], [], [], 0
    for image, box in pairs:
        reference = graph.landmarks(image, box)
        if reference is None:
            continue
        ours = litert.landmarks(image, box)
        if ours is None:
            missed += 1
            assert abs(reference.yaw) > 35, "a face mediapipe sees nearly frontal must be seen"
            continue
        assert ours.points.shape == reference.points.shape == (468, 3)
        errors.append(float(np.linalg.norm(ours.points[:, :2] - reference.points[:, :2], axis=1).mean()
                            / reference.eye_distance))
        yaws.append(abs(ours.yaw - reference.yaw))
        pitches.append(abs(ours.pitch - reference.pitch))
        ears.append(abs(ours.ear - reference.ear))
    assert missed <= 0.1 * len(pairs)
    # measured: median 0.02 of the eye distance, 95 % within 0.05; yaw 0.9 degrees, pitch 1.0, EAR 0.02
    assert np.median(errors) < 0.03 and np.percentile(errors, 90) < 0.07
    assert np.median(yaws) < 1.5 and np.median(pitches) < 2.0 and np.median(ears) < 0.03


def test_tracking_from_the_last_points_follows_a_turn_seen_every_second_frame(meshes, clip_frames):
    """As on the low-power profile: no detector between, the region drawn around the previous frame's points."""
    litert, graph = meshes
    frames = clip_frames[82:211:2]
    answers = challenge_answers(clip_poses(frames), 15.0)
    start, end, _ = answers.turns["right"]
    stretch = frames[answers.rest[0]:end:2]
    (first, box), = _faces(stretch[:1])
    previous = litert.landmarks(first, box)
    assert previous is not None
    tracked, detected = [previous.yaw], [previous.yaw]
    with FaceDetector("full") as detector:
        for frame in stretch[1:]:
            previous = litert.landmarks(frame, box, previous=previous)
            assert previous is not None, "the face was lost while it turned"
            reference = graph.landmarks(frame, detector.detect(frame)[0])
            assert reference is not None
            tracked.append(previous.yaw)
            detected.append(reference.yaw)
    assert abs(tracked[-1] - tracked[0]) >= 15  # the turn is seen in full
    assert max(abs(a - b) for a, b in zip(tracked, detected, strict=True)) < 5.0


def test_no_face_no_points_and_iris_refinement_stays_on_mediapipe(meshes, clip_frames):
    litert, _ = meshes
    (frame, box), = _faces(clip_frames[100:101])
    assert litert.landmarks(np.zeros_like(frame), box) is None  # a black frame: the model sees no face
    with pytest.raises(ValueError, match="iris refinement"):
        FaceMesh(refine=True, backend="litert")
    closed = FaceMesh(refine=False)
    closed.close()
    with pytest.raises(RuntimeError, match="closed"):
        closed.landmarks(frame, box)
