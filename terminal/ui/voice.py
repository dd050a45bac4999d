"""Greetings rendered ahead: every active employee's name is ready to be spoken before they punch.

The kiosk calls :meth:`VoiceWarmup.refresh` at start and every :data:`VOICE_REFRESH_S`
(employees added by roster sync or ``seed-enroll`` get their greeting without a
restart), and :meth:`VoiceWarmup.warm` after a language change. Rendering runs off
Kivy's main thread and only when the language or the active employees' names changed.
No Kivy here.
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from terminal.hardware.factory import fixed_phrases
from terminal.i18n import t
from terminal.store.employees import list_employees

if TYPE_CHECKING:
    from terminal.hardware.speaker import Speaker
    from terminal.runtime import Terminal

log = logging.getLogger(__name__)

VOICE_REFRESH_S = 30.0  # how often the kiosk looks for new or renamed employees


class VoiceWarmup:
    def __init__(self, terminal: Terminal):
        self.terminal = terminal
        self._thread: threading.Thread | None = None
        self._signature: tuple | None = None

    def refresh(self) -> None:
        """Start a warm-up in the background unless one is still running."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self.warm, name="seed-voice-warmup", daemon=True)
        self._thread.start()

    def warm(self) -> None:
        """Render every employee's greeting once, so a name is heard as soon as the punch is decided (blocks)."""
        speaker: Speaker | None = self.terminal.hardware.speaker
        if speaker is None:
            return
        lang = self.terminal.config.device.language
        try:
            staff = [(e["number"], e["name"]) for e in list_employees(self.terminal.store) if e["active"]]
            signature = (lang, tuple(staff))
            if signature == self._signature:
                return
            phrases = {key: text for key, text in fixed_phrases(lang).items() if key.startswith(("refuse.", "hint."))}
            for number, name in staff:
                for key in ("punch.in", "punch.out", "refuse.already_recorded"):
                    phrases[f"{key}:{number}"] = t(key, lang, name=name)
            speaker.prerender(phrases, lang)
            self._signature = signature
            log.info("voice: greetings ready for %d employees", len(staff))
        except Exception as exc:
            log.warning("voice warm-up stopped: %s", exc)
