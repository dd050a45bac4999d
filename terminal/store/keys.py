"""The database key: a raw 256-bit key in a file only the service user can read.

Resolution order: an explicit ``storage.key_file``; else the systemd credential
``$CREDENTIALS_DIRECTORY/<key_credential>`` (``LoadCredential=`` in the unit); else
``data_dir/db.key``. The key is created (mode 0600) only when the database itself
does not exist yet: a database without its key is an error, never a reason to start over.
"""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from terminal.config import StorageSettings
from terminal.store.errors import DatabaseKeyError

log = logging.getLogger(__name__)

KEY_BYTES = 32


def resolve_key_path(settings: StorageSettings) -> Path:
    if settings.key_file is not None:
        return settings.key_file
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        candidate = Path(cred_dir) / settings.key_credential
        if candidate.exists():
            return candidate
    return settings.data_dir / "db.key"


def parse_key(text: str, source: Path | str) -> bytes:
    value = text.strip()
    if value.lower().startswith("x'") and value.endswith("'"):
        value = value[2:-1]
    try:
        key = bytes.fromhex(value)
    except ValueError:
        raise DatabaseKeyError(f"database key file {source} does not hold hex digits") from None
    if len(key) != KEY_BYTES:
        raise DatabaseKeyError(f"database key file {source} holds {len(key)} bytes, expected {KEY_BYTES} (64 hex digits)")
    return key


def read_key(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise DatabaseKeyError(f"database key file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatabaseKeyError(f"database key file {path} cannot be read: {exc}") from None
    return parse_key(text, path)


def create_key(path: Path) -> bytes:
    """Write a new random key with mode 0600 (never overwrites an existing file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    log.info("created a new database key at %s", path)
    return key


def load_or_create_key(settings: StorageSettings) -> bytes:
    path = resolve_key_path(settings)
    if path.exists():
        return read_key(path)
    if settings.database_path.exists():
        raise DatabaseKeyError(
            f"database {settings.database_path} exists but its key file {path} is missing; "
            "restore the key (a new key would not open the existing punches)"
        )
    return create_key(path)
