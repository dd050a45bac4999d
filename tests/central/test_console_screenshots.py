"""``make screenshots`` draws the console's pictures in docs/screenshots from a demo company it builds with the
product's own services: run as a maintainer runs it (a process of its own, a real Chromium), into a folder of the
test's. A service whose required input grew (a new field of a shift) breaks the demo here, not at release."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
PICTURES = ("console-requests.png", "console-attendance-month.png", "console-attendance-shifts.png",
            "console-employee-form.png", "console-dashboard-zh.png", "wall-display.png", "console-users.png")


def test_the_console_pictures_are_drawn_from_the_demo_company(tmp_path: Path) -> None:
    out = tmp_path / "shots"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}  # the product's settings, not the suite's
    done = subprocess.run([sys.executable, "-m", "central.console.screenshots", "--out", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in PICTURES:
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000, name  # a page, not an empty frame
