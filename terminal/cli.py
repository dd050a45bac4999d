"""``seed-terminal``: run the door terminal, validate its configuration, check its audit log."""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from terminal.config import DEFAULT_CONFIG_PATH, ConfigError, TerminalConfig, load_config

log = logging.getLogger("seed-terminal")

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


def _setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _load(args: argparse.Namespace) -> TerminalConfig:
    config = load_config(args.config)
    if getattr(args, "simulate", False):
        config.hardware.profile = "sim"
        for name in ("camera", "fingerprint", "card_reader", "outputs", "speaker", "clock"):
            getattr(config.hardware, name).driver = None
    if getattr(args, "data_dir", None):
        config.storage.data_dir = Path(args.data_dir)
    return config


def validate_config_command(path: str) -> int:
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"{exc.path}: configuration is not valid", file=sys.stderr)
        for key, message in exc.problems:
            print(f"  {key}: {message}", file=sys.stderr)
        return EXIT_CONFIG
    print(f"{path}: configuration is valid (device {config.device.id}, site {config.device.site}, "
          f"hardware profile {config.hardware.profile})")
    return EXIT_OK


def verify_audit_command(args: argparse.Namespace) -> int:
    """The full database check (``integrity_check`` and SQLCipher's page HMACs), then the audit chain."""
    from terminal.store.audit import verify_audit
    from terminal.store.database import integrity_problems, open_store

    config = _load(args)
    with open_store(config.storage, create=False) as store:
        problems = integrity_problems(store.conn, full=True)
        report = verify_audit(store.conn)
    if args.json:
        print(json.dumps({"entries": report.entries, "ok": report.ok, "first_broken": report.first_broken,
                          "reason": report.reason, "integrity": {"ok": not problems, "problems": problems}}))
    else:
        if problems:
            print(f"database integrity: FAILED ({len(problems)} problem(s) shown)")
            for problem in problems:
                print(f"  {problem}")
        else:
            print("database integrity: ok")
        if report.ok:
            print(f"audit log intact: {report.entries} entries")
        else:
            print(f"audit log BROKEN at entry {report.first_broken}: {report.reason}")
    return EXIT_OK if report.ok and not problems else EXIT_FAILURE


def backup_command(args: argparse.Namespace) -> int:
    from terminal.store.database import open_store

    with open_store(_load(args).storage, create=False) as store:
        print(store.backup(reason="manual"))
    return EXIT_OK


def run_command(args: argparse.Namespace) -> int:
    config = _load(args)
    if args.scenario:
        from terminal.scenario import run_scenario

        return run_scenario(config, args.scenario, out=sys.stdout)
    from terminal.runtime import Terminal

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Terminal.open(config) as terminal:
        if args.headless:
            terminal.start()
            terminal.serve(until=stop)
        else:
            from terminal.ui.app import run_kiosk

            run_kiosk(terminal)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seed-terminal", description="Seed attendance terminal.")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG_PATH), help="configuration file (default %(default)s)")
    parser.add_argument("--validate-config", metavar="FILE", help="check a configuration file and exit (0 valid, 2 not)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", help="run the terminal (the default)")
    for target in (parser, run):
        target.add_argument("--headless", action="store_true", help="no screen: inputs, punches and feedback only")
        target.add_argument("--simulate", action="store_true", help="use the simulators for every device")
        target.add_argument("--scenario", choices=["demo"], help="play a scripted scenario through the simulators and exit")
        target.add_argument("--data-dir", help="override storage.data_dir")

    audit = sub.add_parser("verify-audit", help="check the hash chain of the audit log")
    audit.add_argument("--json", action="store_true", help="print the result as JSON")
    sub.add_parser("backup", help="write an encrypted backup of the database next to it")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    if args.validate_config:
        return validate_config_command(args.validate_config)
    try:
        if args.command == "verify-audit":
            return verify_audit_command(args)
        if args.command == "backup":
            return backup_command(args)
        return run_command(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    except Exception as exc:
        from terminal.store.errors import StoreError

        if isinstance(exc, StoreError):
            print(f"seed-terminal: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        raise


if __name__ == "__main__":
    sys.exit(main())
