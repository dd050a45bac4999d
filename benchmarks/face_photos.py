"""Face photos benchmark (照片导入人脸): the real photos of ../shared/testdata/faces/people zipped as HR uploads them, against
a central holding ``--employees`` employees with three face templates each.

Measured in one child process on a throwaway SQLite database (Django set up once):

* **per photo**: ``face_photos.describe`` (the door's enrolment gates and descriptor) on every photo of the upload,
  against the baseline in the same run: ``face_recognition``'s own photo-to-encoding (HOG detection and dlib's
  ResNet descriptor, what face_recognition-based tools do with an ID photo) on the same photos;
* **the check** (``face_photos.plan``): finding each photo's employee, the scope, one person per employee, and the
  duplicate search against every stored template (``--employees`` × 3) and the upload's own;
* **the import** (``face_photos.apply``, first run only: later runs find the same templates and write nothing), and
  reading the upload (``read_upload``).

Medians of ``--runs`` runs. The machine may be shared: compare the rows of one run with each other.

    python -m benchmarks.face_photos [--employees 10000] [--runs 3]
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from benchmarks.central import RESULT_MARK, log, run_central_child
from benchmarks.common import print_table, write_json

REPO = Path(__file__).resolve().parent.parent
PEOPLE = REPO.parent / "shared" / "testdata" / "faces" / "people"


def upload() -> tuple[bytes, list[Path]]:
    """Every photo of ``people/``, each person in a folder named by their number (P0001...)."""
    photos: list[Path] = []
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for i, person in enumerate(sorted(p for p in PEOPLE.iterdir() if p.is_dir()), 1):
            for path in sorted(person.iterdir()):
                zf.write(path, f"P{i:04d}/{path.name}")
                photos.append(path)
    return out.getvalue(), photos


def seed(employees: int) -> None:
    import base64

    import numpy as np

    from central.people.models import Employee, Site

    site = Site.objects.create(code="plant", name="plant", time_zone="Asia/Shanghai")
    rng = np.random.default_rng(20261207)

    def face() -> str:
        vector = rng.normal(size=128).astype(np.float32)
        return base64.b64encode((vector / np.linalg.norm(vector) * 1.4).astype(np.float32).tobytes()).decode("ascii")

    rows = [Employee(number=f"E{i:05d}", name=f"员工{i}", site=site, faces=[face() for _ in range(3)])
            for i in range(employees)]
    rows += [Employee(number=f"P{i:04d}", name=f"照片{i}", site=site) for i in range(1, 11)]
    Employee.objects.bulk_create(rows, batch_size=2000)


def child(args: argparse.Namespace) -> dict[str, Any]:
    from central.django_setup import migrate, setup

    setup(args.db)
    migrate()
    import face_recognition

    from central.people import face_photos

    seed(args.employees)
    data, paths = upload()
    runs: list[dict[str, Any]] = []
    with face_photos.shared_enroller() as enroller:
        for run in range(args.runs):
            t0 = time.perf_counter()
            found = face_photos.read_upload("people.zip", data)
            t1 = time.perf_counter()
            per_photo = []
            for photo in found.photos:
                began = time.perf_counter()
                face_photos.describe(face_photos.Upload([photo], []), enroller)
                per_photo.append((time.perf_counter() - began) * 1000)
            described = face_photos.describe(found, enroller)
            t2 = time.perf_counter()
            checked = face_photos.plan(None, described)
            t3 = time.perf_counter()
            applied = face_photos.apply(None, described, source="people.zip", actor="benchmark")
            t4 = time.perf_counter()
            baseline = []
            for path in paths:
                began = time.perf_counter()
                image = face_recognition.load_image_file(str(path))
                face_recognition.face_encodings(image, face_recognition.face_locations(image))
                baseline.append((time.perf_counter() - began) * 1000)
            runs.append({"read_ms": (t1 - t0) * 1000, "photo_ms": statistics.median(per_photo),
                         "baseline_ms": statistics.median(baseline), "plan_ms": (t3 - t2) * 1000,
                         "apply_ms": (t4 - t3) * 1000, "written": len(applied.employees),
                         "employees": checked.counts["employees"], "templates": checked.counts["templates"],
                         "skipped": checked.counts["skipped"], "refused": checked.counts["refused"]})
            log(f"  run {run + 1}: photo {runs[-1]['photo_ms']:.0f} ms, face_recognition {runs[-1]['baseline_ms']:.0f} ms, "
                f"check {runs[-1]['plan_ms']:.0f} ms")
    return {"photos": len(paths), "employees": args.employees, "stored_templates": args.employees * 3, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.face_photos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=10_000, help="employees already holding 3 templates each")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(RESULT_MARK + json.dumps(child(args)), flush=True)
        return 0
    if not PEOPLE.is_dir():
        print(f"the face photos are not at {PEOPLE} (clone the project with ../shared beside it)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="seed-bench-photos-") as tmp:
        options = ["--employees", str(args.employees), "--runs", str(args.runs)]
        result = run_central_child("benchmarks.face_photos", "photos", str(Path(tmp) / "central.db"), options)
    runs = result["runs"]

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    first = runs[0]
    print_table(f"{result['photos']} photos of {first['employees'] + first['refused']} people "
                f"({first['templates']} templates kept, {first['skipped']} photos not usable), against "
                f"{result['employees']:,} employees holding {result['stored_templates']:,} templates; medians of "
                f"{len(runs)} runs", [
                    {"step": "one photo: face_photos.describe (door's gates + descriptor)", "ms": median("photo_ms")},
                    {"step": "one photo: face_recognition load + locate + encode (baseline)", "ms": median("baseline_ms")},
                    {"step": "read the .zip (read_upload)", "ms": median("read_ms")},
                    {"step": "the check (plan: numbers, scope, one person, duplicates)", "ms": median("plan_ms")},
                    {"step": "the import (apply, first run: writes)", "ms": first["apply_ms"]},
                ], ["step", "ms"])
    write_json("face_photos", {**result, "medians_ms": {k: median(k) for k in
                                                        ("photo_ms", "baseline_ms", "read_ms", "plan_ms")}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
