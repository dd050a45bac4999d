"""True accept rate at fixed false accept rates, the evaluation commands' new keys, and flip-averaged descriptors."""
from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from enrollment.face_eval import EvaluationError, folder_pairs, tar_at_far

# -- tar_at_far on hand-made distances ----------------------------------------------------------


def test_tar_at_far_on_hand_made_distances():
    genuine = [0.30, 0.40, 0.50, 0.60]
    impostor = [0.45, 0.70, 0.80, 0.90]
    zero, quarter, half = tar_at_far(genuine, impostor, [0.0, 0.25, 0.5])
    # no impostor may pass: the threshold stays below 0.45, which 0.30 and 0.40 are
    assert zero == {"far": 0.0, "tar": 0.5, "threshold": 0.4, "limit": 0.45, "measured_far": 0.0}
    # one impostor of four may pass (0.45): below 0.70 every genuine distance is accepted
    assert quarter == {"far": 0.25, "tar": 1.0, "threshold": 0.6, "limit": 0.7, "measured_far": 0.25}
    # two may pass, but no genuine distance is left to gain: the threshold stays at the largest genuine one
    assert half["tar"] == 1.0 and half["threshold"] == 0.6 and half["limit"] == 0.8 and half["measured_far"] == 0.25


def test_tar_at_far_rounds_the_allowed_false_accepts_down():
    genuine = [0.1, 0.2, 0.3, 0.4, 0.5]
    impostor = [0.15, 0.25, 0.35] + [0.9] * 997  # 1000 impostors
    rows = {r["far"]: r for r in tar_at_far(genuine, impostor)}
    assert rows[0.0]["tar"] == 0.2 and rows[0.0]["threshold"] == 0.1  # below 0.15
    assert rows[0.001]["tar"] == 0.4 and rows[0.001]["threshold"] == 0.2  # one allowed: below 0.25
    assert rows[0.001]["measured_far"] == 0.001
    assert rows[0.01]["tar"] == 1.0 and rows[0.01]["limit"] == 0.9  # ten allowed: only 0.9s are left
    assert rows[0.01]["measured_far"] == 0.003


def test_tar_at_far_ties_and_missing_faces():
    # a genuine distance equal to the first impostor's cannot be accepted without accepting the impostor
    assert tar_at_far([0.5, 0.5, 0.2], [0.5], [0.0])[0]["tar"] == pytest.approx(1 / 3, abs=1e-4)
    # no face found (inf) is never accepted; nothing below the limit gives no threshold
    row = tar_at_far([math.inf, 0.7], [0.6], [0.0])[0]
    assert row["tar"] == 0.0 and row["threshold"] is None and row["limit"] == 0.6
    # without impostors every finite genuine distance counts
    row = tar_at_far([0.3, math.inf], [], [0.0])[0]
    assert row["tar"] == 0.5 and row["limit"] is None and row["threshold"] == 0.3
    with pytest.raises(ValueError):
        tar_at_far([0.3], [0.4], [1.5])


# -- the pairs file of a people folder -----------------------------------------------------------


def test_folder_pairs_lists_every_pair_once(tmp_path):
    root = tmp_path / "people"
    sizes = {"ann": 3, "bo": 2, "cy": 1}
    for person, n in sizes.items():
        (root / person).mkdir(parents=True)
        for i in range(n):
            (root / person / f"{i}.jpg").write_bytes(b"x")
    pairs_csv, images = folder_pairs(root, tmp_path / "out")
    rows = pairs_csv.read_text().splitlines()
    assert rows[0] == "a,b,same"
    body = [r.split(",") for r in rows[1:]]
    assert len(body) == 15  # 6 images: 6*5/2
    assert sum(r[2] == "1" for r in body) == 3 + 1  # ann: 3 pairs, bo: 1
    assert len({frozenset(r[:2]) for r in body}) == 15
    assert sorted(p.name for p in images.iterdir())[:2] == ["ann__0.jpg", "ann__1.jpg"]
    with pytest.raises(EvaluationError):
        folder_pairs(root / "ann", tmp_path / "out2")


def test_eval_faces_needs_at_least_one_enrolled_image(tmp_path):
    from enrollment.face_eval import eval_faces

    with pytest.raises(EvaluationError, match="enrol"):
        eval_faces(tmp_path, enrol=0)


# -- the commands on real photos -----------------------------------------------------------------


@pytest.fixture(scope="module")
def small_people(people_dir, tmp_path_factory) -> Path:
    """Three people, three photos each (a subset of the shared people folder, linked)."""
    root = tmp_path_factory.mktemp("small") / "people"
    for person in ("John_Salley", "John_Simm", "obama"):
        (root / person).mkdir(parents=True)
        for path in sorted((people_dir / person).iterdir())[:3]:
            (root / person / path.name).symlink_to(path)
    return root


def _run(argv: list[str], capsys) -> dict:
    from enrollment.cli import main

    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _check_tar_rows(rows: list[dict]) -> None:
    assert [r["far"] for r in rows] == [0.0, 0.001, 0.01]
    for row in rows:
        assert 0 <= row["tar"] <= 1 and row["measured_far"] <= row["far"]
    assert rows[0]["tar"] <= rows[1]["tar"] <= rows[2]["tar"]


@pytest.mark.faces
def test_eval_commands_print_tar_at_far_and_keep_their_keys(small_people, tmp_path, capsys):
    faces = _run(["eval-faces", str(small_people), "--enrol", "2", "--json"], capsys)
    for key in ("top1_accuracy", "false_reject_rate", "false_accept_rate", "false_accepts", "problems",
                "median_ms_per_probe", "max_genuine_distance", "min_impostor_distance", "probes"):
        assert key in faces
    assert faces["enrolled_per_person"] == 2 and faces["probes"] == 3  # one image left per person
    assert faces["flip_average"] is True
    _check_tar_rows(faces["tar_at_far"])

    made = _run(["make-pairs", str(small_people), str(tmp_path / "pairs"), "--json"], capsys)
    pairs = _run(["eval-pairs", made["pairs"], "--images", made["images"], "--no-flip", "--json"], capsys)
    assert pairs["pairs"] == 36 and pairs["same_pairs"] == 9 and pairs["different_pairs"] == 27
    assert pairs["flip_average"] is False
    _check_tar_rows(pairs["tar_at_far"])
    zero = pairs["tar_at_far"][0]
    if zero["threshold"] is not None:
        assert zero["threshold"] < pairs["min_different_distance"]


# -- flip-averaged descriptors against plain ones, on all pairs of the people photos --------------


@pytest.fixture(scope="module")
def people_chips(analyzer, people_dir):
    from terminal.vision.images import load_image

    names, chips = [], []
    for path in sorted(people_dir.glob("*/*")):
        image = load_image(path)
        boxes = analyzer.detect(image)
        assert boxes, path
        rgb = image[:, :, ::-1].copy()
        names.append(path.parent.name)
        chips.append(analyzer.encoder.align(rgb, boxes[0]).chip)  # aligned only: the test describes them
    return np.array(names), np.array(chips)


def _pair_distances(a: np.ndarray, b: np.ndarray, names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) distances between a[i] and b[j] over all pairs i < j."""
    pairs = list(itertools.combinations(range(len(names)), 2))
    d = np.array([np.linalg.norm(a[i] - b[j]) for i, j in pairs])
    same = np.array([names[i] == names[j] for i, j in pairs])
    return d[same], d[~same]


@pytest.mark.faces
def test_flip_averaged_descriptors_separate_people_at_least_as_well(models, people_chips):
    from terminal.vision.descriptor import FaceEncoder

    names, chips = people_chips
    plain = FaceEncoder(models, flip_average=False).describe_chips(chips)
    flipped = FaceEncoder(models, flip_average=True).describe_chips(chips)
    mirrored = FaceEncoder(models, flip_average=False).describe_chips(chips[:2, :, ::-1])
    assert np.allclose(flipped[:2], (plain[:2] + mirrored) / 2, atol=1e-5)

    g_plain, i_plain = _pair_distances(plain, plain, names)
    g_flip, i_flip = _pair_distances(flipped, flipped, names)
    assert len(g_plain) > 250 and len(i_plain) > 2000
    tar_plain = tar_at_far(g_plain, i_plain, [0.0])[0]["tar"]
    tar_flip = tar_at_far(g_flip, i_flip, [0.0])[0]["tar"]
    assert tar_flip >= tar_plain
    # the gap between the worst genuine pair and the closest impostor pair widens
    assert i_flip.min() - g_flip.max() > i_plain.min() - g_plain.max()

    # templates enrolled before (plain) against new probes (flip-averaged) keep working
    assert np.linalg.norm(plain - flipped, axis=1).max() < 0.25
    g_cross, i_cross = _pair_distances(plain, flipped, names)
    assert tar_at_far(g_cross, i_cross, [0.0])[0]["tar"] >= tar_plain


# -- flip-averaged templates against plain probes (--probe-no-flip: the low_power profile's matching) ---------


def _run_exit(argv: list[str], capsys) -> tuple[int, str, str]:
    from enrollment.cli import main

    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.faces
def test_probe_no_flip_measures_flip_averaged_templates_against_plain_probes(small_people, tmp_path, capsys, models):
    from terminal.vision.images import load_image
    from terminal.vision.photos import PhotoAnalyzer

    made = _run(["make-pairs", str(small_people), str(tmp_path / "pairs"), "--json"], capsys)
    base = ["eval-pairs", made["pairs"], "--images", made["images"], "--json"]
    flipped = _run(base, capsys)
    plain = _run([*base, "--no-flip"], capsys)
    mixed = _run([*base, "--probe-no-flip"], capsys)

    assert (mixed["flip_average"], mixed["probe_flip_average"]) == (True, False)
    assert (flipped["flip_average"], flipped["probe_flip_average"]) == (True, True)
    assert (plain["flip_average"], plain["probe_flip_average"]) == (False, False)
    # both orders of each of the 36 pairs
    assert mixed["pairs"] == 36 and mixed["comparisons"] == 72
    assert mixed["same_pairs"] == 18 and mixed["different_pairs"] == 54
    assert flipped["comparisons"] == plain["comparisons"] == 36
    _check_tar_rows(mixed["tar_at_far"])
    for key in ("max_same_distance", "min_different_distance"):
        assert mixed[key] not in (flipped[key], plain[key]), key

    # the same figures from descriptors made here: the template flip-averaged, the probe with one pass
    images = Path(made["images"])
    names = sorted(p.name for p in images.iterdir())
    described = {}
    for flip in (True, False):
        with PhotoAnalyzer(models, flip_average=flip) as photo_analyzer:
            described[flip] = {n: photo_analyzer.largest_face(load_image(images / n)).descriptor for n in names}
    same, different = [], []
    for a, b in itertools.permutations(names, 2):
        distance = float(np.linalg.norm(described[True][a] - described[False][b]))
        (same if a.split("__")[0] == b.split("__")[0] else different).append(distance)
    assert len(same) == 18 and len(different) == 54
    assert mixed["max_same_distance"] == round(max(same), 4)
    assert mixed["min_different_distance"] == round(min(different), 4)
    assert mixed["true_accepts"] == sum(d <= mixed["threshold"] for d in same)
    assert mixed["tar_at_far"] == tar_at_far(same, different)

    # eval-faces: enrolled images flip-averaged, probes plain
    faces = _run(["eval-faces", str(small_people), "--enrol", "2", "--probe-no-flip", "--json"], capsys)
    assert (faces["flip_average"], faces["probe_flip_average"]) == (True, False)
    assert faces["probes"] == 3 and faces["impostor_probes"] == 9
    _check_tar_rows(faces["tar_at_far"])
    by_person = {}
    for n in names:
        by_person.setdefault(n.split("__")[0], []).append(n)
    genuine = [min(np.linalg.norm(described[True][t] - described[False][shots[2]]) for t in shots[:2])
               for shots in by_person.values()]
    assert faces["max_genuine_distance"] == round(float(max(genuine)), 4)


@pytest.mark.parametrize("command", ["eval-pairs", "eval-faces"])
def test_probe_no_flip_with_no_flip_is_refused(command, tmp_path, capsys):
    args = [command, str(tmp_path), "--no-flip", "--probe-no-flip"]
    if command == "eval-pairs":
        args[1:2] = [str(tmp_path / "pairs.csv"), "--images", str(tmp_path)]
    code, out, err = _run_exit(args, capsys)
    assert code == 2 and out == ""
    assert "--probe-no-flip" in err and "--no-flip" in err and "不能同时使用" in err
