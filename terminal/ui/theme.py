"""Colours and type sizes of the kiosk (sizes are multiplied by the app's scale ``u``)."""
from __future__ import annotations

BACKGROUND = (0.055, 0.078, 0.106, 1)
PANEL = (0.105, 0.137, 0.184, 1)
PANEL_LIGHT = (0.16, 0.2, 0.26, 1)
TEXT = (1, 1, 1, 1)
TEXT_DIM = (0.72, 0.77, 0.83, 1)
ACCENT = (0.13, 0.47, 0.93, 1)
SUCCESS = (0.06, 0.52, 0.25, 1)
SUCCESS_DARK = (0.03, 0.38, 0.17, 1)
REFUSAL = (0.71, 0.13, 0.11, 1)
REFUSAL_DARK = (0.52, 0.07, 0.06, 1)
WARNING = (0.78, 0.47, 0.03, 1)
WARNING_DARK = (0.6, 0.34, 0.0, 1)
GUIDE = (1.0, 0.83, 0.35, 1)

BUTTON = {
    "normal": (0.2, 0.26, 0.34, 1),
    "primary": ACCENT,
    "danger": (0.75, 0.16, 0.13, 1),
    "quiet": (0.13, 0.17, 0.22, 1),
    "selected": (0.96, 0.62, 0.1, 1),
}
BUTTON_DOWN = (0.35, 0.42, 0.52, 1)

FONT = {"huge": 84, "title": 28, "big": 40, "body": 22, "small": 17, "note": 14}

# the reference screen the sizes are drawn for: 800x480 (u = 1); 1024x600 gives u = 1.25
REFERENCE_SHORT_SIDE = 480
