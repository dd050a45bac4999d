"""The terminal's threads: what a worker is, and the loop most of them run.

A leaf module (it imports only the standard library), so the runtime, the
fingerprint service and the face pipeline can all build on it without importing
each other.

* :class:`Worker` is what :class:`~terminal.runtime.Terminal` starts, watches and
  stops: one per input (card reader, fingerprint sensor, camera) plus housekeeping.
* :class:`LoopWorker` is a daemon thread running one ``step`` after another; an
  exception in a step is logged and the loop carries on after a pause that
  doubles (up to 30 s) while the step keeps failing.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0


class Worker(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def healthy(self) -> bool: ...


class LoopWorker:
    """A daemon thread running ``step(stop)`` until stopped; an exception is logged, never fatal."""

    def __init__(self, name: str, step: Callable[[threading.Event], object], backoff_s: float = 1.0):
        self.name = name
        self._step = step
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff_s = backoff_s

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"seed-{self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delay = self._backoff_s
        while not self._stop.is_set():
            try:
                self._step(self._stop)
                delay = self._backoff_s
            except Exception as exc:
                log.error("%s worker: %s (retrying in %.1f s)", self.name, exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def healthy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
