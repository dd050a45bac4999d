-- The central database schema before the Django models (central/db.py, schema version 1), as written by that
-- code; {autoid} is INTEGER PRIMARY KEY AUTOINCREMENT on SQLite and BIGSERIAL PRIMARY KEY on PostgreSQL.
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
);
