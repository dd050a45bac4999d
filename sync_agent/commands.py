"""Commands from the central server: verified, fresh, used once, then carried out and logged.

A command runs only when (1) it validates against the schema, (2) it is addressed to
this site and device, (3) its Ed25519 signature verifies with the central's public key
provisioned on this terminal, (4) its ``issued_at`` is within ``max_age_s`` of the
terminal's time (corrected by the last NTP offset), and (5) its id was never seen
before. Anything else is refused: a ``command_refused`` event, a log line and a
``command_log`` row when the id is known. Every outcome is answered on ``cmd/result``.

The agent does not own the door relay: ``open_door`` leaves a request in the setting
``door.open_request`` ({id, requested_at, seconds}) that the terminal carries out.

``resync`` asks for the full roster and sends every queued row again; with ``since`` (a stamp) it first puts back
into the outbox every punch and event the terminal stored since then (a central restored from a backup taken
before it acknowledged them) and answers how many.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from contract import protocol as p
from contract.stamps import is_stamp
from sync_agent.outbox import Outbox
from sync_agent.roster import purge_employee
from terminal.store.database import Store, utc_now

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

log = logging.getLogger(__name__)

OPEN_DOOR_KEY = "door.open_request"
SETTING_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}(\.[a-z0-9_]{1,32}){1,3}$")
PROTECTED_PREFIXES = ("sync.",)


@dataclass(frozen=True)
class CommandOutcome:
    id: str | None
    ok: bool
    reason: str = ""
    result: dict | None = None
    cmd: str | None = None

    def message(self) -> dict | None:
        if self.id is None:
            return None
        return {"id": self.id, "ok": self.ok, "reason": self.reason, "result": self.result or {}}


class CommandHandler:
    def __init__(self, store: Store, public_key: Ed25519PublicKey | None, *, site: str, device: str, max_age_s: float = 300.0,
                 clock_offset: Callable[[], float] = lambda: 0.0, on_resync: Callable[[], None] = lambda: None):
        self.store = store
        self.public_key = public_key
        self.site = site
        self.device = device
        self.max_age_s = max_age_s
        self.clock_offset = clock_offset
        self.on_resync = on_resync

    def handle(self, payload: bytes) -> CommandOutcome:
        command_id = None
        try:
            data = p.loads(payload)
            if isinstance(data, dict) and isinstance(data.get("id"), str) and re.match(p.UUID_RE, data["id"]):
                command_id = data["id"]
            command = p.validate(p.Command, data)
        except p.ProtocolError as exc:
            return self._refuse(command_id, None, f"invalid command: {exc.reason}", None)
        if command.site != self.site or command.device != self.device:
            return self._refuse(command.id, command.cmd, "addressed to another terminal", command.issued_at)
        if self.public_key is None:
            return self._refuse(command.id, command.cmd, "no command public key provisioned", command.issued_at)
        if not p.verify_command_signature(self.public_key, data):
            return self._refuse(command.id, command.cmd, "bad signature", command.issued_at)
        now = datetime.now(timezone.utc) + timedelta(seconds=self.clock_offset() or 0.0)
        age = (now - p.parse_stamp(command.issued_at)).total_seconds()
        if abs(age) > self.max_age_s:
            return self._refuse(command.id, command.cmd, f"not fresh ({age:.0f} s old, limit {self.max_age_s:g} s)",
                                command.issued_at)
        if self.store.query_one("SELECT 1 AS x FROM command_log WHERE id = ?", (command.id,)):
            return self._refuse(command.id, command.cmd, "already received (replay)", None)
        try:
            result = self._execute(command)
        except CommandError as exc:
            return self._refuse(command.id, command.cmd, str(exc), command.issued_at)
        with self.store.transaction() as conn:
            conn.execute("INSERT INTO command_log (id, cmd, issued_at, received_at, ok, reason) VALUES (?, ?, ?, ?, 1, '')",
                         (command.id, command.cmd, command.issued_at, utc_now()))
            self.store.audit("central", f"command.{command.cmd}", _audit_details(command, result), conn=conn)
        log.info("command %s (%s) carried out", command.cmd, command.id)
        return CommandOutcome(command.id, True, "", result, command.cmd)

    def _execute(self, command: p.Command) -> dict:
        args = command.args
        if command.cmd == "open_door":
            seconds = args.get("seconds", None)
            if seconds is not None and (not isinstance(seconds, (int, float)) or isinstance(seconds, bool)
                                        or not 0.1 <= seconds <= 30):
                raise CommandError("seconds must be a number between 0.1 and 30")
            self.store.set_setting(OPEN_DOOR_KEY, {"id": command.id, "requested_at": utc_now(), "seconds": seconds})
            return {"queued_for_terminal": True}
        if command.cmd == "resync":
            if "since" not in args:
                self.on_resync()
                return {"roster_requested": True}
            since = args["since"]
            if not is_stamp(since):
                raise CommandError("args.since must be a UTC stamp such as 2026-03-02T08:01:02.000000Z")
            requeued = Outbox(self.store).requeue_since(since)
            self.on_resync()
            return {"roster_requested": True, "since": since, "punches_requeued": requeued["punch"],
                    "events_requeued": requeued["event"]}
        if command.cmd == "purge_employee":
            number = args.get("number")
            if not isinstance(number, str) or not re.match(p.NUMBER_RE, number):
                raise CommandError("args.number must be an employee number")
            return purge_employee(self.store, number)
        if command.cmd == "set_setting":
            key, value = args.get("key"), args.get("value")
            if not isinstance(key, str) or not SETTING_KEY_RE.match(key):
                raise CommandError("args.key must be a dotted lower-case setting name")
            if key.startswith(PROTECTED_PREFIXES):
                raise CommandError(f"{key} is kept by the sync agent itself")
            if "value" not in args or len(p.dumps(value)) > 16_384:
                raise CommandError("args.value is missing or larger than 16 KiB")
            self.store.set_setting(key, value)
            return {"key": key}
        raise CommandError(f"unknown command {command.cmd}")  # pragma: no cover - the schema allows only these

    def _refuse(self, command_id: str | None, cmd: str | None, reason: str, issued_at: str | None) -> CommandOutcome:
        log.warning("command %s refused: %s", command_id or "(no id)", reason)
        try:
            with self.store.transaction() as conn:
                self.store.record_event("command_refused", {"id": command_id, "cmd": cmd, "reason": reason[:300]},
                                        severity="warning", conn=conn)
                if command_id and issued_at and reason != "already received (replay)":
                    conn.execute("INSERT INTO command_log (id, cmd, issued_at, received_at, ok, reason) VALUES (?, ?, ?, ?, 0, ?) "
                                 "ON CONFLICT(id) DO NOTHING", (command_id, cmd or "?", issued_at, utc_now(), reason[:300]))
        except Exception as exc:  # refusing must not fail because the log could not be written
            log.error("could not log a refused command: %s", exc)
        return CommandOutcome(command_id, False, reason, None, cmd)


class CommandError(ValueError):
    """A verified command whose arguments cannot be carried out."""


def _safe_args(command: p.Command) -> dict:
    if command.cmd == "set_setting":
        return {"key": command.args.get("key")}
    if command.cmd == "resync":  # the stamp only (checked), whatever else the args carry
        return {k: command.args[k] for k in ("since",) if k in command.args}
    return {k: v for k, v in command.args.items() if isinstance(v, (str, int, float, bool))}


def _audit_details(command: p.Command, result: dict) -> dict:
    """What the audit log keeps of a carried-out command: its id, safe args and, for a resync, the counts (no data)."""
    details: dict = {"id": command.id, "args": _safe_args(command)}
    if command.cmd == "resync":
        details.update({k: result[k] for k in ("punches_requeued", "events_requeued") if k in result})
    return details
