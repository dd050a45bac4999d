"""Measuring face recognition on an integrator's own photos.

Integrators tune ``face.match_threshold`` on photos of their own staff; these
functions are behind ``seed-enroll eval-faces``, ``eval-pairs`` and ``count-faces``
and return plain dicts (printed as JSON).

``eval_faces(DIR)``: DIR holds one folder per person. Closed set: each person's first
image (sorted by name; the first ``enrol`` images) is enrolled and the others are
genuine probes. Open set: each person in turn is left out of the gallery and all their
images are impostor probes, which must all be refused.

Both can measure templates and probes described differently (``probe_flip_average``): the
templates flip-averaged as enrolment stores them and the probes with one ResNet pass, as the
``low_power`` door profile matches them. Pairs are then compared in both orders (each image
once as the template, once as the probe).

Both evaluations also report the true accept rate at fixed false accept rates
(:func:`tar_at_far`): for each rate, the largest threshold whose measured false accept
rate stays within it, and the share of genuine comparisons that threshold accepts. An
integrator reads off the threshold for the false accept rate the site can live with.
"""
from __future__ import annotations

import csv
import itertools
import logging
import shutil
import statistics
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from terminal.vision.gallery import DEFAULT_MARGIN, DEFAULT_THRESHOLD, FaceGallery
from terminal.vision.images import ImageError, load_image

if TYPE_CHECKING:
    from terminal.vision.detection import FaceBox

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
FAR_TARGETS = (0.0, 0.001, 0.01)


class EvaluationError(ValueError):
    """The evaluation input cannot be used (message says what to fix)."""


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def tar_at_far(genuine: Sequence[float], impostor: Sequence[float],
               rates: Sequence[float] = FAR_TARGETS) -> list[dict[str, float | None]]:
    """True accept rate at each false accept rate, with the threshold that achieves it.

    A comparison is accepted when its distance is at most the threshold (as the gallery
    decides). For a rate x, at most ``floor(x * len(impostor))`` impostor distances may be
    accepted, so the threshold must stay below the next impostor distance (the ``limit``);
    the threshold reported is the largest genuine distance below that limit, and ``tar``
    the share of genuine distances at most the threshold. Distances that are not finite
    (no face found) are never accepted. ``threshold`` is None when no genuine distance is
    below the limit (tar 0); ``limit`` is None without impostors (every finite distance is
    then accepted).
    """
    gen = np.asarray(genuine, dtype=float)
    imp = np.sort(np.asarray(impostor, dtype=float))
    result: list[dict[str, float | None]] = []
    for rate in rates:
        if not 0 <= rate <= 1:
            raise ValueError(f"false accept rate {rate} is not between 0 and 1")
        allowed = int(np.floor(rate * imp.size + 1e-9))
        limit = float(imp[allowed]) if allowed < imp.size else float("inf")
        below = gen[np.isfinite(gen) & (gen < limit)]
        threshold = float(below.max()) if below.size else None
        far = float((imp <= threshold).mean()) if threshold is not None and imp.size else 0.0
        result.append({
            "far": rate,
            "tar": round(below.size / gen.size, 4) if gen.size else None,
            "threshold": None if threshold is None else round(threshold, 4),
            "limit": round(limit, 4) if np.isfinite(limit) else None,
            "measured_far": round(far, 4),
        })
    return result


def _people(root: Path) -> dict[str, list[Path]]:
    """{person: images} of a folder holding one folder per person; EvaluationError without two people with images."""
    people = {d.name: _images_in(d) for d in sorted(root.iterdir()) if d.is_dir()} if root.is_dir() else {}
    people = {name: images for name, images in people.items() if images}
    if len(people) < 2:
        raise EvaluationError(f"{root}: needs at least two person folders with images (one folder per person)")
    return people


def folder_pairs(root: Path | str, out_dir: Path | str) -> tuple[Path, Path]:
    """Every pair of images of a people folder as a pairs file for :func:`eval_pairs`.

    The images are linked (copied where links fail) flat into ``out_dir/images`` as
    ``<person>__<file>``; ``out_dir/pairs.csv`` lists all pairs (same=1 within a person's
    folder, 0 across folders). Returns (pairs.csv, images folder).
    """
    root, out_dir = Path(root), Path(out_dir)
    flat = [(name, path) for name, images in _people(root).items() for path in images]
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    names = []
    for person, path in flat:
        target = images / f"{person}__{path.name}"
        if not target.exists():
            try:
                target.symlink_to(path.resolve())
            except OSError:
                shutil.copyfile(path, target)
        names.append((person, target.name))
    pairs_csv = out_dir / "pairs.csv"
    with pairs_csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "same"])
        for (pa, a), (pb, b) in itertools.combinations(names, 2):
            writer.writerow([a, b, int(pa == pb)])
    return pairs_csv, images


@dataclass
class _Probe:
    person: str
    path: Path
    descriptor: np.ndarray | None
    ms: float
    problem: str = ""


def _describe_all(paths: Iterable[tuple[str, Path]], analyzer) -> list[_Probe]:
    result = []
    for person, path in paths:
        start = time.perf_counter()
        try:
            image = load_image(path)
        except ImageError as exc:
            result.append(_Probe(person, path, None, 0.0, str(exc)))
            continue
        face = analyzer.largest_face(image)
        ms = (time.perf_counter() - start) * 1000
        result.append(_Probe(person, path, None if face is None else face.descriptor, ms, "" if face else "no face found"))
    return result


def _describe_with(paths: Iterable[tuple[str, Path]], analyzer, flip_average: bool) -> tuple[list[_Probe], bool | None]:
    """:func:`_describe_all` with the given analyzer, or with one built here (``flip_average``) and closed after;
    and whether its descriptors are flip-averaged."""
    if analyzer is not None:
        return _describe_all(paths, analyzer), _flip_of(analyzer)
    from terminal.vision.photos import PhotoAnalyzer

    with PhotoAnalyzer(flip_average=flip_average) as own:
        return _describe_all(paths, own), _flip_of(own)


def _mixed(flip_average: bool, probe_flip_average: bool | None, probe_analyzer: object) -> bool:
    """Whether probes are described differently from the templates (and so need their own pass)."""
    return probe_analyzer is not None or (probe_flip_average is not None and probe_flip_average != flip_average)


def _problems(described: Iterable[_Probe], name: Callable[[_Probe], str]) -> list[dict[str, str]]:
    """{file, problem} of the images that gave no descriptor, each file and problem once."""
    seen: dict[tuple[str, str], None] = {}
    for item in described:
        if item.problem:
            seen.setdefault((name(item), item.problem), None)
    return [{"file": file, "problem": problem} for file, problem in seen]


def eval_faces(root: Path | str, threshold: float = DEFAULT_THRESHOLD, margin: float = DEFAULT_MARGIN,
               analyzer=None, enrol: int = 1, flip_average: bool = True, probe_flip_average: bool | None = None,
               probe_analyzer=None) -> dict:
    """Closed-set identification and open-set refusal on a folder of people (see module doc).

    ``enrol``: images enrolled per person (the first ones by name; a person needs at least
    one more image to give genuine probes). ``flip_average`` applies to the analyzer this
    function builds when none is given. ``probe_flip_average`` (None: as the templates) or
    ``probe_analyzer`` describe the probes differently from the enrolled images, e.g.
    ``flip_average=True, probe_flip_average=False`` as the low_power profile matches.
    """
    if enrol < 1:
        raise EvaluationError(f"enrol must be at least 1, got {enrol}")
    root = Path(root)
    if not root.is_dir():
        raise EvaluationError(f"{root}: not a folder")
    people = _people(root)

    every = [(name, p) for name, images in people.items() for p in images]
    if _mixed(flip_average, probe_flip_average, probe_analyzer):
        described, flip = _describe_with([(name, p) for name, images in people.items() for p in images[:enrol]],
                                         analyzer, flip_average)
        probes, probe_flip = _describe_with(every, probe_analyzer,
                                            flip_average if probe_flip_average is None else probe_flip_average)
    else:
        probes, flip = _describe_with(every, analyzer, flip_average)
        described, probe_flip = probes, flip

    by_person: dict[str, list[_Probe]] = {}
    for probe in probes:
        by_person.setdefault(probe.person, []).append(probe)
    templates_of: dict[str, list[_Probe]] = {}
    for item in described:
        templates_of.setdefault(item.person, []).append(item)
    problems = _problems([*described, *probes], lambda p: str(p.path.relative_to(root)))

    enrolled: dict[str, list[np.ndarray]] = {}
    for name, items in templates_of.items():
        shots = [p.descriptor for p in items[:enrol] if p.descriptor is not None]
        if shots:
            enrolled[name] = shots
    not_enrolled = sorted(set(by_person) - set(enrolled))

    gallery = FaceGallery(threshold, margin)
    for name, shots in enrolled.items():
        gallery.add(name, np.stack(shots))

    # closed set: every image but the enrolled ones
    genuine = [p for name, items in by_person.items() for p in items[enrol:]]
    top1 = accepted_correct = 0
    genuine_distances: list[float] = []
    # 1:N decision scores at any threshold: the distance when the right identity is nearest by the margin, else inf
    genuine_scores: list[float] = []
    impostor_scores: list[float] = []
    misidentified: list[dict[str, object]] = []
    for probe in genuine:
        if probe.descriptor is None:
            misidentified.append({"file": str(probe.path.relative_to(root)), "as": None, "problem": probe.problem})
            genuine_scores.append(float("inf"))
            continue
        match = gallery.search(probe.descriptor)
        right = match.best_identity == probe.person and match.margin >= margin
        genuine_scores.append(match.distance if right else float("inf"))
        if match.best_identity == probe.person:
            top1 += 1
            genuine_distances.append(match.distance)
        else:
            misidentified.append({"file": str(probe.path.relative_to(root)), "as": match.best_identity,
                                  "distance": round(match.distance, 4)})
        if match.accepted and match.identity == probe.person:
            accepted_correct += 1

    # open set: each person left out, all their images are impostors
    impostors = false_accepts = 0
    impostor_distances, accepted_impostors = [], []
    for name, items in by_person.items():
        for probe in items:
            if probe.descriptor is None:
                continue
            impostors += 1
            match = gallery.search(probe.descriptor, exclude=name)
            impostor_distances.append(match.distance)
            impostor_scores.append(match.distance if match.margin >= margin else float("inf"))
            if match.accepted:
                false_accepts += 1
                accepted_impostors.append({"file": str(probe.path.relative_to(root)), "as": match.identity,
                                           "distance": round(match.distance, 4)})

    times = [p.ms for p in probes if p.descriptor is not None]
    n_genuine = len(genuine)
    return {
        "identities": len(people),
        "enrolled": len(enrolled),
        "probes": n_genuine,
        "top1_accuracy": round(top1 / n_genuine, 4) if n_genuine else None,
        "false_reject_rate": round(1 - accepted_correct / n_genuine, 4) if n_genuine else None,
        "impostor_probes": impostors,
        "false_accepts": false_accepts,
        "false_accept_rate": round(false_accepts / impostors, 4) if impostors else None,
        "threshold": threshold,
        "margin": margin,
        "max_genuine_distance": round(max(genuine_distances), 4) if genuine_distances else None,
        "min_impostor_distance": round(min(impostor_distances), 4) if impostor_distances else None,
        "median_ms_per_probe": round(statistics.median(times), 2) if times else None,
        "enrolled_per_person": enrol,
        "flip_average": flip,
        "probe_flip_average": probe_flip,
        "tar_at_far": tar_at_far(genuine_scores, impostor_scores),
        "not_enrolled": not_enrolled,
        "misidentified": misidentified,
        "accepted_impostors": accepted_impostors,
        "problems": problems,
    }


def read_pairs(csv_path: Path | str) -> list[tuple[str, str, bool]]:
    """Rows ``a,b,same`` of a pairs file; :class:`EvaluationError` names the bad line."""
    csv_path = Path(csv_path)
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise EvaluationError(f"{csv_path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationError(f"{csv_path}: cannot read ({exc})") from None
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or not {"a", "b", "same"} <= {f.strip() for f in reader.fieldnames}:
        raise EvaluationError(f"{csv_path}: needs a header with columns a,b,same")
    pairs = []
    for line, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        if not row["a"] or not row["b"]:
            raise EvaluationError(f"{csv_path}:{line}: a and b must name image files")
        if row["same"] not in ("0", "1"):
            raise EvaluationError(f"{csv_path}:{line}: same must be 1 or 0, got {row['same']!r}")
        pairs.append((row["a"], row["b"], row["same"] == "1"))
    if not pairs:
        raise EvaluationError(f"{csv_path}: no pairs")
    return pairs


def equal_error(same: Sequence[float], different: Sequence[float]) -> tuple[float, float]:
    """(threshold, rate) where the false reject rate of ``same`` meets the false accept rate of ``different``."""
    same_a = np.sort(np.asarray(same, float))
    diff_a = np.sort(np.asarray(different, float))
    candidates = np.unique(np.concatenate([same_a, diff_a, [0.0]]))
    best = (float("inf"), 0.0, 0.0)
    for t in candidates:
        frr = float((same_a > t).mean()) if same_a.size else 0.0
        far = float((diff_a <= t).mean()) if diff_a.size else 0.0
        gap = abs(frr - far)
        if gap < best[0]:
            best = (gap, float(t), (frr + far) / 2)
    return best[1], best[2]


def eval_pairs(csv_path: Path | str, images: Path | str, threshold: float = DEFAULT_THRESHOLD, analyzer=None,
               flip_average: bool = True, probe_flip_average: bool | None = None, probe_analyzer=None) -> dict:
    """Verification accuracy on labelled pairs, plus the equal-error threshold and the true accept rate at fixed
    false accept rates (``flip_average`` applies to the analyzer built when none is given).

    With probes described differently from the templates (``probe_flip_average`` other than ``flip_average``, or a
    ``probe_analyzer``; e.g. ``flip_average=True, probe_flip_average=False``: the low_power profile) each pair is
    compared in both orders, each image once the template and once the probe: ``comparisons``, ``same_pairs`` and
    ``different_pairs`` then count ordered pairs, twice the rows of the file."""
    images = Path(images)
    if not images.is_dir():
        raise EvaluationError(f"{images}: not a folder")
    pairs = read_pairs(csv_path)
    names = sorted({n for a, b, _ in pairs for n in (a, b)})
    missing = [n for n in names if not (images / n).is_file()]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise EvaluationError(f"{len(missing)} image(s) named in the pairs file are not in {images}: {shown}")

    mixed = _mixed(flip_average, probe_flip_average, probe_analyzer)
    described_t, flip = _describe_with([("", images / n) for n in names], analyzer, flip_average)
    if mixed:
        described_p, probe_flip = _describe_with([("", images / n) for n in names], probe_analyzer,
                                                 flip_average if probe_flip_average is None else probe_flip_average)
    else:
        described_p, probe_flip = described_t, flip
    template = dict(zip(names, described_t, strict=True))
    probe = dict(zip(names, described_p, strict=True))
    comparisons = [*pairs, *((b, a, same) for a, b, same in pairs)] if mixed else pairs

    same_d, diff_d = [], []
    correct = true_accepts = false_accepts = no_face = 0
    n_same = n_diff = 0
    for a, b, same in comparisons:
        da, db = template[a].descriptor, probe[b].descriptor
        if da is None or db is None:
            no_face += 1
            distance = float("inf")
        else:
            distance = float(np.linalg.norm(da - db))
        accepted = distance <= threshold
        if same:
            n_same += 1
            true_accepts += accepted
            same_d.append(distance)
        else:
            n_diff += 1
            false_accepts += accepted
            diff_d.append(distance)
        correct += accepted == same
    eer_threshold, eer = equal_error(same_d, diff_d)
    return {
        "pairs": len(pairs),
        "comparisons": len(comparisons),
        "accuracy": round(correct / len(comparisons), 4),
        "true_accept_rate": round(true_accepts / n_same, 4) if n_same else None,
        "false_accept_rate": round(false_accepts / n_diff, 4) if n_diff else None,
        "true_accepts": true_accepts,
        "false_accepts": false_accepts,
        "threshold": threshold,
        "eer_threshold": round(eer_threshold, 4),
        "equal_error_rate": round(eer, 4),
        "same_pairs": n_same,
        "different_pairs": n_diff,
        "max_same_distance": _finite_extreme(same_d, max),
        "min_different_distance": _finite_extreme(diff_d, min),
        "flip_average": flip,
        "probe_flip_average": probe_flip,
        "tar_at_far": tar_at_far(same_d, diff_d),
        "pairs_without_face": no_face,
        "problems": _problems([*described_t, *described_p], lambda p: str(p.path.relative_to(images))),
    }


def _finite_extreme(values: Sequence[float], pick: Callable[[list[float]], float]) -> float | None:
    """``pick`` (max or min) of the finite values, to 4 decimals; None without any."""
    finite = [v for v in values if np.isfinite(v)]
    return round(pick(finite), 4) if finite else None


def _flip_of(analyzer: object) -> bool | None:
    """Whether the analyzer's descriptors are flip-averaged (None when it does not say)."""
    encoder = getattr(analyzer, "encoder", None)
    flip = getattr(encoder, "flip_average", None)
    return flip if isinstance(flip, bool) else None


def count_faces(paths: Sequence[Path | str], min_face_px: float = 32, counter=None) -> tuple[dict[str, int], dict[str, str]]:
    """Faces the anti-tailgating counter sees in each image: ({file: count}, {file: problem})."""
    own = counter is None
    if own:
        from terminal.vision.counting import FaceCounter

        counter = FaceCounter()
    counts: dict[str, int] = {}
    problems: dict[str, str] = {}
    try:
        for path in paths:
            key = str(path)
            try:
                image = load_image(path)
            except ImageError as exc:
                problems[key] = str(exc)
                continue
            counts[key] = counter.count(image, min_face_px)
    finally:
        if own:
            counter.close()
    return counts, problems


def read_face_boxes(xml_paths: Iterable[Path | str]) -> dict[str, list[FaceBox]]:
    """Ground-truth face boxes from dlib/imglab-style XML files: {image file: [boxes]}."""
    from terminal.vision.detection import FaceBox

    truth: dict[str, list[FaceBox]] = {}
    for xml_path in xml_paths:
        for image in ET.parse(xml_path).getroot().iter("image"):
            truth[_attribute(image, "file")] = [
                FaceBox(float(_attribute(b, "left")), float(_attribute(b, "top")), float(_attribute(b, "width")),
                        float(_attribute(b, "height")))
                for b in image.iter("box")]
    return truth


def matched_detections(found: Sequence[FaceBox], truth: Sequence[FaceBox],
                       same: Callable[[FaceBox, FaceBox], bool]) -> set[int]:
    """Indexes of the detections that cover a ground-truth face (``same(detection, truth)``), each used at most once."""
    used: set[int] = set()
    for gt in truth:
        hit = next((i for i, box in enumerate(found) if i not in used and same(box, gt)), None)
        if hit is not None:
            used.add(hit)
    return used


def match_boxes(found: Sequence[FaceBox], truth: Sequence[FaceBox], min_iou: float = 0.3) -> int:
    """How many ground-truth faces a detection covers, each detection used at most once."""
    return len(matched_detections(found, truth, lambda box, gt: box.iou(gt) > min_iou))


def _attribute(element: ET.Element, name: str) -> str:
    """An attribute the annotation format requires (dlib's imglab XML)."""
    value = element.get(name)
    if value is None:
        raise ValueError(f"<{element.tag}> without its {name!r} attribute")
    return value
