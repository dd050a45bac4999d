"""Kiosk benchmark: idle-screen frame rate with the live camera preview, and a recognised face to the result screen.

    python -m benchmarks.ui [--runs 5] [--seconds 3]

The real app runs offscreen (SDL2 + Mesa llvmpipe, 800x480) on a simulated terminal
whose camera plays the shared live clip at 15 fps through the real face pipeline.

* Frame rate: frames drawn per second on the idle screen (a redraw every frame, capped
  at the kiosk's 30 fps), camera preview updates per second and the UI thread's cost
  per frame, while the camera plays through the face pipeline; the same idle screen
  with the preview off (face recognition disabled) is the baseline, in the same process.
* Face to screen: from the moment the recognizer decides "accepted" (on the camera
  thread) to the first frame drawn with the result screen; the punch path alone
  (``Authenticator.face`` from the decision to the recorded punch, no screen) is the
  baseline, and the voice row is the time until the spoken greeting's WAV is ready to play.

Medians over ``--runs`` repetitions; the JSON goes to benchmarks/results/ui.json.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import print_table, write_json

REPO = Path(__file__).resolve().parent.parent
FACES = Path(os.environ.get("SEED_SHARED_DIR", REPO.parent / "shared")) / "testdata" / "faces"
LIN = {"number": "3001", "name": "Lin-Manuel Miranda"}


def _stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}


def _config(data_dir: Path, face: bool) -> Any:
    from terminal.config import parse_config

    return parse_config({
        "device": {"id": "bench-door", "language": "zh", "timezone": "Asia/Shanghai", "company_name": "Seed"},
        "storage": {"data_dir": str(data_dir), "min_free_mb": 1},
        "hardware": {"profile": "sim", "fingerprint": {"enabled": False}, "camera": {"fps": 15},
                     "outputs": {"door_pulse_s": 0.2, "led_on_s": 0.2}},
        "face": {"enabled": face, "min_face_px": 60, "window_s": 2.0, "turn_challenge_s": 2.0},
        "ui": {"fullscreen": False, "result_s": 30},
    })


def _singer() -> list:
    from terminal.vision.attacks import video_presentation

    return video_presentation(FACES / "video" / "short_hamilton_clip.mp4").frames[82:211:2]


class Draws:
    """Counts frames the window actually drew (on_flip), with their times."""

    def __init__(self) -> None:
        from kivy.core.window import Window

        self.times: list[float] = []
        Window.bind(on_flip=self._flip)

    def _flip(self, *_: Any) -> None:
        self.times.append(time.perf_counter())

    def close(self) -> None:
        from kivy.core.window import Window

        Window.unbind(on_flip=self._flip)


def frame_rate(kiosk: Any, seconds: float, runs: int, camera_scene: list | None, cap_fps: float = 30.0) -> dict:
    """Frames drawn per second (redrawn every frame, at the kiosk's cap), preview updates per second and the
    cost of one frame on the UI thread, on the idle screen; medians over runs.

    The loop sleeps out the rest of each frame as Kivy's own capped loop does, leaving the
    processor (and the interpreter lock) to the camera and recognition threads.
    """
    from kivy.core.window import Window

    from terminal.hardware.camera import SceneStep

    if camera_scene is not None:
        kiosk.terminal.hardware.camera.play_scene([SceneStep(f, frames=1) for f in camera_scene], loop=True)
    preview = kiosk.app.screens["idle"].ids.preview
    kiosk.app.go("idle")
    drawn, previews, costs = [], [], []
    draws = Draws()
    period = 1.0 / cap_fps
    try:
        kiosk.pump(30)
        for _ in range(runs):
            draws.times.clear()
            shown = preview.frames_shown
            frame_costs = []
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                began = time.perf_counter()
                kiosk.app.result_until = None
                if kiosk.screen_name != "idle":  # a decision on the looping clip: stay on the idle screen
                    kiosk.app.go("idle")
                Window.canvas.ask_update()  # redraw every frame, as a moving picture does
                kiosk.pump(1)
                cost = time.perf_counter() - began
                frame_costs.append(cost * 1000)
                if cost < period:
                    time.sleep(period - cost)
            elapsed = time.perf_counter() - start
            drawn.append(len(draws.times) / elapsed)
            previews.append((preview.frames_shown - shown) / elapsed)
            costs.append(statistics.median(frame_costs))
    finally:
        draws.close()
        if camera_scene is not None:
            kiosk.terminal.hardware.camera.clear()
    return {"drawn_fps": _stats(drawn), "preview_fps": _stats(previews), "frame_cost_ms": _stats(costs),
            "cap_fps": cap_fps}


def face_to_screen(kiosk: Any, singer: list, runs: int) -> dict:
    from terminal.hardware.camera import SceneStep

    app, hw = kiosk.app, kiosk.terminal.hardware
    worker = next(w for w in kiosk.terminal.workers if w.name == "face")
    marks: dict[str, float] = {}
    decision_at: list[float] = []

    def on_decision(decision: Any) -> None:
        if decision.accepted:
            decision_at.append(time.perf_counter())

    original_handle = worker.door.handle

    def timed_handle(decision: Any) -> Any:
        result = original_handle(decision)
        if decision.accepted:
            marks["punched"] = time.perf_counter()
        return result

    worker.door.handle = timed_handle
    app.feed.decision_listeners.insert(0, on_decision)
    draws = Draws()
    screen_ms, punch_ms, voice_ms, approach_ms = [], [], [], []
    try:
        for _ in range(runs):
            hw.clock.advance(120)  # past the repeat-punch window
            app.go("idle")
            kiosk.wait_until(lambda: worker.recognizer.state == "idle", 10, "an empty doorway")
            decision_at.clear()
            marks.clear()
            spoken_before = len(hw.speaker.played)
            draws.times.clear()
            walked_up = time.perf_counter()
            hw.camera.play_scene([SceneStep(f, frames=1) for f in singer] + [SceneStep(None, seconds=1.0)])
            kiosk.wait_until(lambda: kiosk.screen_name == "result", 30, "the result screen")
            result_shown = time.perf_counter()
            kiosk.pump(2)
            drawn = [t for t in draws.times if t >= result_shown - 0.001]
            first_draw = drawn[0] if drawn else time.perf_counter()
            start = decision_at[0]
            screen_ms.append((first_draw - start) * 1000)
            punch_ms.append((marks["punched"] - start) * 1000)
            approach_ms.append((first_draw - walked_up) * 1000)
            kiosk.wait_until(lambda spoken_before=spoken_before: len(hw.speaker.played) > spoken_before, 10, "the greeting")
            voice_ms.append((hw.speaker.played[-1].__dict__.get("_at", time.perf_counter()) - start) * 1000)
            hw.camera.clear()
    finally:
        draws.close()
        worker.door.handle = original_handle
        app.feed.decision_listeners.remove(on_decision)
    return {"decision_to_result_drawn_ms": _stats(screen_ms), "punch_path_only_ms": _stats(punch_ms),
            "decision_to_voice_ready_ms": _stats(voice_ms), "walk_up_to_result_ms": _stats(approach_ms)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.ui", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each frame-rate run")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.seconds <= 0:
        parser.error("--runs must be at least 1 and --seconds positive")
    if not (FACES / "video").is_dir():
        print(f"face photos not found at {FACES}: the kiosk benchmark needs the live clip; skipped")
        return 0

    from enrollment.faces import enrol_photos
    from terminal.runtime import Terminal
    from terminal.store.employees import add_employee
    from terminal.ui.harness import OffscreenKiosk

    singer = _singer()
    results: dict[str, Any] = {"runs": args.runs, "seconds_per_run": args.seconds, "size": [800, 480], "camera_fps": 15}
    with tempfile.TemporaryDirectory(prefix="seed-bench-ui-", dir=os.environ.get("SEED_BENCH_DIR")) as tmp:
        # baseline first: the idle screen with no camera preview
        with Terminal.open(_config(Path(tmp) / "plain", face=False)) as terminal:
            with OffscreenKiosk(terminal) as kiosk:
                results["idle_without_preview"] = frame_rate(kiosk, args.seconds, args.runs, None)
        with Terminal.open(_config(Path(tmp) / "face", face=True)) as terminal:
            add_employee(terminal.store, actor="bench", **LIN)
            enrol_photos(terminal.store, LIN["number"], [FACES / "video" / "enrol_lin_manuel_miranda.png"], min_shots=1)
            with OffscreenKiosk(terminal) as kiosk:
                worker = next(w for w in terminal.workers if w.name == "face")
                kiosk.wait_until(lambda: len(worker.recognizer.gallery) >= 1, 30, "the gallery")
                _stamp_speaker(terminal.hardware.speaker)
                results["idle_with_preview"] = frame_rate(kiosk, args.seconds, args.runs, singer)
                results["face_to_screen"] = face_to_screen(kiosk, singer, args.runs)

    plain, live = results["idle_without_preview"], results["idle_with_preview"]
    print_table(f"Idle screen at 800x480, drawing capped at 30 fps (median of {args.runs} x {args.seconds:g} s)", [
        {"screen": "idle, camera preview at 15 fps + face pipeline", "drawn fps": live["drawn_fps"]["median"],
         "preview updates/s": live["preview_fps"]["median"], "UI ms per frame": live["frame_cost_ms"]["median"]},
        {"screen": "idle, no preview (baseline)", "drawn fps": plain["drawn_fps"]["median"],
         "preview updates/s": plain["preview_fps"]["median"], "UI ms per frame": plain["frame_cost_ms"]["median"]},
    ], ["screen", "drawn fps", "preview updates/s", "UI ms per frame"])
    face = results["face_to_screen"]
    print_table(f"Recognised face to result screen (ms, median of {args.runs})", [
        {"path": "decision -> result screen drawn", **_row(face["decision_to_result_drawn_ms"])},
        {"path": "decision -> punch recorded (baseline: no screen)", **_row(face["punch_path_only_ms"])},
        {"path": "decision -> greeting WAV ready to play", **_row(face["decision_to_voice_ready_ms"])},
        {"path": "clip starts -> result drawn (approach, blink, match)", **_row(face["walk_up_to_result_ms"])},
    ], ["path", "median", "min", "max"])
    write_json("ui", results)
    return 0


def _row(stats: dict) -> dict:
    return {"median": stats["median"], "min": stats["min"], "max": stats["max"]}


def _stamp_speaker(speaker: Any) -> None:
    """Note when each utterance is ready to play (the simulator records instead of playing)."""
    original = speaker._play

    def play(utterance: Any) -> None:
        object.__setattr__(utterance, "_at", time.perf_counter())
        original(utterance)

    speaker._play = play


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
