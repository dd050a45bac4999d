"""gunicorn's access log without secrets in paths: a wall display's token becomes ``***``.

A TV polls ``/display/<token>/live/`` every few seconds; the token is the display's only key, so the
access log (``seed-central serve`` writes it to stdout, which systemd keeps) must never hold it.
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

SECRET_PATHS = re.compile(r"(/display/)[^/?\s]+")


def masked(path: str) -> str:
    return SECRET_PATHS.sub(r"\1***", path)


class MaskedLogger(Logger):  # type: ignore[misc]
    """The access log's request line, path and referrer with display tokens masked."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "f", "{referer}i"):
            value = atoms.get(key)
            if isinstance(value, str):
                atoms[key] = masked(value)
        return atoms
