"""Signed commands to one terminal: sent at once from the command line, or queued by the console and the API."""
from __future__ import annotations

import logging
import queue
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from django.utils import timezone
from paho.mqtt.enums import CallbackAPIVersion

from central.ingest.handler import record_command_result
from central.ingest.models import Command
from central.ingest.service import record_command
from central.pki import SitePki
from contract import protocol as p
from contract.signing import load_signing_key

log = logging.getLogger(__name__)


def send_command_once(pki_root: Path | str, site: str, device: str, cmd: str, args: dict, *,
                      broker_host: str = "localhost", broker_port: int = 8883, wait_s: float = 10.0, actor: str = "") -> dict:
    """Connect, publish one signed command, wait for its result; returns the result (or a timeout note)."""
    pki = SitePki(pki_root, site)
    command = p.sign_command(load_signing_key(pki.signing_key), site=site, device=device, cmd=cmd, args=args)
    record_command(command, actor=actor)
    events: queue.Queue[tuple] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"seed-central-cmd-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    central = pki.central_cert()
    client.tls_set(ca_certs=str(pki.ca_cert), certfile=str(central.cert_path), keyfile=str(central.key_path))
    client.on_connect = lambda c, u, f, rc, props: events.put(("connect", rc))
    client.on_subscribe = lambda c, u, mid, rcs, props: events.put(("subscribed", mid))
    client.on_message = lambda c, u, msg: events.put(("message", msg.payload))
    client.connect_async(broker_host, broker_port, keepalive=30, clean_start=True)
    client.loop_start()
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                kind, value = events.get(timeout=max(0.05, deadline - time.monotonic()))
            except queue.Empty:
                break
            if kind == "connect":
                if value.is_failure:
                    return {"id": command["id"], "ok": False, "reason": f"broker refused: {value}"}
                client.subscribe(p.device_topic(site, device, "cmd/result"), qos=1)
            elif kind == "subscribed":
                client.publish(p.device_topic(site, device, "cmd"), p.dumps(command), qos=1)
            elif kind == "message":
                try:
                    result = p.validate(p.CommandResult, p.loads(value))
                except p.ProtocolError:
                    continue
                if result.id != command["id"]:
                    continue
                record_command_result(result)
                return result.model_dump()
        return {"id": command["id"], "ok": False, "reason": f"no result within {wait_s:g} s"}
    finally:
        client.disconnect()
        client.loop_stop()


def request_command(site: str, device: str, cmd: str, args: dict | None = None, *, actor: str) -> Command:
    """Queue a command from the console or the API; the running receiver signs and sends it within a second.

    The web process holds no signing key and no broker connection: ``seed-central run`` does.
    """
    if cmd not in p.COMMANDS:
        raise ValueError(f"unknown command {cmd!r}")
    return Command.objects.create(id=str(uuid.uuid4()), site=site, device_id=device, cmd=cmd, args=args or {},
                                  issued_at=timezone.now(), issued_by=actor)
