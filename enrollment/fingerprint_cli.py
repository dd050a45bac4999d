"""``seed-enroll finger ...``: fingerprint enrolment and the sensor's library from the shell.

    seed-enroll finger enrol NUMBER [--finger 1-10]   two presses at the sensor, prompts on stdout
    seed-enroll finger list [NUMBER] [--json]
    seed-enroll finger delete NUMBER [--finger N]
    seed-enroll finger restore [--prune] [--wipe] [--no-verify]   refill a new or replaced sensor
    seed-enroll finger check                          compare the sensor's index with the database
    seed-enroll finger status

The sensor is the one the configuration names (``hardware.fingerprint``). Only one
program can talk to it: while ``seed-terminal`` runs, enrol on its admin screen. A
deleted employee's sensor positions are cleared here too (or queued for the terminal
when the sensor is busy).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator

from enrollment.cli import DELETE_HOOKS, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, open_configured_store, print_table
from enrollment.fingerprint import (
    FINGER_NAMES,
    EnrolStep,
    FingerEnrolError,
    clear_now,
    delete_fingers,
    enrol_finger,
    finger_name,
    list_fingers,
)
from terminal.config import TerminalConfig
from terminal.fingerprint_service import queue_purge, restore_sensor
from terminal.hardware.errors import HardwareError
from terminal.hardware.fingerprint import FingerprintSensor
from terminal.store.database import Store


class NoSensor(Exception):
    pass


@contextlib.contextmanager
def open_sensor(config: TerminalConfig) -> Iterator[FingerprintSensor]:
    from terminal.hardware.fingerprint import open_fingerprint

    settings = config.hardware.fingerprint
    sensor = open_fingerprint(settings, config.storage.data_dir, config.hardware.profile)
    if sensor is None:
        raise NoSensor("no fingerprint sensor is configured (hardware.fingerprint.enabled = false)")
    try:
        yield sensor
    finally:
        sensor.close()


def _fail(message: str, code: int = EXIT_FAILURE) -> int:
    print(f"seed-enroll: {message}", file=sys.stderr)
    return code


def cmd_enrol(args: argparse.Namespace) -> int:
    config, store = open_configured_store(args)
    settings = config.hardware.fingerprint

    def progress(step: EnrolStep) -> None:
        print(f"[press {step.press}] {step.message}", flush=True)

    with store:
        try:
            with open_sensor(config) as sensor:
                done = enrol_finger(store, sensor, args.number, args.finger, max_fingers=settings.max_fingers,
                                    step_timeout_s=args.timeout or settings.enrol_step_timeout_s,
                                    progress=progress, actor=args.actor)
        except FingerEnrolError as exc:
            code = EXIT_USAGE if exc.reason in ("unknown_employee", "bad_finger", "too_many_fingers") else EXIT_FAILURE
            return _fail(f"enrolment refused ({exc.reason}): {exc}", code)
        except (NoSensor, HardwareError) as exc:
            return _fail(str(exc))
    print(f"enrolled {finger_name(done.finger)} of employee {done.number} at sensor position {done.position}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    _, store = open_configured_store(args)
    with store:
        rows = list_fingers(store, args.number)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print_table(rows, ["number", "name", "finger", "finger_name", "sensor_position", "created_at"])
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    config, store = open_configured_store(args)
    with store:
        try:
            positions = delete_fingers(store, None, args.number, args.finger, actor=args.actor)
        except FingerEnrolError as exc:
            return _fail(str(exc), EXIT_USAGE)
        cleared = _clear(config, store, positions)
    what = finger_name(args.finger) if args.finger else "all fingers"
    print(f"deleted {what} of employee {args.number}; " + (
        f"sensor positions {positions} cleared" if cleared else
        f"sensor positions {positions} will be cleared when the sensor is next reached" if positions else
        "nothing was on the sensor"))
    return EXIT_OK


def _clear(config: TerminalConfig, store: Store, positions: list[int]) -> bool:
    if not positions:
        return False
    try:
        with open_sensor(config) as sensor:
            return clear_now(store, sensor, positions)
    except (NoSensor, HardwareError) as exc:
        print(f"seed-enroll: sensor not reachable ({exc}); positions stay queued", file=sys.stderr)
        return False


def cmd_restore(args: argparse.Namespace) -> int:
    config, store = open_configured_store(args)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\rrestoring {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    with store:
        try:
            with open_sensor(config) as sensor:
                report = restore_sensor(store, sensor, prune=args.prune, wipe=args.wipe, verify=not args.no_verify,
                                        progress=progress, actor=args.actor)
        except (NoSensor, HardwareError) as exc:
            return _fail(str(exc))
    print(f"sensor restored: {len(report.loaded)} loaded, {len(report.replaced)} replaced, {report.kept} already there, "
          f"{len(report.purged)} purged, {len(report.pruned)} unknown removed"
          + (f", {len(report.foreign)} unknown left (use --prune)" if report.foreign and not report.pruned else ""))
    if report.not_loaded:
        return _fail(f"{report.not_loaded} template(s) did not fit: the sensor's library is full")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    config, store = open_configured_store(args)
    with store:
        wanted = {r["sensor_position"]: r for r in list_fingers(store) if r["sensor_position"] is not None}
        unplaced = [r for r in list_fingers(store) if r["sensor_position"] is None]
        try:
            with open_sensor(config) as sensor:
                used = set(sensor.template_positions())
                capacity = sensor.capacity
        except (NoSensor, HardwareError) as exc:
            return _fail(str(exc))
    missing = sorted(set(wanted) - used)
    foreign = sorted(used - set(wanted))
    print(f"sensor: {len(used)}/{capacity} positions used; database: {len(wanted)} placed, {len(unplaced)} waiting")
    for position in missing:
        row = wanted[position]
        print(f"  missing on the sensor: position {position} ({row['number']} {row['finger_name']})")
    for position in foreign:
        print(f"  on the sensor but unknown to the database: position {position}")
    if missing or foreign or unplaced:
        print("run `seed-enroll finger restore` to bring the sensor in line" + (" (--prune removes unknown ones)"
                                                                              if foreign else ""))
        return EXIT_FAILURE
    print("sensor and database agree")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    config, store = open_configured_store(args)
    store.close()
    try:
        with open_sensor(config) as sensor:
            info = sensor.probe()
            count = sensor.template_count()
            name = sensor.name
    except (NoSensor, HardwareError) as exc:
        return _fail(str(exc))
    print(f"{name}: {count}/{info.capacity} templates, security level {info.security_level}, "
          f"packets of {info.packet_size} bytes, {info.baudrate} baud")
    return EXIT_OK


def delete_hook(config: TerminalConfig, store: Store, deleted: dict) -> None:
    """After ``seed-enroll delete``: clear the employee's positions on the sensor (or queue them)."""
    positions = deleted.get("sensor_positions") or []
    if not positions:
        return
    queue_purge(store, positions)
    if _clear(config, store, positions):
        print(f"sensor positions {positions} cleared")
    else:
        print(f"sensor positions {positions} will be cleared when the sensor is next reached")


def _finger_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value not in FINGER_NAMES:
        raise argparse.ArgumentTypeError(
            "a finger is 1-10: " + ", ".join(f"{k} {v}" for k, v in FINGER_NAMES.items()))
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``finger`` command group to seed-enroll."""
    finger = sub.add_parser("finger", help="fingerprint enrolment and the sensor's template library")
    commands = finger.add_subparsers(dest="finger_command", required=True)

    enrol = commands.add_parser("enrol", help="enrol a finger: two presses at the sensor")
    enrol.add_argument("number", help="employee number")
    enrol.add_argument("--finger", type=_finger_number, help="1-10 (1 right thumb, 2 right index ... 7 left index ...)")
    enrol.add_argument("--timeout", type=float, help="seconds to wait for each press and lift")
    enrol.set_defaults(func=cmd_enrol)

    lst = commands.add_parser("list", help="list enrolled fingers")
    lst.add_argument("number", nargs="?", help="only this employee")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)

    delete = commands.add_parser("delete", help="delete an employee's fingers, on the sensor too")
    delete.add_argument("number")
    delete.add_argument("--finger", type=_finger_number, help="only this finger (default: all)")
    delete.set_defaults(func=cmd_delete)

    restore = commands.add_parser("restore", help="refill the sensor from the database (new or replaced sensor)")
    restore.add_argument("--prune", action="store_true", help="also remove templates the database does not know")
    restore.add_argument("--wipe", action="store_true", help="clear the sensor first")
    restore.add_argument("--no-verify", action="store_true", help="trust occupied positions without reading them back")
    restore.set_defaults(func=cmd_restore)

    check = commands.add_parser("check", help="compare the sensor's index with the database")
    check.set_defaults(func=cmd_check)

    status = commands.add_parser("status", help="probe the sensor")
    status.set_defaults(func=cmd_status)

    if delete_hook not in DELETE_HOOKS:
        DELETE_HOOKS.append(delete_hook)
