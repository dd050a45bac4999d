"""Console pages (under ``console:``) where HR makes and revokes wall display tokens."""
from django.urls import path  # noqa: F401

urlpatterns: list = []

ROLE_WALK: dict[str, dict] = {}
