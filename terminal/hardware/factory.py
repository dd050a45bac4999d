"""Build every device of a terminal from its configuration.

``hardware.profile`` ("pi" or "sim") picks real drivers or simulators; each device may
override it with its own ``driver``. A real device that cannot be opened is never
replaced by a simulator: it is left out (``None``) and its reason is kept in
:attr:`Hardware.problems` for the status screen and the log — the terminal still
runs with what it has (a door without a camera still takes cards). With
``strict=True`` any missing device is an error instead. The clock is required.

The camera is the exception: a configured camera that is not there yet at boot (USB camera
plugged in after the door was powered, network camera not up yet) is built in its gone state
and keeps being reopened (docs/camera-recovery.md), so plugging it in is enough. Only a
misconfigured camera (a video file that does not exist, picamera2 not installed) is left out
with its reason; with ``strict=True`` a camera that cannot be opened is missing as before.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from terminal.config import CameraSettings, CardReaderSettings, OutputSettings, SpeakerSettings, TerminalConfig
from terminal.hardware.errors import DeviceMissing, HardwareError, MissingDevices

if TYPE_CHECKING:  # the driver modules are imported only when their device is opened
    from terminal.hardware.camera import Camera
    from terminal.hardware.card_reader import CardReader
    from terminal.hardware.clock import Clock
    from terminal.hardware.fingerprint import FingerprintSensor
    from terminal.hardware.outputs import Outputs
    from terminal.hardware.speaker import Speaker

log = logging.getLogger(__name__)

DEVICE_NAMES = ("camera", "fingerprint", "card_reader", "outputs", "speaker", "clock")
Device = TypeVar("Device")


@dataclass
class Hardware:
    """The devices of one terminal; a disabled or missing device is None (never the clock). Closing closes them all."""

    clock: Clock
    camera: Camera | None = None
    fingerprint: FingerprintSensor | None = None
    card_reader: CardReader | None = None
    outputs: Outputs | None = None
    speaker: Speaker | None = None
    drivers: dict[str, str] = field(default_factory=dict)  # device -> "pi", "sim" or "disabled"
    problems: dict[str, str] = field(default_factory=dict)  # device -> why it is missing

    def require(self, *names: str) -> None:
        """Raise MissingDevices if any of the named devices (default: all enabled ones) is missing."""
        wanted = names or DEVICE_NAMES
        missing = {name: self.problems[name] for name in wanted if name in self.problems}
        if missing:
            raise MissingDevices(missing)

    def close(self) -> None:
        for name in reversed(DEVICE_NAMES):
            device = getattr(self, name)
            close = getattr(device, "close", None)
            if close is None:
                continue
            try:
                close()
            except Exception:
                log.exception("closing %s", name)

    def __enter__(self) -> Hardware:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- one builder per device -------------------------------------------------------------------
def open_camera(settings: CameraSettings, driver: str, wait_for_device: bool = True) -> Camera:
    """The configured camera; every driver reopens itself after it went away (docs/camera-recovery.md).

    With ``wait_for_device`` a camera that cannot be opened yet is returned gone (``state().at_start``)
    and found once it is plugged in; :class:`DeviceMisconfigured` (and, without it, DeviceMissing) raise.
    """
    from terminal.hardware import camera

    retry_max_s = settings.reopen_max_s  # the cap of the reopening pause (hardware.camera.reopen_max_s)
    if driver == "sim":
        sim = camera.SimCamera.from_settings(settings)  # the simulator is plugged in at boot
        sim.retry_max_s = max(sim.retry_start_s, retry_max_s)
        return sim
    if settings.device == "picamera2":
        return camera.Picamera2Camera(settings, retry_max_s=retry_max_s, wait_for_device=wait_for_device)
    return camera.OpenCVCamera(settings, retry_max_s=retry_max_s, wait_for_device=wait_for_device)


def open_card_reader(settings: CardReaderSettings, driver: str) -> CardReader:
    from terminal.hardware import card_reader

    if driver == "sim":
        return card_reader.SimCardReader(settings)
    return card_reader.EvdevCardReader(settings)


def open_outputs(settings: OutputSettings, driver: str) -> Outputs:
    from terminal.hardware import outputs

    if driver == "sim":
        return outputs.SimOutputs(settings)
    return outputs.GpioOutputs(settings)


def open_speaker(settings: SpeakerSettings, driver: str, data_dir: Path, language: str = "zh") -> Speaker:
    from terminal.hardware import speaker

    cache_dir = settings.cache_dir or Path(data_dir) / "voice"
    if driver == "sim":
        return speaker.SimSpeaker(settings, cache_dir, language)
    return speaker.AplaySpeaker(settings, cache_dir, language)


def _driver_module(device: str, module: str, function: str) -> Callable[..., Any]:
    """A builder owned by another driver module, imported only when that device is used (found by name: untyped)."""
    try:
        return getattr(importlib.import_module(module), function)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            raise DeviceMissing(device, f"driver module {module} is not installed") from None
        raise DeviceMissing(device, f"driver {module} needs {exc.name}, which is not installed") from None
    except AttributeError:
        raise DeviceMissing(device, f"driver module {module} has no {function}()") from None


def open_fingerprint(config: TerminalConfig, data_dir: Path, driver: str) -> FingerprintSensor | None:
    builder = _driver_module("fingerprint", "terminal.hardware.fingerprint", "open_fingerprint")
    settings = config.hardware.fingerprint.model_copy(update={"driver": driver})
    return builder(settings, Path(data_dir))


def open_clock(config: TerminalConfig, driver: str) -> Clock:
    builder = _driver_module("clock", "terminal.hardware.clock", "open_clock")
    return builder(driver)


SPOKEN_PREFIXES = ("refuse.", "hint.", "next.", "guide.", "second.", "enrol.finger_")


def fixed_phrases(language: str) -> dict[str, str]:
    """The spoken texts of the translation table that have no placeholder, in one language: worth rendering early."""
    from terminal.i18n import TEXTS, t

    return {key: t(key, language) for key, entry in TEXTS.items()
            if key.startswith(SPOKEN_PREFIXES) and "{" not in (entry.get(language) or entry.get("en", "{"))}


# -- the whole set ------------------------------------------------------------------------------
def _enabled(config: TerminalConfig, name: str) -> bool:
    return bool(getattr(getattr(config.hardware, name), "enabled", True))


def _open_device(config: TerminalConfig, name: str, build: Callable[[str], Device], drivers: dict[str, str],
                 problems: dict[str, str]) -> Device | None:
    """One device with the driver the configuration chooses; None (and its reason in ``problems``) when it cannot be opened."""
    if name != "clock" and not _enabled(config, name):
        drivers[name] = "disabled"
        return None
    driver = config.hardware.driver_for(name)
    drivers[name] = driver
    try:
        return build(driver)
    except HardwareError as exc:
        reason = exc.reason if exc.device == name else str(exc)
        problems[name] = reason
        log.error("%s (%s driver) missing: %s", name, driver, reason)
    except Exception as exc:  # a driver bug or an OS error: reported like a missing device, with its trace
        problems[name] = f"{type(exc).__name__}: {exc}"
        log.exception("%s (%s driver) could not be opened", name, driver)
    return None


def build_hardware(config: TerminalConfig, data_dir: Path | str, *, strict: bool = False) -> Hardware:
    """Open every enabled device with the driver the configuration chooses for it.

    A device that cannot be opened is recorded in ``problems`` (and logged) and left
    None; with ``strict`` it raises :class:`MissingDevices` naming all of them. A clock
    that cannot be built always raises.
    """
    folder = Path(data_dir)
    language = config.device.language
    settings = config.hardware
    drivers: dict[str, str] = {}
    problems: dict[str, str] = {}
    clock = _open_device(config, "clock", lambda d: open_clock(config, d), drivers, problems)
    if clock is None:
        raise DeviceMissing("clock", problems["clock"])
    hw = Hardware(clock=clock, drivers=drivers, problems=problems)
    try:
        hw.outputs = _open_device(config, "outputs", lambda d: open_outputs(settings.outputs, d), drivers, problems)
        hw.speaker = _open_device(config, "speaker", lambda d: open_speaker(settings.speaker, d, folder, language),
                                  drivers, problems)
        hw.card_reader = _open_device(config, "card_reader", lambda d: open_card_reader(settings.card_reader, d),
                                      drivers, problems)
        hw.camera = _open_device(config, "camera", lambda d: open_camera(settings.camera, d, wait_for_device=not strict),
                                 drivers, problems)
        hw.fingerprint = _open_device(config, "fingerprint", lambda d: open_fingerprint(config, folder, d), drivers, problems)
        if strict and hw.problems:
            raise MissingDevices(hw.problems)
    except BaseException:
        hw.close()
        raise
    if hw.speaker is not None:
        # rendered on the speaker's worker while nothing is said, so start-up does not wait for them
        hw.speaker.prerender(fixed_phrases(language), language, wait=False)
    opened = [f"{n}={hw.drivers[n]}" for n in DEVICE_NAMES if getattr(hw, n) is not None]
    state = getattr(hw.camera, "state", None)
    waiting = callable(state) and not state().ok
    log.info("hardware: %s%s%s", ", ".join(opened) or "none",
             "; missing: " + ", ".join(hw.problems) if hw.problems else "",
             "; camera not found yet, waiting for it" if waiting else "")
    return hw
