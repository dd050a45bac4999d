"""The descriptor network, the in-memory gallery and 1:N matching, on the real photos."""
from __future__ import annotations

import numpy as np
import pytest

from terminal.vision.gallery import FaceGallery, pairwise_distances
from terminal.vision.images import ImageError, decode_image, load_image
from terminal.vision.resnet import DescriptorNet, ModelFormatError


@pytest.fixture(scope="module")
def chips(analyzer, people_dir):
    found = []
    for path in sorted(people_dir.glob("*/*"))[::9]:
        face = analyzer.largest_face(load_image(path))
        found.append(face.aligned.chip)
    return np.array(found)


@pytest.mark.faces
@pytest.mark.parametrize("network", ["net", "opencv_net"])
def test_numpy_and_opencv_networks_give_dlibs_descriptors(models, chips, network):
    ours = getattr(models, network).compute(chips)
    theirs = np.array([models.dlib_net.compute_face_descriptor(c) for c in chips], np.float32)
    assert ours.shape == (len(chips), 128) and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < 1e-4


@pytest.mark.faces
def test_the_opencv_network_describes_one_chip_or_a_batch_alike_and_refuses_a_wrong_shape(models, chips):
    batch = models.opencv_net.compute(chips[:3])
    for i in range(3):
        assert np.abs(models.opencv_net.compute(chips[i]) - batch[i]).max() < 1e-5
    with pytest.raises(ValueError, match="150, 150, 3"):
        models.opencv_net.compute(np.zeros((1, 112, 112, 3), np.uint8))


def test_a_file_that_is_not_the_descriptor_model_is_refused(tmp_path):
    from terminal.vision.models import dlib_model_path

    bogus = tmp_path / "model.dat"
    bogus.write_bytes(b"\x01\x01\x05hello" + bytes(100))
    with pytest.raises(ModelFormatError):
        DescriptorNet.load(bogus)
    with pytest.raises(ModelFormatError):  # a real dlib model, but not this network
        DescriptorNet.load(dlib_model_path("mmod_human_face_detector.dat"))


def _unit(rng, n):
    v = rng.normal(size=(n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True) * 0.9


def test_gallery_matches_like_brute_force_and_applies_threshold_and_margin():
    rng = np.random.default_rng(1)
    templates = _unit(rng, 300)
    labels = [i // 3 for i in range(300)]  # 100 identities, 3 templates each
    gallery = FaceGallery(threshold=0.6, margin=0.05)
    for label, row in zip(labels, templates, strict=True):
        gallery.add(label, row)
    assert len(gallery) == 300 and gallery.identity_count == 100
    for i in (0, 50, 299):
        probe = templates[i] + rng.normal(scale=0.01, size=128).astype(np.float32)
        match = gallery.search(probe)
        brute = np.linalg.norm(templates - probe, axis=1)
        assert match.accepted and match.identity == labels[i]
        assert match.distance == pytest.approx(brute.min(), abs=1e-4)
        others = [d for d, lbl in zip(brute, labels, strict=True) if lbl != labels[i]]
        assert match.second_distance == pytest.approx(min(others), abs=1e-4)

    far = gallery.search(_unit(rng, 1)[0])
    assert not far.accepted and far.reason == "too_far" and far.identity is None

    # half-way between two identities: refused as ambiguous
    twin = FaceGallery(threshold=0.6, margin=0.05)
    twin.add("a", templates[0])
    twin.add("b", templates[0] + 0.01)
    ambiguous = twin.search(templates[0] + 0.005)
    assert not ambiguous.accepted and ambiguous.reason == "ambiguous"

    assert gallery.remove(labels[0]) == 3 and labels[0] not in gallery
    assert gallery.search(templates[0]).best_identity != labels[0]
    assert FaceGallery().search(templates[0]).reason == "empty_gallery"


def test_gallery_refuses_malformed_descriptors():
    gallery = FaceGallery()
    with pytest.raises(ValueError):
        gallery.add(1, np.zeros(127, np.float32))
    with pytest.raises(ValueError):
        gallery.add(1, np.full(128, np.nan, np.float32))


@pytest.mark.faces
def test_eval_faces_on_the_shared_people_meets_the_floors(people_dir, analyzer):
    from enrollment.face_eval import eval_faces

    result = eval_faces(people_dir, analyzer=analyzer)
    assert result["identities"] == 10 and result["probes"] == 59
    assert result["top1_accuracy"] >= 0.99
    assert result["false_accepts"] == 0 and result["false_accept_rate"] == 0.0
    assert result["impostor_probes"] == 69
    assert result["false_reject_rate"] <= 0.02
    assert result["max_genuine_distance"] < result["threshold"] < result["min_impostor_distance"]


@pytest.mark.faces
def test_pairwise_distances_agree_with_the_gallery(analyzer, people_dir):
    a = analyzer.largest_face(load_image(people_dir / "obama" / "obama.jpg")).descriptor
    b = analyzer.largest_face(load_image(people_dir / "obama" / "obama2.jpg")).descriptor
    c = analyzer.largest_face(load_image(people_dir / "biden" / "biden.jpg")).descriptor
    d = pairwise_distances([a], [b, c])[0]
    assert d[0] < 0.55 < d[1]


def test_unreadable_and_missing_images_are_reported_clearly(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    with pytest.raises(ImageError) as exc:
        load_image(broken)
    assert exc.value.reason == "unreadable" and "broken.jpg" in str(exc.value)
    with pytest.raises(ImageError) as exc:
        load_image(tmp_path / "nope.png")
    assert exc.value.reason == "missing"
    with pytest.raises(ImageError):
        decode_image(b"")
