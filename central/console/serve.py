"""``seed-central serve``: the console and API under gunicorn (Django's own server with ``--dev``).

gunicorn runs in this process with the application loaded once, before its workers are forked (``preload_app``):
the command has already started Django and brought the schema up to date, so a worker starts by a fork instead of
loading Django again: the first page is answered 2.6 s after the command starts instead of 4.7 s, with 3.9 CPU
seconds instead of 5.7 (``python -m benchmarks.console_start``, medians of 5; 2.8 s instead of 3.5 in an earlier
pair of runs), and on a Pi the workers share the loaded code's memory with the master until they write to it.
"""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

log = logging.getLogger(__name__)
GRACEFUL_S = 10  # on SIGTERM, how long the workers may take to finish the requests in progress


def _gunicorn_application(options: dict[str, Any]) -> Any:
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

    class ConsoleApplication(BaseApplication):  # type: ignore[misc]
        """gunicorn configured from ``options`` (no command line, no configuration file), serving central.wsgi."""

        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from central.wsgi import application

            return application

    return ConsoleApplication(prog="seed-central serve")


def certificate_names(bind: str, allowed_hosts: Iterable[str]) -> list[str]:
    """The names and addresses the console's certificate must hold: those it is reached by (``ALLOWED_HOSTS``, from
    SEED_CENTRAL_HOSTS; a wildcard entry cannot go in a certificate) and the address it is bound to."""
    host = bind.rsplit(":", 1)[0].strip("[]")
    names = [h.strip("[]") for h in allowed_hosts if h and h != "*" and not h.startswith(".")]
    if host and host not in ("0.0.0.0", "::"):
        names.append(host)
    return list(dict.fromkeys(names)) or ["localhost"]


def serve(bind: str, *, workers: int = 2, threads: int = 4, dev: bool = False,
          tls: tuple[Path, Path] | None = None) -> int:
    """Serve until stopped (SIGINT/SIGTERM); under gunicorn the process then ends here (:func:`_leave`), with
    ``--dev`` it returns the exit code. Django must be set up (``_django``).

    Each worker is gunicorn's threaded one, serving ``threads`` requests at once: a browser keeps idle connections
    open (preconnects, keep-alive), and a synchronous worker waiting on one serves nobody else (three held left a
    page unanswered: tests/central/test_serve.py) and, when it had taken one, held a stop for gunicorn's 30-s
    grace. A connection that never sends a request is dropped after 5 s. With no buffering proxy
    in front, the threaded worker is the one gunicorn's documentation asks for.

    ``tls``: (certificate, key) files: HTTPS only, and the session and CSRF cookies are never sent in clear."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    try:
        import gunicorn  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        dev = True
    if dev:
        from django.core.management import call_command

        call_command("runserver", bind, use_reloader=False, use_threading=True)
        return 0
    from django.conf import settings
    from django.db import connections

    options: dict[str, Any] = {}
    if tls is not None:
        from contract.keyfiles import check_private_file

        options = {"certfile": str(tls[0]), "keyfile": str(check_private_file(tls[1], "console TLS key"))}
        settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True

    # the schema check's connection must not be shared by the forked workers: each opens its own
    connections.close_all()
    application = _gunicorn_application({
        "bind": [bind], "workers": workers, "accesslog": "-", "logger_class": "central.console.access_log.MaskedLogger",
        "timeout": 60, "preload_app": True, "worker_class": "gthread", "threads": threads,
        "graceful_timeout": GRACEFUL_S,
        # gunicorn's control socket (~/.gunicorn/gunicorn.ctl, one path for every server the user runs) is unused
        "control_socket_disable": True, **options})
    log.info("console on %s://%s/", "https" if tls else "http", bind)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        application.run()  # until SIGTERM/SIGINT/SIGQUIT: the master stops its workers, then leaves by sys.exit
    except SystemExit as leaving:  # a worker too: it was forked inside run(), and its sys.exit comes up through here
        _leave(leaving.code)
    _leave(0)


def _leave(code: object) -> NoReturn:
    """End the process (a worker, or the master once its workers are reaped) without the interpreter's teardown of
    the ~1,100 modules it holds: about 1 s a process, paid by every worker and then by the master, one after the
    other, at each stop or restart. The logs are flushed first; gunicorn has already closed the sockets, and a
    database connection left unclosed is what a crash leaves, which SQLite and PostgreSQL take as closed."""
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)
