"""Face benchmark: latency per stage and end to end, 1:N search scaling, gallery memory,
accuracy, anti-tailgating recall and liveness error rates, with the ``face_recognition``
library on the same frames as the baseline, in the same process.

    python -m benchmarks.faces [--runs 5] [--quick] [--profile standard|low_power]

Frames are the shared photos of ``../shared/testdata/faces/people`` letterboxed to
640x480, as the camera delivers them. Our pipeline per decision frame: mediapipe
detection, the anti-tailgating count (with HOG), face mesh, border check, liveness
update, 5-point alignment + ResNet descriptor, 1:N match. The baseline:
``face_recognition.face_locations`` (HOG, one upsampling: its default),
``face_encodings`` and ``face_distance`` against the same gallery size: no liveness
and no counting, so it does less work per frame.

Liveness is measured as ISO/IEC 30107-3 does: APCER per attack kind (presentation
attacks composed from the shared still photos: held still, moved by hand, inside a
visible print or phone border; and the real clip replayed on a phone or tablet, bezel in
view or filling the view, also with the screen check off) and BPCER on bona fide
presentations (the real clip as five camera set-ups deliver it, answering the prompted
turn), played to the ``--profile`` given (standard by default). The door's cost is the
whole approach (face appears -> decision) per profile against face_recognition's one frame
in the same run. The low_power profile's matching (one ResNet pass against flip-averaged
templates) is measured on all ordered pairs of people/. Times are medians over ``--runs``
repetitions.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np

from benchmarks.common import print_table, write_json

REPO = Path(__file__).resolve().parent.parent
FACES = Path(os.environ.get("SEED_SHARED_DIR", REPO.parent / "shared")) / "testdata" / "faces"
FRAME_SIZE = (640, 480)
GALLERY_SIZES = (1_000, 10_000, 100_000)


def _ms(fn: Callable[[], Any], runs: int) -> float:
    values = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        values.append((time.perf_counter() - start) * 1000)
    return statistics.median(values)


def _people_frames() -> list[tuple[str, Path, np.ndarray]]:
    from terminal.vision.attacks import letterbox
    from terminal.vision.images import load_image

    frames = []
    for person in sorted(p for p in (FACES / "people").iterdir() if p.is_dir()):
        for path in sorted(person.iterdir()):
            frames.append((person.name, path, letterbox(load_image(path), FRAME_SIZE)))
    return frames


def _random_gallery(size: int, seed: int = 0):
    from terminal.vision.gallery import FaceGallery

    rng = np.random.default_rng(seed)
    gallery = FaceGallery()
    templates = rng.normal(size=(size, 128)).astype(np.float32)
    templates /= np.linalg.norm(templates, axis=1, keepdims=True) * 1.1
    gallery.add_many(((i // 3, row) for i, row in enumerate(templates)))
    return gallery, templates


# -- latency ------------------------------------------------------------------------------------
def latency(frames: list, runs: int) -> dict:
    import cv2
    import face_recognition

    from terminal.vision.border import find_border
    from terminal.vision.counting import FaceCounter
    from terminal.vision.descriptor import FaceEncoder
    from terminal.vision.detection import FaceDetector
    from terminal.vision.landmarks import FaceMesh
    from terminal.vision.liveness import LivenessTracker
    from terminal.vision.models import shared_models
    from terminal.vision.screen_cues import grid_peakiness

    models = shared_models()
    detector = FaceDetector("full")
    graph_detector = FaceDetector("full", backend="mediapipe")
    mesh = FaceMesh(refine=False)  # what the door runs with the challenge (iris refinement only where blinks count)
    graph_mesh = FaceMesh(refine=True)
    counter = FaceCounter(models, detector=detector)
    encoder = FaceEncoder(models, "opencv")
    numpy_encoder = FaceEncoder(models, "numpy")
    reference = FaceEncoder(models, "dlib")
    gallery, templates = _random_gallery(1_000)
    known = list(templates)  # face_recognition's own format: a list of encodings

    stages: dict[str, list[float]] = {k: [] for k in (
        "detect (LiteRT)", "detect (mediapipe's graph)", "count (mediapipe + eyes)",
        "count (+ HOG and edge pass, once per approach)", "mesh (LiteRT)", "mesh (mediapipe's graph, iris refined)",
        "border", "screen (pixel grid)", "liveness update", "descriptor (OpenCV DNN ResNet)", "descriptor (numpy ResNet)",
        "descriptor (dlib ResNet)", "match 1k")}
    ours, baseline = [], []

    def our_decision(frame: np.ndarray, tracker: LivenessTracker) -> None:  # every stage on this one frame: the worst case
        rgb_ = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        found = detector.detect(frame, rgb_)
        counter.faces(frame, 60, mediapipe_boxes=found, max_hog_scale=1.0)
        points = mesh.landmarks(frame, found[0])
        assert points is not None
        find_border(frame, found[0], points.roll)
        grid_peakiness(frame, found[0])
        tracker.add(0.2, points)
        probe, _ = encoder.describe(frame, found[0], rgb_)
        gallery.search(probe)

    def baseline_decision(frame: np.ndarray) -> None:
        rgb_ = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        locations = face_recognition.face_locations(rgb_)
        encodings = face_recognition.face_encodings(rgb_, locations)
        for encoding in encodings[:1]:
            distances = face_recognition.face_distance(known, encoding)
            bool(distances.min() <= 0.6)

    for _, _, frame in frames:
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        boxes = detector.detect(frame, rgb)
        if not boxes:
            continue
        box = boxes[0]
        marks = mesh.landmarks(frame, box)
        if marks is None:
            continue
        tracker = LivenessTracker()
        tracker.add(0.0, marks)
        descriptor, _ = encoder.describe(frame, box, rgb)
        stages["detect (LiteRT)"].append(_ms(partial(detector.detect, frame, rgb), runs))
        stages["detect (mediapipe's graph)"].append(_ms(partial(graph_detector.detect, frame, rgb), runs))
        stages["count (mediapipe + eyes)"].append(_ms(partial(counter.faces, frame, 60, mediapipe_boxes=boxes, use_hog=False), runs))
        stages["count (+ HOG and edge pass, once per approach)"].append(
            _ms(partial(counter.faces, frame, 60, mediapipe_boxes=boxes, max_hog_scale=1.0), runs))
        stages["mesh (LiteRT)"].append(_ms(partial(mesh.landmarks, frame, box), runs))
        stages["mesh (mediapipe's graph, iris refined)"].append(_ms(partial(graph_mesh.landmarks, frame, box), runs))
        stages["border"].append(_ms(partial(find_border, frame, box, marks.roll), runs))
        stages["screen (pixel grid)"].append(_ms(partial(grid_peakiness, frame, box), runs))
        stages["liveness update"].append(_ms(partial(tracker.add, 0.1, marks), runs))
        stages["descriptor (OpenCV DNN ResNet)"].append(_ms(partial(encoder.describe, frame, box, rgb), runs))
        stages["descriptor (numpy ResNet)"].append(_ms(partial(numpy_encoder.describe, frame, box, rgb), runs))
        stages["descriptor (dlib ResNet)"].append(_ms(partial(reference.describe, frame, box, rgb), runs))
        stages["match 1k"].append(_ms(partial(gallery.search, descriptor), runs))

        ours.append(_ms(partial(our_decision, frame, tracker), runs))
        baseline.append(_ms(partial(baseline_decision, frame), runs))
    for closing in (detector, graph_detector, mesh, graph_mesh):
        closing.close()
    rows = [{"stage": name, "median_ms": statistics.median(values)} for name, values in stages.items()]
    end_to_end = {"seed_all_stages_one_frame_ms": statistics.median(ours),
                  "face_recognition_people_frames_ms": statistics.median(baseline)}
    return {"frames": len(ours), "stages": rows, "end_to_end": end_to_end}


APPROACH_STAGES = {"detect_ms": "detect", "mesh_ms": "face mesh", "border_ms": "border", "screen_ms": "screen",
                   "liveness_ms": "liveness update", "descriptor_ms": "descriptor", "count_ms": "count (HOG and edge pass)",
                   "match_ms": "match"}


class _Timed:
    """A recognizer whose process() calls are timed (per frame and summed over the approach), with the stages'
    share of the sum from the recognizer's own ``timings``."""

    def __init__(self, recognizer: Any):
        self.recognizer = recognizer
        self.times: list[float] = []
        self.frames: list[np.ndarray] = []
        self.decision_ms: float | None = None
        self.stages: dict[str, float] = dict.fromkeys(APPROACH_STAGES.values(), 0.0)

    def process(self, frame: np.ndarray, t: float) -> Any:
        start = time.perf_counter()
        result = self.recognizer.process(frame, t)
        elapsed = (time.perf_counter() - start) * 1000
        self.times.append(elapsed)
        self.frames.append(frame)
        for key, ms in self.recognizer.timings.items():
            name = APPROACH_STAGES.get(key, key)
            self.stages[name] = self.stages.get(name, 0.0) + ms
        if result.decision is not None:
            self.decision_ms = elapsed
        return result


def door_latency(runs: int) -> dict:
    """The recognizer on the real clip at 640x480, the live man answering the challenge, per profile.

    For each profile: the time of the frame that decides, of the others, the compute of the
    whole approach (face appears -> decision, liveness and replay checks included) and the
    time from the face appearing to the decision. face_recognition's one frame is timed on
    the same frames in the same run, alternating with ours, so both see the same machine
    load; the ratio compares our whole approach with its single frame.
    """
    import random

    import cv2
    import face_recognition

    from terminal.config import FaceSettings
    from terminal.vision.attacks import Presentation, challenge_answers, clip_poses, letterbox, play_answering, video_presentation
    from terminal.vision.images import load_image
    from terminal.vision.photos import PhotoAnalyzer
    from terminal.vision.recognizer import FaceRecognizer

    clip = video_presentation(FACES / "video" / "short_hamilton_clip.mp4")
    singer = Presentation("bona_fide", "singer", [letterbox(f, FRAME_SIZE) for f in clip.frames[82:211:2]], clip.fps / 2)
    answers = challenge_answers(clip_poses(singer.frames), singer.fps)
    gallery, templates = _random_gallery(1_000)
    with PhotoAnalyzer() as analyzer:
        face = analyzer.largest_face(load_image(FACES / "video" / "enrol_lin_manuel_miranda.png"))
    assert face is not None
    enrolled = face.descriptor
    gallery.add("singer", enrolled)
    known = list(templates) + [enrolled]

    def baseline_decision(frame: np.ndarray) -> None:
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        for encoding in face_recognition.face_encodings(rgb, face_recognition.face_locations(rgb))[:1]:
            bool(face_recognition.face_distance(known, encoding).min() <= 0.6)

    out: dict[str, Any] = {}
    baseline: list[float] = []
    for profile in ("standard", "low_power"):
        settings = FaceSettings(min_face_px=60, profile=profile)
        decision_ms, frame_ms, decided_at, approach_ms, approach_frames, analysed = [], [], [], [], [], []
        stage_ms: dict[str, list[float]] = {}
        for run in range(2 * runs):
            with FaceRecognizer(gallery, settings, rng=random.Random(run)) as recognizer:
                timed = _Timed(recognizer)
                decisions = play_answering(timed, singer, answers)
            assert decisions and decisions[0].employee_id == "singer", decisions
            assert timed.decision_ms is not None
            decision_ms.append(timed.decision_ms)
            frame_ms.extend(timed.times[:-1])
            approach_ms.append(sum(timed.times))
            for name, ms in (*timed.stages.items(), ("the rest", sum(timed.times) - sum(timed.stages.values()))):
                stage_ms.setdefault(name, []).append(ms)
            approach_frames.append(len(timed.times))
            analysed.append(sum(1 for v in timed.times if v > 1.0))
            decided_at.append(decisions[0].elapsed_s)
            for frame in timed.frames[run % 4::4]:
                baseline.append(_ms(partial(baseline_decision, frame), 1))
        out[profile] = {"decision_frame_ms": statistics.median(decision_ms), "tracking_frame_ms": statistics.median(frame_ms),
                        "p95_frame_ms": float(np.percentile(frame_ms + decision_ms, 95)),
                        "decided_after_s": statistics.median(decided_at), "decided_after_max_s": max(decided_at),
                        "approach_compute_ms": statistics.median(approach_ms),
                        "approach_frames": statistics.median(approach_frames),
                        "analysed_frames": statistics.median(analysed),
                        # where the approach's compute goes: each stage summed over the approach (median over runs);
                        # "the rest": frames' own work outside the stages (shot quality, liveness verdict, tracking)
                        "approach_stage_ms": {name: statistics.median(values) for name, values in stage_ms.items()}}
    fr = statistics.median(baseline)
    out["face_recognition_frame_ms"] = fr
    for profile in ("standard", "low_power"):
        row = out[profile]
        row["approach_over_face_recognition_frame"] = row["approach_compute_ms"] / fr
        row["speedup"] = fr / row["decision_frame_ms"]
        row["speedup_p95_frame"] = fr / row["p95_frame_ms"]
    return out


def matching(runs: int) -> list[dict]:
    import face_recognition

    rows = []
    rng = np.random.default_rng(5)
    for size in GALLERY_SIZES:
        gallery, templates = _random_gallery(size, seed=size)
        probe = templates[size // 2] + rng.normal(scale=0.01, size=128).astype(np.float32)
        gallery.search(probe)  # builds the matrix
        known = list(templates)
        rows.append({
            "templates": size,
            "seed_search_ms": _ms(partial(gallery.search, probe), max(runs, 20)),
            "face_distance_ms": _ms(partial(face_recognition.face_distance, known, probe), max(3, runs // 2)),
            "gallery_mb": gallery.nbytes / 1e6,
            "list_of_arrays_mb": (sum(t.nbytes for t in known) + size * 112) / 1e6,
        })
    return rows


# -- accuracy -------------------------------------------------------------------------------------
class _FaceRecognitionAnalyzer:
    """face_recognition's own pipeline behind the interface eval_faces uses."""

    class _Face:
        def __init__(self, descriptor: np.ndarray):
            self.descriptor = descriptor

    def largest_face(self, image: np.ndarray):
        import cv2
        import face_recognition

        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        locations = face_recognition.face_locations(rgb)
        if not locations:
            return None
        largest = max(locations, key=lambda loc: (loc[2] - loc[0]) * (loc[1] - loc[3]))
        return self._Face(np.asarray(face_recognition.face_encodings(rgb, [largest])[0], np.float32))

    def close(self) -> None:
        pass


def accuracy(threshold: float, margin: float) -> list[dict]:
    """eval-faces on the people folder, letterboxed to 640x480 frames, for both pipelines."""
    import tempfile

    import cv2

    from enrollment.face_eval import eval_faces
    from terminal.vision.photos import PhotoAnalyzer

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for person, path, frame in _people_frames():
            (root / person).mkdir(exist_ok=True)
            cv2.imwrite(str(root / person / (path.stem + ".png")), frame)
        with PhotoAnalyzer() as ours:
            for name, analyzer, thr, mar in (("seed", ours, threshold, margin),
                                             ("face_recognition (tolerance 0.6)", _FaceRecognitionAnalyzer(), 0.6, 0.0),
                                             ("face_recognition (seed threshold)", _FaceRecognitionAnalyzer(), threshold, margin)):
                result = eval_faces(root, threshold=thr, margin=mar, analyzer=analyzer)
                rows.append({"pipeline": name, "threshold": thr, "margin": mar, "probes": result["probes"],
                             "top1_accuracy": result["top1_accuracy"], "false_reject_rate": result["false_reject_rate"],
                             "false_accept_rate": result["false_accept_rate"], "false_accepts": result["false_accepts"],
                             "no_face": len(result["problems"]), "median_ms_per_probe": result["median_ms_per_probe"]})
    native = eval_faces(FACES / "people", threshold=threshold, margin=margin)
    rows.append({"pipeline": "seed (original photos)", "threshold": threshold, "margin": margin,
                 "probes": native["probes"], "top1_accuracy": native["top1_accuracy"],
                 "false_reject_rate": native["false_reject_rate"], "false_accept_rate": native["false_accept_rate"],
                 "false_accepts": native["false_accepts"], "no_face": len(native["problems"]),
                 "median_ms_per_probe": native["median_ms_per_probe"],
                 "max_genuine_distance": native["max_genuine_distance"],
                 "min_impostor_distance": native["min_impostor_distance"]})
    return rows


def low_power_pairs() -> dict:
    """All pairs of people/ as the low_power profile matches them: templates enrolled flip-averaged (as enrolment
    stores them), probes described with one ResNet pass (the profile's descriptor). Pairs are ordered: each photo is
    once the template and once the probe (``seed-enroll eval-pairs --probe-no-flip``, the same computation)."""
    import tempfile

    from enrollment.face_eval import eval_pairs, folder_pairs
    from terminal.config import FaceSettings

    threshold = FaceSettings().match_threshold
    with tempfile.TemporaryDirectory() as tmp:
        pairs_csv, images = folder_pairs(FACES / "people", tmp)
        result = eval_pairs(pairs_csv, images, threshold=threshold, flip_average=True, probe_flip_average=False)
    return {key: result[key] for key in ("same_pairs", "different_pairs", "threshold", "true_accept_rate",
                                         "false_accepts", "max_same_distance", "min_different_distance",
                                         "pairs_without_face", "tar_at_far")}


def liveness(quick: bool, profile: Literal["standard", "low_power"] = "standard") -> dict:
    import random

    from terminal.config import FaceSettings
    from terminal.vision.attacks import (
        ATTACK_KINDS,
        REPLAY_KINDS,
        Presentation,
        bona_fide_variants,
        challenge_answers,
        clip_poses,
        compose_attack,
        compose_replay,
        iso_rates,
        play,
        play_answering,
        video_presentation,
    )
    from terminal.vision.gallery import FaceGallery
    from terminal.vision.images import load_image
    from terminal.vision.liveness import LivenessSettings
    from terminal.vision.photos import PhotoAnalyzer
    from terminal.vision.recognizer import FaceRecognizer

    settings = FaceSettings(min_face_px=60, profile=profile)
    subjects = [FACES / "video" / "enrol_lin_manuel_miranda.png"]
    for person in sorted(p for p in (FACES / "people").iterdir() if p.is_dir()):
        images = sorted(person.iterdir())
        subjects += images[:1] if person.name.startswith("John_") else images
    if quick:
        subjects = subjects[::4]
    gallery = FaceGallery(settings.match_threshold, settings.match_margin)
    with PhotoAnalyzer() as analyzer:
        photos = []
        for path in subjects:
            image = load_image(path)
            boxes = analyzer.detect(image)
            if boxes:
                photos.append((path, image, boxes[0]))
                gallery.add(path.parent.name, analyzer.describe(image, boxes[0]).descriptor)
        singer_face = analyzer.largest_face(load_image(FACES / "video" / "enrol_lin_manuel_miranda.png"))
        assert singer_face is not None
        gallery.add("video", singer_face.descriptor)
    kinds = (*ATTACK_KINDS, *REPLAY_KINDS)
    results: list[tuple[Presentation, bool]] = []
    blind_results: list[tuple[Presentation, bool]] = []
    outcomes: dict[str, dict[str, int]] = {kind: {} for kind in (*kinds, "bona_fide")}
    reasons: dict[str, dict[str, int]] = {kind: {} for kind in kinds}
    hold = settings.window_s + settings.turn_challenge_s + 1
    started = time.perf_counter()

    def count(kind: str, decisions: list) -> bool:
        live = any(d.outcome in ("accepted", "unknown") for d in decisions)
        label = decisions[0].outcome if decisions else "no decision"
        outcomes[kind][label] = outcomes[kind].get(label, 0) + 1
        for reason in (decisions[0].reasons if decisions else ()):
            reasons[kind][reason] = reasons[kind].get(reason, 0) + 1
        return live

    for seed, (path, image, box) in enumerate(photos):
        for kind in ATTACK_KINDS:
            attack = compose_attack(image, box, kind, seconds=3.0, fps=15, seed=seed, subject=path.parent.name)
            with FaceRecognizer(gallery, settings, rng=random.Random(seed)) as recognizer:
                results.append((attack, count(kind, play(recognizer, attack, hold_for_s=hold))))

    clip = video_presentation(FACES / "video" / "short_hamilton_clip.mp4", subject="video")
    singer = Presentation("bona_fide", "video", clip.frames[82:211:2], clip.fps / 2)
    # replays of the enrolled man's own clip on a phone or tablet, held up for the whole window and challenge;
    # each also played to a recognizer whose screen check is switched off: what the challenge alone stops
    blind = LivenessSettings(screen_peakiness=float("inf"))
    replay_notes: list[str] = []
    for seed in range(3 if quick else 10):
        for replay_kind in REPLAY_KINDS:
            replay = compose_replay(singer, replay_kind, seconds=hold, seed=seed)
            replay_notes.append(f"{replay_kind}: {replay.note}")
            with FaceRecognizer(gallery, settings, rng=random.Random(seed)) as recognizer:
                results.append((replay, count(replay_kind, play(recognizer, replay, hold_for_s=hold))))
            with FaceRecognizer(gallery, settings, liveness=blind, rng=random.Random(seed)) as recognizer:
                decisions = play(recognizer, replay, hold_for_s=hold)
            blind_results.append((replay, any(d.outcome in ("accepted", "unknown") for d in decisions)))

    # the live man: rest until asked, then the asked turn after 0.3 s, both directions on each camera set-up
    decided_after: list[float] = []
    for variant in bona_fide_variants(singer):
        answers = challenge_answers(clip_poses(variant.frames), variant.fps)
        for seed in range(2):
            with FaceRecognizer(gallery, settings, rng=random.Random(seed)) as recognizer:
                decisions = play_answering(recognizer, variant, answers)
            results.append((variant, count("bona_fide", decisions)))
            if decisions and decisions[0].outcome == "accepted":
                decided_after.append(decisions[0].elapsed_s)
    rates = iso_rates(results)
    blind_rates = iso_rates(blind_results)
    rates["apcer_challenge_only"] = {k: blind_rates["apcer"].get(k) for k in REPLAY_KINDS}
    rates["outcomes"] = outcomes
    rates["refusal_reasons"] = reasons
    rates["attack_subjects"] = len(photos)
    rates["replays"] = replay_notes
    rates["decided_after_median_s"] = statistics.median(decided_after) if decided_after else None
    rates["decided_after_max_s"] = max(decided_after) if decided_after else None
    rates["bona_fide_source"] = ("one real video (short_hamilton_clip.mp4, the singer's 4.3 s on camera at 15 fps) "
                                 "as five camera set-ups deliver it: as recorded, mirrored, 30% darker, sensor noise, "
                                 "letterboxed; each asked twice (seeds 0, 1), answered with the clip's own turn "
                                 "(or its mirror image) 0.3 s after the prompt")
    rates["seconds"] = round(time.perf_counter() - started, 1)
    return rates


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.faces", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions per timing (median reported)")
    parser.add_argument("--quick", action="store_true", help="fewer frames and attacks (a smoke run)")
    parser.add_argument("--profile", choices=("standard", "low_power"), default="standard",
                        help="face.profile the attacks and bona fide presentations are played to (the cost table has both)")
    args = parser.parse_args(argv)
    if not (FACES / "people").is_dir():
        print(f"face photos not found at {FACES}: clone the project with ../shared beside it")
        return 1
    try:
        import face_recognition  # noqa: F401
    except ImportError:
        print("the baseline needs face_recognition: pip install --no-deps face-recognition==1.3.0 (see requirements-dev.txt)")
        return 1
    from terminal.config import FaceSettings
    from terminal.vision.attacks import ATTACK_KINDS, REPLAY_KINDS

    settings = FaceSettings()
    frames = _people_frames()
    if args.quick:
        frames = frames[::6]
    else:
        frames = frames[::3]

    lat = latency(frames, args.runs)
    print_table(f"Per-stage latency, 640x480 frames ({lat['frames']} frames, median of {args.runs} runs)", lat["stages"],
                ["stage", "median_ms"])
    door = door_latency(args.runs)
    lat["door"] = door
    e2e = lat["end_to_end"]
    fr_ms = door["face_recognition_frame_ms"]
    rows = []
    for profile in ("standard", "low_power"):
        d = door[profile]
        rows += [
            {"pipeline": f"seed {profile}: the frame that decides", "ms": d["decision_frame_ms"]},
            {"pipeline": f"seed {profile}: other frames (median)", "ms": d["tracking_frame_ms"]},
            {"pipeline": f"seed {profile}: 95th percentile frame", "ms": d["p95_frame_ms"]},
            {"pipeline": f"seed {profile}: whole approach, summed over its {d['approach_frames']:g} frames "
                         f"({d['analysed_frames']:g} analysed; challenge and replay checks included)",
             "ms": d["approach_compute_ms"]},
            {"pipeline": f"seed {profile}: whole approach / face_recognition's one frame (ratio)",
             "ms": d["approach_over_face_recognition_frame"]},
        ]
    rows += [
        {"pipeline": "face_recognition 1.3.0, one frame of the same clip (same run)", "ms": fr_ms},
        {"pipeline": "seed, all stages summed (HOG count + border + descriptor; never in one frame)",
         "ms": e2e["seed_all_stages_one_frame_ms"]},
        {"pipeline": "face_recognition 1.3.0 on the people frames", "ms": e2e["face_recognition_people_frames_ms"]},
    ]
    print_table("End to end on the real clip, the live man answering the challenge (gallery of 1,000 templates)", rows,
                ["pipeline", "ms"])
    print_table("Where the whole approach's compute goes: each stage summed over the approach (ms, median)",
                [{"stage": name, "standard": door["standard"]["approach_stage_ms"].get(name),
                  "low_power": door["low_power"]["approach_stage_ms"].get(name)}
                 for name in door["low_power"]["approach_stage_ms"]], ["stage", "standard", "low_power"])
    for profile in ("standard", "low_power"):
        print(f"{profile}: the decision came {door[profile]['decided_after_s']:.2f} s after the face appeared "
              f"(median; at most {door[profile]['decided_after_max_s']:.2f} s): rest, prompt, turn, match")

    match_rows = matching(args.runs)
    print_table("1:N search and gallery memory", match_rows,
                ["templates", "seed_search_ms", "face_distance_ms", "gallery_mb", "list_of_arrays_mb"])

    acc_rows = accuracy(settings.match_threshold, settings.match_margin)
    print_table("Accuracy on people/ (eval-faces: first image enrolled, open-set pass for false accepts)", acc_rows,
                ["pipeline", "threshold", "probes", "top1_accuracy", "false_reject_rate", "false_accept_rate", "no_face",
                 "median_ms_per_probe"])

    from benchmarks import face_counting

    count = face_counting.counting()
    face_counting.print_tables(count)

    pairs = low_power_pairs()
    print_table("low_power descriptors (one ResNet pass) against flip-averaged templates, all ordered pairs of people/",
                [{k: v for k, v in pairs.items() if k != "tar_at_far"}],
                ["same_pairs", "different_pairs", "threshold", "true_accept_rate", "false_accepts", "max_same_distance",
                 "min_different_distance", "pairs_without_face"])
    print_table("... true accept rate at fixed false accept rates", pairs["tar_at_far"],
                ["far", "tar", "threshold", "limit", "measured_far"])

    live = liveness(args.quick, args.profile)
    live["profile"] = args.profile
    rows = [{"presentation": kind, "count": live["attacks"][kind], "APCER": live["apcer"][kind],
             "APCER_challenge_only": live["apcer_challenge_only"].get(kind, ""),
             "outcomes": live["outcomes"][kind]} for kind in live["apcer"]]
    rows.append({"presentation": "bona fide", "count": live["bona_fide"], "BPCER": live["bpcer"],
                 "outcomes": live["outcomes"]["bona_fide"]})
    print_table(f"Liveness (ISO/IEC 30107-3, face.profile = {args.profile}), photo attacks from "
                f"{live['attack_subjects']} photos, replays of the clip",
                rows, ["presentation", "count", "APCER", "APCER_challenge_only", "BPCER", "outcomes"])
    print("refusal reasons:", live["refusal_reasons"])
    print("bona fide presentations:", live["bona_fide_source"])
    print(f"bona fide: face appears -> decision {live['decided_after_median_s']:.2f} s median, "
          f"{live['decided_after_max_s']:.2f} s at most" if live["decided_after_max_s"] is not None else "bona fide: no decision")

    seed_row = acc_rows[0]
    baseline_row = acc_rows[1]
    checks = {
        "decision_frame_at_least_3x_faster": door["standard"]["speedup"] >= 3.0,
        "approach_at_most_half_of_face_recognition": min(door[p]["approach_over_face_recognition_frame"]
                                                         for p in ("standard", "low_power")) <= 0.5,
        "bona_fide_decided_within_1_5s": live["decided_after_max_s"] is not None and live["decided_after_max_s"] <= 1.5,
        "accuracy_equal_or_better": seed_row["top1_accuracy"] >= baseline_row["top1_accuracy"]
        and seed_row["false_accept_rate"] <= baseline_row["false_accept_rate"],
        "search_100k_under_10ms": match_rows[-1]["seed_search_ms"] < 10.0,
        **face_counting.checks(count),
        "photo_attacks_refused": all((live["apcer"][k] or 0.0) == 0.0 for k in ATTACK_KINDS),
        "replay_apcer_at_most_5pct": all((live["apcer"][k] or 0.0) <= 0.05 for k in REPLAY_KINDS),
    }
    print("\nchecks:", ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in checks.items()))
    write_json("faces", {"runs": args.runs, "quick": args.quick, "frame_size": list(FRAME_SIZE), "latency": lat,
                         "matching": match_rows, "accuracy": acc_rows, "low_power_pairs": pairs, "counting": count,
                         "liveness": live, "checks": checks})
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
