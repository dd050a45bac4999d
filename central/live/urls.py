"""The live dashboard's console URLs (under ``console:``); the dashboard itself is ``console:home``."""
from django.urls import path  # noqa: F401

urlpatterns: list = []

ROLE_WALK: dict[str, dict] = {}
