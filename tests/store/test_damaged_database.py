"""A database file that is empty, damaged or inconsistent is refused at open, with a clear message and
nothing changed; only a file that is truly missing is created (first start).

Real SQLCipher files throughout: a zero-byte file, a flipped byte on an inner page, truncated files,
an index that no longer matches its table; and the real ``seed-terminal``, ``seed-sync`` and
``seed-enroll`` commands run as processes for their exit code and message.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from terminal.config import load_config
from terminal.hardware.clock import SimClock
from terminal.punch import Identity, PunchService
from terminal.store.database import Store, open_store, utc_now
from terminal.store.errors import DamagedDatabaseError, EmptyDatabaseError

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PAGE = 4096  # SQLCipher's default page size, the terminal's


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def config(config_file):
    return load_config(config_file)


@pytest.fixture
def filled(config):
    """A terminal database holding 200 undelivered punches (each with its outbox row and audit entry)."""
    with open_store(config.storage) as store:
        with store.transaction() as conn:
            now = utc_now()
            conn.execute("INSERT INTO employees (number, name, created_at, updated_at) VALUES ('E001', '张三', ?, ?)",
                         (now, now))
        employee_id = store.query_one("SELECT id FROM employees")["id"]
        config.punch.debounce_s = 0
        service = PunchService(store, config, SimClock())
        for _ in range(200):
            assert service.punch(Identity(employee_id, "card")).accepted
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = config.storage.database_path
    assert not Path(f"{path}-wal").exists()
    return path


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def inner_page_offset(path: Path) -> int:
    pages = path.stat().st_size // PAGE
    assert pages > 10, "the database should span many pages"
    return (pages // 2) * PAGE + 200  # inside the page's encrypted content, away from its IV and HMAC


# -- empty ---------------------------------------------------------------------------------------
def test_a_zero_byte_database_is_refused_never_started_over(config, filled):
    key_before = digest(config.storage.key_file or config.storage.data_dir / "db.key")
    filled.write_bytes(b"")
    with pytest.raises(EmptyDatabaseError) as info:
        open_store(config.storage)
    message = str(info.value)
    assert str(filled) in message and "empty" in message and "0 bytes" in message
    assert filled.stat().st_size == 0
    assert digest(config.storage.data_dir / "db.key") == key_before


def test_a_zero_byte_database_without_its_key_is_refused_as_empty_and_no_key_is_made(config, filled):
    filled.write_bytes(b"")
    (config.storage.data_dir / "db.key").unlink()
    with pytest.raises(EmptyDatabaseError):
        open_store(config.storage)
    assert not (config.storage.data_dir / "db.key").exists()
    assert filled.stat().st_size == 0


def test_a_zero_byte_file_is_refused_by_store_open_too(tmp_path):
    path = tmp_path / "terminal.db"
    path.touch()
    with pytest.raises(EmptyDatabaseError):
        Store.open(path, os.urandom(32))
    assert path.stat().st_size == 0


def test_a_missing_database_is_still_created_on_first_start(config):
    path = config.storage.database_path
    assert not path.exists()
    with open_store(config.storage) as store:
        assert store.counts()["punches"] == 0
    assert path.stat().st_size > 0


# -- damaged -------------------------------------------------------------------------------------
def test_a_flipped_byte_on_an_inner_page_is_refused_at_open_and_nothing_changes(config, filled):
    flip_byte(filled, inner_page_offset(filled))
    before = digest(filled)
    with pytest.raises(DamagedDatabaseError) as info:
        open_store(config.storage)
    message = str(info.value)
    assert str(filled) in message and "damaged" in message and "backup" in message
    assert digest(filled) == before
    assert not Path(f"{filled}-wal").exists() or Path(f"{filled}-wal").stat().st_size == 0


@pytest.mark.parametrize("keep", ["half", "all_but_last_page", "part_of_first_page"])
def test_a_truncated_database_is_refused_as_damaged(config, filled, keep):
    data = filled.read_bytes()
    size = {"half": len(data) // 2, "all_but_last_page": len(data) - PAGE, "part_of_first_page": 1000}[keep]
    filled.write_bytes(data[:size])
    before = digest(filled)
    with pytest.raises(DamagedDatabaseError, match="damaged"):
        open_store(config.storage)
    assert digest(filled) == before


def break_index(store: Store) -> None:
    """Make an index disagree with its table (the pages stay sound; only a full check sees it)."""
    with store.transaction() as conn:
        for i in range(30):
            conn.execute("INSERT INTO events (id, kind, severity, payload, created_at) VALUES (?, 'test', 'info', '{}', ?)",
                         (f"ev-{i}", f"2026-01-{i % 28 + 1:02d}T00:00:00.000000Z"))
    store.conn.execute("PRAGMA writable_schema = ON")
    store.conn.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX events_kind_time ON events(created_at, kind)' "
                       "WHERE name = 'events_kind_time'")
    store.conn.execute("PRAGMA writable_schema = OFF")


def test_integrity_report_names_an_index_that_no_longer_matches(config, filled):
    from terminal.store.database import integrity_problems

    with open_store(config.storage) as store:
        assert integrity_problems(store.conn, full=True) == []
        break_index(store)
    with open_store(config.storage) as store:
        problems = integrity_problems(store.conn, full=True)
    assert problems and all("events_kind_time" in p for p in problems[:3])


# -- the commands --------------------------------------------------------------------------------
def run(command: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / command), *args], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def assert_refused(proc: subprocess.CompletedProcess, command: str, *words: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"{command}: "), proc.stderr
    for word in words:
        assert word in line, line


COMMANDS = [
    ("seed-terminal", ["--headless", "--simulate"]),
    ("seed-terminal", ["verify-audit"]),
    ("seed-terminal", ["backup"]),
    ("seed-sync", ["--until-empty", "--timeout", "5", "--no-ntp"]),
    ("seed-sync", ["status"]),
    ("seed-enroll", ["punches"]),
    ("seed-enroll", ["list"]),
]


@pytest.mark.parametrize("command, args", COMMANDS, ids=[f"{c} {a[0]}" for c, a in COMMANDS])
def test_every_command_refuses_a_zero_byte_database_with_a_message(config_file, filled, command, args):
    filled.write_bytes(b"")
    proc = run(command, "--config", config_file, *args)
    assert_refused(proc, command, str(filled), "empty")
    assert filled.stat().st_size == 0


@pytest.mark.parametrize("command, args", COMMANDS, ids=[f"{c} {a[0]}" for c, a in COMMANDS])
def test_every_command_refuses_a_damaged_database_with_a_message(config_file, filled, command, args):
    flip_byte(filled, inner_page_offset(filled))
    before = digest(filled)
    proc = run(command, "--config", config_file, *args)
    assert_refused(proc, command, str(filled), "damaged")
    assert digest(filled) == before


def test_verify_audit_runs_the_full_integrity_check(config_file, config, filled):
    proc = run("seed-terminal", "--config", config_file, "verify-audit")
    assert proc.returncode == 0, proc.stderr
    assert "database integrity: ok" in proc.stdout and "audit log intact" in proc.stdout
    with open_store(config.storage) as store:
        break_index(store)
    proc = run("seed-terminal", "--config", config_file, "verify-audit")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "database integrity: FAILED" in proc.stdout and "events_kind_time" in proc.stdout
    proc = run("seed-terminal", "--config", config_file, "verify-audit", "--json")
    import json

    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and report["integrity"]["ok"] is False and report["ok"] is True
