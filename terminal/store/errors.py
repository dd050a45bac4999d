"""Errors of the local store, each with a message an admin can act on."""
from __future__ import annotations


class StoreError(Exception):
    """Base of every store error."""


class DatabaseKeyError(StoreError):
    """The database key is missing, unreadable or malformed."""


class WrongKeyError(StoreError):
    """The database exists but does not open with this key."""


class PlaintextDatabaseError(StoreError):
    """The database file is an unencrypted SQLite file."""


class StorageFullError(StoreError):
    """The disk (or the database's size limit) is full; nothing was written."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer version of the software."""


class DamagedDatabaseError(StoreError):
    """The database file is damaged (a page that fails its check, a truncated file) or inconsistent."""


class EmptyDatabaseError(DamagedDatabaseError):
    """The database file exists but holds nothing (zero bytes): never taken for a first start."""
