"""Measuring face recognition on an integrator's own photos.

Integrators tune ``face.match_threshold`` on photos of their own staff; these
functions are behind ``seed-enroll eval-faces``, ``eval-pairs`` and ``count-faces``
and return plain dicts (printed as JSON).

``eval_faces(DIR)``: DIR holds one folder per person. Closed set: each person's first
image (sorted by name) is enrolled and the others are genuine probes. Open set: each
person in turn is left out of the gallery and all their images are impostor probes,
which must all be refused.
"""
from __future__ import annotations

import csv
import logging
import statistics
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
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


class EvaluationError(ValueError):
    """The evaluation input cannot be used (message says what to fix)."""


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


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


def eval_faces(root: Path | str, threshold: float = DEFAULT_THRESHOLD, margin: float = DEFAULT_MARGIN,
               analyzer=None) -> dict:
    """Closed-set identification and open-set refusal on a folder of people (see module doc)."""
    root = Path(root)
    if not root.is_dir():
        raise EvaluationError(f"{root}: not a folder")
    people = {d.name: _images_in(d) for d in sorted(root.iterdir()) if d.is_dir()}
    people = {name: images for name, images in people.items() if images}
    if len(people) < 2:
        raise EvaluationError(f"{root}: needs at least two person folders with images (one folder per person)")

    own = analyzer is None
    if own:
        from terminal.vision.photos import PhotoAnalyzer

        analyzer = PhotoAnalyzer()
    try:
        probes = _describe_all(((name, p) for name, images in people.items() for p in images), analyzer)
    finally:
        if own:
            analyzer.close()

    by_person: dict[str, list[_Probe]] = {}
    for probe in probes:
        by_person.setdefault(probe.person, []).append(probe)
    problems = [{"file": str(p.path.relative_to(root)), "problem": p.problem} for p in probes if p.problem]

    enrolled: dict[str, _Probe] = {}
    for name, items in by_person.items():
        first = items[0]
        if first.descriptor is not None:
            enrolled[name] = first
    not_enrolled = sorted(set(by_person) - set(enrolled))

    gallery = FaceGallery(threshold, margin)
    for name, probe in enrolled.items():
        gallery.add(name, probe.descriptor)

    # closed set: every image but the enrolled one
    genuine = [p for name, items in by_person.items() for p in items[1:]]
    top1 = accepted_correct = 0
    genuine_distances: list[float] = []
    misidentified: list[dict[str, object]] = []
    for probe in genuine:
        if probe.descriptor is None:
            misidentified.append({"file": str(probe.path.relative_to(root)), "as": None, "problem": probe.problem})
            continue
        match = gallery.search(probe.descriptor)
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


def eval_pairs(csv_path: Path | str, images: Path | str, threshold: float = DEFAULT_THRESHOLD, analyzer=None) -> dict:
    """Verification accuracy on labelled pairs, plus the equal-error threshold."""
    images = Path(images)
    if not images.is_dir():
        raise EvaluationError(f"{images}: not a folder")
    pairs = read_pairs(csv_path)
    names = sorted({n for a, b, _ in pairs for n in (a, b)})
    missing = [n for n in names if not (images / n).is_file()]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise EvaluationError(f"{len(missing)} image(s) named in the pairs file are not in {images}: {shown}")

    own = analyzer is None
    if own:
        from terminal.vision.photos import PhotoAnalyzer

        analyzer = PhotoAnalyzer()
    try:
        described = dict(zip(names, _describe_all((("", images / n) for n in names), analyzer), strict=True))
    finally:
        if own:
            analyzer.close()

    same_d, diff_d = [], []
    correct = true_accepts = false_accepts = no_face = 0
    n_same = n_diff = 0
    for a, b, same in pairs:
        da, db = described[a].descriptor, described[b].descriptor
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
        "accuracy": round(correct / len(pairs), 4),
        "true_accept_rate": round(true_accepts / n_same, 4) if n_same else None,
        "false_accept_rate": round(false_accepts / n_diff, 4) if n_diff else None,
        "threshold": threshold,
        "eer_threshold": round(eer_threshold, 4),
        "equal_error_rate": round(eer, 4),
        "pairs_without_face": no_face,
        "problems": [{"file": name, "problem": p.problem} for name, p in described.items() if p.problem],
    }


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


def match_boxes(found: Sequence[FaceBox], truth: Sequence[FaceBox], min_iou: float = 0.3) -> int:
    """How many ground-truth faces a detection covers, each detection used at most once."""
    used: set[int] = set()
    for gt in truth:
        hit = next((i for i, box in enumerate(found) if i not in used and box.iou(gt) > min_iou), None)
        if hit is not None:
            used.add(hit)
    return len(used)


def _attribute(element: ET.Element, name: str) -> str:
    """An attribute the annotation format requires (dlib's imglab XML)."""
    value = element.get(name)
    if value is None:
        raise ValueError(f"<{element.tag}> without its {name!r} attribute")
    return value
