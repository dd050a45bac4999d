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


def _wander(rng: np.random.Generator, t: np.ndarray, amplitude: float, freqs: tuple[float, float]) -> np.ndarray:
    """A hand's drift over the times ``t``: three slow sines of random frequency (in ``freqs``, Hz) and phase."""
    total = np.zeros(len(t))
    for _ in range(3):
        freq = rng.uniform(*freqs)
        total += rng.uniform(0.4, 1.0) * np.sin(2 * math.pi * freq * t + rng.uniform(0, 2 * math.pi))
    return amplitude * total / 2.0


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
        return _wander(rng, t, amplitude, (0.25, 1.1))

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
    """APCER per attack kind (photo kinds always, replay kinds when present) and BPCER from
    (presentation, accepted_as_live) pairs (ISO/IEC 30107-3)."""
    out: dict = {"apcer": {}, "attacks": {}, "bpcer": None, "bona_fide": 0}
    kinds = ATTACK_KINDS + tuple(k for k in REPLAY_KINDS if any(p.kind == k for p, _ in results))
    for kind in kinds:
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


# -- replayed video ------------------------------------------------------------------------------
ReplayKind = Literal["replay_bezel", "replay_fullscreen"]
REPLAY_KINDS: tuple[ReplayKind, ...] = ("replay_bezel", "replay_fullscreen")
SUBPIXELS = 3  # samples per screen pixel in the rendered pixel grid (R, G, B stripes)


_MASKS: dict[tuple[int, int], np.ndarray] = {}


def _subpixel_mask(width: int, height: int) -> np.ndarray:
    """Per-sample channel gains of a stripe RGB panel: each pixel is an R, a G and a B column, rows separated by black."""
    key = (width, height)
    if key not in _MASKS:
        cell = np.zeros((SUBPIXELS, SUBPIXELS, 3), np.float32)
        for sub, channel in enumerate((2, 1, 0)):  # R, G, B stripes left to right (BGR channel order)
            cell[:, sub, channel] = SUBPIXELS * 0.9
        cell[SUBPIXELS - 1] *= 0.35  # the black matrix between pixel rows
        _MASKS[key] = np.tile(cell, (height // SUBPIXELS, width // SUBPIXELS, 1))
    return _MASKS[key]


def _screen_image(content: np.ndarray, screen_px: tuple[int, int], gamma: float, black: float, cast: np.ndarray,
                  glare: tuple[float, float, float, float] | None) -> np.ndarray:
    """What a screen emits showing ``content``: its pixels as R, G and B stripes with a dark matrix between them.

    ``screen_px`` is the screen's resolution (width, height), ``gamma`` the display's
    transfer curve against the camera's (1 = neutral), ``black`` the glow of black
    pixels, ``cast`` a per-channel gain (the white point), ``glare`` (x, y, radius,
    strength, as fractions of the screen) a soft reflection of a lamp on the glass.
    Returns uint8 BGR at ``SUBPIXELS`` samples per screen pixel.
    """
    width, height = screen_px
    pixels = cv2.resize(content, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    pixels = black + (1 - black) * np.power(pixels, gamma)
    pixels *= cast[None, None, :]
    if glare is not None:  # a reflection on the glass: added light, not shaped by the pixel grid
        gx, gy, radius, strength = glare
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        r2 = ((xx / width - gx) ** 2 + (yy / height - gy) ** 2) / max(radius, 1e-3) ** 2
        glow = (strength * np.exp(-r2)).astype(np.float32)[..., None]
    emitted = cv2.resize(pixels * 255.0, (width * SUBPIXELS, height * SUBPIXELS), interpolation=cv2.INTER_NEAREST)
    grid = cv2.multiply(emitted, _subpixel_mask(SUBPIXELS * width, SUBPIXELS * height))
    if glare is not None:
        grid = cv2.add(grid, cv2.resize(np.repeat(glow * 255.0, 3, axis=2), (grid.shape[1], grid.shape[0])))
    return cv2.convertScaleAbs(grid)


def compose_replay(clip: Presentation, kind: ReplayKind, *, seconds: float = 9.0, fps: float = 15.0,
                   frame_size: tuple[int, int] = (640, 480), seed: int = 0, background: np.ndarray | None = None,
                   screen_fill: float | None = None) -> Presentation:
    """The clip played on a phone or tablet held up to the camera, as the camera sees it.

    * ``replay_bezel``: the device with its dark bezel in view, moved by hand;
    * ``replay_fullscreen``: the screen fills the view (no edge visible), held nearly still.

    The video loops from a random start for ``seconds``. Each frame is shown through a
    pixel grid (:func:`_screen_image`), with the display's gamma, black glow, white point
    and a moving glare, mapped onto the device's plane with perspective, sampled by the
    camera's pixels (averaged over their area, so the grid aliases into moiré as it does
    when a camera films a screen), blurred by the lens and given sensor noise.
    ``screen_fill`` (the share of the view the screen spans) is drawn at random
    when not given: several sizes and distances.
    """
    if kind not in REPLAY_KINDS:
        raise ValueError(f"unknown replay kind {kind!r}")
    rng = np.random.default_rng(seed)
    cv2.setRNGSeed(seed)
    width, height = frame_size
    bg = background if background is not None else synthetic_background(frame_size, rng)
    bg = cv2.resize(bg, frame_size) if bg.shape[:2] != (height, width) else bg
    source = clip.frames
    step = clip.fps / fps
    n = max(2, int(round(seconds * fps)))
    start = rng.uniform(0, len(source))
    indices = [int(start + i * step) % len(source) for i in range(n)]
    aspect = source[0].shape[1] / source[0].shape[0]
    screen_w = int(rng.choice([360, 420, 480, 560]))  # screen pixels across the video's width
    screen_px = (screen_w, int(round(screen_w / aspect)))
    if kind == "replay_fullscreen":
        fill = screen_fill if screen_fill is not None else rng.uniform(1.2, 1.5)  # edges outside the view
    else:
        fill = screen_fill if screen_fill is not None else rng.uniform(0.75, 0.95)
    gamma = rng.uniform(0.85, 1.25)
    black = rng.uniform(0.01, 0.06)
    cast = np.array([rng.uniform(1.0, 1.12), rng.uniform(0.95, 1.03), rng.uniform(0.85, 0.97)], np.float32)  # BGR: bluish
    brightness = rng.uniform(0.75, 1.0)
    t = np.arange(n) / fps

    def wander(amplitude: float) -> np.ndarray:
        return _wander(rng, t, amplitude, (0.2, 0.9))

    if kind == "replay_bezel":
        dx, dy = wander(25.0), wander(15.0)
        roll, yaw, pitch, zoom = wander(6.0), wander(12.0), wander(8.0), 1 + wander(0.05)
    else:
        dx, dy = wander(4.0), wander(3.0)
        roll, yaw, pitch, zoom = wander(1.0), wander(2.0), wander(2.0), 1 + wander(0.01)
    glare_on = rng.random() < 0.7
    gx0, gy0 = rng.uniform(0.2, 0.8, 2)
    glare_r, glare_s = rng.uniform(0.08, 0.2), rng.uniform(0.15, 0.45)
    grid_w, grid_h = screen_px[0] * SUBPIXELS, screen_px[1] * SUBPIXELS
    bezel = int(0.06 * grid_w)
    sample = 2  # camera pixels are rendered at 2x and averaged over their area
    big = (width * sample, height * sample)
    bg_big = cv2.resize(bg, big, interpolation=cv2.INTER_LINEAR)
    gains = 1 + wander(0.02)
    frames = []
    for i in range(n):
        glare = (gx0 + 0.15 * math.sin(0.7 * t[i]), gy0 + 0.1 * math.cos(0.5 * t[i]), glare_r, glare_s) if glare_on else None
        screen = _screen_image(source[indices[i]], screen_px, gamma, black, cast * brightness, glare)
        if kind == "replay_bezel":
            screen = cv2.copyMakeBorder(screen, bezel, int(bezel * 1.5), bezel, bezel, cv2.BORDER_CONSTANT,
                                        value=(14, 14, 16))
            centre = (screen.shape[1] / 2, bezel + grid_h / 2)
        else:
            # aimed at the face (upper left of this clip) as far as the screen still covers the whole view
            slack = (1 - 1 / fill) / 2
            centre = (grid_w * (0.5 - min(0.1, slack)), grid_h * (0.5 - min(0.14, slack)))
        # fill: share of the view's width the screen spans (bezel), or of its tighter side (full screen)
        cover = big[0] / grid_w if kind == "replay_bezel" else max(big[0] / grid_w, big[1] / grid_h)
        scale = fill * cover * zoom[i]
        h = _plane_homography(centre, scale, big, (sample * dx[i], sample * dy[i]), roll[i], yaw[i], pitch[i],
                              focal=1.1 * big[0])
        composed = cv2.warpPerspective(screen, h, big, dst=bg_big.copy(), flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_TRANSPARENT)
        camera = cv2.resize(composed, frame_size, interpolation=cv2.INTER_AREA)
        camera = cv2.GaussianBlur(camera, (0, 0), 0.7).astype(np.float32) * float(gains[i])
        noise = np.empty_like(camera)
        cv2.randn(noise, np.zeros(3), np.full(3, 3.0))
        frames.append(cv2.convertScaleAbs(cv2.add(camera, noise)))
    note = f"screen {screen_px[0]}x{screen_px[1]}, fills {fill:.2f} of the view, gamma {gamma:.2f}" + (", glare" if glare_on else "")
    return Presentation(kind, clip.subject, frames, fps, note)


# -- a live person answering the challenge ---------------------------------------------------------
@dataclass(frozen=True)
class ChallengeAnswers:
    """Where a clip shows a person at rest and turning: what a bona fide player answers the challenge with.

    ``rest`` is a still, frontal stretch (frame indices, end excluded); ``turns`` maps the
    person's own "left"/"right" to (start, end, mirrored): the stretch that turns that way
    right after the rest. A clip that turns only one way from its rest answers the other
    way with the same stretch seen in a mirror about the face's centre (the same head
    turning the other way, where it stood).
    """

    rest: tuple[int, int]
    turns: dict[str, tuple[int, int, bool]]
    face_x: float


def clip_poses(frames: Sequence[np.ndarray]) -> list[tuple[float, float] | None]:
    """(yaw in degrees, face centre x) per frame, from the face mesh, None where no face is found."""
    from terminal.vision.detection import FaceDetector
    from terminal.vision.landmarks import FaceMesh

    poses: list[tuple[float, float] | None] = []
    with FaceDetector("full") as detector, FaceMesh() as mesh:
        for frame in frames:
            boxes = detector.detect(frame, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            marks = mesh.landmarks(frame, boxes[0]) if boxes else None
            poses.append(None if marks is None else (marks.yaw, boxes[0].center[0]))
    return poses


def challenge_answers(poses: Sequence[tuple[float, float] | None], fps: float, turn_deg: float = 20.0,
                      max_turn_s: float = 1.4, rest_frames: int = 4) -> ChallengeAnswers:
    """Find the quickest turn of ``turn_deg`` that follows a still, frontal rest in the clip."""
    best: tuple[int, int, int, str] | None = None
    for i in range(len(poses) - rest_frames):
        rest = poses[i:i + rest_frames]
        if any(p is None for p in rest):
            continue
        yaws = [p[0] for p in rest if p is not None]
        if max(yaws) - min(yaws) > 4.0 or abs(yaws[-1]) > 5.0:  # frontal: its mirror image starts where it is
            continue
        for j in range(i + rest_frames, min(len(poses), i + rest_frames + int(max_turn_s * fps))):
            pose = poses[j]
            if pose is None:
                break
            change = pose[0] - yaws[-1]
            if abs(change) >= turn_deg:
                if best is None or j - i < best[0]:
                    best = (j - i, i, j, "left" if change > 0 else "right")  # yaw grows as the person turns left
                break
    if best is None:
        raise ValueError("the clip has no turn after a still, frontal moment")
    _, i, j, direction = best
    sign = 1.0 if direction == "left" else -1.0
    while j + 1 < len(poses) and (nxt := poses[j + 1]) is not None and (cur := poses[j]) is not None \
            and sign * (nxt[0] - cur[0]) > -2.0:
        j += 1  # the head goes on turning: play the whole turn
    other = "right" if direction == "left" else "left"
    first = poses[i]
    assert first is not None
    start = i + rest_frames
    return ChallengeAnswers((i, start), {direction: (start, j + 1, False), other: (start, j + 1, True)}, first[1])


def play_answering(recognizer, presentation: Presentation, answers: ChallengeAnswers, reaction_s: float = 0.3,
                   timeout_s: float = 8.0, start: float = 0.0) -> list:
    """A live person at the door: at rest until asked, then the asked turn after a human reaction time.

    The rest stretch is played back and forth (someone standing still) until the screen
    asks for a turn; ``reaction_s`` later the stretch that turns the asked way is played,
    then its last frames are held. Returns the recognizer's decisions (the first ends it).
    """
    frames = presentation.frames
    step = 1.0 / presentation.fps
    r0, r1 = answers.rest
    rest = list(range(r0, r1)) + list(range(r1 - 2, r0, -1))
    asked_at: float | None = None
    turn: list[np.ndarray] = []
    decisions = []
    resting = turning = 0
    t = start
    while t - start < timeout_s:
        if asked_at is not None and turn and t >= asked_at + reaction_s - 1e-9:
            frame = turn[min(turning, len(turn) - 1)]
            turning += 1
        else:
            frame = frames[rest[resting % len(rest)]]
            resting += 1
        result = recognizer.process(frame, t)
        if result.decision is not None:
            decisions.append(result.decision)
            break
        code = result.guidance.code if result.guidance is not None else ""
        if asked_at is None and code in ("turn_left", "turn_right"):
            asked_at = t
            s0, s1, mirrored = answers.turns[code[len("turn_"):]]
            turn = [frames[k] for k in range(s0, s1)]
            if mirrored:
                flip = np.array([[-1.0, 0.0, 2.0 * answers.face_x], [0.0, 1.0, 0.0]], np.float32)
                turn = [cv2.warpAffine(f, flip, (f.shape[1], f.shape[0]), borderMode=cv2.BORDER_REPLICATE) for f in turn]
        t += step
    return decisions
