"""Evidence that a live person, not a picture, stands at the terminal.

One :class:`LivenessTracker` follows one approach (one face, one recognition window)
and is fed the face mesh of every analysed frame. It looks for active evidence:

* **the challenge** (default): asked by the recognizer once :meth:`still_and_frontal`
  holds, for a turn to the person's own left or right at random; it passes when yaw
  moves ``turn_deg`` the asked way from the pose at the prompt, with 3-D parallax, and
  fails at once on a move within ``reaction_min_s`` of the prompt (``anticipated``: the
  head was already turning) or a turn the other way (``wrong_turn``). A replayed video
  cannot know the prompt;
* **blink** (only where ``accept_blink``: the blink modes): the eye aspect ratio (EAR)
  drops below ``closed_ratio`` x this person's own open-eye level and comes back above
  ``open_ratio`` x that level within a second. A replayed video blinks too;

and for passive signs of a flat picture, reported with the refusal:

* **planar motion** (reported when time is up; a real face translating towards the
  camera looks planar too, so it never refuses on its own): the face moved (its landmarks travelled a fifth of the eye
  distance or more) yet one plane-to-plane homography explains every landmark to
  within 3 % of the eye distance: a photo being moved and tilted. A real head that
  moves also turns a little and shows parallax: the nose tip moves against the cheeks
  and jaw, and the homography leaves a residual (0.11-0.19 on the real clip, <= 0.025
  on moved photos);
* **no motion**: nothing non-rigid happened at all over the window and the challenge;
* **rectangular border**: the edge of a print, frame or phone closes around the face
  (:mod:`terminal.vision.border`) in a good share of the frames. This one refuses at
  once, even after a blink (a video replayed on a phone held in view);
* **screen**: the display's pixel grid beating with the camera's (moiré,
  :mod:`terminal.vision.screen_cues`) in a good share of the checked frames: refuses at
  once.

docs/liveness.md says what is and is not stopped, and ``benchmarks/faces.py`` measures
APCER per attack kind (photos and replayed video) and BPCER.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from terminal.vision.landmarks import MeshLandmarks

log = logging.getLogger(__name__)

Direction = Literal["left", "right"]


@dataclass(frozen=True)
class LivenessSettings:
    closed_ratio: float = 0.75  # EAR below this share of the person's open level: eyes closed
    open_ratio: float = 0.88  # and back above this share: eyes open again
    max_closed_s: float = 1.0  # longer closures are not blinks (a held squint, a photo of closed eyes)
    reopen_within_s: float = 1.0
    baseline_percentile: float = 80.0
    min_frames: int = 8  # frames of passive observation needed before any verdict
    parallax_min: float = 0.05  # homography residual (eye distances) that shows a 3-D face
    planar_max: float = 0.03  # below this although the face moved: a flat picture
    moved_min: float = 0.2  # landmark motion (eye distances) that counts as having moved
    still_motion_max: float = 0.03  # landmark motion (eye distances) of a face that did not move
    turn_deg: float = 15.0
    border_coverage: float = 0.5  # see terminal.vision.border.find_border
    border_share: float = 0.3  # share of border-checked frames with a border
    border_min_frames: int = 3
    # the randomised challenge (face.liveness = "challenge"): asked only while the face is frontal and still,
    # answered after a human reaction, the asked way
    still_s: float = 0.2  # the face must have been still this long before the prompt (4 frames at 15 fps)
    still_yaw_deg: float = 5.0  # yaw range allowed over that time
    prompt_pose_deg: float = 20.0  # and |yaw| at most this
    reaction_min_s: float = 0.2  # a move this soon after the prompt was under way before it: not an answer
    anticipation_deg: float = 6.0  # yaw change within reaction_min_s that counts as such a move
    wrong_way_deg: float = 8.0  # turning this far the other way before the asked turn fails the challenge
    # screen replay: the display's pixel grid beating with the camera's (terminal.vision.screen_cues)
    screen_peakiness: float = 900.0  # grid_peakiness above this: the frame looks re-imaged from a screen
    screen_share: float = 0.5  # share of the checked frames above it that refuses
    screen_min_checks: int = 3


@dataclass(frozen=True)
class LivenessVerdict:
    status: Literal["live", "spoof", "pending"]
    evidence: str | None = None  # "blink" or "turn" when live
    reasons: tuple[str, ...] = ()  # when spoof: "border", "screen", "anticipated", "wrong_turn", "planar_motion",
    # "no_motion", "no_blink", "no_turn"
    metrics: dict = field(default_factory=dict)


@dataclass
class _Frame:
    t: float
    ear: float
    yaw: float
    rigid: np.ndarray
    eye_distance: float
    homography_residual: float = 0.0
    similarity_residual: float = 0.0
    motion: float = 0.0


def _residuals(ref: np.ndarray, cur: np.ndarray, scale: float) -> tuple[float, float, float]:
    """(homography residual, similarity residual, raw motion) of rigid points, in eye distances."""
    scale = max(scale, 1e-3)
    motion = float(np.sqrt(((cur - ref) ** 2).sum(1).mean()) / scale)
    h, _ = cv2.findHomography(ref, cur, 0)
    if h is None:
        return 0.0, 0.0, motion
    proj = cv2.perspectiveTransform(ref[None].astype(np.float32), h)[0]
    hres = float(np.sqrt(((proj - cur) ** 2).sum(1).mean()) / scale)
    sim, _ = cv2.estimateAffinePartial2D(ref, cur, method=cv2.LMEDS)
    if sim is None:
        return hres, hres, motion
    sproj = ref @ sim[:, :2].T + sim[:, 2]
    sres = float(np.sqrt(((sproj - cur) ** 2).sum(1).mean()) / scale)
    return hres, sres, motion


def _share_at_least(values: list[float], level: float) -> float:
    """The share of the checks that reached ``level`` (0 without checks), to 3 decimals."""
    return round(sum(1 for v in values if v >= level) / len(values), 3) if values else 0.0


class LivenessTracker:
    """Liveness evidence for one approach. Feed with :meth:`add`; ask :meth:`verdict`."""

    def __init__(self, settings: LivenessSettings | None = None, accept_blink: bool = True):
        self.settings = settings or LivenessSettings()
        self.accept_blink = accept_blink
        self.frames: list[_Frame] = []
        self.border_checks: list[float] = []
        self.screen_checks: list[float] = []
        self.challenge_failure: str | None = None  # "anticipated" or "wrong_turn"
        self.blink_at: float | None = None
        self.challenge: Direction | None = None
        self.challenge_started: float | None = None
        self.turn_at: float | None = None
        self._turn_parallax = 0.0
        self._start_yaw: float | None = None

    # -- input -----------------------------------------------------------------------------
    def add(self, t: float, mesh: MeshLandmarks, border_coverage: float | None = None,
            screen_peakiness: float | None = None) -> None:
        rigid = mesh.rigid.astype(np.float32)
        frame = _Frame(t, mesh.ear, mesh.yaw, rigid, mesh.eye_distance)
        if self.frames:
            ref = self.frames[0]
            frame.homography_residual, frame.similarity_residual, frame.motion = _residuals(
                ref.rigid, rigid, (ref.eye_distance + frame.eye_distance) / 2)
        self.frames.append(frame)
        if border_coverage is not None:
            self.border_checks.append(border_coverage)
        if screen_peakiness is not None:
            self.screen_checks.append(screen_peakiness)
        if self.blink_at is None and self._find_blink():
            self.blink_at = t
        if self.challenge is not None and self.turn_at is None and self.challenge_failure is None:
            self._check_turn(frame)

    def still_and_frontal(self) -> bool:
        """The face has been frontal and still for ``still_s``: a moment to ask for a turn."""
        s = self.settings
        if not self.frames:
            return False
        last = self.frames[-1]
        recent = []
        for frame in reversed(self.frames):  # back until still_s is covered (frame times jitter: 90 % will do)
            recent.append(frame)
            if last.t - frame.t >= 0.9 * s.still_s:
                break
        else:
            return False
        yaws = [f.yaw for f in recent]
        return max(yaws) - min(yaws) <= s.still_yaw_deg and abs(last.yaw) <= s.prompt_pose_deg

    def start_challenge(self, direction: Direction, t: float) -> None:
        """Ask for a head turn (the person's own left or right) from now on."""
        self.challenge = direction
        self.challenge_started = t
        recent = [f.yaw for f in self.frames[-3:]]
        self._start_yaw = float(np.median(recent)) if recent else None
        self._challenge_first = len(self.frames)

    # -- evidence ----------------------------------------------------------------------------
    def _find_blink(self) -> bool:
        s = self.settings
        if len(self.frames) < 4:
            return False
        ears = np.array([f.ear for f in self.frames])
        times = np.array([f.t for f in self.frames])
        level = float(np.percentile(ears, s.baseline_percentile))
        if level <= 0.05:
            return False
        closed = ears < s.closed_ratio * level
        opened = ears >= s.open_ratio * level
        i, n = 0, len(ears)
        while i < n:
            if not closed[i]:
                i += 1
                continue
            j = i
            while j + 1 < n and closed[j + 1]:
                j += 1
            closed_for = times[j] - times[i]
            if closed_for <= s.max_closed_s:
                later = np.nonzero(opened[j + 1:])[0]
                if later.size and times[j + 1 + later[0]] - times[j] <= s.reopen_within_s:
                    return True
            i = j + 1
        return False

    def _check_turn(self, frame: _Frame) -> None:
        if self._start_yaw is None:
            self._start_yaw = frame.yaw
            return
        # mesh yaw grows when the face turns towards the image's right: the person's own left
        change = frame.yaw - self._start_yaw
        wanted = change if self.challenge == "left" else -change
        s = self.settings
        started = self.challenge_started if self.challenge_started is not None else frame.t
        if frame.t - started < s.reaction_min_s and abs(change) >= s.anticipation_deg:
            self.challenge_failure = "anticipated"  # the head was already turning: not an answer to the prompt
            return
        if wanted <= -s.wrong_way_deg:
            self.challenge_failure = "wrong_turn"
            return
        since = [f.homography_residual for f in self.frames[self._challenge_first:]]
        self._turn_parallax = max(since) if since else 0.0
        if wanted >= self.settings.turn_deg and self._turn_parallax >= self.settings.parallax_min:
            self.turn_at = frame.t

    def turn_progress(self) -> float:
        """Degrees the head has turned the asked way since the prompt, at the last frame (0 before a prompt)."""
        if self.challenge is None or self._start_yaw is None or not self.frames:
            return 0.0
        change = self.frames[-1].yaw - self._start_yaw
        return change if self.challenge == "left" else -change

    def ear_open_level(self) -> float:
        """This person's open-eye EAR so far (0 before any frame)."""
        if not self.frames:
            return 0.0
        return float(np.percentile([f.ear for f in self.frames], self.settings.baseline_percentile))

    def metrics(self) -> dict:
        s = self.settings
        if not self.frames:
            return {"frames": 0}
        hres = [f.homography_residual for f in self.frames[1:]] or [0.0]
        sres = [f.similarity_residual for f in self.frames[1:]] or [0.0]
        motion = [f.motion for f in self.frames[1:]] or [0.0]
        ears = np.array([f.ear for f in self.frames])
        level = float(np.percentile(ears, s.baseline_percentile))
        yaws = [f.yaw for f in self.frames]
        borders = self.border_checks
        return {
            "frames": len(self.frames),
            "seconds": round(self.frames[-1].t - self.frames[0].t, 3),
            "ear_open_level": round(level, 4),
            "ear_min_ratio": round(float(ears.min() / level), 3) if level > 0 else None,
            "parallax": round(float(np.percentile(hres, 90)), 4),
            "perspective_change": round(float(np.percentile(sres, 90)), 4),
            "motion": round(float(np.percentile(motion, 90)), 4),
            "yaw_range": round(float(np.ptp(yaws)), 1),
            "border_share": _share_at_least(borders, s.border_coverage),
            "border_checks": len(borders),
            "screen_share": _share_at_least(self.screen_checks, s.screen_peakiness),
            "screen_checks": len(self.screen_checks),
            "screen_peakiness": round(float(np.median(self.screen_checks)), 1) if self.screen_checks else None,
            "challenge": self.challenge,
            "challenge_failure": self.challenge_failure,
            "blink_at": self.blink_at,
            "turn_at": self.turn_at,
        }

    def passive_failures(self, m: dict | None = None) -> list[str]:
        """Signs of a picture that end the approach at once: a border around the face, a screen's pixel grid."""
        s = self.settings
        m = m or self.metrics()
        failures: list[str] = []
        if not m["frames"]:
            return failures
        if m["frames"] >= s.min_frames and m["border_checks"] >= s.border_min_frames \
                and m["border_share"] >= s.border_share:
            failures.append("border")
        if m["screen_checks"] >= s.screen_min_checks and m["screen_share"] >= s.screen_share:
            failures.append("screen")
        return failures

    def verdict(self, final: bool = False) -> LivenessVerdict:
        """``live`` once active evidence and enough passive observation are in; ``spoof`` on a
        passive failure, or when ``final`` (time is up) without active evidence."""
        m = self.metrics()
        failures = self.passive_failures(m)
        if failures:
            return LivenessVerdict("spoof", reasons=tuple(failures), metrics=m)
        if self.challenge_failure is not None:
            return LivenessVerdict("spoof", reasons=(self.challenge_failure,), metrics=m)
        enough = m["frames"] >= self.settings.min_frames
        if enough and self.accept_blink and self.blink_at is not None:
            return LivenessVerdict("live", "blink", metrics=m)
        if enough and self.turn_at is not None:
            return LivenessVerdict("live", "turn", metrics=m)
        if not final:
            return LivenessVerdict("pending", metrics=m)
        s = self.settings
        reasons = ["no_turn" if self.challenge else "no_blink"]
        if m["frames"] >= s.min_frames:
            if m["motion"] < s.still_motion_max:
                reasons.append("no_motion")
            elif m["motion"] >= s.moved_min and m["parallax"] < s.planar_max:
                reasons.append("planar_motion")
        return LivenessVerdict("spoof", reasons=tuple(reasons), metrics=m)
