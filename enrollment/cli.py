"""``seed-enroll``: manage employees on a terminal from the shell.

A thin layer over :mod:`terminal.store.employees`; face and fingerprint commands are
registered by their own modules (``enrollment.face_cli``, ``enrollment.fingerprint_cli``).
"""
from __future__ import annotations

import argparse
import csv
import importlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from contract.cells import escape_mapping
from contract.stamps import utc_stamp
from terminal.config import DEFAULT_CONFIG_PATH, ConfigError, TerminalConfig, load_config
from terminal.i18n import display_width, pad_display

if TYPE_CHECKING:
    from terminal.store.database import Store

log = logging.getLogger("seed-enroll")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
PLUGIN_MODULES = ("enrollment.face_cli", "enrollment.fingerprint_cli")


def open_configured_store(args: argparse.Namespace):
    from terminal.store.database import open_store

    config = load_config(args.config)
    if getattr(args, "data_dir", None):
        config.storage.data_dir = Path(args.data_dir)
    return config, open_store(config.storage)


def print_table(rows: Sequence[dict], columns: Sequence[str], out=None) -> None:
    out = out or sys.stdout
    if not rows:
        print("(none)", file=out)
        return
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(display_width(c), *(display_width(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(pad_display(c, widths[i]) for i, c in enumerate(columns)).rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in cells:
        print("  ".join(pad_display(v, widths[i]) for i, v in enumerate(row)).rstrip(), file=out)


def parse_since(text: str) -> datetime:
    """'2026-03-01', '2026-03-01T08:00', '24h', '7d' or 'today' (UTC)."""
    now = datetime.now(timezone.utc)
    text = text.strip()
    if text == "today":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if text[:-1].isdigit() and text[-1] in "hdm":
        amount = int(text[:-1])
        return now - {"h": timedelta(hours=amount), "d": timedelta(days=amount), "m": timedelta(minutes=amount)}[text[-1]]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (use 2026-03-01, 2026-03-01T08:00, 24h, 7d or today)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# -- commands ---------------------------------------------------------------------------------
def cmd_add(args: argparse.Namespace) -> int:
    from terminal.store.employees import add_employee

    config, store = open_configured_store(args)
    with store:
        employee = add_employee(store, number=args.number, name=args.name, department=args.department or "",
                                card=args.card, pin=args.pin, role=args.role, verify_mode=args.mode,
                                allowed_devices=args.device or [], actor=args.actor)
    print(f"added employee {employee['number']} ({employee['name']})")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from terminal.store.employees import list_employees

    _, store = open_configured_store(args)
    with store:
        rows = list_employees(store, search=args.search)
        faces = {r["employee_id"]: r["n"] for r in store.query(
            "SELECT employee_id, count(*) AS n FROM face_templates GROUP BY employee_id")}
        fingers = {r["employee_id"]: r["n"] for r in store.query(
            "SELECT employee_id, count(*) AS n FROM finger_templates GROUP BY employee_id")}
    for row in rows:
        row["faces"] = faces.get(row["id"], 0)
        row["fingers"] = fingers.get(row["id"], 0)
        row["pin"] = "yes" if row["has_pin"] else ""
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print_table(rows, ["number", "name", "department", "role", "verify_mode", "card", "pin", "faces", "fingers"])
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from terminal.store.employees import require_employee

    _, store = open_configured_store(args)
    with store:
        employee = require_employee(store, args.number)
        employee["face_templates"] = store.query_one(
            "SELECT count(*) AS n FROM face_templates WHERE employee_id = ?", (employee["id"],))["n"]
        employee["fingers"] = [r["finger"] for r in store.query(
            "SELECT finger FROM finger_templates WHERE employee_id = ? ORDER BY finger", (employee["id"],))]
        employee["last_punches"] = store.query(
            "SELECT punched_at, direction, method FROM punches WHERE employee_id = ? ORDER BY punched_at DESC LIMIT 5",
            (employee["id"],))
    if args.json:
        print(json.dumps(employee, ensure_ascii=False, indent=2))
    else:
        for key, value in employee.items():
            print(f"{key:16} {value}")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    from terminal.store.employees import delete_employee, require_employee

    config, store = open_configured_store(args)
    with store:
        employee = require_employee(store, args.number)
        if not args.yes:
            answer = input(f"delete employee {employee['number']} ({employee['name']}) and all their templates? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing deleted")
                return EXIT_FAILURE
        deleted = delete_employee(store, args.number, actor=args.actor)
        for hook in DELETE_HOOKS:
            hook(config, store, deleted)
    print(f"deleted employee {deleted['number']}; templates purged")
    return EXIT_OK


def cmd_punches(args: argparse.Namespace) -> int:
    _, store = open_configured_store(args)
    since = utc_stamp(args.since)
    with store:
        rows = store.query(
            "SELECT p.punched_at, p.employee_number, e.name, p.direction, p.method, p.score, p.time_source, p.id, "
            "CASE WHEN o.id IS NULL THEN 'sent' ELSE 'queued' END AS sync "
            "FROM punches p LEFT JOIN employees e ON e.id = p.employee_id "
            "LEFT JOIN outbox o ON o.ref_id = p.id WHERE p.punched_at >= ? ORDER BY p.punched_at, p.id",
            (since,))
    columns = ["punched_at", "employee_number", "name", "direction", "method", "score", "time_source", "sync", "id"]
    if args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(escape_mapping(row) for row in rows)
    elif args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print_table(rows, columns[:-1])
        print(f"{len(rows)} punches since {since}")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from enrollment.roster_io import RosterFileError, import_roster

    _, store = open_configured_store(args)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() or args.verbose:
            print(f"\rimporting {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    # Photos are kept as thumbnails; faces are enrolled from photos with seed-enroll face-add (quality-gated shots).
    with store:
        try:
            report = import_roster(store, args.file, photo_dir=args.photos, update=args.update, skip_bad=args.skip_bad,
                                   dry_run=args.dry_run, actor=args.actor, encoding=args.encoding, progress=progress)
        except RosterFileError as exc:
            print(f"seed-enroll: nothing imported: {exc}", file=sys.stderr)
            return EXIT_USAGE
    for problem in report.problems:
        print(f"  {problem}", file=sys.stderr)
    bad_rows = len({problem.row for problem in report.problems})
    written = report.added + report.updated
    found = f"{len(report.problems)} problem(s) in {bad_rows} of {report.rows} rows"
    if args.dry_run:
        print(f"checked {report.rows} rows: {found if report.problems else 'no problems'}; nothing written (dry run)")
        return EXIT_OK if not report.problems else EXIT_USAGE
    if written == 0:
        reason = f"{found} (fix them, or use --skip-bad to import the good rows)" if report.problems else "no rows"
        print(f"nothing imported: {reason}")
        return EXIT_USAGE if report.problems else EXIT_OK
    print(f"imported {written}{f' of {report.rows}' if written < report.rows else ''} rows: {report.added} added, "
          f"{report.updated} updated, {report.photos} photos, {report.faces_enrolled} face templates"
          + (f"; {bad_rows} bad row(s) skipped" if bad_rows else ""))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from enrollment.roster_io import export_roster

    _, store = open_configured_store(args)
    with store:
        count = export_roster(store, args.file, photo_dir=args.photos)
    print(f"exported {count} employees to {args.file}")
    return EXIT_OK


# Called after an employee is deleted (config, store, deleted_employee): the fingerprint module
# registers one that clears the employee's positions on the sensor.
DELETE_HOOKS: list[Callable[[TerminalConfig, Store, dict], None]] = []


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seed-enroll", description="Manage employees on a Seed terminal.")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG_PATH), help="terminal configuration (default %(default)s)")
    parser.add_argument("--data-dir", help="override storage.data_dir")
    parser.add_argument("--actor", default="cli", help="who is acting, for the audit log (default %(default)s)")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(dest="command", required=True)

    add = sub.add_parser("add", help="add an employee")
    add.add_argument("number", help="employee number (unique)")
    add.add_argument("name", help="full name")
    add.add_argument("--department", help="department")
    add.add_argument("--card", help="card number as the reader presents it (decimal, hex, Wiegand)")
    add.add_argument("--pin", help="PIN, 4-8 digits (stored as a salted hash)")
    add.add_argument("--role", choices=["employee", "admin"], default="employee")
    add.add_argument("--mode", default="any", help="verification mode: any, face, finger, card, pin, card+pin, ...")
    add.add_argument("--device", action="append", help="allowed device id (repeat; default: every device)")
    add.set_defaults(func=cmd_add)

    lst = sub.add_parser("list", help="list employees")
    lst.add_argument("--search", help="part of a number or name")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)

    show = sub.add_parser("show", help="show one employee")
    show.add_argument("number")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)

    delete = sub.add_parser("delete", help="delete an employee and purge their templates everywhere")
    delete.add_argument("number")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(func=cmd_delete)

    punches = sub.add_parser("punches", help="print the punches recorded on this terminal")
    punches.add_argument("--since", type=parse_since, default=parse_since("today"),
                         help="2026-03-01, 2026-03-01T08:00, 24h, 7d or today (default)")
    punches.add_argument("--format", choices=["table", "csv", "json"], default="table")
    punches.set_defaults(func=cmd_punches)

    imp = sub.add_parser("import", help="import employees from an XLSX or CSV roster (all rows checked first)")
    imp.add_argument("file", type=Path, help="roster .xlsx or .csv (columns: " + ", ".join(
        ("number", "name", "department", "card", "pin", "role", "verify_mode", "allowed_devices", "photo")) + ")")
    imp.add_argument("--photos", type=Path, help="folder with the photos the 'photo' column names")
    imp.add_argument("--update", action="store_true", help="update employees that already exist")
    imp.add_argument("--skip-bad", action="store_true", help="import the good rows even if some are bad")
    imp.add_argument("--dry-run", action="store_true", help="check only, write nothing")
    imp.add_argument("--no-faces", action="store_true", help="(kept for scripts) photos are kept as thumbnails only")
    imp.add_argument("--encoding", help="the CSV file's encoding when it is neither UTF-8 nor Chinese GB18030, "
                                        "e.g. cp1252 (Western European Windows)")
    imp.set_defaults(func=cmd_import)

    exp = sub.add_parser("export", help="export employees to an XLSX or CSV roster")
    exp.add_argument("file", type=Path)
    exp.add_argument("--photos", type=Path, help="also write each employee's photo to this folder")
    exp.set_defaults(func=cmd_export)

    for name in PLUGIN_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from terminal.store.employees import EmployeeError, EmployeeNotFound
    from terminal.store.errors import StoreError

    try:
        return args.func(args)
    except EmployeeError as exc:
        print(f"seed-enroll: refused: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (EmployeeNotFound, StoreError) as exc:
        print(f"seed-enroll: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
