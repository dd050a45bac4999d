"""Backups of the central database and restoring one (``seed-central backup``), on SQLite and, with
``--central-db=postgresql``, on PostgreSQL.

Backups are made from the test database while it is in use; restores go into another database (a new file, or a
new PostgreSQL database in the same cluster) by the command in its own process, as an operator runs it. What a
backup or a restored database holds is read back with sqlite3 or psycopg, not through the code under test.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from central_support import batch, central_cli, punch, send
from django.db import connection
from django.utils import timezone as dj_timezone

from central import backup as b
from central import recovery
from central.cli import main as central_main
from central.ingest.handler import Ingest
from central.ingest.models import Command, PunchRecovery
from central.people.models import Device, Employee, Site

pytestmark = pytest.mark.django_db(transaction=True)
DRAINED = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


def seed_central(punches: int = 6) -> None:
    """A site with two terminals and an employee, and punches stored through the ingest as a terminal sends them."""
    site = Site.objects.create(code="s1", name="Plant")
    Device.objects.create(device_id="door-a", site=site, drained_at=DRAINED)
    Device.objects.create(device_id="door-b", site=site)  # never reported an empty outbox
    Employee.objects.create(number="E001", name="Wang", site=site)
    ingest = Ingest()
    stamps = [f"2026-03-02T0{h}:00:00.000000Z" for h in range(punches)]
    replies = send(ingest, "punches", batch(*(punch(punched_at=s, direction="in" if i % 2 == 0 else "out")
                                             for i, s in enumerate(stamps))))
    assert len(replies[0]["stored"]) == punches and not replies[0]["rejected"]


def here(target: str, *args: str) -> tuple[int, str, str]:
    """``seed-central --db TARGET ARGS`` in this process (the test database's target, or another)."""
    return central_cli(*args, db=target)


def migrated_copy(central_db_target: str, path: Path) -> Path:
    """A migrated SQLite database nothing else uses: the (empty) test database copied by SQLite's backup."""
    with closing(sqlite3.connect(central_db_target)) as src, closing(sqlite3.connect(path)) as dst:
        src.backup(dst)
    return path


def run_cli(target: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``seed-central`` in its own process, as an operator runs it (a restore replaces the database under it)."""
    return subprocess.run([sys.executable, "-m", "central.cli", "--db", target, *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "DJANGO_SETTINGS_MODULE": "central.settings"})


@pytest.fixture
def empty_target(central_db_target: str, tmp_path: Path) -> Iterator[str]:
    """A database nothing uses yet, of the same kind as the test database: a restore goes there."""
    if connection.vendor != "postgresql":
        yield str(tmp_path / "restored" / "central.db")
        return
    import psycopg

    name = f"restored_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(b._conninfo(connection.settings_dict), autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    yield central_db_target.replace(f"/{connection.settings_dict['NAME']}?", f"/{name}?")
    with psycopg.connect(b._conninfo(connection.settings_dict), autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rows_in(target: str, sql: str) -> list[tuple[object, ...]]:
    """Rows of ``sql`` in ``target``, read with sqlite3 or psycopg."""
    if target.startswith("postgresql://"):
        import psycopg

        from central.dburl import database_settings

        with psycopg.connect(b._conninfo(database_settings(target))) as db:
            return list(db.execute(sql).fetchall())
    with closing(sqlite3.connect(target)) as db:
        return db.execute(sql).fetchall()


def test_a_backup_is_checked_counted_and_restored_with_the_terminals_asked_for_what_it_lacks(
        central_db_target, empty_target, tmp_path):
    seed_central()
    folder = tmp_path / "backups"
    code, made, err = here(central_db_target, "backup", "--to", str(folder), "create")
    assert code == 0, err
    (manifest_path,) = folder.glob("seed-central-*.json")
    manifest = json.loads(manifest_path.read_text())
    copy = folder / manifest["file"]
    assert str(copy) in made and "打卡 punches 6" in made
    assert manifest["counts"]["punches"] == 6 and manifest["counts"]["employees"] == 1
    assert manifest["counts"]["devices"] == 2 and oct(copy.stat().st_mode & 0o777) == "0o600"
    if connection.vendor == "sqlite":  # the copy itself, read by sqlite3
        assert rows_in(str(copy), "SELECT count(*) FROM ingest_punch") == [(6,)]
        assert rows_in(str(copy), "PRAGMA journal_mode") == [("delete",)]  # one self-contained file

    code, listed, _ = here(central_db_target, "backup", "--to", str(folder), "list")
    assert code == 0 and copy.name in listed
    code, checked, _ = here(central_db_target, "backup", "check", str(copy))
    assert code == 0 and "intact" in checked

    restored = run_cli(empty_target, "backup", "--to", str(folder), "restore", str(manifest_path))
    assert restored.returncode == 0, restored.stderr
    assert rows_in(empty_target, "SELECT count(*) FROM ingest_punch") == [(6,)]
    assert rows_in(empty_target, "SELECT number FROM people_employee") == [("E001",)]
    # a new roster history with the backup named, and each terminal asked for its punches since it last drained
    reasons = [r[0] for r in rows_in(empty_target, "SELECT reason FROM people_rosterhistory ORDER BY id")]
    assert reasons[-1].startswith(f"restored from backup {copy.name}")
    asked = dict(rows_in(empty_target, "SELECT device_id, since FROM ingest_punchrecovery"))
    since_a = asked["door-a"]
    since_a = datetime.fromisoformat(str(since_a)) if not isinstance(since_a, datetime) else since_a
    assert since_a.replace(tzinfo=timezone.utc) == (DRAINED - timedelta(hours=1)).replace(tzinfo=timezone.utc) \
        or since_a == DRAINED - timedelta(hours=1)
    assert asked["door-b"] is None  # never drained: everything it keeps
    assert "door-a" in restored.stdout and "door-b" in restored.stdout
    actions = [r[0] for r in rows_in(empty_target, "SELECT action FROM accounts_auditentry")]
    assert actions[-1] == "backup.restored"
    audit = run_cli(empty_target, "verify-audit")
    assert audit.returncode == 0, audit.stdout  # the restored hash chain with the restore's entry on it


def test_a_damaged_backup_is_found_and_never_restored(central_db_target, empty_target, tmp_path):
    seed_central()
    folder = tmp_path / "backups"
    assert here(central_db_target, "backup", "--to", str(folder), "create")[0] == 0
    (manifest_path,) = folder.glob("seed-central-*.json")
    copy = folder / json.loads(manifest_path.read_text())["file"]
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))

    code, _, err = here(central_db_target, "backup", "check", str(copy))
    assert code == 1 and "damaged" in err and "损坏" in err
    restored = run_cli(empty_target, "backup", "--to", str(folder), "restore", str(copy))
    assert restored.returncode == 1 and "damaged" in restored.stderr
    if connection.vendor == "sqlite":
        assert not Path(empty_target).exists()  # nothing written
    else:
        assert rows_in(empty_target, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
                       ) == [(0,)]
    manifest_path.unlink()
    code, _, err = here(central_db_target, "backup", "check", str(copy))
    assert code == 1 and "no manifest" in err


def test_a_database_with_data_is_replaced_only_when_told_and_kept_aside_first(central_db_target, empty_target,
                                                                               tmp_path):
    seed_central(punches=2)
    folder = tmp_path / "backups"
    assert here(central_db_target, "backup", "--to", str(folder), "create")[0] == 0
    (copy,) = [p for p in folder.iterdir() if p.suffix in (".db", ".dump")]
    assert run_cli(empty_target, "backup", "--to", str(folder), "restore", str(copy)).returncode == 0
    # the restored database gets a punch of its own; restoring over it needs --force and keeps it aside
    rows_in(empty_target, "SELECT 1")  # reachable
    if connection.vendor == "sqlite":
        with closing(sqlite3.connect(empty_target)) as db, db:
            db.execute("UPDATE people_employee SET name = 'Changed after the backup'")
    else:
        import psycopg

        from central.dburl import database_settings

        with psycopg.connect(b._conninfo(database_settings(empty_target))) as db:
            db.execute("UPDATE people_employee SET name = 'Changed after the backup'")
    refused = run_cli(empty_target, "backup", "--to", str(folder), "restore", str(copy))
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert rows_in(empty_target, "SELECT name FROM people_employee") == [("Changed after the backup",)]

    forced = run_cli(empty_target, "backup", "--to", str(folder), "restore", "--force", str(copy))
    assert forced.returncode == 0, forced.stderr
    assert rows_in(empty_target, "SELECT name FROM people_employee") == [("Wang",)]
    (aside,) = folder.glob("seed-central-*-before-restore.json")
    kept = b.check_backup(aside)
    if connection.vendor == "sqlite":
        assert rows_in(str(kept.path), "SELECT name FROM people_employee") == [("Changed after the backup",)]
    assert str(kept.path) in forced.stdout


def test_a_restore_is_refused_while_another_process_has_the_database_open(central_db_target, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the open-file check is SQLite's; PostgreSQL's is its list of sessions")
    target = migrated_copy(central_db_target, tmp_path / "central.db")
    b.make_backup(str(target), tmp_path / "b")
    (copy,) = (tmp_path / "b").glob("*.db")
    holder = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys, time\n"
                               f"c = sqlite3.connect({str(target)!r}); c.execute('SELECT 1').fetchall()\n"
                               "print('open', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        refused = run_cli(str(target), "backup", "--to", str(tmp_path / "b"), "restore", "--force", str(copy))
        assert refused.returncode == 1
        assert f"pid {holder.pid}" in refused.stderr and "seed-central run" in refused.stderr
    finally:
        holder.kill()
        holder.wait()
    assert list((tmp_path / "b").glob("*before-restore*")) == []  # refused before anything was done


def test_a_sqlite_backup_taken_while_punches_are_written_is_one_moment(central_db_target, tmp_path):
    """Two punches written in each transaction by another connection while the backup runs: the copy holds an
    even number of them (a file copied while being written can hold half a transaction, or be unreadable)."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's online backup; PostgreSQL's consistency is pg_dump's snapshot")
    target = migrated_copy(central_db_target, tmp_path / "central.db")
    with closing(sqlite3.connect(target)) as db, db:
        db.execute("CREATE TABLE filler (x BLOB)")
        db.executemany("INSERT INTO filler VALUES (?)", [(os.urandom(4096),) for _ in range(3000)])  # ~12 MB
    stop = threading.Event()
    written = [0]

    def write() -> None:
        with closing(sqlite3.connect(target, timeout=30)) as db:
            db.execute("PRAGMA journal_mode=WAL")
            while not stop.is_set():
                with db:
                    for _ in range(2):
                        db.execute("INSERT INTO ingest_punch (id, site, device_id, employee_number, direction, method,"
                                   " punched_at, received_at, boot_id, monotonic_ns, time_source, batch_id, time_flag) "
                                   "VALUES (?, 's1', 'door-a', 'E001', 'in', 'face', '2026-03-02 01:00:00', "
                                   "'2026-03-02 01:00:00', 'b', 1, 'ntp', 'x', '')", (str(uuid.uuid4()),))
                written[0] += 2

    writer = threading.Thread(target=write)
    writer.start()
    try:
        made = [b.make_backup(str(target), tmp_path / "b", keep=0, now=datetime(2026, 3, 2, 9, 0, s, tzinfo=timezone.utc))
                for s in range(2)]
    finally:
        stop.set()
        writer.join()
    assert written[0] > 0
    for one in made:
        (count,) = rows_in(str(one.path), "SELECT count(*) FROM ingest_punch")[0]
        assert isinstance(count, int) and count % 2 == 0 and count == one.manifest["counts"]["punches"]
        assert rows_in(str(one.path), "PRAGMA integrity_check") == [("ok",)]


def test_only_the_newest_backups_are_kept_and_a_safety_copy_is_never_pruned(central_db_target, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the folder's pruning is the same for both; shown on SQLite")
    target = migrated_copy(central_db_target, tmp_path / "central.db")
    folder = tmp_path / "b"
    b.make_backup(str(target), folder, keep=0, label="before-restore", now=datetime(2026, 3, 1, tzinfo=timezone.utc))
    for day in range(2, 6):
        b.make_backup(str(target), folder, keep=2, now=datetime(2026, 3, day, tzinfo=timezone.utc))
    names = sorted(p.name for p in folder.glob("*.db"))
    assert names == ["seed-central-20260301T000000Z-before-restore.db", "seed-central-20260304T000000Z.db",
                     "seed-central-20260305T000000Z.db"]
    assert sorted(p.stem for p in folder.glob("*.json")) == [n.removesuffix(".db") for n in names]
    with pytest.raises(b.BackupError, match="exists already"):
        b.make_backup(str(target), folder, now=datetime(2026, 3, 5, tzinfo=timezone.utc))
    assert central_main(["--db", str(target), "backup", "--to", str(folder), "create", "--keep", "-1"]) == 2


def test_the_receiver_asks_online_terminals_again_until_one_answers(transactional_db):
    site = Site.objects.create(code="s1", name="Plant")
    Device.objects.create(device_id="door-a", site=site, drained_at=DRAINED, online=True)
    Device.objects.create(device_id="door-b", site=site, online=False)
    asked = recovery.after_restore("seed-central-20260302T090000Z.db", "2026-03-02T09:00:00+00:00", "cli:hr")
    assert [(a.device_id, a.since) for a in asked] == [("door-a", DRAINED - timedelta(hours=1)), ("door-b", None)]

    now = dj_timezone.now()
    assert recovery.ask_terminals(now) == 1  # door-b is offline: asked when it is back
    first = Command.objects.get()
    assert (first.device_id, first.cmd, first.args) == ("door-a", "resync", {"since": "2026-03-02T07:00:00.000000Z"})
    assert recovery.ask_terminals(now + timedelta(seconds=30)) == 0  # sent, not yet answered: not sent twice
    Command.objects.filter(pk=first.pk).update(ok=False, reason="too old", result_at=now)  # refused: tried again
    assert recovery.ask_terminals(now + timedelta(seconds=90)) == 1
    second = Command.objects.exclude(pk=first.pk).get()
    Command.objects.filter(pk=second.pk).update(ok=True, result={"punches": 4}, result_at=now)
    Device.objects.filter(device_id="door-b").update(online=True)
    assert recovery.ask_terminals(now + timedelta(seconds=120)) == 1  # door-b, now online, asked for everything
    assert Command.objects.get(device_id="door-b").args == {"since": "2000-01-01T00:00:00.000000Z"}
    open_ones = {r.device_id: r for r in PunchRecovery.objects.all()}
    assert open_ones["door-a"].done_at is not None and open_ones["door-a"].attempts == 2
    assert open_ones["door-b"].done_at is None
    assert [r.device_id for r in recovery.open_recoveries()] == ["door-b"] and recovery.any_open()


def test_the_devices_page_shows_the_backups_and_the_terminals_still_asked(central_db_target, tmp_path, monkeypatch):
    from central_support import client_for, make_user

    from central.accounts.models import Role

    monkeypatch.setenv("SEED_CENTRAL_BACKUPS", str(tmp_path / "b"))
    seed_central(punches=2)
    superuser = make_user("root", Role.HR_ADMIN)
    superuser.is_superuser = True
    superuser.save(update_fields=["is_superuser"])
    root = client_for(superuser)
    hr = client_for(make_user("hr", Role.HR_ADMIN, sites=[Site.objects.get(code="s1")]))
    page = root.get("/devices/").content.decode()
    assert "还没有备份" in page and str(tmp_path / "b") in page

    now = datetime.now(timezone.utc)
    old = b.make_backup(central_db_target, tmp_path / "b", now=now - timedelta(hours=30))
    page = root.get("/devices/").content.decode()
    assert old.path.name in page and "超过 26 小时没有备份" in page and "2 条打卡" in page
    new = b.make_backup(central_db_target, tmp_path / "b", now=now - timedelta(hours=2))
    page = root.get("/devices/").content.decode()
    assert new.path.name in page and old.path.name not in page and "没有备份" not in page and "共 2 份" in page
    assert "补传" not in page

    recovery.after_restore(new.path.name, new.manifest["made_at"], "cli:it")
    page = root.get("/devices/").content.decode()
    assert "恢复后等待终端补传的打卡" in page and "终端保存的全部" in page  # door-b never drained
    assert "2026-03-02 15:00" in page  # door-a: drained at 08:00 UTC less an hour, shown in Asia/Shanghai
    assert "数据库备份" not in hr.get("/devices/").content.decode()  # the machine's backups are the superuser's


def test_a_backup_onto_a_full_disk_says_so_and_leaves_nothing_behind(central_db_target, tmp_path, tiny_disk):
    if connection.vendor != "sqlite":
        pytest.skip("shown on SQLite; pg_dump's own message says the same")
    target = migrated_copy(central_db_target, tmp_path / "central.db")
    with closing(sqlite3.connect(target)) as db, db:  # a database larger than the disk the backup goes to
        db.execute("CREATE TABLE filler (x BLOB)")
        db.executemany("INSERT INTO filler VALUES (?)", [(os.urandom(4096),) for _ in range(400)])
    before = target.read_bytes()
    code, _, err = here(str(target), "backup", "--to", str(tiny_disk / "b"), "create")
    assert code == 1 and "磁盘已满" in err and "full" in err and "nothing was changed" in err
    assert list((tiny_disk / "b").iterdir()) == []  # no partial copy, no manifest of a copy that is not there
    assert target.read_bytes() == before
    assert here(str(target), "backup", "--to", str(tmp_path / "b"), "create")[0] == 0  # room: it works
