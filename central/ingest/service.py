"""The running central receiver: MQTT in, database, acks and roster out.

paho's network thread only puts what arrives on a queue; one worker thread owns the
client (subscribe, publish) and the database. A punch batch is committed before its
ack is published, so an ack always means "durably stored"; a crash between the two
makes the terminal send the batch again, which the idempotent insert absorbs.

Subscriptions are shared-subscription ready: with ``shared_group`` set (default
``central``), several receivers can split the terminals' traffic between them.

The roster goes out in parts (``central.people.roster.split_roster``) stamped with the
roster's history. The receiver keeps, outside the database (``state_dir``, the site's key
folder by default), the history and the highest roster version it has sent. At start, a
database with that history but a lower version was restored from a backup: the receiver
starts a new history, so terminals take a full roster of the restored database instead of
trusting the version numbers it reuses. A terminal asking with a version of the current
history above the database's version shows the same when that record is missing. Either
way the full roster then goes to every site at once.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from django.db import close_old_connections, connection
from django.db.utils import DatabaseError, InterfaceError
from django.utils.timezone import now as django_now
from paho.mqtt.enums import CallbackAPIVersion

from central import recovery
from central.alerts.worker import AlertThread
from central.attendance.worker import AttendanceThread, EvidenceRetentionThread
from central.ingest.handler import Ingest, Outgoing
from central.ingest.models import Command, State
from central.loop_thread import LoopThread
from central.people import roster as roster_mod
from central.people.models import Device
from central.reports.scheduler import ReportScheduler
from central.sqlite_checkpoints import CheckpointThread
from central.webhooks.worker import WebhookThread
from contract import protocol as p
from contract.keyfiles import check_private_file
from contract.signing import load_signing_key

log = logging.getLogger(__name__)


@dataclass
class CentralSettings:
    broker_host: str = "localhost"
    broker_port: int = 8883
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    signing_key: Path | None = None
    client_id: str = field(default_factory=lambda: f"seed-central-{uuid.uuid4().hex[:8]}")
    shared_group: str | None = "central"
    roster_poll_s: float = 1.0
    keepalive_s: int = 30
    attendance_interval_s: float | None = 1.0  # None: no attendance follower in this receiver
    webhook_interval_s: float | None = 1.0  # None: no webhook delivery worker in this receiver
    report_interval_s: float | None = 30.0  # None: no scheduled reports made by this receiver
    alert_interval_s: float | None = 30.0  # None: no alert rules evaluated (nor alert mails sent) by this receiver
    # evidence kept past SEED_EVIDENCE_RETENTION_DAYS deleted at start and then every so many seconds; None: not here
    retention_interval_s: float | None = 3600.0
    # SQLite: the write-ahead log checkpointed by a thread every so many seconds, not inside this process's commits
    # (central.sqlite_checkpoints); None: SQLite's own, in whichever commit takes the log past 1,000 pages
    checkpoint_interval_s: float | None = 1.0
    state_dir: Path | None = None  # where the roster's sent-version record lives, outside the database
    roster_part_bytes: int = p.ROSTER_PART_BYTES

    @classmethod
    def from_pki(cls, pki_root: Path | str, **kwargs: Any) -> CentralSettings:
        root = Path(pki_root)
        kwargs.setdefault("state_dir", root)
        return cls(ca_file=root / "ca.crt", cert_file=root / "central.crt", key_file=root / "central.key",
                   signing_key=root / "command-signing.key", **kwargs)


def subscriptions(shared_group: str | None) -> list[str]:
    shared = [f"{p.PREFIX}/+/+/{leaf}" for leaf in ("punches", "events", "enrolments", "roster/request",
                                                        "cmd/result")]
    if shared_group:
        shared = [f"$share/{shared_group}/{t}" for t in shared]
    return shared + [f"{p.PREFIX}/+/+/status"]  # retained; every receiver records it


# the receiver's loop turns several times a second; one that has not turned for this long is stuck (a database that
# never answers): the watchdog is no longer fed and systemd restarts the receiver
STALL_S = 90.0
COMMAND_MAX_WAIT_S = 300  # a queued command older than this is not sent any more
ROSTER_SENT_FILE = "roster-sent.json"
ROSTER_CACHE = 2  # roster messages kept split, for the next terminals and for missing parts


class RosterSent:
    """The history and highest roster version this central sent, kept in a file beside the database.

    With the version goes a mark of its change (employee, operation, second), so a database
    restored from a backup shows even when changes made since reach the same version again:
    its change at that version is missing or another one.
    """

    def __init__(self, folder: Path | None):
        self.path = Path(folder) / ROSTER_SENT_FILE if folder else None
        self.history: str | None = None
        self.version = 0
        self.mark: str | None = None
        if self.path and self.path.exists():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self.history, self.version, self.mark = str(data["history"]), int(data["version"]), data.get("mark")
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("ignoring unreadable %s: %s", self.path, exc)

    def restored(self, history: str) -> str | None:
        """Why the database looks restored from a backup since this record was written, or None."""
        if self.history != history or self.version == 0:
            return None
        mark = roster_mod.change_mark(self.version)
        if mark is None:
            return f"database restored: version {self.version} of this history was sent but the database does not have it"
        if mark != self.mark:
            return f"database restored: its roster version {self.version} is not the one sent"
        return None

    def sent(self, history: str, version: int) -> None:
        if history == self.history and version <= self.version:
            return
        self.history, self.version, self.mark = history, version, roster_mod.change_mark(version)
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps({"history": history, "version": version, "mark": self.mark}),
                                 encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("cannot record the roster version sent in %s: %s", self.path, exc)


class CentralService:
    """Start with :meth:`start` (or use as a context manager); :meth:`stop` disconnects cleanly."""

    def __init__(self, settings: CentralSettings, *, after_commit: Callable[[str, Any], None] | None = None):
        self.settings = settings
        self.ingest = Ingest(roster_reply=self.roster_reply, after_commit=after_commit)
        self._queue: queue.Queue[tuple] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._beat = time.monotonic()  # the receiver's loop, at each turn (a few times a second when idle)
        self.stall_s = STALL_S
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker acknowledged every subscription of this connection
        self._subscribe_mid: int | None = None
        self._signing_key = load_signing_key(settings.signing_key) if settings.signing_key and Path(settings.signing_key).exists() else None
        self.client = self._make_client()
        self._published_roster = 0
        # terminals owe punches after a restore, which runs with the receiver stopped: looked for from the start,
        # and no more once none is left
        self._recovering = True
        self._roster_sent = RosterSent(settings.state_dir)
        self._roster_cache: dict[tuple[str, int, int, bool], roster_mod.RosterParts] = {}
        self._announce_full = False  # a new history: the full roster goes to every site
        self.errors = 0
        self.attendance: AttendanceThread | None = None
        self.webhooks: WebhookThread | None = None
        self.reports: ReportScheduler | None = None
        self.alerts: AlertThread | None = None
        self.retention: EvidenceRetentionThread | None = None
        self.checkpoints: CheckpointThread | None = None

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=s.client_id, protocol=mqtt.MQTTv5)
        if s.ca_file:
            keyfile = str(check_private_file(s.key_file, "central TLS key")) if s.key_file else None
            client.tls_set(ca_certs=str(s.ca_file), certfile=str(s.cert_file) if s.cert_file else None, keyfile=keyfile)
        # paho annotates the delays as int but only adds, doubles and sleeps on them: the first retry comes after 0.5 s
        client.reconnect_delay_set(0.5, 10)  # type: ignore[arg-type]
        client.max_inflight_messages_set(100)
        client.on_connect = lambda c, u, flags, rc, props: self._queue.put(("connect", rc))
        client.on_disconnect = lambda c, u, flags, rc, props: self._queue.put(("disconnect", rc))
        client.on_message = lambda c, u, msg: self._queue.put(("message", msg.topic, msg.payload))
        client.on_subscribe = lambda c, u, mid, codes, props: self._queue.put(("subscribed", mid, codes))
        return client

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> CentralService:
        row = State.objects.filter(key="roster_published").first()
        self._published_roster = int(row.value) if row else 0
        self._check_restored()
        self.client.connect_async(self.settings.broker_host, self.settings.broker_port,
                                  keepalive=self.settings.keepalive_s, clean_start=True)
        self.client.loop_start()
        if self.settings.checkpoint_interval_s and connection.vendor == "sqlite":  # before any thread's connection
            self.checkpoints = CheckpointThread(self.settings.checkpoint_interval_s).start()
        self._thread = threading.Thread(target=self._run, name="seed-central", daemon=True)
        self._thread.start()
        if self.settings.attendance_interval_s:
            self.attendance = AttendanceThread(self.settings.attendance_interval_s).start()
        if self.settings.webhook_interval_s:
            self.webhooks = WebhookThread(self.settings.webhook_interval_s).start()
        if self.settings.report_interval_s:
            self.reports = ReportScheduler(self.settings.report_interval_s).start()
        if self.settings.alert_interval_s:
            self.alerts = AlertThread(self.settings.alert_interval_s).start()
        if self.settings.retention_interval_s:
            self.retention = EvidenceRetentionThread(self.settings.retention_interval_s).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        for loop in self._loops():
            loop.stop()
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    def __enter__(self) -> CentralService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def health(self) -> list[str]:
        """What keeps this receiver from doing its work, in words for the log (empty: healthy). A broker out of
        reach is not in it: the receiver reconnects by itself, and restarting it would not bring the broker back."""
        problems = []
        if self.thread_ended():
            problems.append("接收线程已结束 the receiver's thread has ended")
        elif (stuck := time.monotonic() - self._beat) > self.stall_s:
            problems.append(f"接收线程卡住 {stuck:.0f} 秒 the receiver has been stuck for {stuck:.0f} s")
        problems += [f"后台线程已结束 {loop.name} has ended" for loop in self._loops() if not loop.alive]
        return problems

    def _loops(self) -> list[LoopThread]:
        """The background threads this receiver started, in the order they are stopped."""
        return [loop for loop in (self.attendance, self.webhooks, self.reports, self.alerts, self.retention,
                                  self.checkpoints) if loop is not None]

    def thread_ended(self) -> bool:
        """The receiver's own thread is not running (never started, or ended by an error nothing caught)."""
        return self._thread is None or not self._thread.is_alive()

    def status_line(self) -> str:
        """One line for ``systemctl status``: the broker's state and the errors counted since the start."""
        where = f"{self.settings.broker_host}:{self.settings.broker_port}"
        state = (f"已连接代理 connected to the broker {where}" if self.connected.is_set()
                 else f"代理不可达，重试中 the broker {where} is out of reach, retrying")
        return f"{state}; 错误 errors: {self.errors}"

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self.connected.wait(timeout)

    def wait_subscribed(self, timeout: float = 10.0) -> bool:
        """True once the broker acknowledged every subscription: from then on no punch published finds nobody."""
        return self.subscribed.wait(timeout)

    # -- the worker: owns the client and the database -------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        finally:
            connection.close()  # this thread's database connection

    def _loop(self) -> None:
        next_roster = time.monotonic()
        while not self._stop.is_set():
            self._beat = time.monotonic()
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                item = None
            try:
                if item is not None:
                    self._handle(item)
                if time.monotonic() >= next_roster:
                    next_roster = time.monotonic() + self.settings.roster_poll_s
                    if self.connected.is_set():
                        self._publish_roster_changes()
                        if self._recovering:  # after a restore: the terminals' punches the backup lacks
                            recovery.ask_terminals()
                            self._recovering = recovery.any_open()
                        self._publish_requested_commands()
            except (DatabaseError, InterfaceError):  # a lost or broken connection is replaced before the next use
                self.errors += 1
                log.exception("central database error")
                close_old_connections()
                if connection.connection is not None and not connection.is_usable():
                    connection.close()
                    time.sleep(0.2)  # the database is out of reach: do not spin (a bad message never gets here)
            except Exception:  # the receiver must outlive any single message
                self.errors += 1
                log.exception("central worker error")

    def _handle(self, item: tuple) -> None:
        kind = item[0]
        if kind == "message":
            self._publish(self.ingest.handle(item[1], item[2]))
            if self.attendance and item[1].endswith(("/punches", "/status")):
                self.attendance.wake.set()
        elif kind == "connect":
            if item[1].is_failure:
                log.error("broker refused the central: %s", item[1])
                return
            self.subscribed.clear()
            _, self._subscribe_mid = self.client.subscribe([(topic, 1) for topic in subscriptions(self.settings.shared_group)])
            self.connected.set()
            log.info("central connected to %s:%s", self.settings.broker_host, self.settings.broker_port)
        elif kind == "subscribed":
            if item[1] == self._subscribe_mid:
                refused = [code for code in item[2] if code.is_failure]
                if refused:
                    log.error("broker refused %d of the central's subscriptions: %s", len(refused), refused)
                else:
                    self.subscribed.set()
        elif kind == "disconnect":
            self.connected.clear()
            self.subscribed.clear()
            log.warning("central disconnected from the broker (%s); paho reconnects", item[1])
        elif kind == "call":
            item[1]()

    def _publish(self, messages: list[Outgoing]) -> None:
        for out in messages:
            info = self.client.publish(out.topic, out.payload, qos=out.qos, retain=out.retain)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                log.warning("publish on %s not sent now (%s); the terminal will resend", out.topic, info.rc)

    # -- roster -----------------------------------------------------------------------------------
    def _check_restored(self) -> None:
        """At start: a database whose roster is not what was sent under its history was restored: new history."""
        reason = self._roster_sent.restored(roster_mod.current_history())
        if reason is not None:
            self._new_history(reason)

    def _new_history(self, reason: str) -> str:
        history = roster_mod.rotate_history(reason)
        self._announce_full = True
        return history

    def _roster(self, base: int, full: bool) -> roster_mod.RosterParts | None:
        """The current roster (``full``) or the delta from version ``base``, as parts; None when no change follows
        ``base``. A version already split is taken from the cache, so many terminals asking cost one build."""
        key = (roster_mod.current_history(), roster_mod.current_version(), base, full)
        found = self._roster_cache.get(key)
        if found is None:
            message = roster_mod.full_roster() if full else roster_mod.delta(base)
            if message is None:
                return None
            found = roster_mod.split_roster(message, self.settings.roster_part_bytes)
            while len(self._roster_cache) >= ROSTER_CACHE:
                self._roster_cache.pop(next(iter(self._roster_cache)))
            self._roster_cache[found.key] = found
        self._roster_sent.sent(found.history, found.version)
        return found

    def _full(self) -> roster_mod.RosterParts:
        parts = self._roster(0, True)
        assert parts is not None  # the full roster always exists, empty or not
        return parts

    def roster_reply(self, site: str, device: str, request: p.RosterRequest) -> list[Outgoing]:
        """Answer a terminal's roster request: nothing, the missing parts of a set, a delta or the full roster."""
        have, asked = request.have, request.history
        history, current = roster_mod.current_history(), roster_mod.current_version()
        if asked == history and have > current:  # it holds a version this database never reached: restored
            history = self._new_history(f"terminal {site}/{device} holds roster version {have} of this history, "
                                        f"above the database's {current}")
        if asked is not None and asked != history:
            have = 0  # a version of another history means nothing here
        topic = p.device_topic(site, device, "roster")
        if request.pending is not None and request.missing and asked == history:
            resend = self._missing(request.pending, current)
            if resend is not None:
                log.info("roster %s: %s missing part(s) for %s/%s", request.pending.version, len(request.missing),
                         site, device)
                return [Outgoing(topic, resend.payloads[i]) for i in sorted(set(request.missing))]
        if have == current and asked in (None, history):
            return []
        parts = (self._roster(have, False) if 0 < have < current else None) or self._full()
        log.info("roster %s for %s/%s (had %s): version %s in %s part(s)", "full" if parts.full else "delta", site,
                 device, have, parts.version, len(parts.payloads))
        return [Outgoing(topic, payload) for payload in parts.payloads]

    def _missing(self, pending: p.RosterSet, current: int) -> roster_mod.RosterParts | None:
        """The set a terminal holds parts of, when this central still builds the same one (else None)."""
        if pending.version != current:
            return None
        parts = self._roster(pending.base, pending.full)
        if parts is None or (parts.version, parts.digest, len(parts.payloads)) != (pending.version, pending.digest,
                                                                                   pending.parts):
            return None
        return parts

    def _publish_roster_changes(self) -> None:
        current = roster_mod.current_version()
        if self._announce_full:
            parts = self._full()
        elif current <= self._published_roster:
            return
        else:
            found = self._roster(self._published_roster, False)
            if found is None:
                return
            parts = found
        sites = sorted(set(Device.objects.values_list("site__code", flat=True)))
        for site in sites:
            self._publish([Outgoing(p.site_roster_topic(site), payload) for payload in parts.payloads])
        self._announce_full = False
        self._published_roster = parts.version
        State.objects.update_or_create(key="roster_published", defaults={"value": str(self._published_roster)})
        log.info("roster version %s (%s) published to %s site(s) in %s part(s)", self._published_roster,
                 "full" if parts.full else "delta", len(sites), len(parts.payloads))

    # -- commands ---------------------------------------------------------------------------------
    def _publish_requested_commands(self) -> None:
        """Sign and send the commands the console or the API queued; stale ones are closed with a reason."""
        waiting = list(Command.objects.filter(published_at__isnull=True, ok__isnull=True).order_by("issued_at")[:100])
        for row in waiting:
            now = django_now()
            if (now - row.issued_at).total_seconds() > COMMAND_MAX_WAIT_S:
                Command.objects.filter(pk=row.pk).update(ok=False, reason="not sent: no receiver was running to send it",
                                                         result_at=now)
                continue
            if self._signing_key is None:
                Command.objects.filter(pk=row.pk).update(ok=False, reason="not sent: no command-signing key configured",
                                                         result_at=now)
                continue
            command = p.sign_command(self._signing_key, site=row.site, device=row.device_id, cmd=row.cmd,
                                     args=row.args, command_id=row.id, issued_at=p.utc_stamp(now))
            Command.objects.filter(pk=row.pk).update(published_at=now)
            self._publish([Outgoing(p.device_topic(row.site, row.device_id, "cmd"), p.dumps(command))])
            log.info("command %s %s sent to %s/%s for %s", row.id, row.cmd, row.site, row.device_id, row.issued_by)

    def send_command(self, site: str, device: str, cmd: str, args: dict | None = None, *, actor: str = "") -> dict:
        """Sign, record and publish a command; returns the command as sent."""
        if self._signing_key is None:
            raise RuntimeError("no command-signing key configured")
        command = p.sign_command(self._signing_key, site=site, device=device, cmd=cmd, args=args or {})
        record_command(command, actor=actor)
        done = threading.Event()

        def publish() -> None:
            self._publish([Outgoing(p.device_topic(site, device, "cmd"), p.dumps(command))])
            done.set()

        self._queue.put(("call", publish))
        done.wait(5)
        return command


def record_command(command: dict, *, actor: str = "") -> Command:
    """Keep a signed command as sent, before it is published; its result fills in later."""
    return Command.objects.create(id=command["id"], site=command["site"], device_id=command["device"],
                                  cmd=command["cmd"], args=command["args"], issued_at=p.parse_stamp(command["issued_at"]),
                                  issued_by=actor, published_at=django_now())
