"""Errors every hardware driver raises, so callers handle one family whatever the device.

``DeviceMissing`` names the device and says why it cannot be used; the factory
collects these for the status screen instead of substituting a simulator.
"""
from __future__ import annotations


class HardwareError(Exception):
    """A device failed. ``device`` names it (camera, fingerprint, card_reader, outputs, speaker, clock)."""

    def __init__(self, device: str, message: str):
        self.device = device
        self.reason = message
        super().__init__(f"{device}: {message}")


class DeviceMissing(HardwareError):
    """A device that is configured but cannot be opened (absent, unplugged, driver not installed)."""


class DeviceMisconfigured(DeviceMissing):
    """A device configured in a way no plugging in can fix (a video file that does not exist, a driver that is
    not installed): reported at once, never waited for."""


class CameraGone(HardwareError):
    """The camera stopped delivering frames: unplugged, timed out or its stream ended."""

    def __init__(self, message: str):
        super().__init__("camera", message)


class CardReaderGone(HardwareError):
    """The card reader disappeared while in use (unplugged)."""

    def __init__(self, message: str):
        super().__init__("card_reader", message)


class SpeakerError(HardwareError):
    """Speech could not be rendered or played."""

    def __init__(self, message: str):
        super().__init__("speaker", message)


class MissingDevices(HardwareError):
    """Several devices are missing; ``problems`` maps each device name to its reason."""

    def __init__(self, problems: dict[str, str]):
        self.problems = dict(problems)
        listed = "; ".join(f"{name}: {reason}" for name, reason in problems.items())
        super().__init__(", ".join(problems) or "hardware", f"missing devices — {listed}")
