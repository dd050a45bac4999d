"""Presentation attacks composed from still photos, to measure liveness (ISO/IEC 30107-3).

Each function renders what the terminal's camera would see when someone holds up a
printed photo of an enrolled employee. The photo is mapped onto a plane in front of a
pinhole camera (so tilting it gives true perspective, as paper does), composited over
a background, then re-imaged with blur, sensor noise and exposure flicker:

* ``still``: the photo held still (on a stand) for the whole window;
* ``handheld``: moved, rotated in the image plane and tilted the way a hand does;
* ``framed``: a print with a white margin and dark edge, or a phone with its bezel,
  fully visible around the face while being moved.

They are deterministic for a given ``seed``. The benchmark and the tests use them with
the shared photos; integrators can run them on their own staff photos.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from terminal.vision.detection import FaceBox

AttackKind = Literal["still", "handheld", "framed"]
ATTACK_KINDS: tuple[AttackKind, ...] = ("still", "handheld", "framed")


@dataclass
class Presentation:
    """A sequence of camera frames shown to the terminal, and what it really is."""

    kind: str  # "bona_fide" or an attack kind
    subject: str
    frames: list[np.ndarray]
    fps: float
    note: str = ""


def synthetic_background(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """An out-of-focus indoor-looking background: smooth gradient plus blurred texture, no straight edges."""
    width, height = size
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    base = rng.uniform(90, 170, 3).astype(np.float32)
    tilt = rng.uniform(-40, 40, 3).astype(np.float32)
    img = base[None, None, :] + tilt[None, None, :] * (0.6 * y + 0.4 * x)[..., None]
    noise = rng.normal(0, 40, (height // 8 + 1, width // 8 + 1, 3)).astype(np.float32)
    texture = cv2.resize(cv2.GaussianBlur(noise, (0, 0), 2.0), (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(img + texture, 0, 255).astype(np.uint8)


def _plane_homography(src_center: tuple[float, float], scale: float, frame_size: tuple[int, int],
                      offset: tuple[float, float], roll: float, yaw: float, pitch: float, focal: float) -> np.ndarray:
    """Photo pixels -> frame pixels for a photo plane at distance ``focal``, rotated in 3D."""
    width, height = frame_size
    a = np.array([[scale, 0, -scale * src_center[0]], [0, scale, -scale * src_center[1]], [0, 0, 1]], np.float64)
    cr, sr = math.cos(math.radians(roll)), math.sin(math.radians(roll))
    cy, sy = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
    cp, sp = math.cos(math.radians(pitch)), math.sin(math.radians(pitch))
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rot = rz @ ry @ rx
    k = np.array([[focal, 0, width / 2 + offset[0]], [0, focal, height / 2 + offset[1]], [0, 0, 1]])
    rt = np.column_stack([rot[:, 0], rot[:, 1], [0.0, 0.0, focal]])
    h = k @ rt @ a
    return h / h[2, 2]


def _reimage(frame: np.ndarray, rng: np.random.Generator, gain: float, noise: float) -> np.ndarray:
    out = cv2.GaussianBlur(frame, (0, 0), 0.7).astype(np.float32) * gain
    out += rng.normal(0, noise, out.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def _add_border(photo: np.ndarray, face: FaceBox, kind: Literal["print", "phone"]) -> tuple[np.ndarray, FaceBox]:
    """The photo cropped around the face and given a visible margin, as a print or a phone shows it."""
    cx, cy = face.center
    half_w, half_h = face.w * 1.3, face.h * 1.7
    x0, y0 = int(max(0, cx - half_w)), int(max(0, cy - half_h * 0.9))
    x1, y1 = int(min(photo.shape[1], cx + half_w)), int(min(photo.shape[0], cy + half_h * 1.1))
    crop = photo[y0:y1, x0:x1]
    margin = max(6, int(0.08 * max(crop.shape[:2])))
    if kind == "print":
        framed = cv2.copyMakeBorder(crop, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=(235, 235, 232))
        framed = cv2.copyMakeBorder(framed, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=(60, 60, 60))
        pad = margin + 2
    else:
        framed = cv2.copyMakeBorder(crop, margin, int(margin * 1.6), margin // 2, margin // 2, cv2.BORDER_CONSTANT, value=(18, 18, 20))
        pad = margin
    moved = FaceBox(face.x - x0 + (pad if kind == "print" else margin // 2), face.y - y0 + pad, face.w, face.h)
    return framed, moved


def compose_attack(photo: np.ndarray, face: FaceBox, kind: AttackKind, *, seconds: float = 3.0, fps: float = 15.0,
                   frame_size: tuple[int, int] = (640, 480), face_px: float = 170.0, seed: int = 0,
                   background: np.ndarray | None = None, subject: str = "") -> Presentation:
    """Frames of one presentation attack with ``photo`` (BGR) whose face is at ``face``."""
    if kind not in ATTACK_KINDS:
        raise ValueError(f"unknown attack kind {kind!r}")
    rng = np.random.default_rng(seed)
    width, height = frame_size
    bg = background if background is not None else synthetic_background(frame_size, rng)
    bg = cv2.resize(bg, frame_size) if bg.shape[:2] != (height, width) else bg
    note = ""
    if kind == "framed":
        style: Literal["print", "phone"] = "print" if seed % 2 == 0 else "phone"
        photo, face = _add_border(photo, face, style)
        note = style
        face_px = face_px * 0.8  # the whole print must be in view
    scale = face_px / max(face.w, 1.0)
    centre = face.center
    n = max(2, int(round(seconds * fps)))
    t = np.arange(n) / fps

    def wander(amplitude: float) -> np.ndarray:
        total = np.zeros(n)
        for _ in range(3):
            freq = rng.uniform(0.25, 1.1)
            total += rng.uniform(0.4, 1.0) * np.sin(2 * math.pi * freq * t + rng.uniform(0, 2 * math.pi))
        return amplitude * total / 2.0

    if kind == "still":
        dx, dy = wander(0.6), wander(0.6)
        roll, yaw, pitch, zoom = wander(0.2), wander(0.3), wander(0.3), 1 + wander(0.003)
    else:
        dx, dy = wander(35.0), wander(20.0)
        roll, yaw, pitch, zoom = wander(12.0), wander(18.0), wander(12.0), 1 + wander(0.07)
    gains = 1 + wander(0.03)
    frames = []
    mask_src = np.full(photo.shape[:2], 255, np.uint8)
    for i in range(n):
        h = _plane_homography(centre, scale * zoom[i], frame_size, (dx[i], dy[i] - 0.05 * height), roll[i], yaw[i],
                              pitch[i], focal=1.1 * width)
        warped = cv2.warpPerspective(photo, h, frame_size, flags=cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(mask_src, h, frame_size, flags=cv2.INTER_LINEAR)[..., None].astype(np.float32) / 255
        frame = warped.astype(np.float32) * mask + bg.astype(np.float32) * (1 - mask)
        frames.append(_reimage(frame.astype(np.uint8), rng, float(gains[i]), noise=3.0))
    return Presentation(kind, subject, frames, fps, note)


def video_presentation(path: Path | str, subject: str = "", max_frames: int | None = None,
                       frame_size: tuple[int, int] | None = None) -> Presentation:
    """A bona fide presentation from a real video file (frames as the camera would deliver them)."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"{path}: cannot open video")
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    frames: list[np.ndarray] = []
    try:
        while max_frames is None or len(frames) < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            if frame_size is not None:
                frame = letterbox(frame, frame_size)
            frames.append(frame)
    finally:
        capture.release()
    if not frames:
        raise ValueError(f"{path}: no frames")
    return Presentation("bona_fide", subject, frames, float(fps))


def letterbox(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The frame fitted into ``size`` (width, height) with black bars, as a 4:3 camera would frame 16:9."""
    width, height = size
    scale = min(width / frame.shape[1], height / frame.shape[0])
    resized = cv2.resize(frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    out = np.zeros((height, width, 3), np.uint8)
    y0 = (height - resized.shape[0]) // 2
    x0 = (width - resized.shape[1]) // 2
    out[y0:y0 + resized.shape[0], x0:x0 + resized.shape[1]] = resized
    return out


def bona_fide_variants(clip: Presentation) -> list[Presentation]:
    """The real clip as differently set-up cameras would deliver it: as is, mirrored, darker, noisier, 4:3."""
    rng = np.random.default_rng(11)
    variants = [Presentation("bona_fide", clip.subject, clip.frames, clip.fps, "as recorded")]
    variants.append(Presentation("bona_fide", clip.subject, [cv2.flip(f, 1) for f in clip.frames], clip.fps, "mirrored"))
    variants.append(Presentation("bona_fide", clip.subject,
                                 [np.clip(f.astype(np.float32) * 0.7, 0, 255).astype(np.uint8) for f in clip.frames],
                                 clip.fps, "30% darker"))
    variants.append(Presentation("bona_fide", clip.subject,
                                 [np.clip(f + rng.normal(0, 4, f.shape), 0, 255).astype(np.uint8) for f in clip.frames],
                                 clip.fps, "sensor noise"))
    variants.append(Presentation("bona_fide", clip.subject, [letterbox(f, (640, 480)) for f in clip.frames], clip.fps,
                                 "letterboxed to 640x480"))
    return variants


def iso_rates(results: Sequence[tuple[Presentation, bool]]) -> dict:
    """APCER per attack kind and BPCER from (presentation, accepted_as_live) pairs (ISO/IEC 30107-3)."""
    out: dict = {"apcer": {}, "attacks": {}, "bpcer": None, "bona_fide": 0}
    for kind in ATTACK_KINDS:
        accepted = [ok for p, ok in results if p.kind == kind]
        out["attacks"][kind] = len(accepted)
        out["apcer"][kind] = round(sum(accepted) / len(accepted), 4) if accepted else None
    bona = [ok for p, ok in results if p.kind == "bona_fide"]
    out["bona_fide"] = len(bona)
    out["bpcer"] = round(sum(1 for ok in bona if not ok) / len(bona), 4) if bona else None
    rates = [r for r in out["apcer"].values() if r is not None]
    out["apcer_max"] = max(rates) if rates else None
    return out


def play(recognizer, presentation: Presentation, hold_for_s: float | None = None, start: float = 0.0) -> list:
    """Feed a presentation to a :class:`~terminal.vision.recognizer.FaceRecognizer`; return its decisions.

    With ``hold_for_s`` an attack is kept in front of the camera (played forwards and
    backwards, as a hand keeps moving) until a decision or that many seconds: the
    attacker does not give up when the clip of frames ends.
    """
    frames = presentation.frames
    step = 1.0 / presentation.fps
    total = len(frames) if hold_for_s is None else max(len(frames), int(round(hold_for_s * presentation.fps)))
    cycle = frames + frames[-2:0:-1] if len(frames) > 2 else frames
    decisions = []
    for i in range(total):
        result = recognizer.process(cycle[i % len(cycle)], start + i * step)
        if result.decision is not None:
            decisions.append(result.decision)
            if hold_for_s is not None and i >= len(frames) - 1:
                break
    return decisions
