"""The database key: a raw 256-bit key in a file only the service user can read.

Resolution order: an explicit ``storage.key_file``; else the systemd credential
``$CREDENTIALS_DIRECTORY/<key_credential>`` (``LoadCredential=`` in the unit); else
``data_dir/db.key``. The key is created (mode 0600) only when the database itself
does not exist yet: a database without its key is an error, never a reason to start over.
A key file that users other than its owner can read (or change) is refused, naming the file
and the ``chmod`` that fixes it (:mod:`contract.keyfiles`); systemd writes credentials 0400.
"""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from contract.keyfiles import KeyFileError, read_private_file
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
        raw = read_private_file(path, "database key file")
    except KeyFileError as exc:
        raise DatabaseKeyError(str(exc)) from None
    except FileNotFoundError:
        raise DatabaseKeyError(f"database key file {path} not found") from None
    except OSError as exc:
        raise DatabaseKeyError(f"database key file {path} cannot be read: {exc}") from None
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise DatabaseKeyError(f"database key file {path} cannot be read: {exc}") from None
    return parse_key(text, path)


def create_key(path: Path) -> bytes:
    """Write a new random key with mode 0600; a key already there (the other process's) is read instead.

    The key is written whole under another name and linked into place, so the other process
    never reads a half-written key, and an existing key is never overwritten.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    temp = path.with_name(f".{path.name}.new-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key.hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            log.info("database key %s was created meanwhile; using it", path)
            return read_key(path)
    finally:
        temp.unlink(missing_ok=True)
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
