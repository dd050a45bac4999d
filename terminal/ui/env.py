"""Kivy's process environment, set before Kivy is first imported.

Kivy reads its settings from environment variables and ``~/.kivy/config.ini`` the
moment it is imported. The kiosk runs as a service user whose home may be read-only
(systemd hardening), logs through Python's logging (journald) and must never parse
our command line, so everything is decided here, once, before ``import kivy``.

Offscreen mode (tests, ``make screenshots``, benchmarks, a machine without a display)
renders through Mesa with SDL's ``offscreen`` video driver: real OpenGL, no window.
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

_prepared: dict | None = None


def display_available() -> bool:
    """Whether a window can be shown here: an X11 or Wayland session, or a console the kiosk owns (KMS)."""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return True
    return os.environ.get("SDL_VIDEODRIVER", "") in ("kmsdrm", "wayland", "x11")


def kivy_imported() -> bool:
    return "kivy" in sys.modules


def prepare_kivy(*, offscreen: bool = False, kivy_home: Path | None = None) -> dict:
    """Set Kivy's environment; the first call wins (Kivy cannot be re-initialised in one process).

    Returns the settings in force. Raises RuntimeError when Kivy was already imported
    with a different window provider, which would give a window nobody asked for.
    """
    global _prepared
    if _prepared is not None:
        if offscreen and not _prepared["offscreen"]:
            raise RuntimeError("Kivy was already set up with a display window; offscreen needs a fresh process")
        return _prepared
    home = Path(kivy_home) if kivy_home else Path(tempfile.gettempdir()) / f"seed-kivy-{os.getuid()}"
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = {
        "KIVY_NO_ARGS": "1",  # our own argparse owns the command line
        "KIVY_NO_CONFIG": "1",  # never read or write ~/.kivy/config.ini: every setting comes from our TOML
        "KIVY_NO_FILELOG": "1",
        "KIVY_LOG_MODE": "PYTHON",  # Kivy logs through logging, like the rest of the terminal
        "KIVY_HOME": str(home),
        "KIVY_WINDOW": "sdl2",
        "KIVY_TEXT": "sdl2",
        "KIVY_IMAGE": "sdl2,pil",
        "KIVY_AUDIO": "",  # speech is played by the speaker driver, not by Kivy
        "KIVY_CLIPBOARD": "dummy",  # a kiosk has no clipboard (and xsel/xclip are not installed)
    }
    if offscreen:
        env["SDL_VIDEODRIVER"] = "offscreen"
        env["KIVY_GL_BACKEND"] = "sdl2"
    if kivy_imported() and "kivy.core.window" in sys.modules:
        raise RuntimeError("a Kivy window already exists; prepare_kivy must run before it is created")
    os.environ.update(env)
    _prepared = {"offscreen": offscreen, "kivy_home": str(home)}
    log.debug("kivy environment: %s", _prepared)
    return _prepared


def configure_window(width: int, height: int, *, fullscreen: bool, rotation: int = 0) -> None:
    """Window settings Kivy reads when it creates the window (call after prepare_kivy, before the window)."""
    from kivy.config import Config

    Config.set("graphics", "width", str(int(width)))
    Config.set("graphics", "height", str(int(height)))
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "borderless", "1" if fullscreen else "0")
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "show_cursor", "0")
    Config.set("graphics", "rotation", str(int(rotation)))
    Config.set("graphics", "maxfps", "30")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "pause_on_minimize", "0")
    Config.set("kivy", "keyboard_mode", "dock")
    Config.set("kivy", "keyboard_layout", "qwerty")
    Config.set("input", "mouse", "mouse,disable_multitouch,disable_on_activity")
