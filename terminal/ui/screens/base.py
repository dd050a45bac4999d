"""What every kiosk screen shares: a background colour, the app, and a route for factors."""
from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.properties import ListProperty, StringProperty
from kivy.uix.screenmanager import Screen

from terminal.ui import theme


class KioskScreen(Screen):
    bg = ListProperty(list(theme.BACKGROUND))
    # what a card, finger or face means while this screen is up: punch, admin (login) or paused
    route = StringProperty("punch")
    has_preview = False

    @property
    def app(self) -> Any:
        return App.get_running_app()

    def on_language(self) -> None:
        """The language changed: recompute texts set from Python."""
