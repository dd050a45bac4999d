"""The kiosk's look: Kivy rules in ``terminal/ui/kv/``, one ``.kv`` file per screen, loaded from here.

The shared widgets (labels, buttons, keypad, preview, screensaver, toast, top bar and
the list rows) come first, since every screen is built from them; then the screens
in the order the kiosk adds them. Loaded once per process, by :mod:`terminal.ui.kiosk`
(Kivy is imported here only when the rules are loaded).
"""
from __future__ import annotations

from pathlib import Path

KV_DIR = Path(__file__).with_name("kv")
KV_FILES = ("widgets.kv", "idle.kv", "result.kv", "refusal.kv", "pinpad.kv", "second_factor.kv", "admin_login.kv",
            "admin_menu.kv", "enrol_face.kv", "enrol_finger.kv", "employees.kv", "employee.kv", "status.kv", "settings.kv")

_loaded = False


def load_kv_rules() -> None:
    """Load every rule file once, the shared widgets first."""
    global _loaded
    if _loaded:
        return
    from kivy.lang import Builder

    for name in KV_FILES:
        Builder.load_file(str(KV_DIR / name))
    _loaded = True
