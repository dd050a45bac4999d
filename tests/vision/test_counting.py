"""Anti-tailgating counter on the shared group photos with ground-truth face boxes."""
from __future__ import annotations

import pytest

from enrollment.face_eval import match_boxes, read_face_boxes
from terminal.vision.images import load_image

pytestmark = pytest.mark.faces  # the real photos of ../shared/testdata/faces


def test_counter_finds_the_ground_truth_faces_with_few_false_ones(groups_dir, counter):
    truth = read_face_boxes([groups_dir / "training.xml", groups_dir / "testing.xml"])
    assert sum(len(b) for b in truth.values()) == 43
    found = total = 0
    for file, boxes in truth.items():
        faces = [f.box for f in counter.faces(load_image(groups_dir / file), min_face_px=30) if f.eyes_visible]
        matched = match_boxes(faces, boxes)
        total += len(boxes)
        found += matched
        assert len(faces) - matched <= 1, f"{file}: {len(faces) - matched} false faces"
    assert found / total >= 0.95


@pytest.mark.parametrize("file,expected", [
    ("two_people.jpg", 2), ("obama_and_biden.jpg", 2), ("kit_with_rose.jpg", 2), ("t1.jpg", 6)])
def test_count_faces_on_the_known_photos(groups_dir, counter, file, expected):
    from enrollment.face_eval import count_faces

    counts, problems = count_faces([groups_dir / file], counter=counter)
    assert problems == {}
    assert counts[str(groups_dir / file)] == expected


def test_no_faces_on_a_photo_of_dogs_and_a_bad_file_is_reported(faces_dir, counter, tmp_path):
    from enrollment.face_eval import count_faces

    bad = tmp_path / "bad.jpg"
    bad.write_text("this is text")
    counts, problems = count_faces([faces_dir / "nonface" / "dogs.jpg", bad], counter=counter)
    assert counts == {str(faces_dir / "nonface" / "dogs.jpg"): 0}
    assert "not an image" in problems[str(bad)]


def test_capture_zone_and_minimum_size_limit_what_counts(groups_dir, counter):
    image = load_image(groups_dir / "two_people.jpg")
    everything = counter.faces(image, min_face_px=30)
    assert len(everything) == 2
    left_face = min(everything, key=lambda f: f.box.center[0])
    zone_right = (left_face.box.center[0] / image.shape[1] + 0.05, 0.0, 1.0, 1.0)
    assert counter.count(image, min_face_px=30, zone=zone_right) == 1
    assert counter.count(image, min_face_px=2 * max(f.box.size for f in everything)) == 0
