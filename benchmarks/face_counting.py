"""Anti-tailgating counter: whole faces, faces cut by the frame's edge, single people, cost per frame.

Measured with the edge pass (``FaceCounter(edges=True)``, the default: it runs with HOG) and
without it (the counter as it was), in the same run so the machine's load affects both alike:

- the shared PASCAL group photos with ground-truth boxes, whole and cropped so that the
  frame's edge cuts a face (``enrollment.count_eval``): recall on whole and cut faces,
  false counts, median ms per image (min face 32 px, as ``seed-enroll count-faces``);
- the counts of the known group photos (``count-faces``);
- single people at the door: every photo of ``people/`` letterboxed to 640x480 and cut at
  its edges, and the live clip's frames, counted with the recognizer's settings (min face
  60 px, ``face.tailgate_zone``: the whole frame, HOG at scale 1): any count above 1 would
  refuse an employee;
- the cost per door frame on the clip: the count as the recognizer runs it every frame
  (mediapipe boxes, no HOG) and once per approach, on the deciding frame (with HOG).

``python -m benchmarks.face_counting`` prints the tables and writes
``benchmarks/results/face_counting.json``.
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from benchmarks.common import print_table, write_json

REPO = Path(__file__).resolve().parent.parent
FACES = Path(os.environ.get("SEED_SHARED_DIR", REPO.parent / "shared")) / "testdata" / "faces"
NAMED = ["two_people.jpg", "obama_and_biden.jpg", "kit_with_rose.jpg", "t1.jpg", "bald_guys.jpg"]
# the clip's scenes: 0-19 the singer on a wide stage, 20-81 his profile at the frame's edge before a
# (blurred, real) audience, 82-210 the singer alone close up, 211-274 the audience
SINGER_ALONE = [*range(0, 20), *range(82, 211)]
AUDIENCE = [*range(20, 82), *range(211, 275)]
VARIANTS = {"before (no edge pass)": False, "edge pass": True}


def _door_zone() -> tuple[float, float, float, float]:
    """Where the door counts a second face (``face.tailgate_zone``'s default: the whole frame)."""
    from terminal.config import FaceSettings

    return FaceSettings().tailgate_zone


def _door_counts(counter, frames) -> dict:
    from enrollment.count_eval import DOOR_MIN_FACE_PX

    counts = {name: counter.count(frame, DOOR_MIN_FACE_PX, _door_zone(), max_hog_scale=1.0)
              for name, frame in frames}
    over = sorted(name for name, c in counts.items() if c > 1)
    return {"frames": len(counts), "max_count": max(counts.values()), "frames_counting_2_or_more": len(over),
            "refused": over[:10]}


def _frame_ms(counter, frames, detector, use_hog: bool) -> float:
    from enrollment.count_eval import DOOR_MIN_FACE_PX

    times = []
    for frame in frames:
        boxes = detector.detect(frame)
        start = time.perf_counter()
        counter.faces(frame, DOOR_MIN_FACE_PX, _door_zone(), mediapipe_boxes=boxes, use_hog=use_hog, max_hog_scale=1.0)
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def counting(clip_frames: int = 275) -> dict:
    """Every measurement above, as a dict (the integrator's ``benchmarks/faces.py`` calls this)."""
    from enrollment.count_eval import DOOR_FRAME, counter_fn, evaluate_counting, single_person_frames
    from enrollment.face_eval import count_faces
    from terminal.vision.attacks import video_presentation
    from terminal.vision.counting import FaceCounter
    from terminal.vision.detection import FaceDetector

    groups = FACES / "groups"
    xml = [groups / "training.xml", groups / "testing.xml"]
    result: dict = {"group_photos": {}, "count_faces": {}, "single_people": {}, "clip": {}, "clip_audience": {},
                    "door_frame_ms": {}}
    with FaceDetector("full") as detector, FaceCounter(detector=detector) as counter:
        clip = video_presentation(FACES / "video" / "short_hamilton_clip.mp4", max_frames=clip_frames,
                                  frame_size=DOOR_FRAME).frames
        people = single_person_frames(FACES / "people", lambda f: next(iter(detector.detect(f)), None))
        for label, edges in VARIANTS.items():
            counter.edges = edges  # every count below uses the counter's default
            result["group_photos"][label] = evaluate_counting(xml, counter_fn(counter, 32))
            counts, _ = count_faces([groups / n for n in NAMED], counter=counter)
            result["count_faces"][label] = {Path(k).name: v for k, v in counts.items()}
            result["single_people"][label] = _door_counts(counter, people)
            result["clip"][label] = _door_counts(counter, [(f"frame {i}", clip[i]) for i in SINGER_ALONE])
            result["clip_audience"][label] = _door_counts(counter, [(f"frame {i}", clip[i]) for i in AUDIENCE])
            sample = clip[::5]
            result["door_frame_ms"][label] = {
                "count without HOG (2+ mediapipe faces)": _frame_ms(counter, sample, detector, False),
                "count with HOG (once per approach)": _frame_ms(counter, sample, detector, True)}
        counter.edges = True
        detect = []
        for frame in clip[::5]:
            start = time.perf_counter()
            detector.detect(frame)
            detect.append((time.perf_counter() - start) * 1000)
        result["door_frame_ms"]["mediapipe detect (reference)"] = round(statistics.median(detect), 2)
        result["poster"] = _poster(counter, detector, clip)
    return result


def _poster(counter, detector, clip) -> dict:
    """A face on a poster behind the singer (pasted, static) counted as the recognizer counts,
    with and without the StillFaceFilter: counts of 2 would refuse him as tailgating."""
    from enrollment.count_eval import DOOR_MIN_FACE_PX, face_region, paste
    from terminal.vision.counting import StillFaceFilter
    from terminal.vision.images import load_image

    photo = load_image(FACES / "people" / "obama" / "obama.jpg")
    poster = face_region(photo, detector.detect(photo)[0], 80)
    still = StillFaceFilter()
    raw, kept = [], []
    for n, i in enumerate(range(82, 211)):
        frame = paste(clip[i], poster, 470, 90)
        faces = [f for f in counter.faces(frame, DOOR_MIN_FACE_PX, _door_zone(), max_hog_scale=1.0, use_hog=n % 4 == 0)
                 if f.eyes_visible]
        raw.append(len(faces))
        kept.append(len(still.update(i / 29.97, frame, faces)))
    return {"frames": len(raw), "counting_2_or_more_unfiltered": sum(c >= 2 for c in raw),
            "counting_2_or_more_with_still_filter": sum(c >= 2 for c in kept), "max_with_still_filter": max(kept)}


def print_tables(result: dict) -> None:
    """The tables of :func:`counting`'s result (also printed by ``benchmarks.faces``)."""
    from enrollment.count_eval import TABLE_COLUMNS, table_rows

    rows = [row for label, part in result["group_photos"].items() for row in table_rows(part, label)]
    print_table("Anti-tailgating counter on the group photos, whole and cut by the frame's edge (min face 32 px)",
                rows, TABLE_COLUMNS)
    print_table("count-faces on the known photos", [{"counter": k, **v} for k, v in result["count_faces"].items()],
                ["counter", *NAMED])
    door = [{"counter": label, "set": name, **{k: v for k, v in result[key][label].items() if k != "refused"}}
            for key, name in (("single_people", "people/ photos + edge crops"), ("clip", "clip: singer alone"),
                              ("clip_audience", "clip: audience scenes (real people)"))
            for label in VARIANTS]
    print_table("At the door (min face 60 px, the whole frame): one person must never count 2", door,
                ["counter", "set", "frames", "max_count", "frames_counting_2_or_more"])
    ms = []
    for label, part in result["door_frame_ms"].items():
        if isinstance(part, dict):
            ms += [{"stage": f"{label}: {stage}", "ms": value} for stage, value in part.items()]
        else:
            ms.append({"stage": label, "ms": part})
    print_table("Median ms per 640x480 door frame (live clip)", ms, ["stage", "ms"])
    print_table("A face on a poster behind the singer (clip frames 82-210)", [result["poster"]],
                list(result["poster"]))


def checks(result: dict) -> dict[str, bool]:
    """Whole faces found, one person never counted twice at the door, a poster never a second person."""
    edge = "edge pass"
    photos = result["group_photos"][edge]["photos"]
    return {"counting_recall_at_least_95pct": photos["whole_recall"] >= 0.95,
            "one_person_never_counts_2": all(result[key][edge]["max_count"] <= 1 for key in ("single_people", "clip")),
            "poster_not_a_second_person": result["poster"]["max_with_still_filter"] <= 1}


def main() -> None:
    result = counting()
    print_tables(result)
    print("checks:", ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in checks(result).items()))
    write_json("face_counting", result)


if __name__ == "__main__":
    main()
