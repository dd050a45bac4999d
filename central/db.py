"""The central server's database: SQLite by default, PostgreSQL for a ``postgresql://`` URL.

One small dialect layer: SQL is written with ``?`` placeholders and portable
``INSERT ... ON CONFLICT`` upserts; for PostgreSQL the placeholders become ``%s``.
Times are stored as fixed-format UTC text (``2026-03-02T08:01:02.000000Z``), which
sorts correctly as text in both databases.
"""
from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_TABLES = """
CREATE TABLE IF NOT EXISTS punches (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    device_id TEXT NOT NULL,
    employee_number TEXT NOT NULL,
    direction TEXT NOT NULL,
    method TEXT NOT NULL,
    score DOUBLE PRECISION,
    punched_at TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    monotonic_ns BIGINT NOT NULL,
    time_source TEXT NOT NULL,
    original_punched_at TEXT,
    restamped_at TEXT,
    batch_id TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS punches_received ON punches(received_at);
CREATE INDEX IF NOT EXISTS punches_time ON punches(punched_at);
CREATE INDEX IF NOT EXISTS punches_employee ON punches(employee_number, punched_at);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    at TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_device ON events(device_id, at);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    online INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT '{}',
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    roster_version BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rejected (
    id {autoid},
    site TEXT,
    device_id TEXT,
    topic TEXT NOT NULL,
    item_id TEXT,
    reason TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS employees (
    number TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    department TEXT NOT NULL DEFAULT '',
    card TEXT,
    pin_hash TEXT,
    role TEXT NOT NULL DEFAULT 'employee',
    verify_mode TEXT NOT NULL DEFAULT 'any',
    allowed_devices TEXT NOT NULL DEFAULT '[]',
    active INTEGER NOT NULL DEFAULT 1,
    faces TEXT NOT NULL DEFAULT '[]',
    fingers TEXT NOT NULL DEFAULT '[]',
    version BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS roster_log (
    version BIGINT PRIMARY KEY,
    number TEXT NOT NULL,
    op TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    device_id TEXT NOT NULL,
    cmd TEXT NOT NULL,
    args TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    ok INTEGER,
    reason TEXT,
    result TEXT,
    result_at TEXT
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
"""


class CentralDBError(Exception):
    """The central database cannot be opened or used."""


class CentralDB:
    """A connection to the central database with a ``transaction()`` context manager.

    Thread-safe by a lock: the receiver has one worker thread writing, and the CLI
    reads. Use ``CentralDB.open(url_or_path)``.
    """

    def __init__(self, conn: Any, dialect: str, target: str, url: str | None = None):
        self.conn = conn
        self.dialect = dialect
        self.target = target
        self._url = url  # PostgreSQL: to reconnect after the server went away
        self._lock = threading.RLock()
        self._depth = 0

    @classmethod
    def open(cls, target: str | Path) -> "CentralDB":
        text = str(target)
        if text.startswith(("postgresql://", "postgres://")):
            try:
                import psycopg
            except ImportError:  # pragma: no cover - psycopg is pinned
                raise CentralDBError("PostgreSQL URL given but psycopg is not installed") from None
            try:
                conn = psycopg.connect(text, autocommit=False)
            except psycopg.Error as exc:
                raise CentralDBError(f"cannot connect to PostgreSQL: {str(exc).strip()[:200]}") from None
            db = cls(conn, "postgresql", _redact(text), text)
        else:
            path = Path(text.removeprefix("sqlite:///").removeprefix("sqlite://"))
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10)
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute("PRAGMA busy_timeout = 10000")
            except sqlite3.Error as exc:
                raise CentralDBError(f"cannot open {path}: {exc}") from None
            db = cls(conn, "sqlite", str(path))
        db.create_schema()
        return db

    def close(self) -> None:
        with self._lock, contextlib.suppress(Exception):
            self.conn.close()

    def __enter__(self) -> "CentralDB":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_connected(self) -> None:
        """A PostgreSQL connection broken by a server restart is replaced before the next use."""
        if self.dialect != "postgresql" or not (self.conn.closed or self.conn.broken):
            return
        import psycopg

        log.warning("PostgreSQL connection lost; reconnecting to %s", self.target)
        try:
            self.conn = psycopg.connect(self._url, autocommit=False)
        except psycopg.Error as exc:
            raise CentralDBError(f"cannot reconnect to PostgreSQL: {str(exc).strip()[:200]}") from None

    # -- SQL ----------------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def create_schema(self) -> None:
        autoid = "BIGSERIAL PRIMARY KEY" if self.dialect == "postgresql" else "INTEGER PRIMARY KEY AUTOINCREMENT"
        ddl = _TABLES.replace("{autoid}", autoid)
        if self.dialect == "sqlite":
            ddl = ddl.replace("DOUBLE PRECISION", "REAL")
        with self.transaction() as cur:
            for statement in ddl.split(";"):
                if statement.strip():
                    cur.execute(statement)
            cur.execute(self._sql("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"),
                        ("schema_version", str(SCHEMA_VERSION)))

    @contextlib.contextmanager
    def transaction(self) -> Iterator["Cursor"]:
        """All or nothing; nested calls join the outer transaction."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield Cursor(self)
                finally:
                    self._depth -= 1
                return
            self._ensure_connected()
            if self.dialect == "sqlite":
                self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield Cursor(self)
                self.conn.commit() if self.dialect == "postgresql" else self.conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    self.conn.rollback() if self.dialect == "postgresql" else self.conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        with self._lock:
            self._ensure_connected()
            cur = self.conn.cursor()
            try:
                cur.execute(self._sql(sql), tuple(params))
                names = [d[0] for d in cur.description or ()]
                rows = [dict(zip(names, row)) for row in cur.fetchall()]
            except BaseException:
                if self.dialect == "postgresql":
                    with contextlib.suppress(Exception):
                        self.conn.rollback()
                raise
            finally:
                cur.close()
            if self.dialect == "postgresql":
                self.conn.commit()  # end the implicit read transaction
            return rows

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> dict | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None


class Cursor:
    """The handle a transaction yields: ``execute``/``executemany`` with ``?`` placeholders."""

    def __init__(self, db: CentralDB):
        self.db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = self.db.conn.cursor()
        try:
            cur.execute(self.db._sql(sql), tuple(params))
            return cur.rowcount
        finally:
            cur.close()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        cur = self.db.conn.cursor()
        try:
            cur.executemany(self.db._sql(sql), [tuple(r) for r in rows])
        finally:
            cur.close()

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        cur = self.db.conn.cursor()
        try:
            cur.execute(self.db._sql(sql), tuple(params))
            return cur.fetchall()
        finally:
            cur.close()


def _redact(url: str) -> str:
    """A database URL without its password, for logs and messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
