"""The encrypted terminal database: one SQLCipher file, written with plain SQL (see docs/terminal-store.md).

One file, encrypted whole with a raw 256-bit key (no key derivation per open), in WAL
mode with ``synchronous=FULL`` so a punch reported as recorded survives a power cut.
Two processes share it (``seed-terminal`` and ``seed-sync``); writers take the lock
with ``BEGIN IMMEDIATE`` and wait up to ``busy_timeout_ms`` for each other.

A file that exists is never taken for a first start: an empty (zero-byte) file, a file that
is not a whole number of pages, or one whose pages fail ``PRAGMA quick_check`` (which reads
every page of every table and index, so SQLCipher checks each page's HMAC on the way) is
refused at open with :class:`DamagedDatabaseError`, before anything is written to it.
``seed-terminal verify-audit`` runs the full ``integrity_check`` and ``cipher_integrity_check``.
"""
from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlcipher3

from contract.stamps import utc_stamp
from terminal.config import StorageSettings
from terminal.ids import uuid7
from terminal.store.audit import append_audit
from terminal.store.connection import Connection, Row, SqlParams
from terminal.store.errors import (
    DamagedDatabaseError,
    EmptyDatabaseError,
    PlaintextDatabaseError,
    SchemaTooNewError,
    StorageFullError,
    StoreError,
    WrongKeyError,
)
from terminal.store.keys import load_or_create_key
from terminal.store.migrations import MIGRATIONS

log = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
# Every SQLite page size is a multiple of 512 (SQLCipher's default, the terminal's, is 4096), and the
# database file always holds whole pages: any other size is a truncated or damaged file.
PAGE_SIZE_UNIT = 512
# Problems quoted at most in a message (the checks stop after this many).
MAX_PROBLEMS = 20
DatabaseError = sqlcipher3.dbapi2.DatabaseError
OperationalError = sqlcipher3.dbapi2.OperationalError
IntegrityError = sqlcipher3.dbapi2.IntegrityError


def utc_now() -> str:
    """Now as a stamp in the one UTC format (:func:`contract.stamps.utc_stamp`)."""
    return utc_stamp()


def event_message(event_id: str, kind: str, severity: str, at: str, payload: dict) -> str:
    """An event as the outbox carries it to the central (the JSON of ``contract.protocol.Event``): what
    :meth:`Store.record_event` queues, and what a ``resync`` since a time queues again from the ``events`` row."""
    return json.dumps({"id": event_id, "kind": kind, "severity": severity, "at": at, "payload": payload},
                      ensure_ascii=False, sort_keys=True)


def is_storage_full(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database or disk is full" in text or "disk i/o error" in text or "no space" in text


def refuse_plaintext(path: Path) -> None:
    with open(path, "rb") as handle:
        if handle.read(16) == SQLITE_HEADER:
            raise PlaintextDatabaseError(
                f"{path} is an unencrypted SQLite database; refusing to use it "
                "(punches must be stored encrypted). Move it aside or encrypt it with sqlcipher_export."
            )


def _restore_advice(path: Path) -> str:
    return (f"nothing was changed. Keep a copy of the file (it may still hold punches not yet delivered), then "
            f"restore the newest backup from {path.parent / 'backups'}; only a terminal that never recorded a punch "
            "may instead remove the file to start afresh")


def refuse_unusable_file(path: Path) -> None:
    """Refuse a database file that exists but cannot be a sound terminal database, before it is opened."""
    size = path.stat().st_size
    if size == 0:
        raise EmptyDatabaseError(
            f"database {path} is empty (0 bytes): it is not taken for a new database; "
            f"it was probably cut short (a full disk, a failed copy or restore); {_restore_advice(path)}"
        )
    if size % PAGE_SIZE_UNIT:
        raise DamagedDatabaseError(
            f"database {path} is damaged: its {size} bytes are not a whole number of pages (a truncated file); "
            f"{_restore_advice(path)}"
        )
    refuse_plaintext(path)


def _connect_with_key(path: Path, key: bytes, timeout_s: float = 5.0) -> Connection:
    """A connection to ``path`` with the raw key given (nothing is read yet: a wrong key shows at the first read)."""
    conn = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=timeout_s)
    try:
        with contextlib.suppress(DatabaseError):
            conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    except BaseException:
        conn.close()
        raise
    return conn


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def create_database_file(path: Path, key: bytes) -> bool:
    """Make a new, empty encrypted database at ``path`` (mode 0600) unless a file is already there.

    The file is written under a temporary name and hard-linked into place, which fails when the
    path exists: so a database that is being created is never seen empty, and a file that appeared
    meanwhile (the other process's) is never replaced. Returns whether this call made it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.new-{os.getpid()}-{uuid7()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        conn = _connect_with_key(temp, key)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                         "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
        finally:
            conn.close()
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        except OSError as exc:  # a file system without hard links: a plain rename, after one more look
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP) or path.exists():
                raise
            os.rename(temp, path)
        _fsync_dir(path.parent)
        log.info("created a new database at %s", path)
        return True
    finally:
        for leftover in (temp, Path(f"{temp}-wal"), Path(f"{temp}-shm")):
            leftover.unlink(missing_ok=True)


def integrity_problems(conn: Connection, *, full: bool = False, limit: int = MAX_PROBLEMS) -> list[str]:
    """What is wrong with the open database ([] when sound).

    ``full=False`` is ``PRAGMA quick_check``: every page of every table and index is read (SQLCipher
    verifies each page's HMAC as it decrypts it) and the b-trees are checked, but not that indexes
    match their tables. ``full=True`` is ``PRAGMA integrity_check`` plus ``PRAGMA cipher_integrity_check``
    (the HMAC of every page, free pages included). When the quick check finds something, the cipher
    check runs too, to name the pages that fail.
    """
    pragma = "integrity_check" if full else "quick_check"
    try:
        found = [str(row[0]) for row in conn.execute(f"PRAGMA {pragma}({int(limit)})").fetchall()]
    except DatabaseError as exc:  # a page that fails its HMAC stops the check with an error
        found = [str(exc)]
    problems = _lines(found)
    if problems or full:
        try:
            cipher = [str(row[0]) for row in conn.execute("PRAGMA cipher_integrity_check").fetchall()]
        except DatabaseError as exc:
            cipher = [str(exc)]
        problems = _lines(cipher)[:limit] + problems
    return problems[:limit]


def _lines(found: list[str]) -> list[str]:
    """The problems of a check's rows, one per line (a row may hold several), without its banners."""
    lines = (line.strip() for text in found for line in text.splitlines())
    return [line for line in lines if line and line != "ok" and not line.startswith("*** in database")]


class Store:
    """An open terminal database. Use as a context manager, or call :meth:`close`."""

    def __init__(self, conn: Connection, path: Path, keep_backups: int = 3):
        self.conn = conn
        self.path = path
        self.keep_backups = keep_backups
        self._lock = threading.RLock()

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path | str, key: bytes, *, create: bool = True, busy_timeout_ms: int = 5000,
             keep_backups: int = 3, migrate: bool = True, check: bool = True) -> Store:
        """Open (or, only when the file is missing and ``create``, make) the database.

        An existing file that is empty, truncated, damaged or inconsistent (``PRAGMA quick_check``
        when ``check``) raises :class:`DamagedDatabaseError` before anything is written to it.
        """
        path = Path(path)
        exists = path.exists()
        if exists:
            refuse_unusable_file(path)
        elif not create:
            raise StoreError(f"database {path} does not exist")
        else:
            # Made whole under another name and linked into place, so no process ever sees a
            # half-made (empty) file at the database's path; the loser of a race opens the winner's.
            create_database_file(path, key)
        conn = _connect_with_key(path, key, busy_timeout_ms / 1000)
        try:
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except DatabaseError as exc:
                if "not a database" in str(exc):
                    raise WrongKeyError(
                        f"{path} does not open with the configured key (wrong key, or not a Seed database); "
                        "nothing was changed"
                    ) from None
                raise DamagedDatabaseError(f"database {path} is damaged ({exc}); {_restore_advice(path)}") from None
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            if exists and check:
                # Before the switch to WAL and any migration: a refused file is left as it was.
                problems = integrity_problems(conn)
                if problems:
                    log.error("database %s failed its check at open: %s", path, "; ".join(problems))
                    shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
                    raise DamagedDatabaseError(
                        f"database {path} is damaged or inconsistent ({shown}); it is not used; {_restore_advice(path)}"
                    )
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{path}: could not switch to WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        store = cls(conn, path, keep_backups)
        if migrate:
            try:
                store.migrate()
            except BaseException:
                store.close()
                raise
        return store

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(Exception):
                self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions --------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): all or nothing.

        A full disk surfaces as :class:`StorageFullError` after the rollback, so the
        caller can tell the user without leaving partial rows behind.
        """
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except OperationalError as exc:
                if is_storage_full(exc):
                    raise StorageFullError(f"storage full: {exc}") from exc
                raise
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                if isinstance(exc, (OperationalError, DatabaseError)) and is_storage_full(exc):
                    raise StorageFullError(f"storage full, nothing was written: {exc}") from exc
                raise

    def query(self, sql: str, params: SqlParams = ()) -> list[Row]:
        with self._lock:
            cursor = self.conn.execute(sql, params)
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def query_one(self, sql: str, params: SqlParams = ()) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: SqlParams = ()) -> Any:
        """The first column of the first row (an aggregate such as ``count(*)``); None when there is no row."""
        with self._lock:
            row = self.conn.execute(sql, params).fetchone()
            return None if row is None else row[0]

    # -- schema --------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self._lock:
            exists = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
            ).fetchone()
            if not exists:
                return 0
            row = self.conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
            return int(row[0] or 0)

    def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction, after one backup."""
        with self._lock:
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            done = {row[0] for row in self.conn.execute("SELECT version FROM schema_migrations")}
            known = {m.version for m in MIGRATIONS}
            unknown = sorted(done - known)
            if unknown:
                raise SchemaTooNewError(
                    f"{self.path} has schema version(s) {', '.join(map(str, unknown))} this software does not know; "
                    "upgrade the software"
                )
            # Every registered migration not yet applied, in version order (not only those above the
            # highest applied one: areas number their migrations in separate ranges).
            pending = [m for m in MIGRATIONS if m.version not in done]
            if not pending:
                return []
            if done:
                self.backup(reason=f"before-v{pending[0].version}")
            applied = []
            for step in pending:
                with self.transaction() as conn:
                    # The other process (terminal or sync agent) may have applied it meanwhile:
                    # decide again under the write lock.
                    if conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (step.version,)).fetchone():
                        continue
                    step.apply(conn)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                        (step.version, step.name, utc_now()),
                    )
                log.info("applied migration %s (%s)", step.version, step.name)
                applied.append(step.version)
            return applied

    def backup(self, reason: str = "manual") -> Path:
        """A consistent encrypted copy (same key) next to the database; old ones pruned."""
        folder = self.path.parent / "backups"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        target = folder / f"{self.path.stem}-{reason}-{stamp}{self.path.suffix}"
        with self._lock:
            self.conn.execute("VACUUM INTO ?", (str(target),))
        os.chmod(target, 0o600)
        backups = sorted(folder.glob(f"{self.path.stem}-*{self.path.suffix}"), key=lambda p: p.stat().st_mtime)
        for old in backups[: -self.keep_backups]:
            old.unlink(missing_ok=True)
        log.info("database backed up to %s", target)
        return target

    # -- events, audit, settings ---------------------------------------------------------
    def record_event(self, kind: str, payload: dict | None = None, severity: str = "info",
                     conn: Connection | None = None, at: str | None = None) -> str:
        """Store an event and queue it for the central server (in the caller's transaction if given)."""
        event_id = uuid7()
        at = at or utc_now()
        body = json.dumps(payload or {}, ensure_ascii=False, sort_keys=True)
        message = event_message(event_id, kind, severity, at, payload or {})

        def write(c: Connection) -> None:
            c.execute("INSERT INTO events (id, kind, severity, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                      (event_id, kind, severity, body, at))
            c.execute("INSERT INTO outbox (kind, ref_id, payload, created_at) VALUES ('event', ?, ?, ?)",
                      (event_id, message, at))

        if conn is not None:
            write(conn)
        else:
            with self.transaction() as c:
                write(c)
        log.info("event %s (%s)", kind, severity)
        return event_id

    def audit(self, actor: str, action: str, details: dict | None = None, conn: Connection | None = None) -> int:
        """Append a hash-chained audit entry (in the caller's transaction if given)."""
        if conn is not None:
            return append_audit(conn, actor, action, details or {}, utc_now())
        with self.transaction() as c:
            return append_audit(c, actor, action, details or {}, utc_now())

    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self.query_one("SELECT value FROM settings WHERE key = ?", (key,))
        return default if row is None else json.loads(row["value"])

    def set_setting(self, key: str, value: object, conn: Connection | None = None) -> None:
        def write(c: Connection) -> None:
            c.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, json.dumps(value, ensure_ascii=False, sort_keys=True), utc_now()),
            )

        if conn is not None:
            write(conn)
        else:
            with self.transaction() as c:
                write(c)

    def counts(self) -> dict[str, int]:
        tables = ["employees", "face_templates", "finger_templates", "punches", "outbox", "events", "audit_log"]
        return {t: int(self.scalar(f"SELECT count(*) FROM {t}")) for t in tables}


def open_store(settings: StorageSettings, *, create: bool = True) -> Store:
    """Open the configured database with its key (created on first run only).

    A database file that exists is checked before its key is looked for, so an empty or truncated
    file is reported as what it is (and no key is made for it).
    """
    if settings.database_path.exists():
        refuse_unusable_file(settings.database_path)
    key = load_or_create_key(settings)
    return Store.open(settings.database_path, key, create=create, busy_timeout_ms=settings.busy_timeout_ms,
                      keep_backups=settings.keep_backups)
