"""Starting the kiosk: Kivy configured for this terminal, then the app on top of a running :class:`~terminal.runtime.Terminal`.

``run_kiosk(terminal)`` is what ``seed-terminal`` runs with a screen. Kivy reads its
configuration once, when first imported, so :func:`bootstrap` prepares it (window,
fonts, offscreen drawing) before anything imports Kivy; the app itself
(:class:`terminal.ui.kiosk.SeedKiosk`) is imported only afterwards, by
:func:`kiosk_app_class`. The terminal decides which workers run (card reader,
fingerprint sensor, camera, housekeeping); the kiosk only shows what they do.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from terminal.config import TerminalConfig
    from terminal.runtime import Terminal
    from terminal.ui.fonts import FontChoice
    from terminal.ui.kiosk import SeedKiosk

log = logging.getLogger(__name__)


# -- start-up ---------------------------------------------------------------------------------
def bootstrap(config: TerminalConfig, *, offscreen: bool = False, size: tuple[int, int] | None = None,
              kivy_home: Path | None = None) -> FontChoice:
    """Prepare Kivy for this configuration (before any Kivy import); returns the font chosen."""
    from terminal.ui.env import configure_window, prepare_kivy
    from terminal.ui.fonts import find_cjk_font, register_default_font

    prepare_kivy(offscreen=offscreen, kivy_home=kivy_home)
    width, height = size or (config.ui.width, config.ui.height)
    configure_window(width, height, fullscreen=config.ui.fullscreen and not offscreen, rotation=config.ui.rotation)
    if offscreen:
        from kivy.config import Config

        Config.set("graphics", "maxfps", "0")  # tests and screenshots pump frames as fast as they can
    font = find_cjk_font(config.ui.font)
    register_default_font(font)
    return font


# -- the app ---------------------------------------------------------------------------------------
def kiosk_app_class() -> type[SeedKiosk]:
    """The Kivy App class, imported on first use: call :func:`bootstrap` first."""
    from terminal.ui.kiosk import SeedKiosk

    return SeedKiosk


def create_app(terminal: Terminal, **kwargs: Any) -> SeedKiosk:
    return kiosk_app_class()(terminal, **kwargs)


def stop_on_signals(app: SeedKiosk) -> None:
    """SIGTERM (systemd stopping the service) and SIGINT close the app from its own main loop."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return

    def close(signum: int, _frame: Any) -> None:
        from kivy.clock import Clock

        log.info("signal %s: closing the kiosk", signum)
        Clock.schedule_once(lambda _dt: app.stop(), 0)

    signal.signal(signal.SIGTERM, close)
    signal.signal(signal.SIGINT, close)


def run_kiosk(terminal: Terminal, *, offscreen: bool = False) -> None:
    """Run the kiosk full screen on top of ``terminal`` until the window closes or the service is stopped.

    Starts the terminal's workers and stops them when the app ends (closing the terminal stays with the caller).
    """
    bootstrap(terminal.config, offscreen=offscreen)
    app = create_app(terminal)
    stop_on_signals(app)
    terminal.start()
    try:
        app.run()
    finally:
        terminal.stop()
