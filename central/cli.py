"""``seed-central``: the central server and its tools.

    seed-central migrate                          create or upgrade the central database
    seed-central serve [--bind 127.0.0.1:8000]    the web console and the API
    seed-central createadmin USER [--role ...]    a console user with a printed one-time password
    seed-central verify-audit [--format json]     check the admin audit log's hash chain
    seed-central run                              receive punches, ack, publish the roster
    seed-central punches --since 2026-03-02 [--format csv|json|table]
    seed-central devices | events | rejected
    seed-central provision DEVICE_ID [--out DIR]   key + certificate + bundle for a terminal
    seed-central broker-config [--out DIR]         mosquitto.conf + ACL for the site
    seed-central employee add|delete|list|import|photos   the central employee tables (the roster)
    seed-central command DEVICE_ID open_door       a signed command to one terminal
    seed-central attendance evaluate FILE.json     the attendance engine on one scenario, JSON out
    seed-central attendance recompute --from D --to D [--site --department --employee]
    seed-central attendance purge-evidence [--days N]   delete evidence kept past its retention now
    seed-central attendance import-punches FILE [--check]   punches from another system (XLSX/CSV, ZKTeco attlog.dat)
    seed-central report monthly --from D --to D [--site --department --employee] --format xlsx|pdf|csv --out FILE
    seed-central backup create [--to DIR] [--keep 14]   a checked copy of the database while it runs
    seed-central backup list|check FILE|restore FILE [--force]   and the terminals asked for what it lacks

Common options: ``--db`` (a SQLite path or a ``postgresql://`` URL; env SEED_CENTRAL_DB),
``--pki`` (the site's key folder; env SEED_CENTRAL_PKI) and ``--site``.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from central.ingest.service import CentralService
    from central.people.face_photos import FacePlan
    from central.people.importing import RowPlan

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seed-central", description="Seed reference central receiver")
    parser.add_argument("--db", default=os.environ.get("SEED_CENTRAL_DB", "central.db"),
                        help="SQLite file or postgresql:// URL (default: central.db, env SEED_CENTRAL_DB)")
    parser.add_argument("--pki", default=os.environ.get("SEED_CENTRAL_PKI", "pki"),
                        help="folder with the site CA and keys (default: ./pki, env SEED_CENTRAL_PKI)")
    parser.add_argument("--site", default=os.environ.get("SEED_CENTRAL_SITE", "default"), help="site name")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="create or upgrade the central database (an older one is upgraded in place)")
    serve = sub.add_parser("serve", help="the web console and API (gunicorn when installed)")
    serve.add_argument("--bind", default="127.0.0.1:8000", help="HOST:PORT (default 127.0.0.1:8000)")
    serve.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    serve.add_argument("--threads", type=int, default=4,
                       help="requests each process serves at once (default 4; a browser's idle connection holds one)")
    serve.add_argument("--dev", action="store_true", help="Django's own server instead of gunicorn")
    serve.add_argument("--tls", action="store_true",
                       help="HTTPS with a certificate from the site CA in --pki for the names in SEED_CENTRAL_HOSTS "
                            "(made, and made again when a name is added or it nears its end)")
    serve.add_argument("--certfile", help="HTTPS with this certificate (PEM, its chain after it) instead")
    serve.add_argument("--keyfile", help="the certificate's private key (PEM, readable by its owner only)")
    admin = sub.add_parser("createadmin", help="a console user with a one-time password printed once")
    admin.add_argument("username")
    admin.add_argument("--role", choices=("superuser", "hr_admin", "manager", "auditor", "employee"),
                       default="superuser")
    admin.add_argument("--site", dest="grant_sites", action="append", default=[], help="site code to grant (repeatable)")
    admin.add_argument("--department", dest="grant_departments", action="append", default=[], metavar="SITE/NAME",
                       help="department to grant, as site code / department name (repeatable; a manager needs one)")
    admin.add_argument("--employee", metavar="NUMBER", help="the employee this account belongs to (an employee's own "
                       "account needs one)")
    audit = sub.add_parser("verify-audit", help="check the admin audit log's hash chain (exit 1 when broken)")
    audit.add_argument("--format", choices=("text", "json"), default="text")

    run = sub.add_parser("run", help="receive, store and acknowledge; publish the roster")
    run.add_argument("--broker-host", default="localhost")
    run.add_argument("--broker-port", type=int, default=8883)
    run.add_argument("--shared-group", default="central", help="shared subscription group ('' for plain subscriptions)")

    punches = sub.add_parser("punches", help="punches that arrived")
    punches.add_argument("--since", help="ISO date/time (UTC when naive) or an age like 2h, 7d")
    punches.add_argument("--until", help="ISO date/time, exclusive")
    punches.add_argument("--device")
    punches.add_argument("--by", choices=("punched_at", "received_at"), default="punched_at")
    punches.add_argument("--format", choices=("table", "csv", "json"), default="table")

    for name, text in (("devices", "terminals and their last status"), ("events", "events from terminals"),
                       ("rejected", "refused messages and why")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--format", choices=("table", "json"), default="table")
        if name == "events":
            cmd.add_argument("--since")
            cmd.add_argument("--device")

    prov = sub.add_parser("provision", help="key, certificate and config bundle for a terminal")
    prov.add_argument("device_id")
    prov.add_argument("--out", default="bundles", help="bundles are written to OUT/DEVICE_ID (default ./bundles)")
    prov.add_argument("--broker-host", default="localhost", help="broker host the terminal connects to")
    prov.add_argument("--broker-port", type=int, default=8883)
    prov.add_argument("--install-dir", help="where the bundle will live on the terminal (default /etc/seed/sync)")

    broker = sub.add_parser("broker-config", help="mosquitto configuration with TLS and per-device ACLs")
    broker.add_argument("--out", default="broker", help="folder for mosquitto.conf and acl (default ./broker)")
    broker.add_argument("--port", type=int, default=8883)
    broker.add_argument("--bind", default="0.0.0.0")
    broker.add_argument("--hostname", action="append", help="broker host names for its certificate (repeatable)")
    broker.add_argument("--persistence", help="folder for mosquitto's persistence file")
    broker.add_argument("--user", help="user mosquitto runs as (it drops root privileges to this user)")

    emp = sub.add_parser("employee", help="the central employee tables")
    esub = emp.add_subparsers(dest="action", required=True)
    add = esub.add_parser("add", help="add or change an employee")
    add.add_argument("number")
    add.add_argument("name")
    add.add_argument("--department", default="")
    add.add_argument("--card")
    add.add_argument("--pin", help="PIN (stored hashed)")
    add.add_argument("--role", choices=("employee", "admin"), default="employee")
    add.add_argument("--verify-mode", default="any")
    add.add_argument("--device", action="append", default=[], help="allowed device (repeatable; none = all)")
    add.add_argument("--inactive", action="store_true")
    add.add_argument("--employee-site", help="site code of the employee (default: the first site)")
    delete = esub.add_parser("delete", help="remove an employee everywhere")
    delete.add_argument("number")
    esub.add_parser("list", help="list employees")
    imp = esub.add_parser("import", help="add or change employees from a JSON list")
    imp.add_argument("file")
    photos = esub.add_parser("photos", help="face templates from photos named by employee number (照片导入人脸): "
                                            "a .zip, a folder or one photo")
    photos.add_argument("path")
    photos.add_argument("--check", action="store_true", help="check every photo and say what would change; write nothing")
    photos.add_argument("--quiet", action="store_true", help="no progress bar")

    ros = sub.add_parser("roster", help="the roster's history: show it, or start a new one after restoring by hand")
    rsub = ros.add_subparsers(dest="action", required=True)
    rsub.add_parser("history", help="the roster's histories, the current one last (JSON)")
    newh = rsub.add_parser("new-history", help="start a new history: every terminal takes the full roster")
    newh.add_argument("--reason", default="started by an operator")

    bak = sub.add_parser("backup", help="backups of the central database and restoring one (备份与恢复)")
    bak.add_argument("--to", default=os.environ.get("SEED_CENTRAL_BACKUPS"),
                     help="the backups' folder (default: backups/ beside a SQLite file, ./backups for PostgreSQL; "
                          "env SEED_CENTRAL_BACKUPS)")
    bsub = bak.add_subparsers(dest="action", required=True)
    bmake = bsub.add_parser("create", help="a checked copy of the database, safe while the receiver runs")
    bmake.add_argument("--keep", type=int, default=14, help="backups kept in the folder, the oldest removed (0: all)")
    bsub.add_parser("list", help="the backups in the folder, newest first")
    bcheck = bsub.add_parser("check", help="check a backup is whole (its checksum and its contents)")
    bcheck.add_argument("file", help="the backup file or its .json manifest")
    brest = bsub.add_parser("restore", help="replace the database with a backup (stop run and serve first); the "
                                            "terminals are then asked for the punches it lacks")
    brest.add_argument("file", help="the backup file or its .json manifest")
    brest.add_argument("--force", action="store_true", help="replace a database that holds data (a safety backup "
                                                             "of it is made first)")

    att = sub.add_parser("attendance", help="the attendance engine: daily records from punches and shifts")
    asub = att.add_subparsers(dest="action", required=True)
    ev = asub.add_parser("evaluate", help="run the engine on one self-contained scenario (JSON) and print JSON")
    ev.add_argument("file", help="scenario file ('-' for standard input); see docs/attendance.md")
    rc = asub.add_parser("recompute", help="recompute daily records for a date range (idempotent)")
    rc.add_argument("--from", dest="first", required=True, help="first date, YYYY-MM-DD")
    rc.add_argument("--to", dest="last", required=True, help="last date, YYYY-MM-DD (inclusive)")
    rc.add_argument("--site", dest="only_site", help="site code")
    rc.add_argument("--department", help="department name")
    rc.add_argument("--employee", help="employee number")
    rc.add_argument("--quiet", action="store_true", help="no progress bar")
    ip = asub.add_parser("import-punches", help="punches from another system's file (打卡记录导入): XLSX or CSV of 工号 "
                                                "and 打卡时间, or a ZKTeco USB attlog.dat; times are the site's local time")
    ip.add_argument("file")
    ip.add_argument("--check", action="store_true", help="check every row and say what would be added; write nothing")
    ip.add_argument("--quiet", action="store_true", help="no progress bar")
    pe = asub.add_parser("purge-evidence", help="delete now the evidence of requests settled longer ago than its "
                                                "retention (seed-central run does it every hour)")
    pe.add_argument("--days", type=int, help="days evidence is kept after its request is settled (default: "
                                             "SEED_EVIDENCE_RETENTION_DAYS, 730)")

    rep = sub.add_parser("report", help="a report to an XLSX, PDF or CSV file (报表)")
    rep.add_argument("name", help="monthly, daily, summary, exceptions, punches, payroll or leave")
    rep.add_argument("--from", dest="first", required=True, help="first date, YYYY-MM-DD")
    rep.add_argument("--to", dest="last", required=True, help="last date, YYYY-MM-DD (inclusive)")
    rep.add_argument("--site", dest="only_site", default="", help="site code")
    rep.add_argument("--department", default="", help="department name")
    rep.add_argument("--employee", default="", help="employee number")
    rep.add_argument("--format", dest="fmt", choices=("xlsx", "pdf", "csv"), default="xlsx")
    rep.add_argument("--out", help="file to write (default: the report's own name in the current folder)")
    rep.add_argument("--user", help="make it within this console user's scope (default: everything)")
    rep.add_argument("--quiet", action="store_true", help="no progress bar")

    command = sub.add_parser("command", help="send a signed command to one terminal")
    command.add_argument("device_id")
    command.add_argument("cmd", choices=("open_door", "resync", "purge_employee", "set_setting"))
    command.add_argument("--arg", action="append", default=[], help="KEY=VALUE (VALUE parsed as JSON when it can be)")
    command.add_argument("--broker-host", default="localhost")
    command.add_argument("--broker-port", type=int, default=8883)
    command.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the result")
    return parser


def _print_rows(rows: list[dict], fmt: str, out=None) -> None:
    """Rows as JSON, CSV or a table; a CSV text cell that a spreadsheet would run as a formula is escaped (contract.cells)."""
    from contract.cells import escape_cell

    out = out or sys.stdout
    if fmt == "json":
        json.dump(rows, out, ensure_ascii=False, indent=2, default=str)
        out.write("\n")
        return
    if fmt == "csv":
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            for row in rows:
                writer.writerow({k: escape_cell(json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v)
                                 for k, v in row.items()})
        return
    if not rows:
        out.write("(none)\n")
        return
    cols = list(rows[0])
    text = [[("" if r[c] is None else json.dumps(r[c], ensure_ascii=False) if isinstance(r[c], (dict, list))
              else str(r[c]))[:60] for c in cols] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(cols)]
    out.write("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)) + "\n")
    for t in text:
        out.write("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)) + "\n")


def _progress_bar(label: str, unit: str, *, quiet: bool = False) -> Callable[[int, int], None]:
    """A progress callback ``(done, total)`` drawing one line on standard error (nothing when ``quiet``)."""
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        if quiet or not total:
            return
        width = 30
        filled = width * done // total
        rate = done / max(time.monotonic() - started, 1e-6)
        print(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {unit} ({rate:.0f}/s)",
              end="" if done < total else "\n", file=sys.stderr, flush=True)

    return progress


def _django(args: argparse.Namespace) -> None:
    """Start Django on ``--db`` and bring the schema up to date, so every command works on a new or an older database."""
    from central.django_setup import migrate, setup

    setup(args.db)
    migrate()


def _arg_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def cmd_run(args: argparse.Namespace) -> int:
    _django(args)
    from central.dburl import redact
    from central.ingest.service import CentralService, CentralSettings

    settings = CentralSettings.from_pki(args.pki, broker_host=args.broker_host,
                                        broker_port=args.broker_port, shared_group=args.shared_group or None)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with CentralService(settings) as service:
        logging.getLogger("seed-central").warning("seed-central running (broker %s:%s, db %s)",
                                                  args.broker_host, args.broker_port, redact(args.db))
        return _serve_systemd(service, stop)


def _serve_systemd(service: CentralService, stop: threading.Event) -> int:
    """Until ``stop``: tell systemd the receiver is ready, feed its watchdog (``WatchdogSec=``) only while
    :meth:`CentralService.health` finds nothing wrong, and keep ``systemctl status`` saying whether the broker is
    reached. Without systemd the same checks run and their findings are logged. A receiver whose own thread has
    ended cannot recover: the command ends with exit 1, so that systemd restarts it (``Restart=on-failure``)."""
    from terminal.service_notify import notify, watchdog_interval_s

    log = logging.getLogger("seed-central")
    interval = watchdog_interval_s() or 5.0
    notify(f"READY=1\nSTATUS={service.status_line()}")
    reported: list[str] = []
    while not stop.wait(interval):
        problems = service.health()
        if problems != reported:
            if problems:
                log.error("不再喂看门狗 the watchdog is no longer fed: %s", "; ".join(problems))
            else:
                log.warning("接收器已恢复 the receiver works again")
            reported = problems
        if not problems:
            notify(f"WATCHDOG=1\nSTATUS={service.status_line()}")
            continue
        notify(f"STATUS={'; '.join(problems)}")
        if service.thread_ended():
            notify("STOPPING=1")
            return EXIT_FAILURE
    notify("STOPPING=1")
    return EXIT_OK


def cmd_punches(args: argparse.Namespace) -> int:
    _django(args)
    from central.ingest.selectors import parse_since, punches

    try:
        since = parse_since(args.since) if args.since else None
        until = parse_since(args.until) if args.until else None
    except ValueError as exc:
        print(f"seed-central punches: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _print_rows(punches(since, until, args.device, by=args.by), args.format)
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    _django(args)
    from central.ingest import selectors

    if args.command == "devices":
        rows = selectors.devices()
        if args.format == "table":
            rows = [{"device": r["device_id"], "site": r["site"], "online": r["online"], "punches": r["punches"],
                     "queue": r["status"].get("queue_depth"), "clock_offset_s": r["status"].get("clock_offset_s"),
                     "roster": r["roster_version"], "last_seen_at": r["last_seen_at"]} for r in rows]
    elif args.command == "events":
        try:
            since = selectors.parse_since(args.since) if args.since else None
        except ValueError as exc:
            print(f"seed-central events: {exc}", file=sys.stderr)
            return EXIT_USAGE
        rows = selectors.events(since, args.device)
    else:
        rows = selectors.rejected()
    _print_rows(rows, args.format)
    return EXIT_OK


def cmd_provision(args: argparse.Namespace) -> int:
    from central.pki import PkiError, SitePki
    from central.provision import provision_device

    try:
        bundle = provision_device(SitePki(args.pki, args.site), args.device_id, args.out,
                                  broker_host=args.broker_host, broker_port=args.broker_port,
                                  install_dir=args.install_dir)
    except PkiError as exc:
        print(f"seed-central provision: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"provisioned {bundle.device_id} (site {bundle.site}): {bundle.folder}")
    for path in bundle.files():
        print(f"  {path.name}")
    print("Re-run `seed-central broker-config` and reload the broker (SIGHUP) so its ACL knows the terminal.")
    return EXIT_OK


def cmd_broker_config(args: argparse.Namespace) -> int:
    from central.broker import write_broker_config
    from central.pki import SitePki

    files = write_broker_config(SitePki(args.pki, args.site), args.out, port=args.port, bind=args.bind,
                                hostnames=tuple(args.hostname or ("localhost", "127.0.0.1")),
                                persistence_dir=Path(args.persistence) if args.persistence else None,
                                run_as_user=args.user)
    print(f"wrote {files.config} and {files.acl}; start with: mosquitto -c {files.config}")
    return EXIT_OK


def _employee_photos(args: argparse.Namespace, actor: str) -> int:
    """``seed-central employee photos PATH``: thin over :mod:`central.people.face_photos`, without the console's limit
    on how many photos at once."""
    from central.people import face_photos
    from central.people.importing import ImportFileError

    path = Path(args.path)
    try:
        found = face_photos.read_folder(path) if path.is_dir() else face_photos.read_upload(
            path.name, path.read_bytes(), limited=False)
    except (ImportFileError, OSError) as exc:
        print(f"seed-central employee photos: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with face_photos.shared_enroller() as enroller:
        described = face_photos.describe(found, enroller, _progress_bar("检查照片 checking photos", "photos",
                                                                         quiet=args.quiet))
    if args.check:
        checked = face_photos.plan(None, described, found.ignored)
        _print_photo_plan(checked)
        return EXIT_OK if checked.ok else EXIT_FAILURE
    try:
        done = face_photos.apply(None, described, source=str(path), actor=actor)
    except face_photos.FacesRefused as exc:
        _print_photo_plan(exc.plan)
        print(f"seed-central employee photos: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    _print_photo_plan(done.plan)
    print(f"人脸已导入 faces imported: {len(done.employees)} employees, {done.templates} templates; roster version "
          f"{done.version}")
    return EXIT_OK


def _print_photo_plan(checked: FacePlan) -> None:
    """Each photo not used and each employee refused, then the counts."""
    from central.people import face_photos

    for row in checked.photos:
        if row.state in (face_photos.SKIPPED, face_photos.ERROR):
            print(f"{row.line}\t{row.file}\t{row.number or '—'}\t{row.message}")
    for group in checked.employees:
        for message in group.errors:
            print(f"{group.number}\t{message}")
    counts = checked.counts
    print(f"可导入 {counts['employees']} 名员工、{counts['templates']} 个人脸模板，不可用的照片 {counts['skipped']} 张，错误 "
          f"{counts['refused']} 处 / {counts['employees']} employees with {counts['templates']} face templates, "
          f"{counts['skipped']} photos not usable, {counts['refused']} problems")


def cmd_employee(args: argparse.Namespace) -> int:
    _django(args)
    from central.accounts import audit
    from central.people import roster

    actor = f"cli:{os.environ.get('USER', 'root')}"
    if args.action == "photos":
        return _employee_photos(args, actor)
    try:
        if args.action == "list":
            rows = [{k: v for k, v in e.items() if k not in ("faces", "fingers", "pin_hash")} |
                    {"faces": len(e["faces"] or ()), "fingers": len(e["fingers"] or ())} for e in roster.list_employees()]
            _print_rows(rows, "table")
            return EXIT_OK
        if args.action == "delete":
            version = roster.delete_employee(args.number, actor=actor)
            audit.record(actor, "employee.delete", args.number)
        elif args.action == "import":
            data = json.loads(Path(args.file).read_text(encoding="utf-8"))
            if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
                raise roster.RosterError(f"{args.file}: expected a JSON list of employee objects")
            version = roster.upsert_employees(data, actor=actor)
            audit.record(actor, "employee.import", args.file, {"employees": len(data), "roster_version": version})
        else:
            pin_hash = None
            if args.pin:
                from contract.pins import PinFormatError, hash_pin

                try:
                    pin_hash = hash_pin(args.pin)
                except PinFormatError as exc:
                    raise roster.RosterError(f"pin: {exc}") from None
            record = {"number": args.number, "name": args.name, "department": args.department, "card": args.card,
                      "pin_hash": pin_hash, "role": args.role, "verify_mode": args.verify_mode,
                      "allowed_devices": args.device, "active": not args.inactive}
            if args.employee_site:
                record["site"] = args.employee_site
            version = roster.upsert_employee(record, actor=actor)
            audit.record(actor, "employee.save", args.number, {"roster_version": version})
    except (roster.RosterError, ValueError, OSError) as exc:
        print(f"seed-central employee {args.action}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"roster version {version}")
    return EXIT_OK


def cmd_roster(args: argparse.Namespace) -> int:
    """Show the roster's histories, or start a new one (for a database restored or replaced by hand)."""
    _django(args)
    from central.accounts import audit
    from central.people import roster

    if args.action == "new-history":
        history = roster.rotate_history(args.reason)
        audit.record(f"cli:{os.environ.get('USER', 'root')}", "roster.new_history", history, {"reason": args.reason})
        print(json.dumps(roster.histories()[-1], ensure_ascii=False))
        return EXIT_OK
    roster.current_history()
    print(json.dumps(roster.histories(), ensure_ascii=False, indent=2))
    return EXIT_OK


def cmd_command(args: argparse.Namespace) -> int:
    from central.ingest.commands import send_command_once

    cmd_args = {}
    for item in args.arg:
        if "=" not in item:
            print(f"seed-central command: --arg {item!r} is not KEY=VALUE", file=sys.stderr)
            return EXIT_USAGE
        key, value = item.split("=", 1)
        cmd_args[key] = _arg_value(value)
    _django(args)
    from central.accounts import audit

    actor = f"cli:{os.environ.get('USER', 'root')}"
    result = send_command_once(args.pki, args.site, args.device_id, args.cmd, cmd_args, broker_host=args.broker_host,
                               broker_port=args.broker_port, wait_s=args.wait, actor=actor)
    audit.record(actor, f"command.{args.cmd}", args.device_id, {"id": result.get("id"), "ok": result.get("ok")})
    print(json.dumps(result, ensure_ascii=False))
    return EXIT_OK if result.get("ok") else EXIT_FAILURE


def cmd_attendance(args: argparse.Namespace) -> int:
    if args.action == "evaluate":
        from central.attendance.evaluate import ScenarioError, evaluate_text

        try:
            text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
            output = evaluate_text(text)
        except (OSError, UnicodeDecodeError) as exc:
            print(f"seed-central attendance evaluate: 读不了文件 cannot read {args.file}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except ScenarioError as exc:
            print(f"seed-central attendance evaluate: 场景有误 bad scenario: {exc}", file=sys.stderr)
            return EXIT_USAGE
        json.dump(output, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return EXIT_OK
    if args.action == "purge-evidence":
        return _purge_evidence(args)
    if args.action == "import-punches":
        return _import_punches(args)
    return _attendance_recompute(args)


def _import_punches(args: argparse.Namespace) -> int:
    """``seed-central attendance import-punches FILE``: thin over :mod:`central.attendance.punch_import`, without the
    console's limit on rows."""
    name = "seed-central attendance import-punches"
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"{name}: 读不了文件 cannot read {args.file}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _django(args)
    from central.attendance import punch_import
    from central.attendance.models import RecomputeJob
    from central.people.importing import ERROR, SAME, ImportFileError

    try:
        table = punch_import.read(Path(args.file).name, data, max_rows=punch_import.MAX_ROWS)
    except ImportFileError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    actor = f"cli:{os.environ.get('USER', 'root')}"
    try:
        if args.check:
            checked = punch_import.plan(None, table)
        else:
            done = punch_import.apply(None, table, source=str(args.file), actor=actor,
                                      progress=_progress_bar("写入打卡 writing punches", "punches", quiet=args.quiet))
            checked = done.plan
    except punch_import.PunchesRefused as exc:
        checked = exc.plan
        _print_refused_rows(checked.rows)
        print(f"{name}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    _print_refused_rows(checked.rows)
    added, same, wrong = len(checked.punches), checked.count(SAME), checked.count(ERROR)
    verb = "可导入 would add" if args.check else "已导入 imported"
    print(f"{verb} {added} 条打卡 punches of {len(checked.employees)} 名员工 employees；已有或重复 already there or "
          f"repeated: {same}；有错误的行 rows wrong: {wrong}")
    if not args.check and isinstance(done.recomputed, RecomputeJob):
        print(f"考勤记录在后台重算（任务 {done.recomputed.pk}）/ the records are being recomputed in the background "
              f"(job {done.recomputed.pk}): seed-central run works through it")
    return EXIT_FAILURE if wrong else EXIT_OK


def _print_refused_rows(rows: Sequence[RowPlan]) -> None:
    for row in rows:
        for _column, message in row.errors:
            print(f"第 {row.line} 行 row {row.line}\t{row.number or '—'}\t{message}")


def _purge_evidence(args: argparse.Namespace) -> int:
    _django(args)
    from django.conf import settings
    from django.utils import timezone

    from central.attendance.evidence import purge_expired

    days = settings.EVIDENCE_RETENTION_DAYS if args.days is None else args.days
    if days < 1:
        print("seed-central attendance purge-evidence: 保留天数应至少为 1（0 表示一直保留，不删除）/ --days is 1 or more "
              "(a retention of 0 keeps evidence: nothing to delete)", file=sys.stderr)
        return EXIT_USAGE
    purged = purge_expired(timezone.now(), days, actor="cli")
    print(f"已删除 {purged} 份处理已满 {days} 天的请求的证明 / {purged} evidence file(s) of requests settled {days} days "
          f"or more ago deleted")
    return EXIT_OK


def _attendance_recompute(args: argparse.Namespace) -> int:
    import datetime as dt

    try:
        first, last = dt.date.fromisoformat(args.first), dt.date.fromisoformat(args.last)
    except ValueError:
        print("seed-central attendance recompute: 日期应为 YYYY-MM-DD / dates look like YYYY-MM-DD", file=sys.stderr)
        return EXIT_USAGE
    if last < first or (last - first).days > 366:
        print("seed-central attendance recompute: 日期范围应在一年内且不倒置 / --to must follow --from, "
              "at most a year", file=sys.stderr)
        return EXIT_USAGE
    _django(args)
    from central.accounts.scope import narrowed
    from central.attendance.services import recompute
    from central.people.models import Employee

    employees = narrowed(Employee.objects.all(), args.only_site, args.department, args.employee)
    if not employees.exists():
        print("seed-central attendance recompute: 没有符合条件的员工 / no employee matches", file=sys.stderr)
        return EXIT_USAGE
    started = time.monotonic()
    progress = _progress_bar("重算 recomputing", "employees", quiet=args.quiet)
    actor = f"cli:{os.environ.get('USER', 'root')}"
    outcome = recompute(first, last, employees=employees, progress=progress, actor=actor)
    print(f"考勤已重算 attendance recomputed {first}..{last}: {outcome.employees} employees, "
          f"{outcome.written} records written, {outcome.deleted} removed, "
          f"{len(outcome.changed_final)} final records changed, {time.monotonic() - started:.1f} s")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Build a report and write it to a file: whole or not at all (a temporary file renamed into place)."""
    import datetime as dt
    import tempfile

    try:
        first, last = dt.date.fromisoformat(args.first), dt.date.fromisoformat(args.last)
    except ValueError:
        print("seed-central report: 日期应为 YYYY-MM-DD / dates look like YYYY-MM-DD", file=sys.stderr)
        return EXIT_USAGE
    _django(args)
    from central.accounts.models import User
    from central.reports import registry

    if args.user:
        user = User.objects.filter(username=args.user, is_active=True).first()
        if user is None:
            print(f"seed-central report: 没有这个用户 / no active console user {args.user!r}", file=sys.stderr)
            return EXIT_USAGE
    else:
        user = User(username="cli", is_superuser=True)  # the server's operator: everything, as the database holds it
    params = registry.ReportParams(first, last, site=args.only_site, department=args.department, employee=args.employee)
    started = time.monotonic()
    try:
        report = registry.build(args.name, user, params, progress=_progress_bar("汇总 building", "rows", quiet=args.quiet))
    except registry.ReportError as exc:
        print(f"seed-central report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out or report.filename(args.fmt))
    rows = sum(len(part.rows) for part in report.parts)
    tmp_name = ""
    try:
        with tempfile.NamedTemporaryFile("wb", dir=out.parent if str(out.parent) else ".", prefix=f".{out.name}.",
                                         delete=False) as tmp:
            tmp_name = tmp.name
            registry.render(report, args.fmt, tmp, progress=_progress_bar("写出 writing", "rows", quiet=args.quiet))
        os.replace(tmp_name, out)
    except OSError as exc:
        if tmp_name:
            Path(tmp_name).unlink(missing_ok=True)
        print(f"seed-central report: 写不了文件 cannot write {out}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"{report.title}: {out} ({rows} 行 rows, {out.stat().st_size} bytes, {time.monotonic() - started:.1f} s)")
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    """Backups: made while the central runs; restored with it stopped, then the terminals asked for what is lost."""
    from central.django_setup import migrate, setup

    setup(args.db)  # the models' tables, for the counts; nothing connects before the restore has run
    from central import backup as b

    folder = Path(args.to).expanduser().resolve() if args.to else b.configured_folder(args.db)
    started = time.monotonic()
    try:
        if args.action == "create":
            if args.keep < 0:
                print("seed-central backup: --keep 不能为负 must be 0 or more", file=sys.stderr)
                return EXIT_USAGE
            made = b.make_backup(args.db, folder, keep=args.keep)
            print(f"备份 backup: {made.path} ({_size(made.manifest['bytes'])}, {time.monotonic() - started:.1f} s)")
            print(f"  {_counted(made.manifest)}")
        elif args.action == "list":
            found = b.list_backups(folder)
            if not found:
                print(f"{folder}: 没有备份 no backups")
            for one in found:
                label = f" [{one.manifest['label']}]" if one.manifest.get("label") else ""
                print(f"{one.manifest['made_at']}  {one.path.name}{label}  {_size(one.manifest['bytes'])}  "
                      f"{_counted(one.manifest)}")
        elif args.action == "check":
            checked = b.check_backup(Path(args.file))
            print(f"备份完好 backup intact: {checked.path} ({checked.manifest['made_at']}; {_counted(checked.manifest)})")
        else:
            return _restore(args, folder, migrate)
    except (b.BackupError, OSError) as exc:
        print(f"seed-central backup {args.action}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _restore(args: argparse.Namespace, folder: Path, migrate: Callable[[], None]) -> int:
    from central import backup as b
    from central import recovery

    restored, safety = b.restore_backup(Path(args.file), args.db, folder, force=args.force)
    if safety:
        print(f"原数据库已另存 the database as it was: {safety.path}")
    migrate()  # a backup made before an upgrade is brought up to this version
    asked = recovery.after_restore(restored.path.name, restored.manifest["made_at"],
                                   f"cli:{os.environ.get('USER', 'root')}")
    print(f"已恢复 restored {restored.path.name} (备份于 made {restored.manifest['made_at']}): {_counted(restored.manifest)}")
    print("名册已开始新历史，各终端将重新下载完整名册 / a new roster history: every terminal takes the full roster")
    for one in asked:
        since = one.since.isoformat(timespec="seconds") if one.since else "全部 everything it keeps"
        print(f"  终端 terminal {one.device_id}: 补传打卡自 resends punches since {since}")
    print(f"备份之后在控制台所做的更改不在其中，请核对 / changes made in the console after {restored.manifest['made_at']} "
          "are not in it: check them")
    return EXIT_OK


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _counted(manifest: dict) -> str:
    counts = manifest.get("counts", {})
    labels = (("punches", "打卡 punches"), ("employees", "员工 employees"), ("devices", "终端 terminals"),
              ("daily_records", "日记录 daily records"), ("audit_entries", "审计 audit entries"))
    parts = [f"{label} {counts[key]:,}" for key, label in labels if counts.get(key) is not None]
    newest = manifest.get("newest_punch_received_at")
    return " · ".join(parts) + (f" · 最新打卡 newest punch {newest}" if newest else "")


def cmd_migrate(args: argparse.Namespace) -> int:
    from central.django_setup import migrate, setup

    setup(args.db)
    migrate(verbosity=1)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    if bool(args.certfile) != bool(args.keyfile) or (args.tls and args.certfile) or (args.dev and (
            args.tls or args.certfile)):
        print("seed-central serve: 用 --tls，或同时用 --certfile 与 --keyfile（--dev 不支持 HTTPS） / use --tls, or "
              "--certfile with --keyfile (not with --dev)", file=sys.stderr)
        return EXIT_USAGE
    _django(args)
    from django.conf import settings

    from central.console.serve import certificate_names, serve

    tls: tuple[Path, Path] | None = None
    if args.tls:
        from central.pki import PkiError, SitePki

        try:
            issued = SitePki(args.pki, args.site).console_cert(certificate_names(args.bind, settings.ALLOWED_HOSTS))
        except (PkiError, FileNotFoundError) as exc:
            print(f"seed-central serve: 没有站点 CA / no site CA in {args.pki}: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        tls = (issued.cert_path, issued.key_path)
    elif args.certfile:
        tls = (Path(args.certfile), Path(args.keyfile))
        for path in tls:
            if not path.is_file():
                print(f"seed-central serve: 找不到文件 not found: {path}", file=sys.stderr)
                return EXIT_USAGE
    return serve(args.bind, workers=args.workers, threads=args.threads, dev=args.dev, tls=tls)


def cmd_createadmin(args: argparse.Namespace) -> int:
    _django(args)
    from central.accounts.services import AccountError, create_user_with_one_time_password
    from central.people.models import Department

    try:
        departments = []
        for spec in args.grant_departments:
            code, _, name = spec.partition("/")
            found = Department.objects.filter(site__code=code.strip(), name=name.strip()).first()
            if found is None:
                raise AccountError(f"没有部门 {spec} / no department {spec} (give it as site code/department name)")
            departments.append(found.pk)
        password = create_user_with_one_time_password(args.username, role=args.role, site_codes=args.grant_sites,
                                                      department_ids=departments, employee_number=args.employee,
                                                      actor=f"cli:{os.environ.get('USER', 'root')}")
    except AccountError as exc:
        print(f"seed-central createadmin: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"用户 user {args.username} ({args.role})")
    print(f"一次性密码 one-time password: {password}")
    print("首次登录后请修改密码 / Change it after the first login.")
    return EXIT_OK


def cmd_verify_audit(args: argparse.Namespace) -> int:
    _django(args)
    from central.accounts.audit import verify

    check = verify()
    if args.format == "json":
        print(json.dumps(check.as_dict(), ensure_ascii=False))
    elif check.intact:
        print(f"审计日志完整 audit log intact: {check.entries} entries")
    else:
        print(f"审计日志被改动 audit log BROKEN at entry {check.first_broken}: {check.reason}")
    return EXIT_OK if check.intact else EXIT_FAILURE


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose or args.command == "run" else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers = {"run": cmd_run, "punches": cmd_punches, "devices": cmd_list, "events": cmd_list, "rejected": cmd_list,
                "provision": cmd_provision, "broker-config": cmd_broker_config, "employee": cmd_employee,
                "command": cmd_command, "migrate": cmd_migrate, "serve": cmd_serve, "createadmin": cmd_createadmin,
                "verify-audit": cmd_verify_audit, "attendance": cmd_attendance, "report": cmd_report,
                "roster": cmd_roster, "backup": cmd_backup}
    from django.db.utils import DatabaseError

    from central.dburl import DatabaseURLError, redact
    from contract.keyfiles import KeyFileError

    try:
        return handlers[args.command](args)
    except DatabaseURLError as exc:
        print(f"seed-central: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyFileError as exc:  # a private key others can read: refused, never used
        print(f"seed-central: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except DatabaseError as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        print(f"seed-central: cannot use the database {redact(args.db)}: {first}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
