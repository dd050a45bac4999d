"""What a factor means at this moment: a punch, an admin login, or nothing (admin at work).

The card reader, fingerprint and camera workers call the authenticator with no
purpose: they do not know what the screen shows. The kiosk does. While the admin
login screen is up, a card, finger or face is an admin login; while an admin is
enrolling someone, the camera and sensors belong to the enrolment and no factor may
punch. :class:`FactorRouting` applies that to every factor from every thread, and in
``buttons`` direction mode passes the IN/OUT choice on to the punch path.
"""
from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any, Literal

from terminal.identify import Outcome

log = logging.getLogger(__name__)

Route = Literal["punch", "admin", "paused"]
FACTOR_METHODS = ("face", "finger", "card", "pin")


class FactorRouting:
    def __init__(self, auth: Any, punches: Any):
        self.auth = auth
        self.punches = punches
        self._lock = threading.Lock()
        self._route: Route = "punch"
        self._direction: str | None = None
        self._originals: dict[str, Callable[..., Any]] = {}
        self.ignored = 0

    # -- state (main thread writes, workers read) ------------------------------------------
    @property
    def route(self) -> Route:
        with self._lock:
            return self._route

    @route.setter
    def route(self, value: Route) -> None:
        if value not in ("punch", "admin", "paused"):
            raise ValueError(f"unknown route {value!r}")
        with self._lock:
            if self._route != value:
                log.debug("factors now route to %s", value)
            self._route = value

    @property
    def direction(self) -> str | None:
        with self._lock:
            return self._direction

    @direction.setter
    def direction(self, value: str | None) -> None:
        if value not in (None, "in", "out"):
            raise ValueError(f"direction must be in, out or None, got {value!r}")
        with self._lock:
            self._direction = value

    # -- wrapping ----------------------------------------------------------------------------
    def install(self) -> FactorRouting:
        if self._originals:
            return self
        for name in FACTOR_METHODS:
            original = getattr(self.auth, name)
            self._originals[name] = original
            setattr(self.auth, name, self._routed(name, original))
        original_punch = self.punches.punch
        self._originals["punch"] = original_punch
        self.punches.punch = self._with_direction(original_punch)
        return self

    def uninstall(self) -> None:
        for name, original in self._originals.items():
            target = self.punches if name == "punch" else self.auth
            try:
                delattr(target, name)  # the instance attribute goes; the class method is back
            except AttributeError:
                setattr(target, name, original)
        self._originals.clear()

    def _routed(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)

        @functools.wraps(original)
        def factor(*args: Any, **kwargs: Any) -> Outcome:
            bound = signature.bind(*args, **kwargs)
            if bound.arguments.get("purpose") is None:
                route = self.route
                if route == "paused":
                    self.ignored += 1
                    log.info("%s ignored while an admin is at work", name)
                    return Outcome("refused", "paused")
                bound.arguments["purpose"] = route
            return original(*bound.args, **bound.kwargs)

        return factor

    def _with_direction(self, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def punch(identity: Any, direction: str | None = None) -> Any:
            chosen = direction or self.direction
            try:
                return original(identity, chosen)
            finally:
                if chosen is not None and direction is None:
                    self.direction = None  # a choice is good for one punch
        return punch
