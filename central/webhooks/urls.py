"""Webhook pages of the console, included under ``console:`` (see ``central.console.urls``)."""
from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
ROLE_WALK: dict[str, dict] = {}
