"""The wall display (``display:``): no sign-in, a display token bound to one site."""
from django.urls import path

from central.live import display_views

app_name = "display"
urlpatterns = [
    path("<str:token>/", display_views.wall, name="wall"),
    path("<str:token>/live/", display_views.wall_live, name="wall_live"),
]
