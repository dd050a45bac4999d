"""What the broker refuses (ACL, certificates) and which commands a terminal carries out."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sync_support import SITE, RawClient, central_ids, raw_client, wait_for

from central.pki import SitePki
from contract import protocol as p
from contract.signing import load_signing_key


def punch_batch(device: str) -> bytes:
    punch = {"id": str(uuid.uuid4()), "device_id": device, "employee_number": "E001", "direction": "in",
             "method": "card", "score": None, "punched_at": p.utc_stamp(), "boot_id": "b", "monotonic_ns": 1,
             "time_source": "ntp", "original_punched_at": None, "restamped_at": None}
    return p.dumps({"batch": str(uuid.uuid4()), "punches": [punch]})


def test_a_terminal_cannot_publish_on_another_terminals_topics(site, broker_up, central):
    door_a = raw_client(site, broker_up, "door-a")
    assert not door_a.connect().is_failure
    try:
        # its own topic: accepted and stored
        assert not door_a.publish(p.device_topic(SITE, "door-a", "punches"), punch_batch("door-a")).is_failure
        wait_for(lambda: central_ids("door-a"), what="own punch stored")
        # another terminal's topics, or a command to itself: refused by the broker
        for topic in (p.device_topic(SITE, "door-b", "punches"), p.device_topic(SITE, "door-b", "status"),
                      p.device_topic("other-site", "door-a", "punches"), p.device_topic(SITE, "door-a", "cmd"),
                      p.device_topic(SITE, "door-a", "ack"), p.site_roster_topic(SITE)):
            rc = door_a.publish(topic, punch_batch("door-b"))
            assert rc.is_failure and rc.getName() == "Not authorized", (topic, rc)
    finally:
        door_a.close()
    assert central_ids("door-b") == []


def test_a_terminal_cannot_read_another_terminals_acks_roster_or_commands(site, broker_up):
    door_a, door_b, sender = (raw_client(site, broker_up, who) for who in ("door-a", "door-b", "central"))
    clients = (door_a, door_b, sender)
    try:
        for client in clients:
            assert not client.connect().is_failure
        others = [p.device_topic(SITE, "door-b", kind) for kind in ("ack", "cmd", "roster")]
        own_ack = p.device_topic(SITE, "door-a", "ack")
        door_a.subscribe([*others, f"seed/v1/{SITE}/+/ack", "seed/#"])
        door_b.subscribe(others)
        for topic in others:
            assert not sender.publish(topic, b'{"probe": true}').is_failure
        wait_for(lambda: len(door_b.messages) == len(others), what="door-b to receive its own messages")
        # a last message door-a may read, from the same sender: the broker delivers a sender's messages to a
        # subscriber in order, so once it is in, anything wrongly forwarded before it would be in too
        assert not sender.publish(own_ack, b'{"marker": true}').is_failure
        wait_for(lambda: door_a.messages, what="door-a to receive the marker on its own ack topic")
        assert sorted(topic for topic, _ in door_b.messages) == sorted(others)
        # (door-a's overlapping subscriptions may each deliver the marker)
        assert set(door_a.messages) == {(own_ack, b'{"marker": true}')}, door_a.messages
    finally:
        for client in clients:
            client.close()


def refusals_in(log: str) -> tuple[list[str], list[str]]:
    """The connections the broker logged, and its TLS refusals, in a stretch of its log.

    mosquitto words a refusal in one of two ways, depending on whether the handshake failed while it accepted the
    socket ("Client connection from 127.0.0.1 failed: <OpenSSL error>.", with no port and no connection line before
    it) or on its first read ("New connection from 127.0.0.1:<port> …", then "OpenSSL Error[0]: <OpenSSL error>").
    """
    lines = log.splitlines()
    refusals = [line for line in lines if "OpenSSL Error" in line or ("Client connection from" in line and " failed: " in line)]
    return [line for line in lines if "New connection from" in line], refusals


def logged_refusal(broker, mark: int, what: str) -> str:
    """The broker's log since ``mark`` once it holds a TLS error (the whole stretch is in the failure message if not)."""
    try:
        return wait_for(lambda: refusals_in(text := broker.log_since(mark))[1] and text, what=what)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; the broker logged:\n{broker.log_since(mark)}") from None


def test_a_certificate_from_another_ca_is_refused(site, broker_up, tmp_path):
    rogue = SitePki(tmp_path / "rogue", SITE)
    issued = rogue.device_cert("door-a", SITE)  # same name, wrong CA
    client = RawClient(broker_up.port, site["pki"].ca_cert, issued.cert_path, issued.key_path, "door-a-rogue")
    mark = broker_up.log_mark()
    outcome = client.connect(timeout=2)
    try:
        # the broker refuses the certificate in the handshake; no CONNACK ever comes
        assert outcome is None or isinstance(outcome, Exception), outcome
        assert not client.client.is_connected()
        assert client.publish_nowait(p.device_topic(SITE, "door-a", "punches"), punch_batch("door-a")) != 0
    finally:
        client.close()
    # the refusal is the broker's, for its certificate: every connection since the mark is this client's (paho tries
    # again by itself), and each ended in the certificate's verification, none in a session
    log = logged_refusal(broker_up, mark, "the broker to log the refused certificate")
    connections, errors = refusals_in(log)
    assert errors and len(connections) <= len(errors), log  # each connection refused (some are refused on accept)
    assert all("certificate verify failed" in line for line in errors), errors
    assert "New client connected" not in log


def test_no_client_certificate_is_refused(site, broker_up):
    """A client with the right CA but no certificate of its own reaches the broker and is refused in the handshake."""
    import socket
    import ssl

    context = ssl.create_default_context(cafile=str(site["pki"].ca_cert))
    context.check_hostname = False  # the broker's name is not what is tested here
    mark = broker_up.log_mark()
    with socket.create_connection(("127.0.0.1", broker_up.port), timeout=10) as raw:
        local_port = raw.getsockname()[1]
        with pytest.raises(ssl.SSLError) as refused:
            with context.wrap_socket(raw) as tls:  # the handshake; a client without a certificate never gets past it
                tls.recv(1)
    assert "handshake failure" in str(refused.value) or "certificate required" in str(refused.value), refused.value
    # the broker's side: one connection, refused because it brought no certificate (and when the broker logged the
    # connection's port, it is this very one)
    log = logged_refusal(broker_up, mark, "the broker to log the refusal")
    connections, errors = refusals_in(log)
    assert len(errors) == 1 and "peer did not return a certificate" in errors[0], log
    assert len(connections) <= 1 and all(f"New connection from 127.0.0.1:{local_port} " in line for line in connections), log
    assert "New client connected" not in log


def test_a_provisioned_but_unlisted_terminal_can_do_nothing(site, broker_up, tmp_path):
    issued = site["pki"].issue("door-z", tmp_path / "z.key", tmp_path / "z.crt")  # right CA, not in the ACL
    client = RawClient(broker_up.port, site["pki"].ca_cert, issued.cert_path, issued.key_path, "door-z")
    assert not client.connect().is_failure
    try:
        assert client.publish(p.device_topic(SITE, "door-z", "punches"), punch_batch("door-z")).is_failure
    finally:
        client.close()


@pytest.fixture
def running_agent(terminal_a, central, agent_factory):
    agent = agent_factory(terminal_a.config)
    wait_for(lambda: agent.agent.connected, what="agent connected")
    return agent


def command_result(central, command_id: str) -> dict:
    from central.ingest.models import Command

    return wait_for(lambda: (r := Command.objects.filter(id=command_id).values("ok", "reason", "result").first())
                    and r["ok"] is not None and r, what=f"result of {command_id}")


def test_signed_fresh_commands_are_carried_out(running_agent, terminal_a, central):
    sent = central.send_command(SITE, "door-a", "open_door", {"seconds": 2})
    assert command_result(central, sent["id"])["ok"] == 1
    request = terminal_a.store.get_setting("door.open_request")
    assert request["id"] == sent["id"] and request["seconds"] == 2

    sent = central.send_command(SITE, "door-a", "set_setting", {"key": "ui.brightness", "value": 70})
    assert command_result(central, sent["id"])["ok"] == 1
    assert terminal_a.store.get_setting("ui.brightness") == 70

    number = terminal_a.employees[0]["number"]
    sent = central.send_command(SITE, "door-a", "purge_employee", {"number": number})
    assert command_result(central, sent["id"])["result"]["removed"] is True
    assert terminal_a.store.query_one("SELECT 1 AS x FROM employees WHERE number = ?", (number,)) is None
    audit = [r["action"] for r in terminal_a.store.query("SELECT action FROM audit_log")]
    assert {"command.open_door", "command.set_setting", "command.purge_employee"} <= set(audit)


def forge(site: dict, *, key=None, device: str = "door-a", issued_at: str | None = None, cmd: str = "open_door",
          args: dict | None = None) -> dict:
    key = key or load_signing_key(site["pki"].signing_key)
    return p.sign_command(key, site=SITE, device=device, cmd=cmd, args=args or {}, issued_at=issued_at)


def test_unsigned_stale_replayed_or_misaddressed_commands_are_refused(site, broker_up, running_agent, terminal_a,
                                                                      central):
    old = p.utc_stamp(datetime.now(timezone.utc) - timedelta(hours=1))
    future = p.utc_stamp(datetime.now(timezone.utc) + timedelta(hours=1))
    good = forge(site)
    tampered = {**forge(site, cmd="set_setting", args={"key": "ui.x", "value": 1}), "args": {"key": "ui.x", "value": 2}}
    cases = {
        "bad signature": [forge(site, key=ed25519.Ed25519PrivateKey.generate()), tampered],
        "not fresh": [forge(site, issued_at=old), forge(site, issued_at=future)],
        "addressed to another terminal": [forge(site, device="door-b")],
        "invalid command": [{**good, "sig": "!!"}, {**good, "cmd": "format_disk"}],
    }
    sender = raw_client(site, broker_up, "central")
    assert not sender.connect().is_failure
    sender.client.subscribe(p.device_topic(SITE, "door-a", "cmd/result"), qos=1)
    try:
        assert not sender.publish(p.device_topic(SITE, "door-a", "cmd"), p.dumps(good)).is_failure
        wait_for(lambda: terminal_a.store.get_setting("door.open_request"), what="the good command")
        terminal_a.store.set_setting("door.open_request", None)
        # the same command again is a replay
        cases["already received"] = [good]
        for reason, commands in cases.items():
            for command in commands:
                sender.messages.clear()
                assert not sender.publish(p.device_topic(SITE, "door-a", "cmd"), p.dumps(command)).is_failure
                results = wait_for(lambda sent=command["id"]: [r for t, m in list(sender.messages)
                                                               if t.endswith("cmd/result") and (r := json.loads(m))["id"] == sent],
                                   what=f"refusal ({reason})")
                assert results[0]["ok"] is False
                assert results[0]["reason"].startswith(reason), results[0]
    finally:
        sender.close()
    assert terminal_a.store.get_setting("door.open_request") is None  # nothing refused was carried out
    assert terminal_a.store.get_setting("ui.x") is None
    refused = terminal_a.store.query("SELECT payload FROM events WHERE kind = 'command_refused'")
    assert len(refused) == 8
    logged = terminal_a.store.query("SELECT reason FROM command_log WHERE ok = 0")
    assert any(r["reason"] == "bad signature" for r in logged)


def test_seed_central_command_line_sends_a_signed_command(site, broker_up, running_agent, terminal_a, central,
                                                          capsys):
    from django.db import connection

    from central.cli import main as central_main

    code = central_main(["--db", str(connection.settings_dict["NAME"]), "--pki", str(site["pki"].root), "--site", SITE,
                         "command", "door-a", "set_setting", "--arg", "key=ui.volume", "--arg", "value=35",
                         "--broker-host", "127.0.0.1", "--broker-port", str(broker_up.port), "--wait", "10"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["ok"] is True, result
    assert terminal_a.store.get_setting("ui.volume") == 35
    from central.ingest.models import Command

    row = Command.objects.values("cmd", "ok").get(id=result["id"])
    assert row == {"cmd": "set_setting", "ok": True}


def test_a_command_queued_in_the_console_is_signed_sent_and_answered(running_agent, terminal_a, central):
    """The web process has no key and no broker: it queues; the receiver signs, sends, and records the answer."""
    from django.utils import timezone

    from central.ingest.commands import request_command
    from central.ingest.models import Command

    queued = request_command(SITE, "door-a", "open_door", {"seconds": 3}, actor="hr1")
    assert queued.published_at is None
    result = command_result(central, queued.id)
    assert result["ok"] is True
    row = Command.objects.get(id=queued.id)
    assert row.published_at is not None and row.issued_by == "hr1"
    request = terminal_a.store.get_setting("door.open_request")
    assert request["id"] == queued.id and request["seconds"] == 3
    # a command nobody sent in time is closed with the reason, never sent late
    stale = request_command(SITE, "door-a", "open_door", {}, actor="hr1")
    Command.objects.filter(id=stale.id).update(issued_at=timezone.now() - timezone.timedelta(minutes=30))
    closed = command_result(central, stale.id)
    assert closed["ok"] is False and "not sent" in closed["reason"]
    assert Command.objects.get(id=stale.id).published_at is None
