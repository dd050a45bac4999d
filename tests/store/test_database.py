"""The encrypted database: keys, wrong keys, plaintext files, migrations, backups, audit chain."""
from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from sqlcipher3.dbapi2 import OperationalError

from terminal.config import StorageSettings
from terminal.store import migrations as migrations_module
from terminal.store.audit import verify_audit
from terminal.store.database import Store, open_store
from terminal.store.errors import (
    DatabaseKeyError,
    PlaintextDatabaseError,
    SchemaTooNewError,
    WrongKeyError,
)
from terminal.store.keys import read_key


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_first_open_creates_an_encrypted_database_and_a_private_key(tmp_path):
    settings = StorageSettings(data_dir=tmp_path)
    with open_store(settings) as store:
        store.set_setting("greeting", {"text": "你好"})
        assert store.schema_version() == migrations_module.MIGRATIONS[-1].version
    db_file = tmp_path / "terminal.db"
    key_file = tmp_path / "db.key"
    assert db_file.read_bytes()[:16] != b"SQLite format 3\x00"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(db_file.stat().st_mode) == 0o600
    assert b"greeting" not in db_file.read_bytes()
    # the standard sqlite3 module cannot read it
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(db_file).execute("SELECT * FROM sqlite_master").fetchall()
    with open_store(settings) as store:
        assert store.get_setting("greeting") == {"text": "你好"}


def test_wrong_key_is_a_clear_error_and_changes_nothing(tmp_path):
    settings = StorageSettings(data_dir=tmp_path)
    with open_store(settings) as store:
        store.set_setting("x", 1)
    before = digest(tmp_path / "terminal.db")
    (tmp_path / "db.key").write_text(os.urandom(32).hex())
    with pytest.raises(WrongKeyError, match="does not open with the configured key"):
        open_store(settings)
    assert digest(tmp_path / "terminal.db") == before


def test_plaintext_database_is_refused(tmp_path):
    plain = tmp_path / "terminal.db"
    sqlite3.connect(plain).execute("CREATE TABLE punches (id TEXT)").connection.commit()
    before = digest(plain)
    with pytest.raises(PlaintextDatabaseError, match="unencrypted"):
        open_store(StorageSettings(data_dir=tmp_path))
    assert digest(plain) == before
    assert not (tmp_path / "db.key").exists()


def test_missing_key_for_an_existing_database_never_starts_over(tmp_path):
    settings = StorageSettings(data_dir=tmp_path)
    with open_store(settings):
        pass
    (tmp_path / "db.key").unlink()
    with pytest.raises(DatabaseKeyError, match="key file .* is missing"):
        open_store(settings)
    assert not (tmp_path / "db.key").exists()


@pytest.mark.parametrize("content, message", [("not hex at all", "hex digits"), ("abcd", "expected 32")])
def test_malformed_key_file(tmp_path, content, message):
    key = tmp_path / "k"
    key.write_text(content)
    key.chmod(0o600)
    with pytest.raises(DatabaseKeyError, match=message):
        read_key(key)


def test_systemd_credentials_directory_is_honoured(tmp_path, monkeypatch):
    creds = tmp_path / "creds"
    creds.mkdir()
    key_hex = os.urandom(32).hex()
    (creds / "seed-db-key").write_text(key_hex)
    (creds / "seed-db-key").chmod(0o400)  # as systemd's LoadCredential= writes it
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    settings = StorageSettings(data_dir=tmp_path / "data")
    with open_store(settings) as store:
        store.set_setting("a", 1)
    assert not (tmp_path / "data" / "db.key").exists()
    with Store.open(tmp_path / "data" / "terminal.db", bytes.fromhex(key_hex)) as store:
        assert store.get_setting("a") == 1


@pytest.fixture
def extra_migrations(monkeypatch):
    registered = list(migrations_module.MIGRATIONS)
    monkeypatch.setattr(migrations_module, "MIGRATIONS", registered)
    import terminal.store.database as database_module

    monkeypatch.setattr(database_module, "MIGRATIONS", registered)
    return registered


def test_pending_migration_is_applied_once_after_a_backup(tmp_path, extra_migrations):
    settings = StorageSettings(data_dir=tmp_path)
    with open_store(settings) as store:
        store.set_setting("kept", True)
    newest = extra_migrations[-1].version

    def add_table(conn):
        conn.execute("CREATE TABLE door_log (id INTEGER PRIMARY KEY)")

    extra_migrations.append(migrations_module.Migration(newest + 1000, "door log", add_table))
    with open_store(settings) as store:
        assert store.schema_version() == newest + 1000
        assert store.get_setting("kept") is True
        assert store.migrate() == []
    backups = list((tmp_path / "backups").glob("terminal-before-*.db"))
    assert len(backups) == 1
    key = read_key(tmp_path / "db.key")
    with Store.open(backups[0], key, migrate=False) as old:
        assert old.schema_version() == newest
        assert old.get_setting("kept") is True


def test_failing_migration_leaves_the_schema_as_it_was(tmp_path, extra_migrations):
    settings = StorageSettings(data_dir=tmp_path)
    with open_store(settings):
        pass
    newest = extra_migrations[-1].version

    def broken(conn):
        conn.execute("CREATE TABLE half_done (id INTEGER)")
        conn.execute("THIS IS NOT SQL")

    extra_migrations.append(migrations_module.Migration(newest + 1000, "broken", broken))
    with pytest.raises(OperationalError, match="syntax error"):
        open_store(settings)
    extra_migrations.pop()
    with open_store(settings) as store:
        assert store.schema_version() == newest
        assert store.query_one("SELECT name FROM sqlite_master WHERE name = 'half_done'") is None


def test_database_from_newer_software_is_refused(store):
    with store.transaction() as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999999, 'future', '2030-01-01')")
    with pytest.raises(SchemaTooNewError, match="upgrade the software"):
        store.migrate()


def test_audit_chain_reports_the_first_altered_or_missing_entry(store):
    for i in range(5):
        store.audit("admin", "test.action", {"i": i})
    assert verify_audit(store.conn).ok
    with store.transaction() as conn:
        conn.execute("UPDATE audit_log SET details = '{\"i\":99}' WHERE seq = 3")
    report = verify_audit(store.conn)
    assert report.first_broken == 3 and "altered" in report.reason
    with store.transaction() as conn:
        conn.execute("UPDATE audit_log SET details = '{\"i\":2}' WHERE seq = 3")
    assert verify_audit(store.conn).ok
    with store.transaction() as conn:
        conn.execute("DELETE FROM audit_log WHERE seq = 2")
    report = verify_audit(store.conn)
    assert report.first_broken == 2 and "missing" in report.reason


def test_event_is_stored_and_queued_in_one_go(store):
    event_id = store.record_event("tailgating", {"count": 2}, severity="warning")
    assert store.query_one("SELECT kind FROM events WHERE id = ?", (event_id,))["kind"] == "tailgating"
    queued = store.query_one("SELECT kind, payload FROM outbox WHERE ref_id = ?", (event_id,))
    assert queued["kind"] == "event" and '"count": 2' in queued["payload"]


def test_a_lower_numbered_migration_registered_later_is_still_applied(tmp_path, extra_migrations):
    settings = StorageSettings(data_dir=tmp_path)
    newest = extra_migrations[-1].version

    def later(conn):
        conn.execute("CREATE TABLE later_area (id INTEGER)")

    def lower(conn):
        conn.execute("CREATE TABLE lower_area (id INTEGER)")

    extra_migrations.append(migrations_module.Migration(newest + 2000, "later area", later))
    with open_store(settings):
        pass
    extra_migrations.insert(len(extra_migrations) - 1, migrations_module.Migration(newest + 1000, "lower area", lower))
    with open_store(settings) as store:
        assert store.query_one("SELECT name FROM sqlite_master WHERE name = 'lower_area'")
        versions = [r["version"] for r in store.query("SELECT version FROM schema_migrations ORDER BY version")]
        assert newest + 1000 in versions and newest + 2000 in versions


OPEN_AND_REPORT = """
import sys
from terminal.store.database import Store
key = bytes.fromhex(sys.argv[2])
sys.stdin.readline()  # start together
with Store.open(sys.argv[1], key) as store:
    print(store.schema_version())
"""


def test_terminal_and_sync_agent_opening_a_new_database_at_once_migrate_it_once(tmp_path):
    import subprocess
    import sys

    key = os.urandom(32).hex()
    path = tmp_path / "shared.db"
    procs = [subprocess.Popen([sys.executable, "-c", OPEN_AND_REPORT, str(path), key], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [proc.communicate(timeout=60) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err for _, err in results]
    with Store.open(path, bytes.fromhex(key)) as store:
        versions = [r["version"] for r in store.query("SELECT version FROM schema_migrations")]
    assert sorted(versions) == sorted(m.version for m in migrations_module.MIGRATIONS)


def test_seed_terminal_verify_audit_names_the_first_broken_link(config_file, capsys):
    import json

    from terminal.cli import main
    from terminal.config import load_config
    from terminal.store.database import open_store

    with open_store(load_config(config_file).storage) as opened:
        for i in range(4):
            opened.audit("admin", "test.action", {"i": i})
        entries = opened.query_one("SELECT count(*) AS n FROM audit_log")["n"]
    assert main(["--config", config_file, "verify-audit"]) == 0
    assert capsys.readouterr().out.splitlines() == ["database integrity: ok", f"audit log intact: {entries} entries"]
    with open_store(load_config(config_file).storage) as opened:
        seq = opened.query("SELECT seq FROM audit_log ORDER BY seq")[-2]["seq"]
        with opened.transaction() as conn:
            conn.execute("UPDATE audit_log SET details = '{\"i\":99}' WHERE seq = ?", (seq,))
    assert main(["--config", config_file, "verify-audit"]) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"audit log BROKEN at entry {seq}: ")
    assert main(["--config", config_file, "verify-audit", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["first_broken"] == seq and "altered" in report["reason"]
