"""An existing central database from before the Django models is upgraded in place by ``seed-central migrate``.

The old database is written with the old schema (legacy_v1_schema.sql) and the rows the old
receiver wrote; the upgrade runs as a user runs it, in its own process; the result is read
back with the database's own driver, not through the models under test.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCHEMA = (Path(__file__).parent / "legacy_v1_schema.sql").read_text()
P1 = "0190f3a0-0000-7000-8000-000000000001"
P2 = "0190f3a0-0000-7000-8000-000000000002"
ROWS: dict[str, list[tuple[Any, ...]]] = {
    "punches": [
        (P1, "plant", "door-a", "E1", "in", "face", 0.31, "2026-03-02T00:55:00.000000Z", "boot", 5, "ntp", None, None,
         "0190f3a0-0000-7000-8000-00000000000b", "2026-03-02T00:55:01.000000Z"),
        (P2, "plant", "door-a", "E2", "out", "card", None, "2026-03-02T09:01:00.500000Z", "boot", 9, "ntp",
         "2026-02-20T06:00:00.000000Z", "2026-03-02T09:05:00.000000Z", "0190f3a0-0000-7000-8000-00000000000c",
         "2026-03-02T09:05:01.000000Z")],
    "events": [("0190f3a0-0000-7000-8000-0000000000e1", "plant", "door-a", "spoof_attempt", "warning",
                "2026-03-02T08:00:00.000000Z", '{"score": 0.2}', "2026-03-02T08:00:01.000000Z")],
    "devices": [("door-a", "plant", 1, '{"online": true, "queue_depth": 3}', "2026-03-01T00:00:00.000000Z",
                 "2026-03-02T09:05:01.000000Z", 3)],
    "employees": [
        ("E1", "张三", "生产部", "4318030", None, "employee", "any", "[]", 1, "[]", "[]", 2, "2026-03-01T00:00:00.000000Z"),
        ("E2", "Li Lei", "", None, None, "admin", "card+pin", '["door-a"]', 0, "[]", "[]", 3,
         "2026-03-01T00:00:00.000000Z")],
    "roster_log": [(1, "E9", "upsert", "2026-03-01T00:00:00.000000Z"), (2, "E1", "upsert", "2026-03-01T00:00:00.000000Z"),
                   (3, "E2", "upsert", "2026-03-01T00:00:00.000000Z"), (4, "E9", "delete", "2026-03-01T00:00:00.000000Z")],
    "commands": [("0190f3a0-0000-7000-8000-0000000000c1", "plant", "door-a", "open_door", "{}",
                  "2026-03-02T08:00:00.000000Z", 1, "", '{"opened": true}', "2026-03-02T08:00:01.000000Z")],
    "meta": [("schema_version", "1"), ("roster_published", "4")],
}
REJECTED = ("plant", "door-a", "seed/v1/plant/door-a/punches", None, "payload is not JSON", "junk",
            "2026-03-02T08:00:00.000000Z")


def _write_legacy(conn: Any, placeholder: str, autoid: str) -> None:
    cur = conn.cursor()
    ddl = SCHEMA.replace("{autoid}", autoid)
    body = "\n".join(line for line in ddl.splitlines() if not line.startswith("--"))
    for statement in body.split(";"):
        if statement.strip():
            cur.execute(statement.replace("DOUBLE PRECISION", "REAL") if placeholder == "?" else statement)
    for table, rows in ROWS.items():
        marks = ", ".join([placeholder] * len(rows[0]))
        for row in rows:
            cur.execute(f"INSERT INTO {table} VALUES ({marks})", row)
    cur.execute(f"INSERT INTO rejected (site, device_id, topic, item_id, reason, payload, received_at) VALUES "
                f"({', '.join([placeholder] * 7)})", REJECTED)
    conn.commit()


def _migrate(target: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "central.cli", "--db", target, "migrate"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _utc_text(value: Any) -> str:
    """SQLite hands back Django's UTC text, PostgreSQL an aware datetime: both as UTC text."""
    from datetime import datetime, timezone

    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    return str(value)


def _check(query: Any) -> None:
    punches = query("SELECT id, employee_number, punched_at, original_punched_at, batch_id FROM ingest_punch ORDER BY id")
    assert [r[0] for r in punches] == [P1, P2]
    assert _utc_text(punches[1][2]).startswith("2026-03-02 09:01:00.5")
    assert _utc_text(punches[1][3]).startswith("2026-02-20 06:00:00")
    assert query("SELECT kind FROM ingest_event") == [("spoof_attempt",)]
    assert query("SELECT reason FROM ingest_rejectedmessage") == [("payload is not JSON",)]
    device = query("SELECT d.device_id, s.code, d.roster_version, d.online FROM people_device d "
                   "JOIN people_site s ON s.id = d.site_id")
    assert [tuple(device[0][:3])] == [("door-a", "plant", 3)] and bool(device[0][3])
    employees = query("SELECT e.number, e.name, e.card, e.verify_mode, e.active, d.name FROM people_employee e "
                      "LEFT JOIN people_department d ON d.id = e.department_id ORDER BY e.number")
    assert [tuple(r[:4]) for r in employees] == [("E1", "张三", "4318030", "any"), ("E2", "Li Lei", None, "card+pin")]
    assert [bool(r[4]) for r in employees] == [True, False] and employees[0][5] == "生产部"
    assert query("SELECT max(version) FROM people_rosterchange") == [(4,)]
    assert query("SELECT value FROM ingest_state WHERE key = 'roster_published'") == [("4",)]
    assert query("SELECT cmd, ok FROM ingest_command")[0][0] == "open_door"
    # the old tables are kept under a new name, their rows intact
    assert query("SELECT count(*) FROM legacy_v1_punches") == [(2,)]


def test_a_sqlite_central_database_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "central.db"
    with sqlite3.connect(path) as conn:
        _write_legacy(conn, "?", "INTEGER PRIMARY KEY AUTOINCREMENT")
    _migrate(str(path))
    with sqlite3.connect(path) as conn:
        _check(lambda sql: [tuple(r) for r in conn.execute(sql).fetchall()])
    second = _migrate(str(path))  # a second run changes nothing and says so
    assert "No migrations to apply" in second.stdout


def test_a_postgresql_central_database_is_upgraded_in_place(postgres: str) -> None:
    import uuid

    import psycopg

    name = f"legacy{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = postgres.replace("/postgres?", f"/{name}?")
    try:
        with psycopg.connect(url) as conn:
            _write_legacy(conn, "%s", "BIGSERIAL PRIMARY KEY")
        _migrate(url)
        with psycopg.connect(url) as conn:
            _check(lambda sql: [tuple(r) for r in conn.execute(sql).fetchall()])
    finally:
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.parametrize("content", [b"", b"not a database at all"])
def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "central.db"
    path.write_bytes(content * 300)
    proc = subprocess.run([sys.executable, "-m", "central.cli", "--db", str(path), "devices"], capture_output=True,
                          text=True, timeout=120)
    if content:
        assert proc.returncode == 1 and "cannot use the database" in proc.stderr and "Traceback" not in proc.stderr
    else:  # an empty file is an empty SQLite database: it is set up
        assert proc.returncode == 0, proc.stderr


# -- a database written by the previous receiver itself ---------------------------------------------------
PREVIOUS = "7805142"  # the last commit whose central stored data with hand-written SQL (central/db.py)
WRITER = '''
import sys, uuid
from central.db import CentralDB
from central.ingest import Ingest
from central import roster
from sync_agent import protocol as p

db = CentralDB.open(sys.argv[1])
ingest = Ingest(db)
punch = {"id": "0190f3a0-0000-7000-8000-0000000000a1", "device_id": "door-a", "employee_number": "P1",
         "direction": "in", "method": "card", "score": None, "punched_at": "2026-03-02T00:55:00.250000Z",
         "boot_id": "boot", "monotonic_ns": 5, "time_source": "ntp", "original_punched_at": None, "restamped_at": None}
ingest.handle(p.device_topic("plant", "door-a", "punches"),
              p.dumps({"batch": str(uuid.uuid4()), "punches": [punch, {**punch, "id": "0190f3a0-0000-7000-8000-0000000000a2"}]}))
ingest.handle(p.device_topic("plant", "door-a", "status"), p.dumps({"online": True, "queue_depth": 2, "versions": {"roster": 2}}))
ingest.handle(p.device_topic("plant", "door-a", "punches"), b"not json")
roster.upsert_employees(db, [{"number": "P1", "name": "张三", "department": "生产部", "card": "0041E34E"},
                             {"number": "P2", "name": "Li Lei"}])
roster.delete_employee(db, "P2")
db.close()
'''


def _previous_tree(tmp_path: Path) -> Path:
    """The previous central, sync agent and terminal code, taken from the repository's history."""
    repo = Path(__file__).resolve().parents[2]
    folder = tmp_path / "previous"
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(repo), "archive", PREVIOUS, "central", "sync_agent", "terminal"],
                             capture_output=True, timeout=120, check=False)
    if archive.returncode != 0:
        pytest.skip(f"the history holding the previous receiver ({PREVIOUS}) is not in this clone: "
                    f"{archive.stderr.decode(errors='replace')[:200]}")
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True, timeout=120)
    return folder


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_database_written_by_the_previous_receiver_is_upgraded(tmp_path: Path, database: str,
                                                                 request: pytest.FixtureRequest) -> None:
    import os
    import uuid

    previous = _previous_tree(tmp_path)
    if database == "sqlite":
        target = str(tmp_path / "central.db")
    else:
        import psycopg

        server = request.getfixturevalue("postgres")
        name = f"previous{uuid.uuid4().hex[:10]}"
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        target = server.replace("/postgres?", f"/{name}?")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO")} | {"PYTHONPATH": str(previous)}
    wrote = subprocess.run([sys.executable, "-c", WRITER, target], cwd=previous, env=env, capture_output=True,
                           text=True, timeout=120, check=False)
    assert wrote.returncode == 0, wrote.stderr[-2000:]
    _migrate(target)
    if database == "sqlite":
        with sqlite3.connect(target) as conn:
            rows = _read_upgraded(lambda sql: [tuple(r) for r in conn.execute(sql).fetchall()])
    else:
        with psycopg.connect(target) as conn:
            rows = _read_upgraded(lambda sql: [tuple(r) for r in conn.execute(sql).fetchall()])
    assert rows["punches"] == [("0190f3a0-0000-7000-8000-0000000000a1", "P1"), ("0190f3a0-0000-7000-8000-0000000000a2", "P1")]
    assert _utc_text(rows["punched_at"]).startswith("2026-03-02 00:55:00.25")
    assert rows["employees"] == [("P1", "张三", "4318030", "生产部")]
    assert rows["roster"] == 3 and rows["device"] == ("door-a", "plant", 2)
    assert rows["rejected"] == 1


def _read_upgraded(query: Any) -> dict[str, Any]:
    return {
        "punches": query("SELECT id, employee_number FROM ingest_punch ORDER BY id"),
        "punched_at": query("SELECT punched_at FROM ingest_punch ORDER BY id")[0][0],
        "employees": query("SELECT e.number, e.name, e.card, d.name FROM people_employee e "
                           "LEFT JOIN people_department d ON d.id = e.department_id ORDER BY e.number"),
        "roster": query("SELECT max(version) FROM people_rosterchange")[0][0],
        "device": query("SELECT d.device_id, s.code, d.roster_version FROM people_device d "
                        "JOIN people_site s ON s.id = d.site_id")[0],
        "rejected": query("SELECT count(*) FROM ingest_rejectedmessage")[0][0],
    }
