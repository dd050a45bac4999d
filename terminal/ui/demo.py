"""The kiosk demo: the real app in a window, simulated people walking up to the simulated door.

``run_demo_kiosk(config)`` opens the terminal on its simulators, makes sure the demo staff
exist (with a face enrolled from the shared photos when they are present, and a finger on
the sensor emulator), then opens the kiosk and lets a :class:`DemoDirector` play scenes
through the simulators while you watch: a card, a face from the live clip, a PIN, a card
that needs its PIN as a second factor, a finger, an unknown card, two people at once.
Close the window (or press Ctrl+C) to end it.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from terminal.config import TerminalConfig
    from terminal.hardware.camera import SimCamera
    from terminal.hardware.card_reader import SimCardReader
    from terminal.hardware.fingerprint import SimulatedFingerprintSensor
    from terminal.runtime import Terminal
    from terminal.store.database import Store
    from terminal.ui.kiosk import SeedKiosk

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_FACES = Path(os.environ.get("SEED_SHARED_DIR", REPO.parent / "shared")) / "testdata" / "faces"
FACE_NUMBER = "1005"
FINGER_NUMBER = "1004"
FINGER_ID = "chen-jie-right-index"

Sim = TypeVar("Sim")


def simulated(device: object, kind: type[Sim], name: str) -> Sim:
    """``device`` as the simulator the demo drives; TypeError on real hardware."""
    if not isinstance(device, kind):
        raise TypeError(f"the demo drives the simulated {name} (hardware.profile = \"sim\")")
    return device


def _employee_id(store: Store, number: str) -> int:
    from terminal.store.employees import find_by_number

    employee = find_by_number(store, number)
    if employee is None:
        raise LookupError(f"demo employee {number} is missing")
    return int(employee["id"])


def prepare_demo_staff(terminal: Terminal, faces_dir: Path | None) -> dict:
    """Demo employees, a face for one of them and a finger for another; returns what could be prepared."""
    from terminal.hardware.fingerprint_sim import finger_template
    from terminal.scenario import DEMO_STAFF
    from terminal.store.employees import add_employee, add_finger_template, find_by_number

    store = terminal.store
    for person in DEMO_STAFF:
        if find_by_number(store, person["number"]) is None:
            add_employee(store, actor="demo", **person)
    ready = {"face": False, "finger": False}
    if faces_dir is not None and (faces_dir / "video").is_dir() and terminal.config.face.enabled:
        face_owner = _employee_id(store, FACE_NUMBER)
        if not store.query_one("SELECT 1 AS x FROM face_templates WHERE employee_id = ?", (face_owner,)):
            from enrollment.faces import enrol_photos
            from terminal.store.employees import update_employee
            from terminal.ui.photos import face_photo
            from terminal.vision.images import load_image
            from terminal.vision.photos import PhotoAnalyzer

            photo = faces_dir / "video" / "enrol_lin_manuel_miranda.png"
            enrol_photos(store, FACE_NUMBER, [photo], min_shots=1, actor="demo")
            image = load_image(photo)
            with PhotoAnalyzer() as analyzer:
                update_employee(store, FACE_NUMBER, photo=face_photo(image, analyzer.detect(image)[0]), actor="demo")
        ready["face"] = True
    if terminal.hardware.fingerprint is not None:
        owner = _employee_id(store, FINGER_NUMBER)
        if not store.query_one("SELECT 1 AS x FROM finger_templates WHERE employee_id = ?", (owner,)):
            # as the roster brings templates down: the sensor worker loads it onto the sensor
            add_finger_template(store, owner, 2, finger_template(FINGER_ID), None, actor="demo")
        ready["finger"] = True
    return ready


class DemoDirector:
    """Plays scenes through the simulators, one at a time, whenever the kiosk is back at its idle screen."""

    def __init__(self, terminal: Terminal, app: SeedKiosk, faces_dir: Path | None, ready: dict, gap_s: float = 5.0,
                 rounds: int | None = None):
        self.terminal = terminal
        self.app = app
        self.faces_dir = faces_dir
        self.ready = ready
        self.gap_s = gap_s
        self.rounds = rounds  # close the window once every scene has played this many times (None: never)
        self.scenes_played = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="seed-demo-director", daemon=True)
        self._singer: list | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    # -- scenes ------------------------------------------------------------------------------
    def _card_reader(self) -> SimCardReader:
        from terminal.hardware.card_reader import SimCardReader

        return simulated(self.terminal.hardware.card_reader, SimCardReader, "card reader")

    def _camera(self) -> SimCamera:
        from terminal.hardware.camera import SimCamera

        return simulated(self.terminal.hardware.camera, SimCamera, "camera")

    def _sensor(self) -> SimulatedFingerprintSensor:
        from terminal.hardware.fingerprint import SimulatedFingerprintSensor

        return simulated(self.terminal.hardware.fingerprint, SimulatedFingerprintSensor, "fingerprint sensor")

    def scenes(self) -> list[tuple[str, Callable[[], object]]]:
        auth = self.terminal.auth
        scenes: list[tuple[str, Callable[[], object]]] = [("张伟 taps his card", lambda: self._card_reader().present("0004318030"))]
        if self.ready.get("face"):
            scenes.append(("Lin-Manuel Miranda walks up to the camera", self._walk_up))
        scenes.append(("李娜 types her number and PIN", lambda: auth.pin("1002", "2580")))
        scenes.append(("Wang Fang taps her card (card + PIN)", lambda: self._card_reader().present("00A1B2C3")))
        scenes.append(("... and types her PIN", lambda: auth.pin("1003", "1357")))
        if self.ready.get("finger"):
            scenes.append(("Chen Jie presses his finger", self._press_finger))
        scenes.append(("a visitor taps an unregistered card", lambda: self._card_reader().present("0000000001")))
        if self.ready.get("face"):
            scenes.append(("two people walk up together", self._two_people))
        return scenes

    def _walk_up(self) -> None:
        from terminal.hardware.camera import SceneStep
        from terminal.vision.attacks import video_presentation

        if self._singer is None:
            self._singer = video_presentation(self._faces() / "video" / "short_hamilton_clip.mp4").frames[82:211:2]
        self._camera().play_scene([SceneStep(f, frames=1) for f in self._singer] + [SceneStep(None, seconds=1)])

    def _two_people(self) -> None:
        self._camera().sway(self._faces() / "groups" / "two_people.jpg", seconds=3)

    def _faces(self) -> Path:
        if self.faces_dir is None:
            raise LookupError("the face scenes need the shared face photos")
        return self.faces_dir

    def _press_finger(self) -> None:
        emulator = self._sensor().emulator
        emulator.place_finger(FINGER_ID)
        self._stop.wait(1.0)
        emulator.lift_finger()

    # -- the loop ----------------------------------------------------------------------------
    def _close(self) -> None:
        """Close the window, on Kivy's main thread."""
        from kivy.clock import Clock

        Clock.schedule_once(lambda _dt: self.app.stop(), 0)

    def _idle(self) -> bool:
        return self.app.screen_name in ("idle", "second") and self.app.admin is None

    def _run(self) -> None:
        clock = self.terminal.hardware.clock
        if hasattr(clock, "set_wall"):
            clock.set_wall(datetime.now(timezone.utc))  # the simulated clock shows the time of day
        last = time.monotonic()
        scenes = self.scenes()
        index = 0
        next_at = time.monotonic() + 2.0
        while not self._stop.wait(0.25):
            now = time.monotonic()
            if hasattr(clock, "advance"):
                clock.advance(now - last)  # keep the simulated clock running in real time
            last = now
            if now < next_at or not self._idle():
                continue
            if self.rounds is not None and index >= self.rounds * len(scenes):
                self._close()  # the last scene's result has been shown and the kiosk is idle again
                return
            label, action = scenes[index % len(scenes)]
            index += 1
            if index % len(scenes) == 0 and hasattr(clock, "advance"):
                clock.advance(3600)  # an hour later the same people may punch again (out)
            log.info("demo: %s", label)
            print(f"[demo] {label}", flush=True)
            try:
                action()
            except Exception:
                log.exception("demo scene %r failed", label)
            self.scenes_played += 1
            next_at = time.monotonic() + self.gap_s


def run_demo_kiosk(config: TerminalConfig, *, faces_dir: Path | None = None, offscreen: bool = False,
                   duration_s: float | None = None, gap_s: float = 5.0, rounds: int | None = None) -> int:
    """Open the kiosk on a simulated terminal with simulated people walking up; returns 0 when closed.

    ``faces_dir`` defaults to the shared face photos beside the repository (face scenes are
    left out without them). ``duration_s`` closes the window by itself after that long; ``rounds`` once every scene
    has played that many times (however slow the machine), whichever comes first.
    """
    from terminal.runtime import Terminal
    from terminal.scenario import CLIP_LIVENESS_NOTE, let_the_clip_blink
    from terminal.ui.app import bootstrap, create_app, stop_on_signals

    if faces_dir is None and DEFAULT_FACES.is_dir():
        faces_dir = DEFAULT_FACES
    if faces_dir is not None and config.face.enabled and let_the_clip_blink(config):
        print(f"[demo] {CLIP_LIVENESS_NOTE}", flush=True)
    bootstrap(config, offscreen=offscreen)
    with Terminal.open(config) as terminal:
        ready = prepare_demo_staff(terminal, faces_dir)
        app = create_app(terminal)
        director = DemoDirector(terminal, app, faces_dir, ready, gap_s, rounds)
        stop_on_signals(app)
        terminal.start()
        director.start()
        if duration_s is not None:
            from kivy.clock import Clock

            Clock.schedule_once(lambda _dt: app.stop(), duration_s)
        try:
            app.run()
        except KeyboardInterrupt:
            pass
        finally:
            director.stop()
            terminal.stop()
        punches = len(terminal.store.query("SELECT id FROM punches"))
        print(f"[demo] {director.scenes_played} scenes played, {punches} punches recorded", flush=True)
    return 0
