"""The alert thread of ``seed-central run``: evaluates the rules every ``alert_interval_s`` and sends due mails.

Several instances may run it at once: an alert's unique key decides which one raises it (see services).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.utils import timezone as dj_timezone

from central.alerts import mail, services
from central.loop_thread import LoopThread

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


class AlertThread(LoopThread):
    name = "seed-alerts"
    first_at_once = True

    def __init__(self, interval_s: float = 30.0, *, clock: Clock | None = None):
        super().__init__(interval_s)
        self.clock: Clock = clock or dj_timezone.now
        self.raised = 0
        self.mailed = 0

    def start(self) -> AlertThread:
        super().start()
        return self

    def work(self) -> None:
        self.run_once()

    def run_once(self) -> int:
        """One evaluation and one round of mails; returns how many alerts it raised."""
        raised = len(services.evaluate(self.clock()))
        self.raised += raised
        if not self.stopping:
            self.mailed += mail.send_due(self.clock())
        return raised
