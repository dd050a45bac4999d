"""Every screen fits 800x480 and 1024x600 touchscreens, landscape and portrait, in Chinese and English.

One kiosk is toured at each size and language: on every screen each visible text must fit
its label (no clipped or spilling lines), every button must lie inside the screen, be big
enough for a finger and not overlap another, and Chinese must be drawable by the font in use.
"""
from __future__ import annotations

import types

import pytest
from ui_support import running_kiosk

SIZES = [((800, 480), "zh"), ((800, 480), "en"), ((480, 800), "zh"), ((480, 800), "en"),
         ((1024, 600), "zh"), ((600, 1024), "en")]
MIN_TARGET_PX = 40


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory):
    from terminal.store.employees import add_employee
    from terminal.ui.tour import TOUR_STAFF, tour_config

    config = tour_config(tmp_path_factory.mktemp("layout") / "data", "zh", faces=False)
    config.ui.result_s = 30
    with running_kiosk(config) as running:
        for person in TOUR_STAFF:
            add_employee(running.terminal.store, actor="test", **person)
        running.terminal.store.set_setting("sync.status", {"connected": True, "clock_offset_s": 0.004,
                                                           "time_source": "ntp", "last_ack_at": None})
        yield running


def visible(widget, root) -> bool:
    node = widget
    while node is not None and node is not root.parent:
        if node.opacity <= 0.01 or node.width < 2 or node.height < 2:
            return False
        node = node.parent
    return True


def inside_scroll(widget, root) -> bool:
    from kivy.uix.scrollview import ScrollView

    node = widget.parent
    while node is not None and node is not root:
        if isinstance(node, ScrollView):
            return True
        node = node.parent
    return False


def needed_size(label) -> tuple[int, int]:
    """The size the label's text takes when wrapped at the label's own width (Kivy clips the rest silently)."""
    from kivy.core.text import Label as CoreLabel

    wrap = label.text_size[0] if label.text_size and label.text_size[0] else None
    core = CoreLabel(text=label.text, font_size=label.font_size, font_name=label.font_name, text_size=(wrap, None),
                     shorten=label.shorten, halign=label.halign, padding=label.padding)
    core.refresh()
    return core.texture.size


def layout_problems(kiosk, name):
    from kivy.core.window import Window
    from kivy.uix.button import Button
    from kivy.uix.label import Label

    from terminal.ui.fonts import covers, font_faces

    ranges = font_faces(str(kiosk.font.path))[0][2]
    width, height = Window.size
    root = kiosk.app.root
    problems, buttons = [], []
    for widget in kiosk.widgets(root):
        if not isinstance(widget, Label) or not widget.text or not visible(widget, root) or widget.color[3] <= 0.01:
            continue
        where = f"{name} {Window.size} {widget.text[:30]!r}"
        missing = covers(ranges, widget.text)
        if missing:
            problems.append(f"{where}: the font cannot draw {''.join(missing)}")
        text_w, text_h = needed_size(widget)
        if text_w > widget.width + 2 or text_h > widget.height + 2:
            problems.append(f"{where}: text {text_w}x{text_h} does not fit {widget.width:.0f}x{widget.height:.0f}")
        if isinstance(widget, Button) and not inside_scroll(widget, root) and not widget.disabled:
            x, y = widget.to_window(widget.x, widget.y)
            buttons.append((widget, x, y))
            if x < -1 or y < -1 or x + widget.width > width + 1 or y + widget.height > height + 1:
                problems.append(f"{where}: button outside the screen at ({x:.0f},{y:.0f})")
            if min(widget.width, widget.height) < MIN_TARGET_PX:
                problems.append(f"{where}: button {widget.width:.0f}x{widget.height:.0f} too small for a finger")
    for i, (a, ax, ay) in enumerate(buttons):
        for b, bx, by in buttons[i + 1:]:
            overlap_w = min(ax + a.width, bx + b.width) - max(ax, bx)
            overlap_h = min(ay + a.height, by + b.height) - max(ay, by)
            if overlap_w > 1 and overlap_h > 1:
                problems.append(f"{name} {Window.size}: buttons {a.text!r} and {b.text!r} overlap")
    return problems


@pytest.mark.parametrize("size, lang", SIZES, ids=[f"{w}x{h}-{lang}" for (w, h), lang in SIZES])
def test_every_screen_fits(kiosk, size, lang, monkeypatch):
    from terminal.ui.tour import tour

    kiosk.app._apply_setting("device.language", lang)
    kiosk.resize(*size)
    problems, seen = [], []

    def check(name):
        seen.append(name)
        problems.extend(layout_problems(kiosk, name))

    index = SIZES.index((size, lang))
    tour(kiosk, check, finger_number=f"100{index % 4 + 1}", finger_id=f"finger-{index}")
    # every guidance line under the camera picture (shown while someone stands at the door)
    from terminal.i18n import TEXTS

    idle = kiosk.app.screens["idle"]
    # this door has no camera: lay the idle screen out as one with a running face pipeline
    monkeypatch.setattr(kiosk.app.feed, "worker", types.SimpleNamespace(camera_error=None, paused=False, resume=lambda: None))
    kiosk.app.go("idle")
    for key in (k for k in TEXTS if k.startswith("guide.")):
        idle.guidance = kiosk.app.tr(key)
        kiosk.pump(3)
        check(f"idle with {key}")
    idle.guidance = ""
    login = kiosk.app.screens["admin_login"]
    kiosk.app.go("admin_login")
    for key in (k for k in TEXTS if k.startswith("guide.")):
        login.guidance = kiosk.app.tr(key)
        kiosk.pump(3)
        check(f"admin login with {key}")
    login.guidance = ""
    # every reason a face enrolment shot can be refused for, and the results
    enrol = kiosk.app.screens["enrol_face"]
    enrol.employee = {"number": "1004", "name": "Lin-Manuel Miranda"}
    kiosk.app.go("enrol_face")
    for key in (k for k in TEXTS if k.startswith("enrol.reason.")):
        enrol.last_reason = key.rsplit(".", 1)[1]
        enrol.on_language()
        kiosk.pump(3)
        check(f"face enrolment refusing a shot for {key}")
    for result in (("saved", 5), ("failed", kiosk.app.tr("enrol.reason.duplicate", number="1001"))):
        enrol._result = result
        enrol.on_language()
        kiosk.pump(3)
        check(f"face enrolment {result[0]}")
    enrol._result, enrol.last_reason = None, ""
    kiosk.app.go("idle")
    assert len(seen) >= 14
    assert not problems, "\n".join(problems)
