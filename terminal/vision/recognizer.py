"""The face pipeline at the door: frames in, guidance and one decision per approach out.

:class:`FaceRecognizer` is fed camera frames (BGR numpy arrays, any size) with their
monotonic time. It follows one *approach*: the largest face in the capture zone, from
the moment it is big enough until a decision. Per frame it

1. detects faces (mediapipe full range; on every ``detect_every``-th analysed frame, the
   face mesh's landmarks giving the box in between) and picks the primary face;
2. counts everyone in ``tailgate_zone`` (the whole frame by default: a person whose face
   the frame's edge cuts counts; mediapipe whenever it sees two, dlib HOG with the edge
   pass once on the frame that would decide; eyes visible; a face that never changes, a
   poster, left out by :class:`StillFaceFilter`): two or more faces of
   ``tailgate_min_face_px`` in two counts -> ``tailgating``;
3. runs the face mesh on the primary face and feeds the liveness tracker; by default it
   asks for a head turn to a random side once the face is frontal and still (passive
   border and screen checks throughout);
4. keeps the best shots (sharp, frontal, eyes open) and describes the best one once,
   while the person answers the prompt;
5. once liveness passes, and only then, searches the gallery: ``accepted`` (employee
   id, distance) or ``unknown``.

``face.profile`` (:data:`PROFILES`) sets how often each stage runs.

It never punches and never writes: the caller passes an accepted identity to the punch
path and records the refusal events (:mod:`terminal.vision.door` does both). After a
decision it holds until that face leaves (or another face replaces it), so one person
standing at the door gives one decision.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np

from terminal.vision.border import find_border
from terminal.vision.counting import FaceCounter, StillFaceFilter
from terminal.vision.descriptor import FaceEncoder
from terminal.vision.detection import FULL_FRAME, FaceBox, FaceDetector, in_zone
from terminal.vision.gallery import FaceGallery, Match
from terminal.vision.images import as_bgr
from terminal.vision.landmarks import FaceMesh, MeshLandmarks, face_crop
from terminal.vision.liveness import Direction, LivenessSettings, LivenessTracker, LivenessVerdict
from terminal.vision.models import SharedModels, shared_models
from terminal.vision.screen_cues import grid_peakiness

log = logging.getLogger(__name__)

Outcome = Literal["accepted", "unknown", "tailgating", "spoof_suspected"]
State = Literal["idle", "tracking", "challenge", "hold"]

GUIDANCE_TEXT = {
    "move_closer": "Please move closer",
    "look_at_camera": "Please look at the camera",
    "too_dark": "Too dark, please step into the light",
    "one_at_a_time": "One person at a time, please",
    "turn_left": "Please turn your head to your left",
    "turn_right": "Please turn your head to your right",
    "hold_still": "Please hold still",
}
# i18n keys of the refusal each outcome shows (terminal.i18n "refuse.*")
REFUSAL_KEYS = {"unknown": "not_recognised", "spoof_suspected": "not_live", "tailgating": "tailgating"}
EVENT_KINDS = {"unknown": "unknown_face", "spoof_suspected": "spoof_suspected", "tailgating": "tailgating"}

DARK_LEVEL = 45  # mean grey level of the face below this: too dark to recognise
MAX_POSE_DEG = 25.0  # beyond this yaw or pitch the person is asked to look at the camera
LOST_AFTER_S = 0.7  # a face missing this long ends the approach (or the hold)
TAILGATE_CONFIRMATIONS = 2  # counts of two or more faces needed for a tailgating decision
PROMPT_AFTER_S = (0.3, 0.5)  # the challenge is asked at a random moment in this range after the face appeared
PROMPT_MIN_FRAMES = 4  # analysed frames before the challenge may be asked
# restarts of one presence (a face jumping so far between frames that its approach starts over as "another face")
# that refuse it as "unsteady" once it outlasts an approach: two, so that one undecided person handing over to the
# next in the queue without a gap is not refused
UNSTEADY_RESTARTS = 2


@dataclass(frozen=True)
class Profile:
    """How much the recognizer computes per frame (``face.profile``)."""

    analyse_every: int  # camera frames per analysed frame (others only shown)
    detect_every: int  # analysed frames per detector run while the face mesh tracks the face in between
    border_every: int  # analysed frames per rectangular-border check
    screen_every: int  # analysed frames per screen pixel-grid check
    mesh_refine: bool  # iris refinement in the face mesh where blinks are evidence (sharper eye landmarks)
    best_shots: int  # shots kept for the descriptor (one descriptor each, computed only while no match is found)
    flip_average: bool = True  # descriptors averaged with the mirror image's (a second ResNet pass) where configured


PROFILES = {
    "standard": Profile(analyse_every=1, detect_every=4, border_every=4, screen_every=2, mesh_refine=True, best_shots=3),
    "low_power": Profile(analyse_every=2, detect_every=4, border_every=4, screen_every=2, mesh_refine=False, best_shots=2,
                         flip_average=False),
}
# where frames are skipped (analyse_every > 1): once the asked turn has come this share of face.turn_challenge's
# degrees, every frame is analysed, so the answer is seen as soon as it is complete
FOLLOW_TURN_SHARE = 0.75
IDENTIFY_GRACE_S = 1.0  # after liveness passes, time allowed for a better shot to match
UNKNOWN_RESET_S = 60.0  # unknown attempts are forgotten after this long without faces


@dataclass(frozen=True)
class Guidance:
    code: str
    text: str

    @classmethod
    def of(cls, code: str) -> Guidance:
        return cls(code, GUIDANCE_TEXT[code])


@dataclass(frozen=True)
class Decision:
    """The end of one approach."""

    outcome: Outcome
    employee_id: Hashable | None = None  # accepted only: the gallery's identity (the door keys it by employee id)
    distance: float | None = None  # to the nearest template (accepted and unknown)
    margin: float | None = None
    face_count: int = 1  # tailgating: the most faces counted at once
    reasons: tuple[str, ...] = ()  # spoof_suspected: liveness reasons or "unsteady"; unknown: "too_far"/"ambiguous"
    liveness: str | None = None  # "blink", "turn" (asked or fallback) or "off" when liveness passed
    unknown_attempts: int = 0
    offer_fallback: bool = False  # too many unknown attempts: offer fingerprint, card or PIN
    elapsed_s: float = 0.0
    metrics: dict = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.outcome == "accepted"

    @property
    def score(self) -> float | None:
        """Similarity recorded with the punch: 1 - distance (higher is closer)."""
        return None if self.distance is None else round(1.0 - self.distance, 4)

    @property
    def refusal_key(self) -> str | None:
        return REFUSAL_KEYS.get(self.outcome)

    def event(self) -> tuple[str, dict] | None:
        """(kind, payload) to record with ``store.record_event``; None for an accepted face.

        Payloads hold counts, reasons and distances, never a descriptor or an image.
        """
        if self.outcome == "accepted":
            return None
        payload: dict[str, Any] = {"elapsed_s": round(self.elapsed_s, 2)}
        if self.outcome == "tailgating":
            payload["count"] = self.face_count
        elif self.outcome == "spoof_suspected":
            payload["reasons"] = list(self.reasons)
            payload["liveness"] = {k: v for k, v in self.metrics.items()
                                   if k in ("frames", "parallax", "perspective_change", "motion", "yaw_range",
                                            "border_share", "ear_min_ratio", "screen_share", "screen_peakiness",
                                            "challenge", "challenge_failure", "restarts")}
        else:
            payload["attempts"] = self.unknown_attempts
            payload["nearest_distance"] = None if self.distance is None else round(self.distance, 3)
            payload["reason"] = self.reasons[0] if self.reasons else None
            payload["fallback_offered"] = self.offer_fallback
        return EVENT_KINDS[self.outcome], payload


@dataclass
class FrameResult:
    """What one frame produced: faces to draw, guidance for the person, maybe a decision."""

    state: State
    faces: list[FaceBox]
    primary: FaceBox | None = None
    guidance: Guidance | None = None
    decision: Decision | None = None
    face_count: int = 0


@dataclass
class _Shot:
    quality: float
    frame: np.ndarray
    box: FaceBox
    descriptor: np.ndarray | None = None


@dataclass
class _Approach:
    started: float
    liveness: LivenessTracker
    last_box: FaceBox
    last_seen: float
    frames: int = 0
    counts: list[int] = field(default_factory=list)
    shots: list[_Shot] = field(default_factory=list)
    challenge_deadline: float | None = None
    prompt_after: float = 0.0
    hog_counted: bool = False
    hog_counts: int = 0
    last_raw_count: int = 0  # faces of the last count before the still-face filter
    live_at: float | None = None
    shots_changed: bool = False
    best_match: Match | None = None


def _due(frames: int, every: int) -> bool:
    """Whether a check run on every ``every``-th analysed frame of an approach runs on frame ``frames`` (1, 1 + every, ...)."""
    return (frames - 1) % every == 0


def _face_brightness(frame: np.ndarray, box: FaceBox) -> float:
    x0, y0 = int(max(0, box.x + 0.2 * box.w)), int(max(0, box.y + 0.2 * box.h))
    x1, y1 = int(min(frame.shape[1], box.x + 0.8 * box.w)), int(min(frame.shape[0], box.y + 0.8 * box.h))
    if x1 <= x0 or y1 <= y0:
        return 0.0
    return float(cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY).mean())


def _sharpness(frame: np.ndarray, box: FaceBox) -> float:
    crop, _ = face_crop(frame, box, size=112, context=0.0)
    return float(cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), cv2.CV_32F).var())


class FaceRecognizer:
    """One camera's face pipeline. Not thread-safe: feed it from one thread.

    ``settings`` is the ``face`` section of the terminal configuration. ``gallery`` may
    be replaced at any time (``recognizer.gallery = FaceGallery.from_store(store)``)
    when the roster changes.
    """

    def __init__(self, gallery: FaceGallery, settings: Any = None, *, models: SharedModels | None = None,
                 liveness: LivenessSettings | None = None, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None):
        if settings is None:
            from terminal.config import FaceSettings

            settings = FaceSettings()
        self.settings = settings
        self.gallery = gallery
        self.models = models or shared_models()
        self.liveness_settings = liveness or LivenessSettings()
        self.clock = clock
        self.rng = rng or random.Random()
        self.profile = PROFILES[getattr(settings, "profile", "standard")]
        self.detector = FaceDetector("full")
        # iris refinement (~25 % of the mesh's time) only where a blink is evidence: the prompted turn reads
        # yaw and parallax, not the eyes' fine shape
        blinks = getattr(settings, "liveness", "challenge") in ("blink", "blink_or_turn")
        self.mesh = FaceMesh(refine=self.profile.mesh_refine and blinks)
        self.counter = FaceCounter(self.models, detector=self.detector)
        self.still_faces = StillFaceFilter()  # a face on a poster behind the employee is nobody
        # low_power describes each shot with one ResNet pass: templates enrolled flip-averaged keep matching
        # (docs/face-recognition.md, "Matching")
        self.encoder = FaceEncoder(self.models, getattr(settings, "descriptor_backend", "opencv"),
                                   flip_average=getattr(settings, "descriptor_flip_average", True)
                                   and self.profile.flip_average)
        self.state: State = "idle"
        self._approach: _Approach | None = None
        self._hold_box: FaceBox | None = None
        self._hold_seen = 0.0
        self.unknown_attempts = 0
        self._last_face_at = 0.0
        self._frame_no = 0
        self._last_result: FrameResult | None = None
        # one presence: the face seen without a gap of LOST_AFTER_S, over approaches restarted as "another face"
        self._present_since: float | None = None
        self._restarts = 0
        self._tracked: FaceBox | None = None  # the face's box from the last mesh, for frames without detection
        self._box_fit: tuple[float, float, float, float] | None = None  # detector box relative to the mesh's extent
        self.timings: dict[str, float] = {}

    # -- public ---------------------------------------------------------------------------
    @property
    def gallery(self) -> FaceGallery:
        return self._gallery

    @gallery.setter
    def gallery(self, gallery: FaceGallery) -> None:
        """Swap in a new gallery (roster changed); the configured threshold and margin apply to it."""
        gallery.threshold = self.settings.match_threshold
        gallery.margin = self.settings.match_margin
        self._gallery = gallery

    def reset(self) -> None:
        """Forget the current approach (e.g. when the screen leaves the idle view)."""
        self.state = "idle"
        self._approach = None
        self._hold_box = None
        self._tracked = None
        self._present_since = None
        self._restarts = 0
        self.still_faces.reset()

    def process(self, frame: np.ndarray, t: float | None = None) -> FrameResult:
        """Handle one frame; ``t`` is its monotonic time in seconds (default: now)."""
        frame = as_bgr(frame)
        t = self.clock() if t is None else float(t)
        self.timings = {}
        self._frame_no += 1
        last = self._last_result
        if last is not None and self._skipped():
            # low power: between analysed frames (idle, approach or hold) the screen keeps the last boxes and guidance;
            # the prompt's random moment may fall on such a frame (asked from what the analysed frames saw)
            guidance = last.guidance
            approach = self._approach
            if approach is not None and self.state == "tracking" and self._prompt_if_due(approach, t):
                guidance = Guidance.of(f"turn_{approach.liveness.challenge}")
            self._last_result = FrameResult(self.state, last.faces, last.primary, guidance, None, last.face_count)
            return self._last_result
        result = self._process(frame, t)
        self._last_result = result
        return result

    def _skipped(self) -> bool:
        """Whether this camera frame is only shown (``analyse_every`` > 1): every frame is analysed once the asked
        turn is under way (FOLLOW_TURN_SHARE of it), so its completion is not seen a frame late."""
        every = self.profile.analyse_every
        if every == 1 or self._frame_no % every == 0:
            return False
        approach = self._approach
        if approach is None or self.state != "challenge":
            return True
        return approach.liveness.turn_progress() < FOLLOW_TURN_SHARE * self.liveness_settings.turn_deg

    def _process(self, frame: np.ndarray, t: float) -> FrameResult:
        approach = self._approach
        zone = self.settings.zone
        tracked = self._tracked if approach is not None and self.state != "hold" else None
        if tracked is not None and approach is not None and approach.frames % self.profile.detect_every:
            # the face mesh of the previous frame says where the face is: no detector run on this frame
            boxes = [tracked]
            rgb = None
        else:
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            with self._timed("detect_ms"):
                boxes = self.detector.detect(frame, rgb)
        in_zone_boxes = [b for b in boxes if in_zone(b, zone, frame.shape)]
        primary = in_zone_boxes[0] if in_zone_boxes else None
        if primary is not None:
            if self.unknown_attempts and t - self._last_face_at > UNKNOWN_RESET_S:
                self.unknown_attempts = 0
            self._last_face_at = t

        if self.state == "hold":
            return self._hold(t, in_zone_boxes, primary)

        if primary is None or primary.size < self.settings.min_face_px:
            self._tracked = None
            if approach is not None and t - approach.last_seen > LOST_AFTER_S:
                log.debug("approach abandoned: face lost")
                self.reset()
            guidance = Guidance.of("move_closer") if primary is not None else None
            return FrameResult(self.state, in_zone_boxes, primary, guidance)

        if approach is not None and not self._same_face(approach.last_box, primary):
            log.debug("approach restarted: another face")
            approach = None
            self._restarts += 1
        if approach is None:
            if self._present_since is None:
                self._present_since = t
            mode = self.settings.liveness
            tracker = LivenessTracker(self.liveness_settings, accept_blink=mode in ("blink", "blink_or_turn"))
            approach = _Approach(t, tracker, primary, t)
            approach.prompt_after = t + self.rng.uniform(*PROMPT_AFTER_S)
            self._approach = approach
            self.state = "tracking"
            if mode == "turn":
                self._start_challenge(approach, t)
        approach.last_box, approach.last_seen = primary, t
        approach.frames += 1

        # anti-tailgating: mediapipe's faces whenever it sees two; the HOG count once, before a decision
        count = self._count(frame, boxes, approach, t, with_hog=False)
        if self._tailgating(approach):
            decision = Decision("tailgating", face_count=max(approach.counts), elapsed_s=t - approach.started)
            return self._decide(decision, t, in_zone_boxes, primary, Guidance.of("one_at_a_time"), count)
        unsteady = self._unsteady(approach, t)
        if unsteady is not None:
            return self._decide(unsteady, t, in_zone_boxes, primary, None, count)

        guidance = None
        brightness = _face_brightness(frame, primary)
        if brightness < DARK_LEVEL:
            guidance = Guidance.of("too_dark")

        with self._timed("mesh_ms"):
            mesh = self.mesh.landmarks(frame, primary)
        if mesh is None:
            self._tracked = None
        else:
            self._track(primary, mesh, detected=rgb is not None)
            border = screen = None
            if _due(approach.frames, self.profile.border_every):
                with self._timed("border_ms"):
                    border = find_border(frame, primary, mesh.roll)
            if _due(approach.frames, self.profile.screen_every):
                with self._timed("screen_ms"):
                    screen = grid_peakiness(frame, primary)
            with self._timed("liveness_ms"):
                approach.liveness.add(t, mesh, border, screen)
            if guidance is None and (abs(mesh.yaw) > MAX_POSE_DEG or abs(mesh.pitch) > MAX_POSE_DEG) \
                    and approach.challenge_deadline is None:
                guidance = Guidance.of("look_at_camera")
            self._keep_shot(approach, frame, primary, mesh, brightness)

        verdict = self._liveness_verdict(approach, t)
        if verdict.status == "spoof":
            decision = Decision("spoof_suspected", reasons=verdict.reasons, elapsed_s=t - approach.started,
                                metrics=verdict.metrics)
            return self._decide(decision, t, in_zone_boxes, primary, None, count)
        if verdict.status == "live" and approach.shots:
            if not approach.hog_counted:
                # the one HOG count of the approach, on the frame that would decide; two faces (or a second
                # face seen for the first time, not yet told from a poster) defer the decision to the next
                # frame, which counts again
                count = self._count(frame, boxes, approach, t, with_hog=True)
                approach.hog_counts += 1
                approach.hog_counted = count < 2 and (approach.last_raw_count < 2 or approach.hog_counts >= 2)
                if self._tailgating(approach):
                    decision = Decision("tailgating", face_count=max(approach.counts), elapsed_s=t - approach.started)
                    return self._decide(decision, t, in_zone_boxes, primary, Guidance.of("one_at_a_time"), count)
            if approach.hog_counted:
                identified = self._identify(approach, verdict, t)
                if identified is not None:
                    return self._decide(identified, t, in_zone_boxes, primary, None, count)
        elif approach.challenge_deadline is not None and approach.shots \
                and all(shot.descriptor is None for shot in approach.shots):
            # while the person answers the challenge: describe the best shot (taken frontal and still) now,
            # once, so the deciding frame only matches
            self._describe(approach.shots[0])
        if approach.challenge_deadline is not None and approach.liveness.turn_at is None:
            guidance = Guidance.of(f"turn_{approach.liveness.challenge}")
        elif guidance is None and self.settings.liveness == "challenge" and approach.challenge_deadline is None \
                and approach.frames >= PROMPT_MIN_FRAMES:
            guidance = Guidance.of("hold_still")  # the prompt waits for a still, frontal face
        return FrameResult(self.state, in_zone_boxes, primary, guidance, None, count)

    def _track(self, box: FaceBox, mesh: MeshLandmarks, detected: bool) -> None:
        """Remember where the mesh puts the face, as a detector-like box for the next frames."""
        pts = mesh.points[:, :2]
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        w, h = max(float(x1 - x0), 1.0), max(float(y1 - y0), 1.0)
        if detected or self._box_fit is None:
            self._box_fit = ((box.x - x0) / w, (box.y - y0) / h, box.w / w, box.h / h)
        fx, fy, fw, fh = self._box_fit
        self._tracked = FaceBox(float(x0 + fx * w), float(y0 + fy * h), fw * w, fh * h, box.score, "mesh")

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        """Time the block into ``self.timings[stage]`` (milliseconds; the benchmark reads them)."""
        started = time.perf_counter()
        yield
        self.timings[stage] = (time.perf_counter() - started) * 1000

    def _describe(self, shot: _Shot) -> None:
        with self._timed("descriptor_ms"):
            shot.descriptor, _ = self.encoder.describe(shot.frame, shot.box)

    def close(self) -> None:
        self.mesh.close()
        self.detector.close()

    def __enter__(self) -> FaceRecognizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- steps ----------------------------------------------------------------------------
    @staticmethod
    def _same_face(previous: FaceBox, current: FaceBox) -> bool:
        if previous.iou(current) > 0.2:
            return True
        (px, py), (cx, cy) = previous.center, current.center
        distance = ((px - cx) ** 2 + (py - cy) ** 2) ** 0.5
        return distance < 0.6 * max(previous.size, current.size) and 0.6 < current.size / max(previous.size, 1) < 1.6

    @staticmethod
    def _tailgating(approach: _Approach) -> bool:
        return sum(1 for c in approach.counts if c >= 2) >= TAILGATE_CONFIRMATIONS

    def _count(self, frame: np.ndarray, boxes: list[FaceBox], approach: _Approach, t: float, with_hog: bool) -> int:
        """Faces in ``face.tailgate_zone`` (the whole frame by default: a person cut by its edge counts)."""
        min_px = self.settings.tailgate_min_face_px
        zone = getattr(self.settings, "tailgate_zone", FULL_FRAME)
        boxes = [b for b in boxes if in_zone(b, zone, frame.shape)]
        candidates = [b for b in boxes if b.size >= min_px]
        if len(candidates) < 2 and not with_hog:
            return len(candidates)
        with self._timed("count_ms"):
            faces = self.counter.faces(frame, min_face_px=min_px, zone=zone, mediapipe_boxes=boxes,
                                       use_hog=with_hog, max_hog_scale=1.0)
            seen = [f for f in faces if f.eyes_visible]
            # a face that never moves or changes (a poster) is not a second person; the largest face always counts
            count = len(self.still_faces.update(t, frame, seen))
        approach.last_raw_count = len(seen)
        approach.counts.append(count)
        return count

    def _keep_shot(self, approach: _Approach, frame: np.ndarray, box: FaceBox, mesh: MeshLandmarks, brightness: float) -> None:
        level = approach.liveness.ear_open_level() or mesh.ear
        if mesh.ear < 0.85 * level:
            return  # eyes closing: not a shot to recognise from
        frontal = max(0.0, np.cos(np.radians(mesh.yaw)) * np.cos(np.radians(mesh.pitch)))
        sharp = min(1.0, _sharpness(frame, box) / 300.0)
        size = min(1.0, box.size / 160.0)
        light = 1.0 if brightness >= DARK_LEVEL else 0.5
        quality = frontal ** 4 * (0.3 + 0.7 * sharp) * size * light
        shots = approach.shots
        keep = self.profile.best_shots
        if len(shots) < keep or quality > shots[-1].quality:
            shots.append(_Shot(quality, frame.copy(), box))
            shots.sort(key=lambda s: -s.quality)
            described = [shot for shot in shots[keep:] if shot.descriptor is not None]
            del shots[keep:]
            if described and all(shot.descriptor is None for shot in shots):
                shots[-1] = described[0]  # a shot already described stays: its descriptor is paid for
            approach.shots_changed = True

    def _unsteady(self, approach: _Approach, t: float) -> Decision | None:
        """A face that kept jumping (its approach restarted as "another face" UNSTEADY_RESTARTS times or more) for
        longer than an approach may last, window and challenge together, is refused: a screen or print waved in front
        of the camera restarts the approach before its challenge can time out, and would otherwise never be decided
        nor recorded."""
        since = self._present_since
        longest = self.settings.window_s + self.settings.turn_challenge_s
        if self._restarts < UNSTEADY_RESTARTS or since is None or t - since < longest:
            return None
        return Decision("spoof_suspected", reasons=("unsteady",), elapsed_s=t - since,
                        metrics={**approach.liveness.metrics(), "restarts": self._restarts})

    def _prompt_if_due(self, approach: _Approach, t: float) -> bool:
        """Ask for the turn (``face.liveness = "challenge"``) if its moment has come: at a random moment once the face
        is frontal and still (or the window is over), so that only an answer made after the prompt can pass."""
        if self.settings.liveness != "challenge" or approach.challenge_deadline is not None:
            return False
        ready = approach.frames >= PROMPT_MIN_FRAMES and t >= approach.prompt_after
        if ready and (approach.liveness.still_and_frontal() or t - approach.started >= self.settings.window_s):
            self._start_challenge(approach, t)
            return True
        return False

    def _start_challenge(self, approach: _Approach, t: float) -> None:
        directions: tuple[Direction, Direction] = ("left", "right")
        direction = self.rng.choice(directions)
        approach.liveness.start_challenge(direction, t)
        approach.challenge_deadline = t + self.settings.turn_challenge_s
        self.state = "challenge"

    def _liveness_verdict(self, approach: _Approach, t: float) -> LivenessVerdict:
        mode = self.settings.liveness
        tracker = approach.liveness
        if mode == "off":
            frames = len(tracker.frames)
            return LivenessVerdict("live" if frames >= 1 else "pending", "off", metrics=tracker.metrics())
        verdict = tracker.verdict(final=False)
        if verdict.status != "pending":
            return verdict
        if mode == "challenge" and approach.challenge_deadline is None:
            self._prompt_if_due(approach, t)
            return verdict
        if approach.challenge_deadline is None:
            if t - approach.started >= self.settings.window_s:
                if mode == "blink_or_turn":
                    self._start_challenge(approach, t)
                    return verdict
                return tracker.verdict(final=True)
            return verdict
        if t >= approach.challenge_deadline:
            return tracker.verdict(final=True)
        return verdict

    def _identify(self, approach: _Approach, verdict: LivenessVerdict, t: float) -> Decision | None:
        """Match the best shots; a match decides at once, a miss only when the time is up."""
        if approach.live_at is None:
            approach.live_at = t
        pending = [shot for shot in approach.shots if shot.descriptor is None]
        described_any = any(shot.descriptor is not None for shot in approach.shots)
        if approach.best_match is None and described_any:
            pending = []  # first match with what is described; more descriptors only if that does not match
        if pending or approach.shots_changed or approach.best_match is None:
            # one new descriptor per frame, best shot first: the decision frame stays light,
            # and later frames add shots to the probe while no match is found
            approach.shots_changed = False
            if pending:
                self._describe(pending[0])
            described = [shot.descriptor for shot in approach.shots if shot.descriptor is not None]
            if not described:
                return None
            probe = np.mean(described, axis=0).astype(np.float32)
            with self._timed("match_ms"):
                found = self.gallery.search(probe)
            if approach.best_match is None or found.distance < approach.best_match.distance or found.accepted:
                approach.best_match = found
        match = approach.best_match
        elapsed = t - approach.started
        if match is not None and match.accepted:
            self.unknown_attempts = 0
            return Decision("accepted", employee_id=match.identity, distance=match.distance,
                            margin=match.margin if np.isfinite(match.margin) else None, liveness=verdict.evidence,
                            elapsed_s=elapsed, metrics=verdict.metrics)
        deadline = max(approach.started + self.settings.window_s, approach.live_at + IDENTIFY_GRACE_S)
        if t < deadline or match is None:
            return None
        self.unknown_attempts += 1
        fallback = self.unknown_attempts >= self.settings.unknown_attempts_before_fallback
        distance = match.distance if np.isfinite(match.distance) else None
        return Decision("unknown", distance=distance, reasons=(match.reason,), liveness=verdict.evidence,
                        unknown_attempts=self.unknown_attempts, offer_fallback=fallback, elapsed_s=elapsed,
                        metrics=verdict.metrics)

    def _decide(self, decision: Decision, t: float, boxes: list[FaceBox], primary: FaceBox,
                guidance: Guidance | None, count: int) -> FrameResult:
        log.info("face decision: %s (%.2f s)%s", decision.outcome, decision.elapsed_s,
                 f" reasons={','.join(decision.reasons)}" if decision.reasons else "")
        self.state = "hold"
        self._approach = None
        self._present_since, self._restarts = None, 0
        self._hold_box, self._hold_seen = primary, t
        return FrameResult("hold", boxes, primary, guidance, decision, count)

    def _hold(self, t: float, boxes: list[FaceBox], primary: FaceBox | None) -> FrameResult:
        held = self._hold_box
        if primary is not None and held is not None and self._same_face(held, primary):
            self._hold_box, self._hold_seen = primary, t
        elif primary is not None and held is not None and primary.size >= self.settings.min_face_px:
            # someone else stepped up: start over with them on the next frame
            self.reset()
        elif t - self._hold_seen > LOST_AFTER_S:
            self.reset()
        return FrameResult(self.state, boxes, primary)
