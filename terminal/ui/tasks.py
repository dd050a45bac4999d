"""Work off the UI thread, results back on it.

Kivy draws on the main thread; anything that can wait (the database, whose lock the
sync agent may hold for seconds, PIN hashing, a sensor, espeak-ng) runs in a small
pool here, and its result is handed back through ``Clock.schedule_once`` so widgets
are only ever touched on the main thread. The clock keeps ticking meanwhile.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


def on_main_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run ``fn(*args, **kwargs)`` on Kivy's main thread at the next frame (callable from any thread)."""
    from kivy.clock import Clock

    Clock.schedule_once(lambda _dt: fn(*args, **kwargs), 0)


class UiTasks:
    """A pool for blocking work whose callbacks run on the main thread."""

    def __init__(self, workers: int = 3):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="seed-ui")
        self._lock = threading.Lock()
        self._pending = 0
        self.errors = 0

    @property
    def pending(self) -> int:
        """Jobs submitted whose callback has not run yet (tests wait for zero)."""
        with self._lock:
            return self._pending

    def submit(self, fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None, **kwargs: Any) -> Future:
        with self._lock:
            self._pending += 1
        future = self._pool.submit(fn, *args, **kwargs)

        def finished(done: Future) -> None:
            error = done.exception()
            if error is not None:
                self.errors += 1
                log.error("background task %s failed: %s", getattr(fn, "__name__", fn), error,
                          exc_info=(type(error), error, error.__traceback__))

            def deliver() -> None:
                try:
                    if error is None and on_done is not None:
                        on_done(done.result())
                    elif error is not None and on_error is not None:
                        on_error(error)
                except Exception:
                    log.exception("callback of %s failed", getattr(fn, "__name__", fn))
                finally:
                    with self._lock:
                        self._pending -= 1

            on_main_thread(deliver)

        future.add_done_callback(finished)
        return future

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
