"""Widgets the kiosk screens are built from; their look lives in ``kv/widgets.kv``."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from kivy.graphics import Color, Line
from kivy.graphics.texture import Texture
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, OptionProperty, StringProperty
from kivy.uix.button import Button
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget

log = logging.getLogger(__name__)


class SeedLabel(Label):
    """A label that wraps inside its width and never spills out of it (long names, long reasons)."""

    role = OptionProperty("body", options=["title", "huge", "big", "body", "small", "note"])


class SeedButton(Button):
    kind = OptionProperty("normal", options=["normal", "primary", "danger", "quiet", "selected"])
    name = StringProperty("")  # a stable id for tests and logs, whatever the language shown


class Mark(Widget):
    """A drawn tick or cross (no glyph needed: the font may not have one)."""

    shape = OptionProperty("tick", options=["tick", "cross", "clock"])
    color = ListProperty([1, 1, 1, 1])


class ProgressRing(Widget):
    """A ring filling clockwise: ``value`` of ``total``, with the count in the middle."""

    value = NumericProperty(0)
    total = NumericProperty(5)
    thickness = NumericProperty(10)
    text = StringProperty("")


class Keypad(GridLayout):
    """0-9, delete and OK; ``on_key`` receives "0".."9", "del" or "ok"."""

    ok_text = StringProperty("OK")
    del_text = StringProperty("Del")
    __events__ = ("on_key",)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.cols = 3
        self.keys: dict[str, SeedButton] = {}
        for key in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "del", "0", "ok"):
            button = SeedButton(name=f"key_{key}", kind="primary" if key == "ok" else "normal")
            if key.isdigit():
                button.text = key
            button.bind(on_release=lambda _b, k=key: self.dispatch("on_key", k))
            self.keys[key] = button
            self.add_widget(button)
        self._apply_texts()
        self.bind(ok_text=lambda *_: self._apply_texts(), del_text=lambda *_: self._apply_texts())

    def _apply_texts(self) -> None:
        self.keys["ok"].text = self.ok_text
        self.keys["del"].text = self.del_text

    def on_key(self, key: str) -> None:
        pass


def texture_from_bgr(frame: np.ndarray, texture: Texture | None = None) -> Texture:
    """Upload a BGR (or grey) image to a texture, reusing ``texture`` when the size matches."""
    if frame.ndim == 2:
        frame = np.repeat(frame[:, :, None], 3, axis=2)
    height, width = frame.shape[:2]
    if texture is None or texture.size != (width, height):
        texture = Texture.create(size=(width, height), colorfmt="rgb")
        texture.flip_vertical()  # image rows run top to bottom, GL's bottom to top
    data = np.ascontiguousarray(frame[:, :, :3])
    texture.blit_buffer(data.tobytes(), colorfmt="bgr", bufferfmt="ubyte")
    return texture


class Picture(Widget):
    """An image from numpy (BGR), drawn to fit inside the widget keeping its aspect ratio."""

    texture = ObjectProperty(None, allownone=True)
    placeholder = StringProperty("")  # initials shown when there is no picture
    draw_pos = ListProperty([0, 0])
    draw_size = ListProperty([0, 0])

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.bind(pos=self._fit, size=self._fit, texture=self._fit)

    def set_image(self, image: np.ndarray | None) -> None:
        if image is None:
            self.texture = None
            return
        texture = texture_from_bgr(image, self.texture)
        if texture is not self.texture:
            self.texture = texture
        else:
            self.canvas.ask_update()

    def fitted(self) -> tuple[float, float, float, float]:
        """(x, y, w, h) where the picture is drawn."""
        if self.texture is None:  # a square for the initials
            side = min(self.width, self.height) * 0.8
            return self.center_x - side / 2, self.center_y - side / 2, side, side
        tw, th = self.texture.size
        scale = min(self.width / tw, self.height / th) if tw and th else 1.0
        w, h = tw * scale, th * scale
        return self.x + (self.width - w) / 2, self.y + (self.height - h) / 2, w, h

    def _fit(self, *_: Any) -> None:
        x, y, w, h = self.fitted()
        self.draw_pos = [x, y]
        self.draw_size = [w, h]


class CameraPreview(Picture):
    """The live camera picture with the face boxes drawn over it (the primary face highlighted)."""

    faces = ListProperty([])  # [(x, y, w, h)] in frame pixels
    primary = ObjectProperty(None, allownone=True)
    frame_size = ListProperty([0, 0])
    mirror = BooleanProperty(True)  # people expect to see themselves as in a mirror
    frames_shown = NumericProperty(0)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.bind(pos=self._redraw, size=self._redraw)

    def show(self, frame: np.ndarray, faces: Sequence[Sequence[float]] = (), primary: Sequence[float] | None = None) -> None:
        if self.mirror:
            frame = frame[:, ::-1]
        self.frame_size = [frame.shape[1], frame.shape[0]]
        self.set_image(frame)
        self.faces = [tuple(f) for f in faces]
        self.primary = tuple(primary) if primary is not None else None
        self.frames_shown += 1
        self._redraw()

    def clear(self) -> None:
        self.texture = None
        self.faces = []
        self.primary = None
        self._redraw()

    def box_on_screen(self, box: Sequence[float]) -> tuple[float, float, float, float]:
        """A face box in frame pixels (top-left origin) to widget coordinates (bottom-left origin)."""
        fx, fy, fw, fh = self.fitted()
        width, height = self.frame_size
        if not width or not height:
            return fx, fy, 0.0, 0.0
        x, y, w, h = box
        if self.mirror:
            x = width - x - w
        sx, sy = fw / width, fh / height
        return fx + x * sx, fy + (height - y - h) * sy, w * sx, h * sy

    def _redraw(self, *_: Any) -> None:
        self.canvas.after.clear()
        with self.canvas.after:
            for box in self.faces:
                is_primary = self.primary is not None and tuple(box) == tuple(self.primary)
                Color(*((0.2, 0.9, 0.4, 1) if is_primary else (1, 0.75, 0.2, 1)))
                x, y, w, h = self.box_on_screen(box)
                Line(rectangle=(x, y, w, h), width=3 if is_primary else 2)


class Dimmer(FloatLayout):
    """The screensaver: a dark veil over everything with a small clock that drifts (no burn-in)."""

    level = NumericProperty(0.0)  # 0 clear .. 1 black
    clock_text = StringProperty("")
    hint_text = StringProperty("")
    drift = ListProperty([0.5, 0.5])


class Toast(Label):
    """A short message at the bottom of the screen (saved, deleted, timed out)."""

    shown = BooleanProperty(False)


__all__ = ["SeedLabel", "SeedButton", "Mark", "ProgressRing", "Keypad", "Picture", "CameraPreview", "Dimmer",
           "Toast", "texture_from_bgr"]
