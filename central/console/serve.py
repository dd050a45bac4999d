"""``seed-central serve``: the console and API under gunicorn (Django's own server with ``--dev``)."""
from __future__ import annotations

import logging
import os
import shutil
import sys

log = logging.getLogger(__name__)


def serve(bind: str, *, workers: int = 2, dev: bool = False) -> int:
    """Serve until stopped (SIGINT/SIGTERM); returns the server's exit code."""
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    beside = os.path.join(os.path.dirname(sys.executable), "gunicorn")  # the one installed with this Python
    gunicorn = beside if os.path.exists(beside) else (shutil.which("gunicorn") or beside)
    if not dev and os.path.exists(gunicorn):
        command = [gunicorn, "central.wsgi:application", "--bind", bind, "--workers", str(workers),
                   "--access-logfile", "-", "--logger-class", "central.console.access_log.MaskedLogger",
                   "--timeout", "60"]
    else:
        from django.core.management import call_command

        call_command("runserver", bind, use_reloader=False, use_threading=True)
        return 0
    log.info("console on http://%s/", bind)
    sys.stdout.flush()
    sys.stderr.flush()
    # gunicorn takes this process over, so SIGTERM/SIGINT reach it directly and it stops its workers
    os.execve(command[0], command, env)
