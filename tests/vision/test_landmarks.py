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
    errors, yaws, pitches, ears, disagree = [], [], [], [], 0
    for image, box in pairs:
        reference = graph.landmarks(image, box)
        ours = litert.landmarks(image, box)
        if (ours is None) != (reference is None):
            # only at the presence threshold: a face turned so far (~50 degrees) that the model is unsure
            seen = ours or reference
            assert seen is not None and abs(seen.yaw) > 35
            disagree += 1
            continue
        if ours is None or reference is None:
            continue
        assert ours.points.shape == reference.points.shape == (468, 3)
        errors.append(float(np.abs(ours.points - reference.points).max() / reference.eye_distance))
        yaws.append(abs(ours.yaw - reference.yaw))
        pitches.append(abs(ours.pitch - reference.pitch))
        ears.append(abs(ours.ear - reference.ear))
    assert len(errors) >= 60 and disagree <= 2
    # measured: every coordinate within 0.45 px (the graph samples the model's input from its 256 px crop,
    # this path from the frame itself)
    assert max(errors) < 0.05 and np.median(errors) < 0.02
    assert max(yaws) < 1.0 and max(pitches) < 1.0 and max(ears) < 0.02


def test_a_turning_head_gives_the_graphs_yaw_frame_by_frame(meshes, clip_frames):
    """The turn the door asks for is read from the yaw: the same degrees as the graph's, both ways."""
    litert, graph = meshes
    frames = clip_frames[82:211:2]
    answers = challenge_answers(clip_poses(frames), 15.0)
    start, end, _ = answers.turns["right"]
    for mirrored in (False, True):
        stretch = frames[answers.rest[0]:end]
        if mirrored:
            stretch = [np.ascontiguousarray(frame[:, ::-1]) for frame in stretch]
        ours, theirs = [], []
        for frame, box in _faces(stretch):
            a, b = litert.landmarks(frame, box), graph.landmarks(frame, box)
            assert a is not None and b is not None
            ours.append(a.yaw)
            theirs.append(b.yaw)
        assert len(ours) >= len(stretch) - 1
        assert abs(ours[-1] - ours[0]) >= 15  # the turn is seen in full
        assert max(abs(x - y) for x, y in zip(ours, theirs, strict=True)) < 1.0


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


def test_the_graphs_first_face_prints_nothing_on_stderr(people_dir):
    """mediapipe's graph warns on stderr at its first face (a projection it does not need for a square crop): a
    newcomer saw it in the middle of `make demo`'s story. The mesh's points still come."""
    import subprocess
    import sys

    photo = sorted(people_dir.glob("*/*.jpg"))[0]
    script = ("import sys\n"
              "from terminal.vision.images import load_image\n"
              "from terminal.vision.detection import FaceDetector\n"
              "from terminal.vision.landmarks import FaceMesh\n"
              f"image = load_image({str(photo)!r})\n"
              "box = FaceDetector('full').detect(image)[0]\n"
              "with FaceMesh(refine=True) as mesh:\n"
              "    print(sum(mesh.landmarks(image, box) is not None for _ in range(3)))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"
    assert done.stderr == ""
