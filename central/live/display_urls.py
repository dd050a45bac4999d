"""The wall display (``display:``): no sign-in, a display token bound to one site."""
from django.urls import path  # noqa: F401

app_name = "display"
urlpatterns: list = []
