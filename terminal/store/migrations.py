"""Every schema change of the terminal database, registered in one place.

Each migration runs inside one transaction together with its row in
``schema_migrations``; the database file is backed up before the first pending
migration runs. Add new migrations at the end, never edit an applied one.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from terminal.store.connection import Connection


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


MIGRATIONS: list[Migration] = []


def migration(version: int, name: str) -> Callable[[Callable[[Connection], None]], Callable[[Connection], None]]:
    """Register a migration function under a version number."""

    def register(fn: Callable[[Connection], None]) -> Callable[[Connection], None]:
        if any(m.version == version for m in MIGRATIONS):
            raise ValueError(f"migration {version} registered twice")
        MIGRATIONS.append(Migration(version, name, fn))
        MIGRATIONS.sort(key=lambda m: m.version)
        return fn

    return register


def _script(conn: Connection, sql: str) -> None:
    # executescript() would COMMIT the surrounding transaction; run statements one by one instead.
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


@migration(1, "initial schema")
def _initial(conn: Connection) -> None:
    _script(
        conn,
        """
        CREATE TABLE employees (
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            department TEXT NOT NULL DEFAULT '',
            card TEXT UNIQUE,
            pin_hash TEXT,
            role TEXT NOT NULL DEFAULT 'employee' CHECK (role IN ('employee', 'admin')),
            verify_mode TEXT NOT NULL DEFAULT 'any',
            allowed_devices TEXT NOT NULL DEFAULT '[]',
            active INTEGER NOT NULL DEFAULT 1,
            photo BLOB,
            roster_version INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE face_templates (
            id INTEGER PRIMARY KEY,
            employee_id INTEGER NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
            descriptor BLOB NOT NULL,
            quality REAL,
            source TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        );
        CREATE INDEX face_templates_employee ON face_templates(employee_id);
        CREATE TABLE finger_templates (
            id INTEGER PRIMARY KEY,
            employee_id INTEGER NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
            finger INTEGER NOT NULL DEFAULT 0,
            sensor_position INTEGER,
            template BLOB NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (employee_id, finger)
        );
        CREATE TABLE punches (
            id TEXT PRIMARY KEY,
            employee_id INTEGER,
            employee_number TEXT NOT NULL,
            direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
            method TEXT NOT NULL,
            score REAL,
            punched_at TEXT NOT NULL,
            boot_id TEXT NOT NULL,
            monotonic_ns INTEGER NOT NULL,
            time_source TEXT NOT NULL CHECK (time_source IN ('ntp', 'rtc', 'unsynced')),
            original_punched_at TEXT,
            restamped_at TEXT,
            device_id TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX punches_employee_time ON punches(employee_id, punched_at);
        CREATE INDEX punches_time ON punches(punched_at);
        CREATE INDEX punches_unsynced ON punches(time_source) WHERE time_source = 'unsynced';
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('punch', 'event')),
            ref_id TEXT NOT NULL UNIQUE,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            batch_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_attempt_at TEXT
        );
        CREATE INDEX outbox_kind ON outbox(kind, id);
        CREATE TABLE events (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            severity TEXT NOT NULL DEFAULT 'info',
            payload TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        );
        CREATE INDEX events_kind_time ON events(kind, created_at);
        CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}',
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
    )


@migration(2, "PIN attempts and lockouts")
def _pin_attempts(conn: Connection) -> None:
    _script(
        conn,
        """
        CREATE TABLE pin_attempts (
            employee_id INTEGER PRIMARY KEY REFERENCES employees(id) ON DELETE CASCADE,
            failures INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT,
            locked_boot_id TEXT,
            locked_until_monotonic_ns INTEGER
        )
        """,
    )


@migration(30, "sync: refused outbox rows and the command log")
def _sync_tables(conn: Connection) -> None:
    _script(
        conn,
        """
        CREATE TABLE outbox_rejected (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            ref_id TEXT NOT NULL,
            payload TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL,
            rejected_at TEXT NOT NULL
        );
        CREATE INDEX outbox_rejected_ref ON outbox_rejected(ref_id);
        CREATE INDEX outbox_unclaimed ON outbox(kind, id) WHERE batch_id IS NULL;
        CREATE TABLE command_log (
            id TEXT PRIMARY KEY,
            cmd TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            received_at TEXT NOT NULL,
            ok INTEGER NOT NULL,
            reason TEXT NOT NULL DEFAULT ''
        )
        """,
    )


@migration(20, "fingerprint: at most one template per sensor position")
def _finger_positions(conn: Connection) -> None:
    _script(
        conn,
        """
        CREATE UNIQUE INDEX finger_templates_position ON finger_templates(sensor_position)
            WHERE sensor_position IS NOT NULL
        """,
    )


@migration(40, "sync: roster parts received, kept until their version is whole and applied")
def _roster_parts(conn: Connection) -> None:
    _script(
        conn,
        """
        CREATE TABLE roster_parts (
            history TEXT NOT NULL,
            version INTEGER NOT NULL,
            base INTEGER NOT NULL,
            full INTEGER NOT NULL,
            digest TEXT NOT NULL,
            parts INTEGER NOT NULL,
            part INTEGER NOT NULL,
            body TEXT NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (history, version, base, full, digest, parts, part)
        )
        """,
    )


@migration(50, "sync: templates enrolled at the door queued for the central")
def _outbox_enrolments(conn: Connection) -> None:
    """The outbox takes a third kind, ``enrolment``. SQLite cannot change a CHECK in place: the table is rebuilt with
    its rows, its indexes and its id sequence (ids order the queue)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    _script(
        conn,
        """
        CREATE TABLE outbox_next (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('punch', 'event', 'enrolment')),
            ref_id TEXT NOT NULL UNIQUE,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            batch_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_attempt_at TEXT
        );
        INSERT INTO outbox_next (id, kind, ref_id, payload, created_at, batch_id, attempts, last_attempt_at)
            SELECT id, kind, ref_id, payload, created_at, batch_id, attempts, last_attempt_at FROM outbox;
        DROP TABLE outbox;
        ALTER TABLE outbox_next RENAME TO outbox;
        CREATE INDEX outbox_kind ON outbox(kind, id);
        CREATE INDEX outbox_unclaimed ON outbox(kind, id) WHERE batch_id IS NULL
        """,
    )
    if row is not None and row[0]:
        if conn.execute("SELECT 1 FROM sqlite_sequence WHERE name = 'outbox'").fetchone():
            conn.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'outbox'", (row[0],))
        else:
            conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)", (row[0],))
