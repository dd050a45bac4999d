"""Running the real kiosk without a display: for tests, ``make screenshots`` and the UI benchmark.

The app runs under Kivy's SDL2 window with SDL's ``offscreen`` video driver, so every
frame is really drawn (Mesa, llvmpipe) and can be read back. :class:`OffscreenKiosk`
pumps Kivy's event loop by hand, taps widgets with real touch events (down and up at
the widget's centre, dispatched through the window like a finger), waits for
conditions while the terminal's worker threads run, and captures the screen as PNG.

Kivy keeps one window per process: several kiosks may run one after another, not at
the same time.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from terminal.runtime import Terminal

log = logging.getLogger(__name__)

_loop_started = False


class KioskTimeout(AssertionError):
    pass


class OffscreenKiosk:
    def __init__(self, terminal: Terminal, *, size: tuple[int, int] = (800, 480), **app_kwargs: Any):
        from terminal.ui.app import bootstrap

        self.terminal = terminal
        self.font = bootstrap(terminal.config, offscreen=True, size=size)
        self.size = size
        self.app_kwargs = app_kwargs
        self.app: Any = None  # the SeedKiosk while running (Any: tests reach into its Kivy widgets)

    # -- life ----------------------------------------------------------------------------------
    def start(self) -> OffscreenKiosk:
        global _loop_started
        from kivy.app import App
        from kivy.base import EventLoop, runTouchApp
        from kivy.core.window import Window

        from terminal.ui.app import create_app

        Window.size = self.size
        self.app = create_app(self.terminal, **self.app_kwargs)
        App._running_app = self.app
        self.terminal.start()
        self.app._run_prepare()
        if not _loop_started:
            runTouchApp(embedded=True)
            _loop_started = True
        elif EventLoop.status != "started":
            EventLoop.start()
        self.pump(3)
        return self

    def stop(self) -> None:
        from kivy.app import App
        from kivy.core.window import Window

        if self.app is None:
            return
        try:
            self.app.dispatch("on_stop")
        finally:
            if self.app.root is not None and self.app.root in Window.children:
                Window.remove_widget(self.app.root)
            App._running_app = None
            self.terminal.stop()
            self.app = None
            self.pump(1)

    def __enter__(self) -> OffscreenKiosk:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the loop --------------------------------------------------------------------------------
    def pump(self, frames: int = 1) -> None:
        from kivy.base import EventLoop

        for _ in range(frames):
            EventLoop.idle()

    def wait_until(self, condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
        """Pump frames until ``condition()`` is truthy (returned), or raise KioskTimeout."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise KioskTimeout(f"timed out after {timeout:g} s waiting for {what or condition} "
                                   f"(screen {self.screen_name})")
            time.sleep(0.005)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every background task of the UI has delivered its result."""
        self.wait_until(lambda: self.app.tasks.pending == 0, timeout, "background tasks")
        self.pump(2)

    def wait_screen(self, name: str, timeout: float = 10.0) -> Any:
        self.wait_until(lambda: self.screen_name == name, timeout, f"screen {name}")
        self.pump(2)
        return self.screen

    # -- looking -----------------------------------------------------------------------------------
    @property
    def screen_name(self) -> str:
        return self.app.manager.current

    @property
    def screen(self) -> Any:
        return self.app.screens[self.screen_name]

    def widgets(self, root: Any = None) -> Iterator[Any]:
        root = root if root is not None else self.app.root
        stack = [root]
        while stack:
            widget = stack.pop()
            yield widget
            stack.extend(widget.children)

    def button(self, name: str, root: Any = None) -> Any:
        """The visible button called ``name`` on the current screen (or under ``root``)."""
        found = [w for w in self.widgets(root if root is not None else self.screen)
                 if getattr(w, "name", None) == name and hasattr(w, "state") and not w.disabled and w.opacity > 0]
        if not found:
            raise LookupError(f"no enabled button {name!r} on screen {self.screen_name}")
        return found[0]

    def texts(self, root: Any = None) -> list[str]:
        """Every non-empty label text shown under ``root`` (default: the current screen)."""
        from kivy.uix.label import Label

        return [w.text for w in self.widgets(root if root is not None else self.screen)
                if isinstance(w, Label) and w.text and w.opacity > 0]

    def shows(self, text: str) -> bool:
        return any(text in shown for shown in self.texts())

    # -- touching ------------------------------------------------------------------------------------
    def tap(self, target: Any, hold_s: float = 0.0) -> None:
        """Press and release at the centre of ``target`` (a widget, or a button name on this screen)."""
        from kivy.tests.common import UnitTestTouch

        self.pump(2)  # let a screen that just appeared be laid out before aiming at it
        widget = self.button(target) if isinstance(target, str) else target
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.pump(1)
        if hold_s:
            time.sleep(hold_s)
        touch.touch_up()
        self.pump(2)

    def tap_at(self, x: float, y: float) -> None:
        from kivy.tests.common import UnitTestTouch

        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.pump(1)
        touch.touch_up()
        self.pump(2)

    def type_digits(self, digits: str) -> None:
        for digit in digits:
            self.tap(f"key_{digit}")

    # -- pictures ----------------------------------------------------------------------------------------
    def capture(self) -> np.ndarray:
        """The screen as drawn now: an RGB array, top row first."""
        from kivy.core.window import Window
        from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glReadPixels

        self.pump(2)
        Window.dispatch("on_draw")  # draw into the back buffer and read it before the flip
        width, height = Window.size
        data = glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE)
        image = np.frombuffer(data, np.uint8).reshape(height, width, 3)
        Window.dispatch("on_flip")
        return image[::-1].copy()

    def save_png(self, path: Path | str) -> Path:
        import cv2

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        image = self.capture()
        if not cv2.imwrite(str(path), image[:, :, ::-1]):
            raise OSError(f"could not write {path}")
        return path

    def resize(self, width: int, height: int) -> None:
        from kivy.core.window import Window

        Window.size = (width, height)
        self.pump(4)
