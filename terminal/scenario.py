"""Scripted scenarios played through the simulators: ``seed-terminal --headless --simulate --scenario demo``.

The demo enrols a few employees, then plays a working day at the door through the
simulated card reader, PIN entry, fingerprint sensor and camera where they are present:
people clock in, one needs two factors, a stranger's card is refused, a PIN is mistyped
until it locks, someone taps twice, and in the evening everybody clocks out. Each
decision is printed as it happens and a summary table closes the run.
"""
from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar
from zoneinfo import ZoneInfo

from terminal.config import TerminalConfig
from terminal.hardware.clock import SimClock
from terminal.hardware.errors import DeviceMissing
from terminal.i18n import pad_display
from terminal.identify import Outcome
from terminal.runtime import Terminal
from terminal.store.audit import verify_audit
from terminal.store.employees import NewEmployee, add_employee, find_by_number

if TYPE_CHECKING:
    from terminal.fingerprint_service import FingerprintWorker
    from terminal.hardware.camera import SimCamera
    from terminal.hardware.card_reader import SimCardReader
    from terminal.hardware.fingerprint_sim import FingerprintEmulator
    from terminal.vision.door import FaceWorker
    from terminal.vision.recognizer import Decision, FrameResult

Sim = TypeVar("Sim")

DEMO_STAFF: list[NewEmployee] = [
    {"number": "1001", "name": "张伟", "department": "生产部", "card": "0004318030"},
    {"number": "1002", "name": "李娜", "department": "财务部", "pin": "2580"},
    {"number": "1003", "name": "Wang Fang", "department": "R&D", "card": "0x00A1B2C3", "pin": "1357", "verify_mode": "card+pin"},
    {"number": "1004", "name": "Chen Jie", "department": "Sales", "card": "W26:123,45678"},
    {"number": "1005", "name": "Lin-Manuel Miranda", "department": "Stage"},
    {"number": "9001", "name": "管理员", "department": "IT", "pin": "9090", "role": "admin", "verify_mode": "pin"},
]


@dataclass
class Step:
    label: str
    action: Callable[[Terminal], Any]
    expect: str  # the outcome status expected last ("punched", "refused", "need_more")


def _simulated(device: object, kind: type[Sim], name: str) -> Sim:
    """The scenario drives the simulators: ``device`` as its simulator class, or DeviceMissing."""
    if not isinstance(device, kind):
        raise DeviceMissing(name, f"the scenario needs the simulated {name} (hardware.profile = \"sim\")")
    return device


def _card_reader(terminal: Terminal) -> SimCardReader:
    from terminal.hardware.card_reader import SimCardReader

    return _simulated(terminal.hardware.card_reader, SimCardReader, "card_reader")


def _camera(terminal: Terminal) -> SimCamera:
    from terminal.hardware.camera import SimCamera

    return _simulated(terminal.hardware.camera, SimCamera, "camera")


def _emulator(terminal: Terminal) -> FingerprintEmulator:
    from terminal.hardware.fingerprint import SimulatedFingerprintSensor

    return _simulated(terminal.hardware.fingerprint, SimulatedFingerprintSensor, "fingerprint").emulator


def _fingerprint_worker(terminal: Terminal) -> FingerprintWorker:
    if terminal.fingerprint_worker is None:
        raise DeviceMissing("fingerprint", "the terminal has no fingerprint worker")
    return terminal.fingerprint_worker


def _face_worker(terminal: Terminal) -> FaceWorker | None:
    from terminal.vision.door import FaceWorker

    worker = terminal.worker("face")
    return worker if isinstance(worker, FaceWorker) else None


def enrol_demo_staff(terminal: Terminal, out: TextIO) -> None:
    for person in DEMO_STAFF:
        if find_by_number(terminal.store, person["number"]) is None:
            add_employee(terminal.store, actor="demo", **person)
    print(f"enrolled {len(DEMO_STAFF)} employees: " + ", ".join(f"{p['number']} {p['name']}" for p in DEMO_STAFF), file=out)


def _tap(raw: str) -> Callable[[Terminal], None]:
    return lambda terminal: _card_reader(terminal).present(raw)


def _pin(number: str, pin: str) -> Callable[[Terminal], Outcome]:
    return lambda terminal: terminal.auth.pin(number, pin)


def _enrol_finger(number: str, finger_id: str) -> Callable[[Terminal], Outcome]:
    """An admin enrols a finger: the employee presses, lifts and presses again as prompted."""

    def act(terminal: Terminal) -> Outcome:
        from enrollment.fingerprint import enrol_finger

        emulator = _emulator(terminal)
        prompts: list[str] = []

        def follow(step) -> None:
            prompts.append(step.step)
            if step.step in ("place", "place_again"):
                emulator.place_finger(finger_id)
            elif step.step in ("lift", "retry"):
                emulator.lift_finger()

        with _fingerprint_worker(terminal).paused() as sensor:
            done = enrol_finger(terminal.store, sensor, number, 2, progress=follow, actor="9001")
        emulator.lift_finger()
        employee = find_by_number(terminal.store, number)
        return Outcome("identified", "finger_enrolled", employee,
                       message=f"finger stored at sensor position {done.position} ({' → '.join(prompts)})")

    return act


def _press(finger_id: str) -> Callable[[Terminal], None]:
    """A finger pressed once and lifted; returns when the sensor has seen it lifted again."""

    def act(terminal: Terminal) -> None:
        read = threading.Event()
        worker = _fingerprint_worker(terminal)
        worker.listeners.append(lambda _: read.set())
        _emulator(terminal).place_finger(finger_id, captures=1)
        read.wait(10)
        worker.listeners.pop()

    return act


def faces_folder() -> Path | None:
    """The real face photos and clip beside the project (../shared/testdata/faces), if present."""
    import os

    folder = Path(os.environ.get("SEED_FACES_DIR", Path(__file__).resolve().parent.parent.parent / "shared" / "testdata" / "faces"))
    return folder if (folder / "video" / "short_hamilton_clip.mp4").is_file() else None


def _enrol_face(number: str, photo: Path) -> Callable[[Terminal], Outcome]:
    def act(terminal: Terminal) -> Outcome:
        from enrollment.faces import enrol_photos

        report = enrol_photos(terminal.store, number, [photo], min_shots=1, actor="9001")
        worker = _face_worker(terminal)
        if worker is not None:
            worker.refresh_gallery(force=True)
        return Outcome("identified", "face_enrolled", find_by_number(terminal.store, number),
                       message=f"{report['good']} face template(s) from {photo.name}")

    return act


def _in_front_of_camera(show: Callable[[SimCamera], None], timeout_s: float = 30.0,
                        until_accepted: bool = False) -> Callable[[Terminal], Outcome | None]:
    """Put something in front of the camera and wait for the face pipeline's decision about it
    (with ``until_accepted``, for an acceptance: a crowd may pass before the person is alone)."""

    def act(terminal: Terminal) -> Outcome | None:
        worker = _face_worker(terminal)
        if worker is None:
            raise DeviceMissing("camera", "the terminal has no face worker")
        camera = _camera(terminal)
        decided: queue.Queue[Decision] = queue.Queue()

        def listener(result: FrameResult) -> None:
            if result.decision is not None:
                decided.put(result.decision)

        worker.listeners.append(listener)
        deadline = time.monotonic() + timeout_s
        try:
            show(camera)
            while True:
                decision = decided.get(timeout=max(0.0, deadline - time.monotonic()))
                if decision.accepted or not until_accepted:
                    break
                print(f"       (meanwhile: {decision.outcome}, {decision.face_count} face(s) in view)", file=sys.stdout)
        except queue.Empty:
            return None
        finally:
            worker.listeners.remove(listener)
            camera.clear()
        if decision.accepted:
            return None  # the punch outcome arrives through the authenticator
        detail = {"tailgating": f"{decision.face_count} faces in the zone",
                  "spoof_suspected": "liveness: " + ", ".join(decision.reasons)}.get(decision.outcome, decision.outcome)
        return Outcome("refused", decision.outcome, message=detail)

    return act


def face_steps(folder: Path) -> list[Step]:
    from terminal.hardware.camera import load_image

    photo = folder / "video" / "enrol_lin_manuel_miranda.png"
    clip = folder / "video" / "short_hamilton_clip.mp4"
    return [
        Step("admin enrols Lin-Manuel Miranda's face from a photo", _enrol_face("1005", photo), "identified"),
        Step("Lin-Manuel walks up to the camera (a real video: moving, blinking)",
             _in_front_of_camera(lambda camera: camera.play_source(clip), until_accepted=True), "punched"),
        Step("someone holds Lin-Manuel's photo up to the camera",
             _in_front_of_camera(lambda camera: camera.show(load_image(photo), seconds=12)), "refused"),
        Step("two people step up together",
             _in_front_of_camera(lambda camera: camera.sway(load_image(folder / "groups" / "two_people.jpg"), seconds=6)),
             "refused"),
    ]


def _advance(terminal: Terminal, seconds: float) -> None:
    if isinstance(terminal.hardware.clock, SimClock):
        terminal.hardware.clock.advance(seconds)


def demo_steps() -> list[Step]:
    return [
        Step("张伟 taps his card", _tap("0004318030"), "punched"),
        Step("李娜 types her number and PIN", _pin("1002", "2580"), "punched"),
        Step("Wang Fang taps her card (card+PIN required)", _tap("00A1B2C3"), "need_more"),
        Step("Wang Fang types her PIN", _pin("1003", "1357"), "punched"),
        Step("Chen Jie taps his Wiegand-26 card (read as decimal)", _tap(str((123 << 16) | 45678)), "punched"),
        Step("a visitor taps an unregistered card", _tap("0000000001"), "refused"),
        Step("张伟 taps again a few seconds later", _tap("0004318030"), "refused"),
        Step("someone types a wrong PIN for 1002", _pin("1002", "1111"), "refused"),
        Step("... and again", _pin("1002", "2222"), "refused"),
        Step("... and a third time (PIN entry locks)", _pin("1002", "3333"), "refused"),
        Step("admin enrols 李娜's right index finger (press, lift, press again)", _enrol_finger("1002", "lina-right-index"),
             "identified"),
        Step("evening: 张伟 clocks out", _tap("0004318030"), "punched"),
        Step("李娜 clocks out with her finger (PIN entry is still locked)", _press("lina-right-index"), "punched"),
        Step("a stranger presses a finger", _press("stranger-thumb"), "refused"),
        Step("Chen Jie clocks out (reader set to Wiegand-26 facility,card)", _tap("123,45678"), "punched"),
        Step("Wang Fang clocks out (card, then PIN)", _tap("00A1B2C3"), "need_more"),
        Step("Wang Fang's PIN", _pin("1003", "1357"), "punched"),
    ]


def _describe(outcome: Outcome, zone: ZoneInfo) -> str:
    who = f"{outcome.employee['number']} {outcome.employee['name']}" if outcome.employee else "unknown"
    if outcome.status == "punched" and outcome.punch is not None and outcome.punch.punch is not None:
        punch = outcome.punch.punch
        local = datetime.fromisoformat(punch["punched_at"].replace("Z", "+00:00")).astimezone(zone)
        return (f"PUNCH  {local:%Y-%m-%d %H:%M:%S}  {pad_display(who, 16)} {punch['direction'].upper():<3}  by {punch['method']:<9}"
                f" time={punch['time_source']}  id={punch['id']}")
    if outcome.status == "identified":
        return f"ADMIN  {who}: {outcome.message}"
    if outcome.status == "need_more":
        return f"WAIT   {who}: still needs {', '.join(outcome.missing)}"
    return f"REFUSE {who}: {outcome.reason} — {outcome.message}"


def play(terminal: Terminal, steps: list[Step], out: TextIO, timeout_s: float = 10.0) -> list[tuple[Step, Outcome | None]]:
    outcomes: queue.Queue[Outcome] = queue.Queue()
    terminal.on_outcome(outcomes.put)
    zone = ZoneInfo(terminal.config.device.timezone)
    results = []
    for index, step in enumerate(steps, 1):
        if step.label.startswith("evening"):
            _advance(terminal, 9 * 3600 + 10 * 60)
        else:
            _advance(terminal, 7)
        print(f"[{index:02d}] {step.label}", file=out)
        returned = step.action(terminal)
        outcome: Outcome | None = returned if isinstance(returned, Outcome) else None
        if outcome is None:
            try:
                outcome = outcomes.get(timeout=timeout_s)
            except queue.Empty:
                print("       (no decision within the timeout)", file=out)
        # drop the copy the listener also received for direct calls
        while not outcomes.empty():
            outcomes.get_nowait()
        if outcome is not None:
            print(f"       {_describe(outcome, zone)}", file=out)
        results.append((step, outcome))
    return results


def summary(terminal: Terminal, results: list[tuple[Step, Outcome | None]], out: TextIO) -> bool:
    from enrollment.cli import print_table

    store = terminal.store
    rows = store.query(
        "SELECT e.number, e.name, "
        "sum(CASE WHEN p.direction = 'in' THEN 1 ELSE 0 END) AS ins, "
        "sum(CASE WHEN p.direction = 'out' THEN 1 ELSE 0 END) AS outs, "
        "group_concat(DISTINCT p.method) AS methods "
        "FROM employees e LEFT JOIN punches p ON p.employee_id = e.id GROUP BY e.id ORDER BY e.number")
    print("\nSummary by employee", file=out)
    print_table(rows, ["number", "name", "ins", "outs", "methods"], out=out)
    counts = store.counts()
    audit = verify_audit(store.conn)
    events = store.query("SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY kind")
    print(f"\npunches recorded: {counts['punches']}   waiting in the outbox for the central server: "
          f"{store.scalar('SELECT count(*) FROM outbox')}", file=out)
    print("events: " + (", ".join(f"{e['kind']}×{e['n']}" for e in events) or "none"), file=out)
    print(f"audit log: {audit.entries} entries, {'intact' if audit.ok else 'BROKEN at ' + str(audit.first_broken)}", file=out)
    outputs = getattr(terminal.hardware, "outputs", None)
    if outputs is not None and hasattr(outputs, "relay_pulses"):
        print(f"door relay pulses: {len(outputs.relay_pulses())}", file=out)
    speaker = getattr(terminal.hardware, "speaker", None)
    if speaker is not None and hasattr(speaker, "played"):
        print(f"phrases spoken: {len(speaker.played)}", file=out)
    mismatches = [(s.label, o.status if o else None) for s, o in results if (o.status if o else None) != s.expect]
    for label, got in mismatches:
        print(f"UNEXPECTED: {label!r} ended as {got}", file=out)
    return not mismatches and audit.ok


def demo_start_time(config: TerminalConfig) -> datetime:
    """Yesterday 08:50 local time: the demo day lies in the past, so every stamp is plausible."""
    zone = ZoneInfo(config.device.timezone)
    yesterday = datetime.now(zone).date() - timedelta(days=1)
    return datetime(yesterday.year, yesterday.month, yesterday.day, 8, 50, tzinfo=zone).astimezone(timezone.utc)


CLIP_LIVENESS_NOTE = "face liveness for the demo: blink (the recorded clip cannot answer the door's prompted head turn)"


def let_the_clip_blink(config: TerminalConfig) -> bool:
    """The demos' "employee" is a recorded clip: it blinks, but cannot answer a prompted head turn.

    A door asking for a turn (the default) is set to accept a blink instead; True when changed.
    """
    if config.face.liveness not in ("challenge", "turn"):
        return False
    config.face.liveness = "blink_or_turn"
    return True


def run_scenario(config: TerminalConfig, name: str, out: TextIO = sys.stdout) -> int:
    if name != "demo":
        print(f"unknown scenario {name}", file=out)
        return 2
    started = time.monotonic()
    faces = faces_folder() if config.face.enabled else None
    if faces is None:
        config.face.enabled = False
        print("face steps skipped: the real face photos and clip (../shared/testdata/faces) are not here", file=out)
    elif let_the_clip_blink(config):
        print(CLIP_LIVENESS_NOTE, file=out)
    with Terminal.open(config) as terminal:
        if isinstance(terminal.hardware.clock, SimClock):
            terminal.hardware.clock.set_wall(demo_start_time(config))
        enrol_demo_staff(terminal, out)
        terminal.start()
        steps = demo_steps()
        if faces is not None:
            steps[7:7] = face_steps(faces)  # after the morning arrivals and the double tap
        results = play(terminal, steps, out)
        ok = summary(terminal, results, out)
    print(f"\nscenario finished in {time.monotonic() - started:.1f} s", file=out)
    return 0 if ok else 1
