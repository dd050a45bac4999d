"""``seed-sync``: drains the outbox to the central server and brings roster and commands down.

Threads: paho's network thread (``loop_start``) and the NTP thread only put what
happens on a queue; the thread that calls :meth:`SyncAgent.run` owns the MQTT client
and the database connection and does everything else. Nothing waits in paho's memory:
a batch is published only while connected, and on a disconnect every claim is
released so the rows are sent again from the outbox after the reconnect.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contract import protocol as p
from contract.keyfiles import KeyFileError, check_private_file
from sync_agent.commands import CommandHandler
from sync_agent.outbox import ATTENDANCE_KINDS, KINDS, TOPIC_LEAF, Batch, Outbox
from sync_agent.roster import RosterResult, pending_set, receive_roster, resume_roster, roster_history, roster_version
from sync_agent.status import STATUS_KEY
from sync_agent.timekeeper import Timekeeper
from terminal.config import TerminalConfig
from terminal.hardware.clock import Clock, SystemClock
from terminal.service_notify import notify, watchdog_interval_s
from terminal.store.database import Store, utc_now

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

log = logging.getLogger(__name__)

STATUS_WRITE_S = 1.0
REFUSAL_EVENT_S = 10.0
ROSTER_PART_WAIT_S = 5.0  # no new part of an incomplete roster for this long: ask for the missing ones
ROSTER_PART_WAIT_MAX_S = 60.0
FULL_REQUEST_S = 30.0  # one request for the full roster per cause in this time (every part of a delta shows it)


class SyncConfigError(ValueError):
    """The [sync] section cannot be used to connect (a file is missing or unreadable)."""


def resolve_key_file(config: TerminalConfig) -> Path | None:
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir and config.sync.key_credential:
        candidate = Path(cred_dir) / config.sync.key_credential
        if candidate.exists():
            return candidate
    return config.sync.key_file


def tls_files(config: TerminalConfig) -> tuple[Path, Path, Path]:
    s = config.sync
    key = resolve_key_file(config)
    missing = [name for name, value in (("sync.ca_file", s.ca_file), ("sync.cert_file", s.cert_file),
                                        ("sync.key_file", key)) if value is None]
    if missing:
        raise SyncConfigError(f"TLS is on but {', '.join(missing)} is not set (run seed-central provision)")
    for name, path in (("sync.ca_file", s.ca_file), ("sync.cert_file", s.cert_file), ("sync.key_file", key)):
        if not Path(path).is_file():  # type: ignore[arg-type]
            raise SyncConfigError(f"{name}: {path} does not exist")
    try:  # the key actually used, from the configuration or the systemd credentials directory
        check_private_file(key, "device TLS key")  # type: ignore[arg-type]
    except KeyFileError as exc:
        raise SyncConfigError(str(exc)) from None
    return s.ca_file, s.cert_file, key  # type: ignore[return-value]


@dataclass
class RunResult:
    published_batches: int
    acked_items: int
    rejected_items: int
    queue_depth: int


class SyncAgent:
    """One terminal's sync agent. ``run()`` blocks until ``stop()`` (or the outbox is empty, if asked)."""

    def __init__(self, config: TerminalConfig, store: Store, clock: Clock | None = None, *,
                 ntp: bool = True, client_id: str | None = None):
        self.config = config
        self.store = store
        self.clock = clock or SystemClock()
        self.site = config.device.site
        self.device = config.device.id
        self.outbox = Outbox(store)
        self.events: queue.Queue[tuple] = queue.Queue()
        self._stop = threading.Event()
        self.connected = False
        self.inflight: dict[str, Batch] = {}
        self.last_ack_at: str | None = None
        self.last_error: str | None = None
        self.stats = {"published_batches": 0, "acked": 0, "rejected": 0, "resends": 0}
        clock_cfg = config.hardware.clock
        self.timekeeper = Timekeeper(store, self.clock, clock_cfg.ntp_servers, port=clock_cfg.ntp_port,
                                     max_offset_s=clock_cfg.max_offset_s) if ntp and clock_cfg.ntp_servers else None
        self.commands = CommandHandler(store, self._load_command_key(), site=self.site, device=self.device,
                                       max_age_s=config.sync.command_max_age_s, clock_offset=self._clock_offset,
                                       on_resync=self._resync)
        self.client_id = client_id or self.device
        self.client = self._make_client()
        self._status_written: dict | None = None
        self._status_at = 0.0
        self._maybe_more = True
        self._data_version: int | None = None
        self._last_refusal_event = 0.0
        self._suppressed = 0
        self.roster_part_wait_s = ROSTER_PART_WAIT_S
        self._roster_ask_at: float | None = None  # when to ask for the missing parts of a roster
        self._roster_backoff = ROSTER_PART_WAIT_S
        self._full_asked: dict[tuple, float] = {}

    # -- set-up ------------------------------------------------------------------------------------
    def _load_command_key(self) -> Ed25519PublicKey | None:
        path = self.config.sync.command_public_key
        if path is None:
            log.warning("no command public key configured: every command will be refused")
            return None
        from contract.signing import SigningKeyError, load_verify_key

        try:
            return load_verify_key(path)
        except SigningKeyError as exc:
            raise SyncConfigError(str(exc)) from None

    def topic(self, leaf: str) -> str:
        return p.device_topic(self.site, self.device, leaf)

    def _make_client(self) -> mqtt.Client:
        s = self.config.sync
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        if s.tls:
            ca, cert, key = tls_files(self.config)
            client.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))
        client.will_set(self.topic("status"), p.dumps({"online": False, "device": self.device, "site": self.site,
                                                       "reason": "connection lost"}), qos=1, retain=True)
        client.reconnect_delay_set(1, 30)
        client.max_inflight_messages_set(max(20, 2 * s.max_inflight_batches * len(KINDS)))
        put = self.events.put
        client.on_connect = lambda c, u, flags, rc, props: put(("connect", rc))
        client.on_connect_fail = lambda c, u: put(("connect_fail", None))
        client.on_disconnect = lambda c, u, flags, rc, props: put(("disconnect", rc))
        client.on_message = lambda c, u, msg: put(("message", msg.topic, msg.payload))
        client.on_publish = lambda c, u, mid, rc, props: put(("puback", mid, rc)) if rc.is_failure else None
        return client

    # -- public ----------------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        self.events.put(("wake",))

    def run(self, *, until_empty: bool = False, timeout_s: float | None = None) -> RunResult:
        """Run until :meth:`stop`; with ``until_empty`` return once the outbox is empty and acknowledged."""
        released = self.outbox.release_all()
        if released:
            log.info("%s outbox row(s) claimed by a previous run will be sent again", released)
        s = self.config.sync
        self.client.connect_async(s.broker_host, s.broker_port, keepalive=s.keepalive_s, clean_start=True)
        self.client.loop_start()
        ntp_thread = None
        if self.timekeeper is not None:
            ntp_thread = threading.Thread(target=self._ntp_loop, name="seed-sync-ntp", daemon=True)
            ntp_thread.start()
        notify("READY=1")
        watchdog = watchdog_interval_s()
        next_watchdog = next_heartbeat = next_jump = time.monotonic()
        deadline = time.monotonic() + timeout_s if timeout_s else None
        try:
            while not self._stop.is_set():
                self._drain_events(self.config.sync.poll_interval_s)
                now = time.monotonic()
                try:
                    if self.connected:
                        self._resend_expired(now)
                        self._fill(now)
                        self._ask_missing_parts(now)
                        if now >= next_heartbeat:
                            next_heartbeat = now + self.config.sync.heartbeat_s
                            self._publish_status(True)
                    if now >= next_jump:
                        next_jump = now + 1.0
                        self._maybe_more = True  # a safety net besides PRAGMA data_version
                        if self.timekeeper is not None:
                            self.timekeeper.watch_jumps()
                    self._write_status()
                except Exception as exc:  # e.g. the database stayed locked past busy_timeout: try again
                    self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                    log.error("sync agent step failed (will retry): %s", self.last_error)
                    self._stop.wait(1.0)
                if watchdog and now >= next_watchdog:
                    next_watchdog = now + watchdog
                    notify("WATCHDOG=1")
                if until_empty and self.connected and not self.inflight and self.outbox.depth() == 0:
                    break
                if deadline is not None and now > deadline:
                    log.warning("stopping after %s s with %s row(s) still queued", timeout_s, self.outbox.depth())
                    break
        finally:
            self._shutdown()
        return RunResult(self.stats["published_batches"], self.stats["acked"], self.stats["rejected"],
                         self.outbox.depth())

    # -- the event loop ----------------------------------------------------------------------------------
    def _drain_events(self, wait_s: float) -> None:
        try:
            item = self.events.get(timeout=wait_s)
        except queue.Empty:
            return
        while True:
            try:
                self._handle(item)
            except Exception as exc:  # one bad event must not stop the agent
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("sync agent error while handling %s", item[0])
            try:
                item = self.events.get_nowait()
            except queue.Empty:
                return

    def _handle(self, item: tuple) -> None:
        kind = item[0]
        if kind == "message":
            self._on_message(item[1], item[2])
        elif kind == "connect":
            self._on_connect(item[1])
        elif kind == "disconnect":
            if self.connected:
                log.warning("disconnected from the broker (%s); will reconnect", item[1])
            self.connected = False
            self._release_inflight()
        elif kind == "connect_fail":
            self.last_error = "cannot reach the broker"
        elif kind == "puback":
            self.last_error = f"broker refused a publish: {item[2]}"
            log.error("broker refused message %s: %s", item[1], item[2])
        elif kind == "ntp":
            check = self.timekeeper.apply(item[1]) if self.timekeeper else None
            if check is None and self.timekeeper:
                self.last_error = f"NTP: {self.timekeeper.last_error}"
            elif check is not None and check.restamped:
                self._maybe_more = True  # corrections were queued by this connection

    def _on_connect(self, rc: Any) -> None:
        if rc.is_failure:
            self.last_error = f"broker refused the connection: {rc}"
            log.error("broker refused the connection: %s", rc)
            return
        self.connected = True
        self.last_error = None
        for leaf in ("ack", "roster", "cmd"):
            self.client.subscribe(self.topic(leaf), qos=1)
        self.client.subscribe(p.site_roster_topic(self.site), qos=1)
        self._publish_status(True)
        resumed = resume_roster(self.store)
        if resumed is not None and resumed.outcome == "applied":
            self._roster_applied(resumed)
        self._request_roster("connect")
        if pending_set(self.store) is not None:
            self._roster_ask_at = time.monotonic() + self.roster_part_wait_s
        self._maybe_more = True
        log.info("connected to %s:%s as %s", self.config.sync.broker_host, self.config.sync.broker_port, self.device)

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            site, device, leaf = p.parse_topic(topic)
            if site != self.site or (device is not None and device != self.device):
                raise p.ProtocolError("message for another terminal")
            data = p.loads(payload) if leaf != "cmd" else None
            if leaf == "ack":
                self._on_ack(p.validate(p.Ack, data))
            elif leaf == "roster":
                self._on_roster(p.validate(p.RosterEnvelope, data))  # each upsert is checked on its own
            elif leaf == "cmd":
                outcome = self.commands.handle(payload)
                message = outcome.message()
                if message is not None:
                    self.client.publish(self.topic("cmd/result"), p.dumps(message), qos=1)
            else:
                raise p.ProtocolError(f"unexpected topic {leaf}")
        except p.ProtocolError as exc:
            self._refused(topic, exc.reason)

    def _refused(self, topic: str, reason: str) -> None:
        log.warning("refused message on %s: %s", topic[:200], reason)
        now = time.monotonic()
        if now - self._last_refusal_event >= REFUSAL_EVENT_S:
            self.store.record_event("message_refused", {"topic": topic[:200], "reason": reason[:300],
                                                        "suppressed": self._suppressed}, severity="warning")
            self._last_refusal_event = now
            self._suppressed = 0
        else:
            self._suppressed += 1

    # -- acks ---------------------------------------------------------------------------------------
    def _on_ack(self, ack: p.Ack) -> None:
        batch = self.inflight.pop(ack.batch, None)
        unknown_ids = set(ack.stored) - set(batch.ref_ids) if batch else set()
        if unknown_ids:
            raise p.ProtocolError("ack names items that were not in the batch")
        deleted, rejected = self.outbox.acknowledge(ack)
        self.stats["acked"] += deleted
        self.stats["rejected"] += rejected
        if batch is not None or deleted:
            self.last_ack_at = utc_now()
        self._maybe_more = True
        if rejected:
            self.store.record_event("sync_rejected", {"batch": ack.batch, "rejected": rejected,
                                                      "reason": ack.rejected[0].reason[:300]}, severity="error")

    # -- publishing batches -----------------------------------------------------------------------------
    def _outbox_changed(self) -> bool:
        version = self.store.query_one("PRAGMA data_version")
        value = next(iter(version.values())) if version else None
        changed = value != self._data_version
        self._data_version = value
        return changed

    def _fill(self, now: float) -> None:
        if not (self._outbox_changed() or self._maybe_more):
            return
        self._maybe_more = False
        limit = self.config.sync.max_inflight_batches
        for kind in KINDS:
            while sum(1 for b in self.inflight.values() if b.kind == kind) < limit:
                batch = self.outbox.claim(kind, self.config.sync.batch_size, self.device)
                if batch is None:
                    break
                if not self._send(batch, now):
                    return
                if len(batch.ref_ids) >= self.config.sync.batch_size:
                    self._maybe_more = True

    def _send(self, batch: Batch, now: float) -> bool:
        info = self.client.publish(self.topic(TOPIC_LEAF[batch.kind]), batch.payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.warning("publish failed (%s); batch %s goes back in the queue", info.rc, batch.batch_id)
            self.outbox.release(batch.batch_id)
            self.inflight.pop(batch.batch_id, None)
            return False
        batch.sent_at = now
        batch.deadline = now + min(self.config.sync.ack_timeout_s * 2 ** (batch.attempts - 1), self.config.sync.retry_max_s)
        self.inflight[batch.batch_id] = batch
        self.stats["published_batches"] += 1
        return True

    def _resend_expired(self, now: float) -> None:
        for batch in [b for b in self.inflight.values() if b.deadline <= now]:
            self.inflight.pop(batch.batch_id, None)
            again = self.outbox.reload(batch)
            if again is None:
                continue
            again.attempts += 1
            self.stats["resends"] += 1
            log.warning("batch %s (%s %s) not acknowledged; sending again (attempt %s)", batch.batch_id,
                        len(again.ref_ids), batch.kind, again.attempts)
            self._send(again, now)

    def _release_inflight(self) -> None:
        if self.inflight:
            for batch_id in list(self.inflight):
                self.outbox.release(batch_id)
            self.inflight.clear()
        self._maybe_more = True

    # -- roster ------------------------------------------------------------------------------------------
    def _request_roster(self, reason: str, have: int | None = None, *, pending: bool = True) -> None:
        """Ask for the roster from the version held; with ``pending``, name the parts of a set still missing."""
        history = roster_history(self.store)
        body: dict[str, Any] = {"have": roster_version(self.store) if have is None else have, "reason": reason}
        found = pending_set(self.store) if pending else None
        if found is not None and found.missing:
            if found.history is not None and found.history != history:  # a set of the central's new history
                body["have"], history = 0, found.history
            body["pending"], body["missing"] = found.request(), list(found.missing)
        if history is not None:
            body["history"] = history
        self.client.publish(self.topic("roster/request"), p.dumps(body), qos=1)

    def _request_full(self, reason: str, cause: tuple) -> None:
        """Ask for the full roster, once per cause in FULL_REQUEST_S (each part of one message shows the same cause)."""
        now = time.monotonic()
        self._full_asked = {k: t for k, t in self._full_asked.items() if now - t < FULL_REQUEST_S}
        if cause in self._full_asked:
            return
        self._full_asked[cause] = now
        self._request_roster(reason, have=0, pending=False)

    def _on_roster(self, message: p.RosterEnvelope) -> None:
        result = receive_roster(self.store, message)
        if result.outcome == "behind":
            log.info("roster %s builds on %s but this terminal has %s: asking for the full roster",
                     message.version, message.base, result.have)
            self._request_full("behind", ("behind", message.history, message.version))
        elif result.outcome == "other_history":
            log.info("roster %s is of another history of the central than this terminal's: asking for the full roster",
                     message.version)
            self._request_full("history", ("history", message.history))
        elif result.outcome == "corrupt":
            self._request_full("corrupt", ("corrupt", message.history, message.version, message.digest))
        elif result.outcome == "partial":
            self._roster_ask_at = time.monotonic() + self.roster_part_wait_s
            self._roster_backoff = self.roster_part_wait_s
        elif result.outcome == "applied":
            self._roster_applied(result)

    def _roster_applied(self, result: RosterResult) -> None:
        self._roster_ask_at = None
        self.store.record_event("roster_applied", {"version": result.version, "from": result.have,
                                                   "full": result.full, "upserts": result.upserts,
                                                   "deletes": result.deletes, "rejected": len(result.rejected)})

    def _ask_missing_parts(self, now: float) -> None:
        """No part of an incomplete roster came for a while: ask for the ones missing (backing off)."""
        if self._roster_ask_at is None or now < self._roster_ask_at:
            return
        found = pending_set(self.store)
        if found is None or not found.missing:
            self._roster_ask_at = None
            return
        log.info("roster %s: %s of %s parts missing; asking for them", found.version, len(found.missing), found.parts)
        self._request_roster("missing")
        self._roster_backoff = min(self._roster_backoff * 2, ROSTER_PART_WAIT_MAX_S)
        self._roster_ask_at = now + self._roster_backoff

    def _resync(self) -> None:
        """The resync command: ask for the full roster and send every queued row again."""
        self._request_roster("resync", have=0, pending=False)
        self._release_inflight()
        self.outbox.release_all()

    # -- time --------------------------------------------------------------------------------------------
    def _clock_offset(self) -> float:
        last = self.timekeeper.last if self.timekeeper else None
        return last.offset_s if last else 0.0

    def _ntp_loop(self) -> None:
        assert self.timekeeper is not None
        interval = self.config.hardware.clock.check_interval_s
        while not self._stop.is_set():
            answer = self.timekeeper.query()
            self.events.put(("ntp", answer))
            self._stop.wait(interval if answer else min(interval, 30.0))

    # -- status --------------------------------------------------------------------------------------------
    def status(self) -> dict:
        last = self.timekeeper.last if self.timekeeper else None
        synced = last is not None and abs(last.offset_s) <= self.config.hardware.clock.max_offset_s
        return {
            "connected": self.connected, "last_ack_at": self.last_ack_at, "queue_depth": self.outbox.depth(ATTENDANCE_KINDS),
            "clock_offset_s": round(last.offset_s, 3) if last else None,
            "time_source": "ntp" if synced else "unsynced", "last_ntp_at": last.at if last else None,
            "ntp_server": last.server if last else None,
            "broker": f"{self.config.sync.broker_host}:{self.config.sync.broker_port}",
            "roster_version": roster_version(self.store), "roster_history": roster_history(self.store),
            "last_error": self.last_error, "pid": os.getpid(),
        }

    def _write_status(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._status_at < STATUS_WRITE_S:
            return
        status = self.status()
        if force or status != self._status_written or now - self._status_at > 30:
            self.store.set_setting(STATUS_KEY, {**status, "updated_at": utc_now()})
            self._status_written = status
        self._status_at = now

    def _publish_status(self, online: bool, reason: str | None = None) -> Any:
        from terminal.status import software_version, storage_status

        local = self.status()
        hardware = self.store.get_setting("hardware.status", {})
        body = {"online": online, "device": self.device, "site": self.site, "at": utc_now(),
                "versions": {"software": software_version(), "schema": self.store.schema_version(),
                             "roster": local["roster_version"], "protocol": p.VERSION,
                             **({"roster_history": local["roster_history"]} if local["roster_history"] else {})},
                "queue_depth": local["queue_depth"], "last_ack_at": local["last_ack_at"],
                "clock_offset_s": local["clock_offset_s"], "time_source": local["time_source"],
                "last_ntp_at": local["last_ntp_at"], "storage": storage_status(self.config.storage.data_dir),
                "hardware": hardware if isinstance(hardware, dict) else {}}
        if reason:
            body["reason"] = reason
        body = {k: v for k, v in body.items() if v is not None}
        p.validate(p.Status, body)
        return self.client.publish(self.topic("status"), p.dumps(body), qos=1, retain=True)

    def _shutdown(self) -> None:
        try:
            if self.connected:
                info = self._publish_status(False, reason="shutdown")
                info.wait_for_publish(timeout=2)
        except Exception as exc:
            log.warning("could not publish the offline status: %s", exc)
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()
        self.connected = False
        self._release_inflight()
        try:
            self._write_status(force=True)
        except Exception as exc:
            log.warning("could not write the final status: %s", exc)
        notify("STOPPING=1")
