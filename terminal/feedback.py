"""What the employee sees, hears and walks through after a decision: LEDs, buzzer, relay, voice."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from terminal.config import TerminalConfig
from terminal.i18n import t
from terminal.punch import PunchResult

if TYPE_CHECKING:
    from terminal.hardware.outputs import Outputs
    from terminal.hardware.speaker import Speaker

log = logging.getLogger(__name__)


class DoorFeedback:
    """Drives the outputs and the speaker for every result; never blocks the caller.

    Accepted punches (and "already recorded", which still proves who is at the door)
    light the green LED, pulse the door relay and speak the result; everything else
    lights the red LED, sounds the refusal pattern and speaks the reason.
    """

    def __init__(self, config: TerminalConfig, outputs: Outputs | None = None, speaker: Speaker | None = None):
        self.config = config
        self.outputs = outputs
        self.speaker = speaker

    @property
    def language(self) -> str:
        return self.config.device.language

    def _say(self, text: str) -> None:
        if self.speaker is not None and self.config.hardware.speaker.enabled and text:
            try:
                self.speaker.say(text, self.language)
            except Exception as exc:
                log.warning("speaker failed: %s", exc)

    def _signal(self, accepted: bool) -> None:
        if self.outputs is None:
            return
        try:
            if accepted:
                self.outputs.signal_accept(open_door=self.config.hardware.outputs.open_door_on_punch)
            else:
                self.outputs.signal_refuse()
        except Exception as exc:
            log.warning("outputs failed: %s", exc)

    def punch_result(self, result: PunchResult) -> None:
        positive = result.accepted or result.reason == "already_recorded"
        self._signal(positive)
        self._say(result.message)

    def refusal(self, reason_key: str, **params: object) -> str:
        """A refusal decided before the punch path (unknown card, wrong PIN, not live...)."""
        text = t(f"refuse.{reason_key}", self.language, **params)
        self._signal(False)
        self._say(text)
        return text

    def message(self, key: str, **params: object) -> str | None:
        text = t(key, self.language, **params)
        self._say(text)
        return text
