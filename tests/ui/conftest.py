"""The kiosk under test: a simulated terminal and the real Kivy app drawn offscreen (Mesa).

Kivy is imported only when a kiosk is started, after ``terminal.ui.env`` has set its
environment, so collecting these tests never opens a window. One kiosk per module;
helpers live in ui_support.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
