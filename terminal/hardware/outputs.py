"""Door relay, green and red LEDs and buzzer, driven through gpiozero.

One class, :class:`GpioOutputs`, drives real pins (gpiozero's default pin factory:
lgpio or RPi.GPIO on a Raspberry Pi) and simulated ones (gpiozero's own
``MockFactory``, passed explicitly so no global pin state is shared between
terminals or tests). :class:`SimOutputs` adds the assert helpers tests and the
demo read from the mock pins' state histories.

Nothing here blocks the caller: every pulse, light and beep pattern runs on
gpiozero's background blink threads; a new signal replaces the running one.
"""
from __future__ import annotations

import logging
import os
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from terminal.config import OutputSettings
from terminal.hardware.errors import DeviceMissing

log = logging.getLogger(__name__)

MAX_DOOR_OPEN_S = 600.0


@runtime_checkable
class Outputs(Protocol):
    def signal_accept(self, open_door: bool = True) -> None:
        """Green LED for ``led_on_s``, the accept beep, and (when asked) a door pulse."""
        ...

    def signal_refuse(self) -> None:
        """Red LED for ``led_on_s`` and the refusal beep pattern; the door stays as it is."""
        ...

    def open_door(self, seconds: float | None = None) -> None:
        """Energise the door relay for ``seconds`` (default ``door_pulse_s``), then release it."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Outputs: ...

    def __exit__(self, *exc: object) -> None: ...


def _default_factory_problem() -> DeviceMissing:
    """Why gpiozero found no pin factory, with the reason each backend gave."""
    from gpiozero import Device

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            Device._default_pin_factory()  # gpiozero's own lgpio → RPi.GPIO → pigpio → native search
        except Exception as exc:
            reasons = [str(w.message) for w in caught]
            detail = "; ".join(reasons) or str(exc)
            return DeviceMissing("outputs", f"no GPIO available ({exc} {detail})")
    return DeviceMissing("outputs", "no GPIO available")


class GpioOutputs:
    """Relay, LEDs and buzzer on gpiozero devices. A context manager; ``close()`` releases the door first."""

    def __init__(self, settings: OutputSettings, pin_factory: Any = None):
        from gpiozero import LED, Buzzer, DigitalOutputDevice
        from gpiozero.exc import BadPinFactory, GPIOPinInUse, PinInvalidPin
        from gpiozero.pins.mock import MockFactory

        self.settings = settings
        self._lock = threading.Lock()
        self._closed = False
        self._devices: list[Any] = []
        if pin_factory is None and os.environ.get("GPIOZERO_PIN_FACTORY", "").strip().lower() in ("mock", "mockfactory"):
            raise DeviceMissing("outputs", "GPIOZERO_PIN_FACTORY selects gpiozero's mock pins; real outputs need "
                                "lgpio or RPi.GPIO on a Raspberry Pi (use driver = \"sim\" to simulate)")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # gpiozero warns for every backend it tries before one loads
                self.relay = self._add(DigitalOutputDevice(settings.relay_pin, active_high=settings.relay_active_high,
                                                           initial_value=False, pin_factory=pin_factory))
            factory = self.relay.pin_factory
            if pin_factory is None and isinstance(factory, MockFactory):
                raise DeviceMissing("outputs", "gpiozero's default pin factory is its mock factory; "
                                    "real outputs need lgpio or RPi.GPIO on a Raspberry Pi")
            self.green = self._add(LED(settings.green_led_pin, initial_value=False, pin_factory=factory))
            self.red = self._add(LED(settings.red_led_pin, initial_value=False, pin_factory=factory))
            self.buzzer = self._add(Buzzer(settings.buzzer_pin, active_high=settings.buzzer_active_high,
                                           initial_value=False, pin_factory=factory))
        except BadPinFactory:
            self._release()
            raise _default_factory_problem() from None
        except (GPIOPinInUse, PinInvalidPin) as exc:
            self._release()
            raise DeviceMissing("outputs", f"GPIO pins not usable: {exc}") from None
        except DeviceMissing:
            self._release()
            raise
        except Exception as exc:  # lgpio/RPi.GPIO raise their own errors when /dev/gpiochip is not accessible
            self._release()
            raise DeviceMissing("outputs", f"GPIO not accessible: {type(exc).__name__}: {exc}") from None
        self.pin_factory = factory
        log.info("outputs on %s: relay pin %s (%s), green %s, red %s, buzzer %s", type(factory).__name__,
                 settings.relay_pin, "active-high" if settings.relay_active_high else "active-low",
                 settings.green_led_pin, settings.red_led_pin, settings.buzzer_pin)

    def _add(self, device: Any) -> Any:
        self._devices.append(device)
        return device

    def _release(self) -> None:
        for device in reversed(self._devices):
            try:
                device.close()
            except Exception:
                log.debug("closing %s", device, exc_info=True)
        self._devices.clear()

    # -- signals -------------------------------------------------------------------------
    def _beep(self, count: int) -> None:
        if count > 0:
            self.buzzer.beep(on_time=self.settings.beep_s, off_time=self.settings.beep_gap_s, n=count)
        else:
            self.buzzer.off()

    def signal_accept(self, open_door: bool = True) -> None:
        with self._lock:
            self._check_open()
            self.red.off()
            self.green.blink(on_time=self.settings.led_on_s, off_time=0, n=1)
            self._beep(self.settings.accept_beeps)
            if open_door:
                self._pulse_relay(self.settings.door_pulse_s)

    def signal_refuse(self) -> None:
        with self._lock:
            self._check_open()
            self.green.off()
            self.red.blink(on_time=self.settings.led_on_s, off_time=0, n=1)
            self._beep(self.settings.refuse_beeps)

    def open_door(self, seconds: float | None = None) -> None:
        duration = self.settings.door_pulse_s if seconds is None else float(seconds)
        if not 0 < duration <= MAX_DOOR_OPEN_S:
            raise ValueError(f"door open time must be between 0 and {MAX_DOOR_OPEN_S:g} s, got {seconds}")
        with self._lock:
            self._check_open()
            self._pulse_relay(duration)

    def _pulse_relay(self, seconds: float) -> None:
        # A pulse already running is replaced: the door stays open for `seconds` from now.
        self.relay.blink(on_time=seconds, off_time=0, n=1)

    # -- state -----------------------------------------------------------------------------
    @property
    def door_open(self) -> bool:
        """Whether the relay is energised now (a closed device has released it)."""
        return False if self._closed else bool(self.relay.value)

    def health(self) -> str:
        return "closed" if self._closed else "ok"

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("outputs are closed")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for device in (getattr(self, "relay", None), getattr(self, "green", None),
                           getattr(self, "red", None), getattr(self, "buzzer", None)):
                if device is not None:
                    try:
                        device.off()  # stops any blink thread and leaves the door locked, LEDs dark
                    except Exception:
                        log.debug("switching off %s", device, exc_info=True)
            self._release()

    def __enter__(self) -> GpioOutputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Pulse:
    start: float  # seconds since the pin history began
    length: float  # seconds the device was active


class SimOutputs(GpioOutputs):
    """The same devices on gpiozero's ``MockFactory``; pin histories are the test's evidence.

    Each instance has its own factory, so two simulated terminals (or two tests) never share pins.
    """

    def __init__(self, settings: OutputSettings, pin_factory: Any = None):
        from gpiozero.pins.mock import MockFactory

        self.factory = pin_factory if pin_factory is not None else MockFactory()
        super().__init__(settings, pin_factory=self.factory)
        self._pins = {name: self.factory.pin(pin) for name, pin in (
            ("relay", settings.relay_pin), ("green", settings.green_led_pin),
            ("red", settings.red_led_pin), ("buzzer", settings.buzzer_pin))}
        self._active_high = {"relay": settings.relay_active_high, "green": True, "red": True,
                             "buzzer": settings.buzzer_active_high}
        # Histories start at rest, with every pin already driven to its inactive level.
        self.clear_history()

    def pin(self, name: str) -> Any:
        """The MockPin behind ``relay``, ``green``, ``red`` or ``buzzer`` (its ``states`` is the history)."""
        return self._pins[name]

    def levels(self, name: str) -> list[tuple[float, bool]]:
        """The pin's electrical levels as (seconds since the previous change, high?) — MockPin's own record."""
        return [(s.timestamp, bool(s.state)) for s in self._pins[name].states]

    def pulses(self, name: str) -> list[Pulse]:
        """Completed and running activations of a device, from its pin history (active level honoured)."""
        active_level = self._active_high[name]
        result, elapsed, started = [], 0.0, None
        states = self._pins[name].states
        for index, state in enumerate(states):
            elapsed += state.timestamp
            active = bool(state.state) == active_level
            if index == 0:
                started = elapsed if active else None
                continue
            if active and started is None:
                started = elapsed
            elif not active and started is not None:
                result.append(Pulse(started, elapsed - started))
                started = None
        if started is not None:
            import time

            since_last = time.monotonic() - self._pins[name]._last_change
            result.append(Pulse(started, elapsed + since_last - started))
        return result

    def relay_pulses(self) -> list[Pulse]:
        return self.pulses("relay")

    def is_active(self, name: str) -> bool:
        return bool(self._pins[name].state) == self._active_high[name]

    def clear_history(self) -> None:
        for pin in self._pins.values():
            pin.clear_states()
