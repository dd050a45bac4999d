"""The central database named by one string: a SQLite path (the default) or a ``postgresql://`` URL.

``database_settings(target)`` turns it into Django's ``DATABASES["default"]``. SQLite runs in
WAL mode with ``synchronous=FULL`` (an ack means the punch is on disk) and takes its write
lock at the start of every transaction, so concurrent writers wait instead of failing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_DATABASE = "central.db"


class DatabaseURLError(ValueError):
    """A database string that names no usable database; the message says why."""


def is_postgresql(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def database_settings(target: str | Path) -> dict[str, Any]:
    text = str(target).strip()
    if not text:
        raise DatabaseURLError("the database is empty: give a SQLite path or a postgresql:// URL")
    if is_postgresql(text):
        parts = urlsplit(text)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        name = unquote(parts.path.lstrip("/")) or query.pop("dbname", "")
        if not name:
            raise DatabaseURLError(f"{redact(text)}: the URL names no database")
        host = query.pop("host", None) or (unquote(parts.hostname) if parts.hostname else "")
        port = query.pop("port", None) or (str(parts.port) if parts.port else "")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": host,
            "PORT": port,
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {"connect_timeout": 10, **query},
            "TEST": {"NAME": f"test_{name}"},
        }
    path = Path(text.removeprefix("sqlite:///").removeprefix("sqlite://")).expanduser()
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path.resolve()),
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000;",
        },
        "TEST": {"NAME": str(path.resolve().with_name(f"test_{path.name}"))},
    }


def redact(url: str) -> str:
    """A database URL without its password, for logs and messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
