"""Central benchmark: the Django central server's punch ingest and console pages, on SQLite and PostgreSQL.

* ingest: punches per second through the product's ``Ingest.handle()`` (validation, one
  ``executemany`` of the upsert ``store_punches()`` builds from the model's fields, commit, ack)
  with batches of 500 fresh punches as a terminal sends them (JSON bytes on the punches topic),
  no broker. In the same process and interleaved run by run with:

  - the previous receiver's raw-SQL path (commit 0cf3c45, reproduced here): the same parsing
    and validation, then ``executemany`` of its ``INSERT ... ON CONFLICT`` and the device
    upsert on a plain sqlite3 connection (WAL, synchronous=FULL) or psycopg connection;
  - validation alone (parse, validate, build rows and the ack, no database): the floor.

  On SQLite the product path is profiled (cProfile, one extra run) when it misses its aim, and
  on every database with ``--profile``. A short extra measure sends batches whose every punch
  carries a re-stamp (first sent, and re-sent over stored copies), which both paths apply
  inside their upsert.
* console: the employees page (first page, a logged-in superuser), the search ``?q=王`` (full
  page and the live search's htmx partial), its last page and the home dashboard, with 10,000
  employees (Chinese names, one site, eight departments) and a year of punches; p50/p95 over
  ``--requests`` requests through ``django.test.Client``.

Django is set up once per process with one database, so each database is measured in a child
process (``--child ingest|console --db ...``) that prints its result as JSON. PostgreSQL is a
throwaway cluster started here with ``fsync=off`` (SQLite keeps synchronous=FULL, so SQLite
pays for durable commits and PostgreSQL does not) and stopped at the end whatever happens;
it is skipped with a note when ``initdb`` is not installed. The machine is shared: compare
rows of one run with each other, not with another day's numbers.

    python -m benchmarks.central [--punches 20000] [--runs 5] [--employees 10000]
                                 [--console-punches 100000] [--requests 40] [--no-postgresql] [--profile]
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import random
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks.common import print_table, write_json
from central.demo_stack import free_port

REPO = Path(__file__).resolve().parent.parent
SITE = "bench"
DEVICE = "bench-door"
BATCH = 500
INGEST_AIM = 10_000  # punches/s through Ingest.handle() on SQLite (the target)
RESULT_MARK = "RESULT "

# -- the previous receiver's storage (commit 0cf3c45: central/db.py and central/ingest.py) --------------
OLD_PUNCH_COLUMNS = ("id", "site", "device_id", "employee_number", "direction", "method", "score", "punched_at",
                     "boot_id", "monotonic_ns", "time_source", "original_punched_at", "restamped_at", "batch_id",
                     "received_at")
OLD_TABLES = """
CREATE TABLE IF NOT EXISTS punches (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, device_id TEXT NOT NULL, employee_number TEXT NOT NULL,
    direction TEXT NOT NULL, method TEXT NOT NULL, score DOUBLE PRECISION, punched_at TEXT NOT NULL,
    boot_id TEXT NOT NULL, monotonic_ns BIGINT NOT NULL, time_source TEXT NOT NULL, original_punched_at TEXT,
    restamped_at TEXT, batch_id TEXT NOT NULL, received_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS punches_received ON punches(received_at);
CREATE INDEX IF NOT EXISTS punches_time ON punches(punched_at);
CREATE INDEX IF NOT EXISTS punches_employee ON punches(employee_number, punched_at);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, site TEXT NOT NULL, online INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT '{}', first_seen_at TEXT NOT NULL, last_seen_at TEXT NOT NULL,
    roster_version BIGINT NOT NULL DEFAULT 0)
"""
# A re-sent punch only changes the stored one when it carries a re-stamp the stored one lacks.
OLD_INSERT_PUNCH = (
    f"INSERT INTO {{table}} ({', '.join(OLD_PUNCH_COLUMNS)}) VALUES ({', '.join(['?'] * len(OLD_PUNCH_COLUMNS))}) "
    "ON CONFLICT (id) DO UPDATE SET punched_at = excluded.punched_at, time_source = excluded.time_source, "
    "original_punched_at = excluded.original_punched_at, restamped_at = excluded.restamped_at "
    "WHERE {table}.restamped_at IS NULL AND excluded.restamped_at IS NOT NULL "
    "AND {table}.device_id = excluded.device_id"
)
OLD_SEEN = ("INSERT INTO devices (device_id, site, online, status, first_seen_at, last_seen_at) "
            "VALUES (?, ?, 1, '{}', ?, ?) ON CONFLICT (device_id) DO UPDATE SET last_seen_at = excluded.last_seen_at")


def validated(topic: str, payload: bytes) -> tuple[str, str, Any, list[Any]]:
    """What both receivers do before storing: parse the topic and JSON, validate the batch and each punch."""
    from contract import protocol as p

    site, device, _ = p.parse_topic(topic)
    assert device is not None, "a punches topic names its device"
    batch = p.validate(p.PunchBatch, p.loads(payload))
    valid = []
    for raw in batch.punches:
        punch = p.validate(p.Punch, raw)
        if punch.device_id != device:
            raise AssertionError("the benchmark sends only punches of the topic's device")
        valid.append(punch)
    return site, device, batch, valid


def old_rows(site: str, device: str, batch: Any, valid: list[Any], now: str) -> list[tuple]:
    return [(x.id, site, device, x.employee_number, x.direction, x.method, x.score, x.punched_at, x.boot_id,
             x.monotonic_ns, x.time_source, x.original_punched_at, x.restamped_at, batch.batch, now) for x in valid]


def ack(batch: Any, valid: list[Any]) -> bytes:
    from contract import protocol as p

    return p.dumps({"batch": batch.batch, "stored": [x.id for x in valid], "rejected": []})


class ValidateOnly:
    """The floor: everything the receiver does except the database."""

    def handle(self, topic: str, payload: bytes) -> list[bytes]:
        from contract import protocol as p

        site, device, batch, valid = validated(topic, payload)
        old_rows(site, device, batch, valid, p.utc_stamp())
        return [ack(batch, valid)]


class OldRawIngest:
    """The punch path of the raw-SQL receiver (0cf3c45) on its own SQLite file or PostgreSQL database."""

    def __init__(self, target: str):
        self.conn: Any
        self.postgresql = target.startswith("postgresql://")
        if self.postgresql:
            import psycopg

            self.conn = psycopg.connect(target, autocommit=False)
        else:
            self.conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=10)
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = FULL")
            self.conn.execute("PRAGMA busy_timeout = 10000")
        with self._transaction() as cur:
            for statement in OLD_TABLES.split(";"):
                cur.execute(statement if self.postgresql else statement.replace("DOUBLE PRECISION", "REAL"))
        self.insert = self._sql(OLD_INSERT_PUNCH.format(table="punches"))
        self.seen = self._sql(OLD_SEEN)

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgresql else sql

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        cur = self.conn.cursor()
        if not self.postgresql:
            cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
            self.conn.commit() if self.postgresql else cur.execute("COMMIT")
        except BaseException:
            self.conn.rollback()
            raise
        finally:
            cur.close()

    def handle(self, topic: str, payload: bytes) -> list[bytes]:
        from contract import protocol as p

        site, device, batch, valid = validated(topic, payload)
        now = p.utc_stamp()
        with self._transaction() as cur:
            cur.executemany(self.insert, old_rows(site, device, batch, valid, now))
            cur.execute(self.seen, (device, site, now, now))
        return [ack(batch, valid)]

    def rows(self, sql: str, params: tuple = ()) -> int:
        """A count query's answer, or the number of rows a statement changed; committed."""
        with self._transaction() as cur:
            cur.execute(self._sql(sql), params)
            return int(cur.fetchone()[0]) if sql.startswith("SELECT") else cur.rowcount

    def close(self) -> None:
        self.conn.close()


# -- payloads ------------------------------------------------------------------------------------------
def punch_batches(n: int, device: str = DEVICE, start_ns: int = 0) -> list[bytes]:
    """n fresh punches as a terminal sends them (UUIDv7 ids, 500 to a batch), as JSON bytes."""
    from contract import protocol as p
    from terminal.ids import uuid7

    base = datetime.now(timezone.utc) - timedelta(hours=1)
    batches = []
    for first in range(0, n, BATCH):
        punches = []
        for i in range(first, min(n, first + BATCH)):
            punches.append({"id": uuid7(), "device_id": device, "employee_number": f"E{(i * 7919) % 10_000:05d}",
                            "direction": "in" if i % 2 else "out", "method": ("face", "card", "finger")[i % 3],
                            "score": 0.31 if i % 3 != 1 else None, "punched_at": p.utc_stamp(base + timedelta(milliseconds=37 * i)),
                            "boot_id": "boot-1", "monotonic_ns": start_ns + i * 37_000_000, "time_source": "ntp",
                            "original_punched_at": None, "restamped_at": None})
        batches.append(p.dumps({"batch": str(uuid.uuid4()), "punches": punches}))
    return batches


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- child: ingest -----------------------------------------------------------------------------------------
def child_ingest(args: argparse.Namespace) -> dict[str, Any]:
    """Every path writes under its own device id; each timed run starts from tables holding ``--standing``
    punches (its rows are counted, then deleted), so no path is measured on a bigger table than another."""
    from central.django_setup import migrate, setup

    setup(args.db)
    from django.db import connection

    migrate()
    from central.ingest.handler import Ingest
    from central.ingest.models import Punch
    from contract import protocol as p

    old = OldRawIngest(args.raw_db)
    paths: dict[str, Any] = {"validate": ValidateOnly(), "old_raw": old, "product": Ingest()}

    def topic(name: str) -> str:
        return p.device_topic(SITE, f"{DEVICE}-{name}", "punches")

    def stored_by(name: str, delete: bool = False) -> int:
        device = f"{DEVICE}-{name}"
        if name == "old_raw":
            n = old.rows("SELECT count(*) FROM punches WHERE device_id = ?", (device,))
            if delete:
                old.rows("DELETE FROM punches WHERE device_id = ?", (device,))
            return n
        if name == "validate":
            return 0
        n = Punch.objects.filter(device_id=device).count()
        if delete:
            Punch.objects.filter(device_id=device).delete()
        return n

    def run(name: str, batches: list[bytes], n: int) -> float:
        handler, where = paths[name], topic(name)
        began = time.perf_counter()
        for body in batches:
            replies = handler.handle(where, body)
            if len(replies) != 1:
                raise RuntimeError(f"{name}: a batch was not acknowledged")
        elapsed = time.perf_counter() - began
        last = json.loads(replies[0] if isinstance(replies[0], bytes) else replies[0].payload)
        if len(last["stored"]) != min(BATCH, n) or last["rejected"]:
            raise RuntimeError(f"{name}: the last ack did not store its whole batch: {last['rejected'][:2]}")
        stored = stored_by(name, delete=True)
        if name != "validate" and stored != n:
            raise RuntimeError(f"{name}: {stored} punches stored of {n} sent")
        return n / elapsed

    log(f"  {connection.vendor}: filling the punch tables with {args.standing:,} standing punches")
    for name in ("old_raw", "product"):  # the product fills the Django table; both tables get the same rows
        for body in punch_batches(args.standing, device=f"{DEVICE}-standing"):
            paths[name].handle(p.device_topic(SITE, f"{DEVICE}-standing", "punches"), body)
    for name in paths:  # warm-up: first queries, imports, the device row
        run(name, punch_batches(BATCH, device=f"{DEVICE}-{name}"), BATCH)
    rates: dict[str, list[float]] = {name: [] for name in paths}
    names = list(paths)
    for r in range(args.runs):
        for name in names[r % len(names):] + names[:r % len(names)]:  # rotate the order run by run
            rates[name].append(run(name, punch_batches(args.punches, device=f"{DEVICE}-{name}"), args.punches))
        log(f"  {connection.vendor} ingest run {r + 1}/{args.runs}: "
            + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rates.items()))
    result: dict[str, Any] = {"database": connection.vendor, "punches_per_run": args.punches, "batch": BATCH,
                              "runs": args.runs, "standing_punches": args.standing,
                              "rates": {k: summary(v) for k, v in rates.items()}}
    if args.profile or (connection.vendor == "sqlite" and result["rates"]["product"]["median"] < INGEST_AIM):
        result["profile"] = profile_ingest(paths["product"], topic("product"), f"{DEVICE}-product", args.punches)
        stored_by("product", delete=True)
    result["restamped"] = restamped_cost({k: paths[k] for k in ("old_raw", "product")}, topic)
    old.close()
    return result


def summary(values: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "values": values}


def restamped_cost(handlers: dict[str, Any], topic: Callable[[str], str], batches: int = 4) -> dict[str, dict[str, float]]:
    """Punches/s for batches whose every punch carries a re-stamp (the terminal's clock was fixed after it
    punched): sent for the first time, and re-sent after the un-stamped copies were stored. Both paths
    apply the re-stamp inside their upsert; a re-sent one must change the stored punch."""
    from contract import protocol as p

    def restamped(bodies: list[bytes]) -> list[bytes]:
        stamp, out = p.utc_stamp(), []
        for body in bodies:
            data = json.loads(body)
            for x in data["punches"]:
                x.update(original_punched_at=x["punched_at"], restamped_at=stamp, time_source="ntp")
            data["batch"] = str(uuid.uuid4())
            out.append(p.dumps(data))
        return out

    def rate(handler: Any, where: str, bodies: list[bytes]) -> float:
        began = time.perf_counter()
        for body in bodies:
            handler.handle(where, body)
        return BATCH * len(bodies) / (time.perf_counter() - began)

    result = {}
    for name, handler in handlers.items():
        where, device = topic(name), f"{DEVICE}-{name}"
        fresh = rate(handler, where, restamped(punch_batches(BATCH * batches, device=device)))
        stored = punch_batches(BATCH * batches, device=device)
        for body in stored:
            handler.handle(where, body)
        resent = rate(handler, where, restamped(stored))
        sample = json.loads(stored[-1])["punches"][-1]["id"]
        if not restamp_of(handler, sample):
            raise RuntimeError(f"{name}: a re-sent re-stamped punch did not update the stored one")
        result[name] = {"fresh_restamped_per_s": fresh, "resent_restamped_per_s": resent}
    return result


def restamp_of(handler: Any, punch_id: str) -> Any:
    if isinstance(handler, OldRawIngest):
        cur = handler.conn.cursor()
        cur.execute(handler._sql("SELECT restamped_at FROM punches WHERE id = ?"), (punch_id,))
        row = cur.fetchone()
        cur.close()
        if handler.postgresql:
            handler.conn.commit()
        return row[0] if row else None
    from central.ingest.models import Punch

    return Punch.objects.filter(id=punch_id).values_list("restamped_at", flat=True).first()


PROFILE_PARTS = [  # (label, file suffix, function name); cumulative times, parts may nest as said in the label
    ("Ingest._punches, all of it", "central/ingest/handler.py", "_punches"),
    ("  parse + validate (pydantic)", "contract/protocol.py", "validate"),
    ("  _when(): ISO text -> datetime", "central/ingest/handler.py", "_when"),
    ("  store_punches (rows and the upsert)", "central/ingest/handler.py", "store_punches"),
    ("    of which adapt_datetimefield_value", "operations.py", "adapt_datetimefield_value"),
    ("    of which the database running the upsert (executemany)", "django/db/backends/utils.py", "_executemany"),
    ("  Ingest._seen (device last_seen UPDATE)", "central/ingest/handler.py", "_seen"),
    ("  COMMIT", "django/db/backends/base/base.py", "commit"),
]


def profile_ingest(ingest: Any, topic: str, device: str, n: int) -> dict[str, Any]:
    """One run of the product path under cProfile: where the time goes."""
    batches = punch_batches(n, device=device)
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    for body in batches:
        replies = ingest.handle(topic, body)
    profiler.disable()
    if json.loads(replies[-1].payload)["rejected"]:
        raise RuntimeError("the profiled run had punches refused")
    wall = time.perf_counter() - began
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]  # {(file, line, func): (cc, nc, tottime, cumtime, callers)}
    total = sum(v[3] for k, v in stats.items() if k[0].endswith("central/ingest/handler.py") and k[2] == "handle")
    parts = []
    for label, suffix, func in PROFILE_PARTS:
        rows = [(k, v) for k, v in stats.items() if k[0].endswith(suffix) and k[2] == func]
        seconds = sum(v[3] for _, v in rows)
        calls = sum(v[1] for _, v in rows)
        parts.append({"part": label, "seconds": seconds, "share": seconds / total if total else None, "calls": calls})
    top = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:15]
    return {"punches": n, "wall_s_profiled": wall, "handle_s": total, "parts": parts,
            "top_by_own_time": [{"function": f"{Path(k[0]).name}:{k[1]}({k[2]})", "own_s": v[2], "cum_s": v[3],
                                 "calls": v[1]} for k, v in top]}


# -- child: console ----------------------------------------------------------------------------------------
SURNAMES = "王王王李李李张张张刘刘陈陈杨杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志勇海燕文博宇浩然子涵欣怡梓轩雨桐思远晨阳佳琪俊杰"
DEPARTMENTS = ["生产一部", "生产二部", "质检部", "仓储物流部", "设备维修部", "人力资源部", "财务部", "行政部"]


def seed_console(employees: int, punches: int) -> dict[str, Any]:
    from central.ingest.models import Punch
    from central.people.models import Department, Device, Employee, Site

    rnd = random.Random(20260302)
    began = time.perf_counter()
    site = Site.objects.create(code=SITE, name="苏州工厂")
    departments = [Department.objects.create(site=site, name=name) for name in DEPARTMENTS]
    doors = [f"{SITE}-door-{i}" for i in range(1, 5)]
    now = datetime.now(timezone.utc)
    for door in doors:
        Device.objects.create(device_id=door, site=site, online=True, first_seen_at=now, last_seen_at=now)
    Employee.objects.bulk_create([
        Employee(number=f"E{i:05d}", name=rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2)))),
                 site=site, department=departments[i % len(departments)], card=str(3_000_000_000 + i),
                 active=i % 23 != 0, version=i + 1)
        for i in range(employees)], batch_size=1000)
    seeded_employees = time.perf_counter() - began
    year_s = 365 * 86400
    for first in range(0, punches, 10_000):
        rows = []
        for i in range(first, min(punches, first + 10_000)):
            at = now - timedelta(seconds=rnd.randrange(year_s))
            rows.append(Punch(id=str(uuid.uuid4()), site=SITE, device_id=doors[i % 4],
                              employee_number=f"E{rnd.randrange(employees):05d}", direction="in" if i % 2 else "out",
                              method="face", score=0.3, punched_at=at, boot_id="boot-1", monotonic_ns=i,
                              time_source="ntp", batch_id="seed", received_at=at + timedelta(seconds=2)))
        Punch.objects.bulk_create(rows, batch_size=2000)
    return {"employees": employees, "departments": len(departments), "punches": punches,
            "seed_employees_s": seeded_employees, "seed_total_s": time.perf_counter() - began}


def child_console(args: argparse.Namespace) -> dict[str, Any]:
    from central.django_setup import migrate, setup

    setup(args.db)
    migrate()
    from django.db import connection
    from django.test import Client

    from central.accounts.models import User
    from central.people.models import Employee

    log(f"  {connection.vendor}: seeding {args.employees:,} employees and {args.console_punches:,} punches")
    seeded = seed_console(args.employees, args.console_punches)
    wang = Employee.objects.filter(name__contains="王").count()
    user = User.objects.create_superuser("bench-admin", email="", password=None)
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    last_page = (args.employees + 24) // 25
    htmx = {"HX-Request": "true", "HX-Target": "employee-results"}
    cases = [
        ("employees, first page", "/employees/", {}, "E00000"),
        ("employees ?q=王 (full page)", "/employees/?q=王", {}, "王"),
        ("employees ?q=王 (live search, htmx partial)", "/employees/?q=王", htmx, "王"),
        (f"employees, last page ({last_page})", f"/employees/?page={last_page}", {}, f"E{args.employees - 1:05d}"),
        ("home dashboard", "/", {}, ""),
    ]
    pages = []
    for label, path, headers, expect in cases:
        times = []
        for i in range(3 + args.requests):  # three warm-up requests, not counted
            began = time.perf_counter()
            response = client.get(path, headers=headers)
            elapsed = time.perf_counter() - began
            if response.status_code != 200 or expect not in response.content.decode():
                raise RuntimeError(f"{path}: status {response.status_code}, {expect!r} not in the page")
            if i >= 3:
                times.append(elapsed * 1000)
        pages.append({"page": label, "path": path, "htmx": bool(headers), "requests": len(times),
                      "p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95), "max_ms": max(times),
                      "kb": len(response.content) / 1024})
        log(f"  {connection.vendor} {label}: p50 {pages[-1]['p50_ms']:.1f} ms, p95 {pages[-1]['p95_ms']:.1f} ms")
    return {"database": connection.vendor, **seeded, "employees_matching_wang": wang, "pages": pages}


# -- PostgreSQL ------------------------------------------------------------------------------------------------
def pg_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None



@contextlib.contextmanager
def postgres_cluster(databases: list[str]) -> Iterator[tuple[dict[str, str] | None, str]]:
    """A throwaway cluster (fsync=off, unix socket only) with ``databases``; yields ({name: url}, note).

    Stopped and removed on exit whatever happens. Yields (None, why) when it cannot run here.
    """
    initdb, pg_ctl = pg_tool("initdb"), pg_tool("pg_ctl")
    if not initdb or not pg_ctl:
        yield None, "PostgreSQL skipped: the server is not installed (apt-get install postgresql)"
        return
    run_as: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            yield None, "PostgreSQL skipped: running as root and there is no postgres user to run the server as"
            return
        run_as = ["runuser", "-u", "postgres", "--"]
    folder = Path(tempfile.mkdtemp(prefix="seed-bench-pg-"))
    data, sock = folder / "data", folder / "sock"
    sock.mkdir()
    if run_as:
        shutil.chown(folder, "postgres")
        shutil.chown(sock, "postgres")
    started = False
    urls: dict[str, str] | None = None
    try:
        try:
            subprocess.run([*run_as, initdb, "-D", str(data), "-U", "seed", "--auth=trust", "-E", "UTF8"],
                           check=True, capture_output=True)
            port = free_port()
            subprocess.run([*run_as, pg_ctl, "-D", str(data), "-l", str(folder / "pg.log"), "-w", "-o",
                            f"-p {port} -k {sock} -c listen_addresses='' -c fsync=off", "start"], check=True,
                           capture_output=True)
            started = True
            import psycopg

            base = f"postgresql://seed@/postgres?host={sock}&port={port}"
            with psycopg.connect(base, autocommit=True) as conn:
                for name in databases:
                    conn.execute(f'CREATE DATABASE "{name}"')
                version = (conn.execute("SHOW server_version").fetchone() or ("?",))[0]
            urls = {name: base.replace("/postgres?", f"/{name}?") for name in databases}
            note = f"PostgreSQL {version}: throwaway cluster, unix socket, fsync=off"
        except subprocess.CalledProcessError as exc:
            note = f"PostgreSQL skipped: {Path(str(exc.cmd[len(run_as)])).name} failed: {exc.stderr.decode(errors='replace')[-300:]}"
        yield urls, note
    finally:
        if started:
            subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


# -- parent ------------------------------------------------------------------------------------------------------
def run_child(kind: str, db: str, args: argparse.Namespace, raw_db: str = "") -> dict[str, Any]:
    options = ["--punches", str(args.punches), "--runs", str(args.runs), "--standing", str(args.standing),
               "--employees", str(args.employees), "--console-punches", str(args.console_punches),
               "--requests", str(args.requests)]
    if raw_db:
        options += ["--raw-db", raw_db]
    if args.profile:
        options.append("--profile")
    return run_central_child("benchmarks.central", kind, db, options)


def run_central_child(module: str, kind: str, db: str, options: list[str]) -> dict[str, Any]:
    """Run ``python -m module --child kind --db db *options`` on the central's settings with ``db``, and return
    the JSON it prints after RESULT_MARK (its stderr, the progress, goes through)."""
    command = [sys.executable, "-m", module, "--child", kind, "--db", db, *options]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "central.settings", "SEED_CENTRAL_DB": db,
           "SEED_CENTRAL_SECRET_KEY": secrets.token_urlsafe(32), "SEED_CENTRAL_DEBUG": "0"}
    proc = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)  # stderr: progress
    marks = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if proc.returncode != 0 or not marks:
        raise RuntimeError(f"the {kind} child on {db.split('?')[0]} failed (exit {proc.returncode})")
    return json.loads(marks[-1][len(RESULT_MARK):])


PATH_LABELS = {"validate": "validation alone, no database (floor)",
               "old_raw": "old raw SQL executemany (0cf3c45, baseline)",
               "product": "Ingest.handle(): upsert built from the model (product)"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.central", description=__doc__.split("\n\n")[0])
    parser.add_argument("--punches", type=int, default=20_000, help="fresh punches per ingest run and path")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--standing", type=int, default=100_000,
                        help="punches already in the tables when each timed ingest run starts")
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--console-punches", type=int, default=100_000, help="a year of punches behind the console")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per console page (after 3 warm-ups)")
    parser.add_argument("--no-postgresql", action="store_true")
    parser.add_argument("--no-console", action="store_true")
    parser.add_argument("--profile", action="store_true", help="profile Ingest.handle() even when it meets its aim")
    parser.add_argument("--child", choices=("ingest", "console"), help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--raw-db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        result = child_ingest(args) if args.child == "ingest" else child_console(args)
        print(RESULT_MARK + json.dumps(result, ensure_ascii=False), flush=True)
        return 0

    ingest: dict[str, Any] = {}
    console: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="seed-bench-central-") as tmp, \
            postgres_cluster([] if args.no_postgresql else ["seed_ingest", "seed_raw", "seed_console"]) as (pg, pg_note):
        folder = Path(tmp)
        for sub in ("ingest", "console"):
            (folder / sub).mkdir()
        if args.no_postgresql:
            pg_note = "PostgreSQL skipped (--no-postgresql)"
        print(pg_note)
        targets = {"sqlite": {"ingest": str(folder / "ingest" / "central.db"), "raw": str(folder / "raw.db"),
                              "console": str(folder / "console" / "central.db")}}
        if pg:
            targets["postgresql"] = {"ingest": pg["seed_ingest"], "raw": pg["seed_raw"], "console": pg["seed_console"]}
        for name, t in targets.items():
            log(f"ingest on {name}: {args.runs} runs of {args.punches:,} punches per path")
            ingest[name] = run_child("ingest", t["ingest"], args, raw_db=t["raw"])
        if not args.no_console:
            for name, t in targets.items():
                log(f"console on {name}")
                console[name] = run_child("console", t["console"], args)

    rows = []
    for name, result in ingest.items():
        old = result["rates"]["old_raw"]["median"]
        for path, label in PATH_LABELS.items():
            s = result["rates"][path]
            rows.append({"database": name, "path": label, "median": s["median"], "min": s["min"], "max": s["max"],
                         "vs old": f"{s['median'] / old:.2f}x",
                         "aim": f">= {INGEST_AIM:,}" if path == "product" and name == "sqlite" else ""})
    print_table(f"Central ingest alone, punches/s (batches of {BATCH}, {args.punches:,} fresh punches per run and path "
                f"into a table already holding {args.standing:,}, medians of {args.runs} interleaved runs; "
                f"{os.cpu_count()} shared CPUs)", rows,
                ["database", "path", "median", "min", "max", "vs old", "aim"])
    for name, result in ingest.items():
        if "restamped" in result:
            print_table(f"Re-stamped punches on {name}, punches/s (4 batches of {BATCH}, every punch re-stamped; "
                        "one run each, indicative)",
                        [{"path": PATH_LABELS[k], "first sent": v["fresh_restamped_per_s"],
                          "re-sent over stored copies": v["resent_restamped_per_s"]} for k, v in result["restamped"].items()],
                        ["path", "first sent", "re-sent over stored copies"])
        if "profile" in result:
            prof = result["profile"]
            print_table(f"Where Ingest.handle()'s time goes on {name} (cProfile of one run of {prof['punches']:,} punches, "
                        f"{prof['handle_s']:.2f} s under the profiler; cumulative, nested parts indented)",
                        [{**x, "share": f"{x['share'] * 100:.0f}%" if x["share"] is not None else ""} for x in prof["parts"]],
                        ["part", "seconds", "share", "calls"])
            print_table("Top functions by own time", prof["top_by_own_time"], ["function", "own_s", "cum_s", "calls"])
    if console:
        crow = []
        for name, result in console.items():
            for page in result["pages"]:
                crow.append({"database": name, "page": page["page"], "p50 ms": page["p50_ms"], "p95 ms": page["p95_ms"],
                             "max ms": page["max_ms"], "requests": page["requests"], "KB": page["kb"]})
        first = next(iter(console.values()))
        print_table(f"Console through django.test.Client, superuser ({first['employees']:,} employees, "
                    f"{first['employees_matching_wang']:,} named 王, {first['punches']:,} punches over a year)", crow,
                    ["database", "page", "p50 ms", "p95 ms", "max ms", "requests", "KB"])
    sqlite_rate = ingest["sqlite"]["rates"]["product"]["median"]
    write_json("central", {"ingest": ingest, "console": console, "postgresql": pg_note,
                           "aims": {"ingest_sqlite_per_s": INGEST_AIM},
                           "met": {"ingest_sqlite": sqlite_rate >= INGEST_AIM}})
    if sqlite_rate < INGEST_AIM:
        print(f"Ingest.handle() on SQLite: {sqlite_rate:,.0f} punches/s, below the aim of {INGEST_AIM:,}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
