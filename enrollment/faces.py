"""Face enrolment: quality-gated shots from the camera or from photo files.

Used by the admin screens (live frames) and by ``seed-enroll face-add`` (photos). Every
shot passes the same gates, each with its own reason when it fails:

==================  ===========================================================
``no_face``         no face found
``several_faces``   another face at least half as big is in the picture
``face_too_small``  the face is narrower than ``min_face_px``
``blurry``          too little detail in the face (variance of the Laplacian)
``not_frontal``     head turned or tilted more than the pose limits
``too_dark``        face too dark (mean grey level)
``too_bright``      face washed out
``eyes_closed``     eyes closed (eye aspect ratio)
``different_person`` the shot does not match the earlier shots of this session
``too_similar``     (live frames) too soon after the previous accepted shot
==================  ===========================================================

A session keeps 3-5 good shots. Saving refuses a face that is already enrolled under
another employee number (:class:`DuplicateFaceError`), so one person cannot hold two
numbers.
"""
from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from terminal.vision.detection import FaceBox
from terminal.vision.gallery import DEFAULT_MARGIN, DEFAULT_THRESHOLD, FaceGallery
from terminal.vision.images import ImageError, as_bgr, load_image
from terminal.vision.landmarks import FaceMesh, face_crop

if TYPE_CHECKING:
    from terminal.store.database import Store

log = logging.getLogger(__name__)

REASON_TEXT = {
    "no_face": "no face found",
    "several_faces": "more than one face: only the person being enrolled may be in the picture",
    "face_too_small": "face too small: come closer or use a larger photo",
    "blurry": "image blurred: hold still, clean the lens or use a sharper photo",
    "not_frontal": "face not frontal: look straight at the camera",
    "too_dark": "face too dark: add light",
    "too_bright": "face overexposed: reduce light or avoid backlight",
    "eyes_closed": "eyes closed",
    "different_person": "this shot shows a different person from the earlier shots",
    "too_similar": "too soon after the previous shot",
    "unreadable": "not an image",
}


class EnrolmentError(ValueError):
    """Enrolment cannot complete; the message says why (and which shots failed)."""


class DuplicateFaceError(EnrolmentError):
    """The face already belongs to another enrolled employee."""

    def __init__(self, other: Hashable, distance: float):
        self.other = other
        self.distance = distance
        super().__init__(f"this face is already enrolled for employee {other} (distance {distance:.3f})")


@dataclass(frozen=True)
class QualityGates:
    min_face_px: int = 90
    min_sharpness: float = 40.0  # variance of the Laplacian of the face at 112x112
    max_yaw_deg: float = 20.0
    max_pitch_deg: float = 22.0
    max_roll_deg: float = 25.0
    min_brightness: float = 55.0
    max_brightness: float = 215.0
    min_eye_ratio: float = 0.16  # eye aspect ratio below this: eyes closed
    other_face_share: float = 0.5  # another face this share of the main face's width: several faces


@dataclass
class ShotCheck:
    """The verdict on one shot, with what was measured."""

    ok: bool
    reason: str | None = None
    source: str = ""
    box: FaceBox | None = None
    measures: dict = field(default_factory=dict)
    descriptor: np.ndarray | None = field(default=None, repr=False)
    quality: float = 0.0

    @property
    def message(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        if self.ok:
            return f"{prefix}ok"
        if "error" in self.measures:  # the file itself could not be read: its own message names it
            return str(self.measures["error"])
        return prefix + REASON_TEXT.get(self.reason or "", self.reason or "refused")

    def as_dict(self) -> dict:
        return {"source": self.source, "ok": self.ok, "reason": self.reason, "message": self.message,
                "quality": round(self.quality, 3), **{k: round(v, 3) if isinstance(v, float) else v
                                                       for k, v in self.measures.items()}}


class FaceEnroller:
    """Checks shots against the gates and computes their descriptors. One per thread."""

    def __init__(self, models=None, gates: QualityGates | None = None, backend: str = "opencv",
                 flip_average: bool = True):
        from terminal.vision.photos import PhotoAnalyzer

        self.gates = gates or QualityGates()
        # templates are described as the door describes probes (flip-averaged unless the profile turns it off)
        self.analyzer = PhotoAnalyzer(models, backend, flip_average)  # type: ignore[arg-type]
        self.mesh = FaceMesh()

    def close(self) -> None:
        self.analyzer.close()
        self.mesh.close()

    def __enter__(self) -> FaceEnroller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check(self, image: np.ndarray, source: str = "") -> ShotCheck:
        g = self.gates
        image = as_bgr(image)
        boxes = self.analyzer.detect(image)
        if not boxes:
            return ShotCheck(False, "no_face", source)
        face = boxes[0]
        others = [b for b in boxes[1:] if b.size >= g.other_face_share * face.size]
        measures: dict = {"face_px": round(face.size, 1), "faces": 1 + len(others)}
        if others:
            return ShotCheck(False, "several_faces", source, face, measures)
        if face.size < g.min_face_px:
            return ShotCheck(False, "face_too_small", source, face, measures)
        crop, _ = face_crop(image, face, size=112, context=0.0)
        grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        measures["brightness"] = float(grey[20:92, 20:92].mean())
        measures["sharpness"] = float(cv2.Laplacian(grey, cv2.CV_32F).var())
        mesh = self.mesh.landmarks(image, face)
        if mesh is not None:
            measures.update(yaw=mesh.yaw, pitch=mesh.pitch, roll=mesh.roll, eye_ratio=mesh.ear)
        if measures["brightness"] < g.min_brightness:
            return ShotCheck(False, "too_dark", source, face, measures)
        if measures["brightness"] > g.max_brightness:
            return ShotCheck(False, "too_bright", source, face, measures)
        if measures["sharpness"] < g.min_sharpness:
            return ShotCheck(False, "blurry", source, face, measures)
        if mesh is None:  # the detector's guess is not a face the mesh can follow (or a dog's)
            return ShotCheck(False, "no_face", source, face, measures)
        if abs(mesh.yaw) > g.max_yaw_deg or abs(mesh.pitch) > g.max_pitch_deg or abs(mesh.roll) > g.max_roll_deg:
            return ShotCheck(False, "not_frontal", source, face, measures)
        if mesh.ear < g.min_eye_ratio:
            return ShotCheck(False, "eyes_closed", source, face, measures)
        described = self.analyzer.describe(image, face)
        frontal = float(np.cos(np.radians(mesh.yaw)) * np.cos(np.radians(mesh.pitch)))
        quality = frontal * min(1.0, measures["sharpness"] / 300.0) ** 0.5 * min(1.0, face.size / 200.0) ** 0.5
        return ShotCheck(True, None, source, face, measures, described.descriptor, quality)

    def check_file(self, path: Path | str) -> ShotCheck:
        try:
            image = load_image(path)
        except ImageError as exc:
            return ShotCheck(False, exc.reason, str(path), measures={"error": str(exc)})
        return self.check(image, str(path))


class EnrolmentSession:
    """Collects 3-5 good shots of one person (live frames or photos)."""

    def __init__(self, enroller: FaceEnroller, *, min_shots: int = 3, max_shots: int = 5,
                 threshold: float = DEFAULT_THRESHOLD, min_interval_s: float = 0.4):
        if not 1 <= min_shots <= max_shots <= 10:
            raise ValueError("need 1 <= min_shots <= max_shots <= 10")
        self.enroller = enroller
        self.min_shots = min_shots
        self.max_shots = max_shots
        self.threshold = threshold
        self.min_interval_s = min_interval_s
        self.shots: list[ShotCheck] = []
        self.refused: list[ShotCheck] = []
        self._last_t: float | None = None

    @property
    def ready(self) -> bool:
        return len(self.shots) >= self.min_shots

    @property
    def complete(self) -> bool:
        return len(self.shots) >= self.max_shots

    def _accept(self, shot: ShotCheck) -> ShotCheck:
        if shot.ok and self.shots:
            mean = np.mean([s.descriptor for s in self.shots if s.descriptor is not None], axis=0)
            distance = float(np.linalg.norm(shot.descriptor - mean))
            shot.measures["distance_to_session"] = distance
            if distance > self.threshold:
                shot.ok, shot.reason = False, "different_person"
        if shot.ok:
            if self.complete:  # keep the best max_shots
                worst = min(self.shots, key=lambda s: s.quality)
                if shot.quality <= worst.quality:
                    return shot
                self.shots.remove(worst)
            self.shots.append(shot)
        else:
            self.refused.append(shot)
        return shot

    def offer_frame(self, frame: np.ndarray, t: float) -> ShotCheck:
        """A live camera frame at monotonic time ``t``; returns the verdict (for the admin screen)."""
        if self._last_t is not None and t - self._last_t < self.min_interval_s:
            return ShotCheck(False, "too_similar", f"frame at {t:.2f}s")
        shot = self._accept(self.enroller.check(frame, f"frame at {t:.2f}s"))
        if shot.ok:
            self._last_t = t
        return shot

    def offer_file(self, path: Path | str) -> ShotCheck:
        return self._accept(self.enroller.check_file(path))

    def descriptors(self) -> np.ndarray:
        return np.array([s.descriptor for s in self.shots], np.float32)

    def qualities(self) -> list[float]:
        return [s.quality for s in self.shots]


def check_duplicate(descriptors: np.ndarray, gallery: FaceGallery, employee_id: Hashable) -> None:
    """Raise :class:`DuplicateFaceError` when these shots match another enrolled identity."""
    if len(gallery) == 0:
        return
    probe = np.mean(descriptors, axis=0)
    match = gallery.search(probe, exclude=employee_id)
    if match.best_identity is not None and match.distance <= gallery.threshold:
        raise DuplicateFaceError(match.best_identity, match.distance)


def save_enrolment(store: Store, employee_id: int, session: EnrolmentSession, *, replace: bool = False,
                   threshold: float = DEFAULT_THRESHOLD, margin: float = DEFAULT_MARGIN, source: str = "camera",
                   actor: str = "admin") -> list[int]:
    """Write a ready session's templates for an employee, after the duplicate check."""
    from terminal.store.employees import add_face_templates, delete_face_templates, get_employee

    if not session.ready:
        raise EnrolmentError(f"{len(session.shots)} good shot(s), at least {session.min_shots} needed")
    employee = get_employee(store, employee_id)
    if employee is None:
        raise EnrolmentError(f"no employee with id {employee_id}")
    gallery = FaceGallery.from_store(store, threshold, margin)
    descriptors = session.descriptors()
    try:
        check_duplicate(descriptors, gallery, employee_id)
    except DuplicateFaceError as exc:
        other = store.query_one("SELECT number FROM employees WHERE id = ?", (exc.other,))
        number = other["number"] if other else exc.other
        store.record_event("enrol_duplicate_face", {"employee_number": employee["number"], "matches": number,
                                                    "distance": round(exc.distance, 3)}, severity="warning")
        raise DuplicateFaceError(number, exc.distance) from None
    if replace:
        delete_face_templates(store, employee_id, actor=actor)
    ids = add_face_templates(store, employee_id, list(descriptors), quality=session.qualities(), source=source, actor=actor)
    log.info("face enrolled for employee %s: %s templates", employee["number"], len(ids))
    return ids


def enrol_photos(store: Store, number: str, paths: Sequence[Path | str], *, replace: bool = False, min_shots: int = 3,
                 threshold: float = DEFAULT_THRESHOLD, margin: float = DEFAULT_MARGIN, enroller: FaceEnroller | None = None,
                 actor: str = "admin") -> dict:
    """Enrol an employee's face from photo files; returns a report of every photo.

    Raises :class:`EnrolmentError` (nothing written) when fewer than ``min_shots``
    photos pass the gates, or :class:`DuplicateFaceError` for a face enrolled under
    another number.
    """
    from terminal.store.employees import find_by_number

    employee = find_by_number(store, number)
    if employee is None:
        raise EnrolmentError(f"no employee {number}")
    own = enroller is None
    enroller = enroller or FaceEnroller()
    try:
        session = EnrolmentSession(enroller, min_shots=min_shots, max_shots=max(5, min_shots), threshold=threshold)
        checks = [session.offer_file(path) for path in paths]
    finally:
        if own:
            enroller.close()
    report = {"employee": employee["number"], "photos": [c.as_dict() for c in checks], "good": len(session.shots)}
    if not session.ready:
        failed = "; ".join(c.message for c in checks if not c.ok)
        raise EnrolmentError(f"{len(session.shots)} of {len(checks)} photo(s) usable, at least {min_shots} needed"
                             + (f" ({failed})" if failed else ""))
    ids = save_enrolment(store, employee["id"], session, replace=replace, threshold=threshold, margin=margin,
                         source="photo", actor=actor)
    report["templates"] = len(ids)
    return report
