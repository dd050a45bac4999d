"""WSGI entry point of the web console and API: ``gunicorn central.wsgi``."""
from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
application = get_wsgi_application()
