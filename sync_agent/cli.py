"""``seed-sync``: the terminal's MQTT sync agent.

    seed-sync --config /etc/seed/terminal.toml              run until stopped (systemd)
    seed-sync --config FILE --until-empty [--timeout 60]     drain the outbox, then exit
    seed-sync --config FILE status [--json]                  the status line the kiosk shows
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from terminal.config import DEFAULT_CONFIG_PATH, ConfigError, load_config

log = logging.getLogger("seed-sync")

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seed-sync", description="Seed terminal sync agent (MQTT)")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG_PATH), help="terminal configuration (TOML)")
    parser.add_argument("--data-dir", help="override storage.data_dir")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the agent (the default)")
    for target in (parser, run):
        target.add_argument("--until-empty", action="store_true", help="exit once the outbox is empty and acknowledged")
        target.add_argument("--timeout", type=float, help="give up after this many seconds")
        target.add_argument("--no-ntp", action="store_true", help="skip NTP checks")
    status = sub.add_parser("status", help="print the agent's status line from the database")
    status.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    if args.data_dir:
        config.storage.data_dir = Path(args.data_dir)

    from terminal.store.database import open_store
    from terminal.store.errors import StoreError

    if args.command == "status":
        from sync_agent.status import read_status

        try:
            with open_store(config.storage, create=False) as store:
                status = read_status(store, stale_after_s=3 * config.sync.heartbeat_s)
        except StoreError as exc:
            print(f"seed-sync: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        if args.json:
            print(json.dumps(status, ensure_ascii=False, sort_keys=True))
        else:
            for key in sorted(status):
                print(f"{key:15} {status[key]}")
        return EXIT_OK

    if not config.sync.enabled:
        print("seed-sync: sync.enabled is false; nothing to do", file=sys.stderr)
        return EXIT_OK
    from sync_agent.agent import SyncAgent, SyncConfigError
    from terminal.hardware.clock import open_clock

    try:
        store = open_store(config.storage)
    except StoreError as exc:
        print(f"seed-sync: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    with store:
        try:
            agent = SyncAgent(config, store, open_clock(config.hardware.driver_for("clock")), ntp=not args.no_ntp)
        except SyncConfigError as exc:
            print(f"seed-sync: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        signal.signal(signal.SIGTERM, lambda *_: agent.stop())
        signal.signal(signal.SIGINT, lambda *_: agent.stop())
        result = agent.run(until_empty=args.until_empty, timeout_s=args.timeout)
    log.info("seed-sync stopped: %s batches published, %s acknowledged, %s refused, %s queued",
             result.published_batches, result.acked_items, result.rejected_items, result.queue_depth)
    if args.until_empty and result.queue_depth:
        print(f"seed-sync: {result.queue_depth} row(s) still queued", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
