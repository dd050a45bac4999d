"""The central's background threads (the attendance follower, webhook deliveries, scheduled reports): one loop.

A :class:`LoopThread` runs :meth:`~LoopThread.work` every ``interval_s`` seconds, or at once when
:attr:`~LoopThread.wake` is set, on its own database connection (closed when the thread ends). A
database error is logged and counted, the broken connection replaced, and the work tried again at the next
pass; any other error is logged and counted too, and never ends the thread. :meth:`~LoopThread.stop`
ends it and waits for the pass in progress.
"""
from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connection
from django.db.utils import DatabaseError, InterfaceError

log = logging.getLogger(__name__)


class LoopThread:
    name = "seed-loop"  # the thread's name, and what the log calls it
    first_at_once = False  # the first pass at start, without waiting an interval
    join_s = 30.0  # how long stop() waits for the pass in progress

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0
        self.passes = 0

    def work(self) -> None:
        """One pass; subclasses say what it does."""
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def alive(self) -> bool:
        """The thread runs (started and not ended): what the receiver's watchdog asks of each of its loops."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> LoopThread:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread:
            self._thread.join(timeout=self.join_s)

    def _run(self) -> None:
        try:
            first = self.first_at_once
            while not self._stop.is_set():
                if not first:
                    self.wake.wait(self.interval_s)
                    self.wake.clear()
                first = False
                if self._stop.is_set():
                    break
                self._pass()
        finally:
            connection.close()

    def _pass(self) -> None:
        try:
            self.work()
            self.passes += 1
        except (DatabaseError, InterfaceError):
            self.errors += 1
            log.exception("%s: database error (will retry)", self.name)
            close_old_connections()
            if connection.connection is not None and not connection.is_usable():
                connection.close()
        except Exception:
            self.errors += 1
            log.exception("%s: error (will retry)", self.name)
