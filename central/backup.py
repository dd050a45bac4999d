"""Backups of the central database, and restoring one.

A backup is one file and a manifest beside it (``seed-central-<UTC stamp>.db`` or ``.dump`` and ``….json``):

- SQLite: SQLite's online backup copies the database in one read transaction while the receiver and the console
  keep writing beside it (WAL mode): what it copies is one consistent moment. The copy is checked
  (``PRAGMA integrity_check``) and counted before it takes its final name.
- PostgreSQL: ``pg_dump`` in its custom format, run on a snapshot exported from a read-only transaction whose
  counts go into the manifest: the counts and the dump are the same moment.

The manifest keeps when, what (rows of the tables HR cares about, the newest punch received) and the file's
SHA-256, so a copy damaged later is found by :func:`check_backup` before anything is restored from it. Only the
newest ``keep`` backups made by this module stay in the folder; a safety copy taken before a restore is never
pruned automatically.

Restoring (:func:`restore_backup`) replaces the database's contents with the backup's, after a safety backup of
what is there now, and refuses while another process has the database open (the receiver or the console must be
stopped first). What follows a restore (the schema upgraded, a new roster history, the terminals asked for the
punches the backup does not hold) is :mod:`central.recovery`'s.
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from central.dburl import database_settings, is_postgresql, redact

log = logging.getLogger(__name__)

PREFIX = "seed-central-"
MANIFEST_FORMAT = 1
DEFAULT_KEEP = 14
# the tables a manifest counts, by their models (app label, model): what a person checks a backup by
COUNTED = (("punches", "ingest", "Punch"), ("employees", "people", "Employee"), ("devices", "people", "Device"),
           ("daily_records", "attendance", "DailyRecord"), ("audit_entries", "accounts", "AuditEntry"))


class BackupError(Exception):
    """A backup or a restore that cannot be done; the message (Chinese, then English) says why and what to do."""


@dataclass(frozen=True)
class Backup:
    path: Path
    manifest: dict[str, Any]

    @property
    def made_at(self) -> datetime:
        return datetime.fromisoformat(self.manifest["made_at"])

    @property
    def manifest_path(self) -> Path:
        return manifest_of(self.path)


def manifest_of(path: Path) -> Path:
    return path.with_suffix(".json")


def default_folder(target: str) -> Path:
    """Where backups go unless told: ``backups/`` beside a SQLite file, ``./backups`` for PostgreSQL."""
    if is_postgresql(target):
        return Path("backups").resolve()
    return Path(database_settings(target)["NAME"]).parent / "backups"


def configured_folder(target: str) -> Path:
    """The backups' folder of ``target`` as every command and the console find it: ``SEED_CENTRAL_BACKUPS`` when
    set, else :func:`default_folder`."""
    named = os.environ.get("SEED_CENTRAL_BACKUPS")
    return Path(named).expanduser().resolve() if named else default_folder(target)


STALE_AFTER_H = 26  # a nightly backup that did not run shows the next morning


@dataclass(frozen=True)
class Standing:
    """The backups as the console shows them: the folder, the newest, and whether it is older than a day."""
    folder: Path
    newest: Backup | None
    count: int
    stale: bool


def standing(now: datetime | None = None) -> Standing:
    """The backups of the database Django is on (the console's, the receiver's)."""
    from django.db import connection

    now = now or datetime.now(timezone.utc)
    folder = configured_folder(str(connection.settings_dict["NAME"]) if connection.vendor == "sqlite"
                               else "postgresql://")
    found = list_backups(folder)
    newest = found[0] if found else None
    stale = newest is None or (now - newest.made_at).total_seconds() > STALE_AFTER_H * 3600
    return Standing(folder, newest, len(found), stale)


def make_backup(target: str, folder: Path, *, keep: int = DEFAULT_KEEP, label: str = "",
                now: datetime | None = None) -> Backup:
    """A checked backup of ``target`` in ``folder``; the oldest beyond ``keep`` are removed (``keep`` 0: none)."""
    now = now or datetime.now(timezone.utc)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = now.strftime("%Y%m%dT%H%M%SZ") + (f"-{label}" if label else "")
    postgresql = is_postgresql(target)
    final = folder / f"{PREFIX}{stamp}.{'dump' if postgresql else 'db'}"
    if final.exists() or manifest_of(final).exists():
        raise BackupError(f"备份已存在 {final.name} / a backup of this second exists already: {final}")
    partial = final.with_name(final.name + ".partial")
    try:
        counts = _dump_postgresql(target, partial) if postgresql else _copy_sqlite(target, partial)
        digest, size = _sha256(partial)
        _fsync(partial)
        manifest = {"format": MANIFEST_FORMAT, "made_at": now.isoformat(timespec="seconds"), "label": label,
                    "database": "postgresql" if postgresql else "sqlite", "source": redact(target), "file": final.name,
                    "bytes": size, "sha256": digest, **counts}
        _write_json(manifest_of(final), manifest)  # first: a copy without its manifest is never left as a backup
        os.replace(partial, final)
        _fsync_dir(folder)
    except (OSError, sqlite3.Error) as exc:
        manifest_of(final).unlink(missing_ok=True)
        full = isinstance(exc, OSError) and exc.errno == errno.ENOSPC or "full" in str(exc)
        raise BackupError(f"{'磁盘已满' if full else '写不了备份'} / cannot write the backup in {folder}: {exc}; "
                          "nothing was changed in the database") from None
    finally:
        # and the copy's own rollback journal, which a disk that filled during the copy leaves beside it
        for leftover in (partial, *(partial.with_name(partial.name + end) for end in ("-journal", "-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
    made = Backup(final, manifest)
    log.info("backup %s: %s bytes, %s punches", final, size, counts["counts"].get("punches"))
    if keep:
        for old in [b for b in list_backups(folder) if not b.manifest.get("label")][keep:]:
            log.info("backup %s removed (more than %s kept)", old.path.name, keep)
            old.path.unlink(missing_ok=True)
            old.manifest_path.unlink(missing_ok=True)
    return made


def list_backups(folder: Path) -> list[Backup]:
    """The backups in ``folder`` with a readable manifest, newest first."""
    found = []
    for manifest in folder.glob(f"{PREFIX}*.json") if folder.is_dir() else []:
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            found.append(Backup(manifest.with_name(str(data["file"])), data))
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("backup manifest %s is unreadable: skipped", manifest)
    return sorted(found, key=lambda b: (b.manifest.get("made_at", ""), b.path.name), reverse=True)


def check_backup(path: Path) -> Backup:
    """The backup at ``path`` (its file or its manifest) after checking it is whole: its manifest, its size and
    SHA-256, and the copy itself (SQLite: an integrity check; PostgreSQL: ``pg_restore --list`` reads it)."""
    path = Path(path)
    if path.suffix == ".json":
        manifest_path = path
    else:
        manifest_path = manifest_of(path)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        data = manifest_path.with_name(str(manifest["file"]))
        expected, kind = str(manifest["sha256"]), str(manifest["database"])
    except FileNotFoundError:
        raise BackupError(f"找不到备份说明 {manifest_path.name} / no manifest beside the backup: {manifest_path}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"备份说明无法读取 / the backup's manifest {manifest_path} is unreadable: {exc}") from None
    if not data.is_file():
        raise BackupError(f"找不到备份文件 / the backup file {data} is missing")
    digest, size = _sha256(data)
    if digest != expected or size != manifest.get("bytes"):
        raise BackupError(f"备份文件已损坏（校验和不符）/ the backup {data.name} is damaged: its SHA-256 or size "
                          f"differs from its manifest ({size} bytes, expected {manifest.get('bytes')})")
    if kind == "sqlite":
        problem = _sqlite_integrity(data)
        if problem:
            raise BackupError(f"备份文件已损坏 / the backup {data.name} fails SQLite's integrity check: {problem}")
    elif kind == "postgresql":
        listed = subprocess.run([_pg_tool("pg_restore"), "--list", str(data)], capture_output=True, text=True)
        if listed.returncode:
            raise BackupError(f"备份文件无法读取 / pg_restore cannot read {data.name}: {_first_line(listed.stderr)}")
    else:
        raise BackupError(f"未知的备份类型 / unknown kind of backup {kind!r} in {manifest_path.name}")
    return Backup(data, manifest)


def restore_backup(path: Path, target: str, folder: Path, *, force: bool = False) -> tuple[Backup, Backup | None]:
    """Replace ``target``'s contents with the backup at ``path``: (the backup, the safety backup of what was there
    before, or None when the database was new or empty). Refused when the backup is damaged, when it is of the
    other kind of database, when another process uses ``target``, and without ``force`` when ``target`` holds data."""
    backup = check_backup(path)
    postgresql = is_postgresql(target)
    if backup.manifest["database"] != ("postgresql" if postgresql else "sqlite"):
        raise BackupError(f"备份是 {backup.manifest['database']} 的，目标不是 / the backup is of a "
                          f"{backup.manifest['database']} database and {redact(target)} is not one")
    users = _postgresql_users(target) if postgresql else _sqlite_users(Path(database_settings(target)["NAME"]))
    if users:
        raise BackupError("数据库正被其他进程使用，请先停止 seed-central run 和 serve / the database is in use; stop "
                          f"`seed-central run` and `seed-central serve` first ({'; '.join(users)})")
    safety = None
    if _holds_data(target):
        if not force:
            raise BackupError(f"目标数据库已有数据；确认覆盖请加 --force（会先另存一份）/ {redact(target)} holds data: "
                              "give --force to replace it (a safety backup of it is made first)")
        safety = make_backup(target, folder, keep=0, label="before-restore")
    if postgresql:
        _restore_postgresql(backup.path, target)
    else:
        _restore_sqlite(backup.path, Path(database_settings(target)["NAME"]))
    log.info("database %s restored from %s (made %s)", redact(target), backup.path, backup.manifest["made_at"])
    return backup, safety


# -- SQLite -------------------------------------------------------------------------------------------------------
def _copy_sqlite(target: str, partial: Path) -> dict[str, Any]:
    source = Path(database_settings(target)["NAME"])
    if not source.is_file():
        raise BackupError(f"没有这个数据库文件 / no database file {source}")
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)) as src, \
            closing(sqlite3.connect(partial)) as dst:
        # one step: one read transaction, which in WAL mode writers go on beside (copied in steps, every write by
        # the receiver between two steps would start the copy again, and a busy receiver would never let it end)
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    os.chmod(partial, 0o600)
    problem = _sqlite_integrity(partial)
    if problem:
        raise BackupError(f"备份未通过检查 / the copy fails SQLite's integrity check: {problem}")
    with closing(sqlite3.connect(f"file:{partial}?mode=ro", uri=True)) as copy:
        return _counts(lambda sql: copy.execute(sql).fetchone())


def _sqlite_integrity(path: Path) -> str:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            rows = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return "" if rows == ["ok"] else "; ".join(rows[:3])


def _sqlite_users(path: Path) -> list[str]:
    """Other processes with the database (or its write-ahead log) open, as "pid N (command)"."""
    names = {str(path), f"{path}-wal", f"{path}-shm"}
    users = []
    for proc in Path("/proc").glob("[0-9]*"):
        if proc.name == str(os.getpid()):
            continue
        try:
            if any(os.readlink(fd) in names for fd in (proc / "fd").iterdir()):
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                users.append(f"pid {proc.name} ({command[:80]})")
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return users


def _restore_sqlite(backup: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = target.with_name(target.name + ".restoring")
    shutil.copyfile(backup, incoming)
    os.chmod(incoming, 0o600)
    _fsync(incoming)
    for leftover in (Path(f"{target}-wal"), Path(f"{target}-shm"), Path(f"{target}-journal")):
        leftover.unlink(missing_ok=True)  # the old database's log must never be applied to the restored one
    os.replace(incoming, target)
    _fsync_dir(target.parent)


# -- PostgreSQL ---------------------------------------------------------------------------------------------------
def _dump_postgresql(target: str, partial: Path) -> dict[str, Any]:
    """``pg_dump`` of the snapshot a read-only transaction exports, counted in that same transaction."""
    settings = database_settings(target)
    import psycopg

    with psycopg.connect(_conninfo(settings), autocommit=True) as db, db.cursor() as cur:
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cur.execute("SELECT pg_export_snapshot()")
        snapshot = str(cur.fetchone()[0])  # type: ignore[index]

        def one(sql: str) -> tuple[Any, ...] | None:
            cur.execute(sql)
            return cur.fetchone()
        counts = _counts(one, postgresql=True)
        with _pg_environment(settings) as env:
            done = subprocess.run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--snapshot={snapshot}",
                                   f"--file={partial}", "--dbname", _conninfo(settings, password=False)],
                                  capture_output=True, text=True, env=env)
        cur.execute("ROLLBACK")
    if done.returncode:
        raise BackupError(f"pg_dump 失败 / pg_dump failed: {_first_line(done.stderr)}")
    os.chmod(partial, 0o600)
    return counts


def _restore_postgresql(backup: Path, target: str) -> None:
    """The public schema emptied and the dump restored into it; a failure leaves the safety backup to go back to."""
    import psycopg

    settings = database_settings(target)
    with psycopg.connect(_conninfo(settings), autocommit=True) as db:
        db.execute("DROP SCHEMA IF EXISTS public CASCADE")
        db.execute("CREATE SCHEMA public")
    with _pg_environment(settings) as env:
        done = subprocess.run([_pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction",
                               "--dbname", _conninfo(settings, password=False), str(backup)],
                              capture_output=True, text=True, env=env)
    if done.returncode:
        raise BackupError(f"pg_restore 失败 / pg_restore failed: {_first_line(done.stderr)}")


def _postgresql_users(target: str) -> list[str]:
    import psycopg

    with psycopg.connect(_conninfo(database_settings(target))) as db:
        rows = db.execute("SELECT pid, coalesce(application_name, ''), coalesce(client_addr::text, 'local') "
                          "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                          ).fetchall()
    return [f"pid {pid} ({name or 'client'} from {addr})" for pid, name, addr in rows]


def _conninfo(settings: dict[str, Any], password: bool = True) -> str:
    from psycopg.conninfo import make_conninfo

    parts = {"dbname": settings["NAME"], "user": settings["USER"] or None, "host": settings["HOST"] or None,
             "port": settings["PORT"] or None, **settings.get("OPTIONS", {})}
    if password and settings.get("PASSWORD"):
        parts["password"] = settings["PASSWORD"]
    return make_conninfo(**{k: str(v) for k, v in parts.items() if v is not None})


@contextmanager
def _pg_environment(settings: dict[str, Any]) -> Iterator[dict[str, str]]:
    """The environment for pg_dump and pg_restore: the password in a 0600 password file, never on a command line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if not settings.get("PASSWORD"):
        yield env
        return
    with tempfile.NamedTemporaryFile("w", prefix="seed-pgpass-", delete=True) as passfile:
        os.chmod(passfile.name, 0o600)
        fields = [settings["HOST"] or "*", settings["PORT"] or "*", settings["NAME"], settings["USER"] or "*",
                  settings["PASSWORD"]]
        passfile.write(":".join(str(f).replace("\\", "\\\\").replace(":", "\\:") for f in fields) + "\n")
        passfile.flush()
        yield {**env, "PGPASSFILE": passfile.name}


def _pg_tool(name: str) -> str:
    found = shutil.which(name) or next((str(p) for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                                                                reverse=True)), None)
    if not found:
        raise BackupError(f"没有 {name}，请安装 postgresql-client / {name} is not installed "
                          "(apt-get install postgresql-client)")
    return found


# -- shared -------------------------------------------------------------------------------------------------------
def _holds_data(target: str) -> bool:
    """Whether ``target`` has a central schema in it (a new or empty database is replaced without asking)."""
    if is_postgresql(target):
        import psycopg

        with psycopg.connect(_conninfo(database_settings(target))) as db:
            row = db.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()
        return bool(row and row[0])
    path = Path(database_settings(target)["NAME"])
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return bool(db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0])


def _counts(one: Any, postgresql: bool = False) -> dict[str, Any]:
    """Rows of the COUNTED tables and the newest punch received, read with ``one(sql) -> first row``."""
    from django.apps import apps

    counts: dict[str, int | None] = {}
    for key, app, model in COUNTED:
        table = apps.get_model(app, model)._meta.db_table
        if not _table_exists(one, table, postgresql):
            counts[key] = None
            continue
        counts[key] = int(one(f'SELECT count(*) FROM "{table}"')[0])
    punches = apps.get_model("ingest", "Punch")._meta.db_table
    newest = one(f'SELECT max(received_at) FROM "{punches}"') if counts["punches"] is not None else None
    value = newest[0] if newest else None
    if isinstance(value, datetime):
        value = value.astimezone(timezone.utc).isoformat(timespec="seconds")
    migrations = one("SELECT max(applied) FROM django_migrations") if _table_exists(one, "django_migrations",
                                                                                      postgresql) else None
    applied = migrations[0] if migrations else None
    return {"counts": counts, "newest_punch_received_at": str(value) if value is not None else None,
            "schema_applied_at": str(applied) if applied is not None else None}


def _table_exists(one: Any, table: str, postgresql: bool) -> bool:
    if postgresql:
        row = one(f"SELECT to_regclass('public.\"{table}\"') IS NOT NULL")
    else:
        row = one(f"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'")
    return bool(row and row[0])


def _sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _write_json(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.chmod(partial, 0o600)
    _fsync(partial)
    os.replace(partial, path)


def _fsync(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else "no message"
