"""Malformed and hostile payloads, generated with Hypothesis, on every topic each side subscribes to.

Neither side may crash, apply half a message or lose a punch: each bad payload is
refused with a reason (the central's ``rejected`` table, the terminal's log and a
rate-limited ``message_refused`` event).
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sync_support import SITE, central_ids, raw_client, wait_for

from central.ingest.handler import Ingest
from central.ingest.models import Punch, RejectedMessage
from contract import protocol as p
from sync_agent.agent import SyncAgent
from sync_agent.roster import roster_version

CENTRAL_LEAVES = ("punches", "events", "status", "roster/request", "cmd/result")
DEVICE_LEAVES = ("ack", "roster", "cmd")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25)


def valid_punch(device: str = "door-a") -> dict:
    return {"id": str(uuid.uuid4()), "device_id": device, "employee_number": "E001", "direction": "in",
            "method": "card", "score": 0.5, "punched_at": p.utc_stamp(), "boot_id": "boot", "monotonic_ns": 5,
            "time_source": "ntp", "original_punched_at": None, "restamped_at": None}


TEMPLATES: dict[str, Callable[[], dict[str, Any]]] = {
    "punches": lambda: {"batch": str(uuid.uuid4()), "punches": [valid_punch(), valid_punch()]},
    "events": lambda: {"batch": str(uuid.uuid4()), "events": [{"id": str(uuid.uuid4()), "kind": "tailgating",
                                                                "severity": "warning", "at": p.utc_stamp(),
                                                                "payload": {"faces": 2}}]},
    "status": lambda: {"online": True, "device": "door-a", "queue_depth": 3},
    "roster/request": lambda: {"have": 3, "reason": "connect"},
    "cmd/result": lambda: {"id": str(uuid.uuid4()), "ok": True, "reason": "", "result": {}},
    "ack": lambda: {"batch": str(uuid.uuid4()), "stored": [str(uuid.uuid4())], "rejected": []},
    "roster": lambda: {"version": 7, "base": 6, "full": False, "upserts": [{"number": "H1", "name": "Hostile"}],
                       "deletes": []},
    "cmd": lambda: {"id": str(uuid.uuid4()), "site": SITE, "device": "door-a", "cmd": "open_door", "args": {},
                    "issued_at": p.utc_stamp(), "sig": "AAAA"},
}


def _encode(value) -> bytes:
    return json.dumps(value).encode("utf-8")  # NaN and Infinity included on purpose


@st.composite
def mutated(draw, leaf: str) -> bytes:
    """A valid-looking message with one part replaced, removed, or an extra key added."""
    message = TEMPLATES[leaf]()
    key = draw(st.sampled_from(sorted(message)))
    action = draw(st.sampled_from(("replace", "delete", "extra", "replace_inner")))
    if action == "replace":
        message[key] = draw(json_values)
    elif action == "delete":
        del message[key]
    elif action == "extra":
        message[draw(st.text(min_size=1, max_size=10))] = draw(json_values)
    else:
        for value in message.values():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                inner_key = draw(st.sampled_from(sorted(value[0])))
                value[0][inner_key] = draw(json_values)
                break
    return _encode(message)


def hostile(leaf: str):
    return st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(lambda t: t.encode("utf-8")),
        json_values.map(_encode),
        mutated(leaf),
        st.sampled_from([b"", b"null", b"[]" * 1, b"[" * 50_000, b'{"batch": ' * 20_000, b"\xff\xfe\x00",
                         b'{"online": true, "device": "door-a", "hardware": {"x": "' + b"y" * 5_000_000 + b'"}}']),
    )


@pytest.fixture
def ingest(db):
    return Ingest(roster_reply=lambda site, device, request: [])


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_central_refuses_hostile_payloads_with_a_reason(ingest, data):
    leaf = data.draw(st.sampled_from(CENTRAL_LEAVES))
    payload = data.draw(hostile(leaf))
    before = RejectedMessage.objects.count()
    replies = ingest.handle(p.device_topic(SITE, "door-a", leaf), payload)  # must not raise
    for reply in replies:  # any ack it sends is itself a valid ack
        p.validate(p.Ack, p.loads(reply.payload))
    after = RejectedMessage.objects.count()
    stored = list(Punch.objects.values("id", "device_id", "punched_at"))
    assert all(r["device_id"] == "door-a" for r in stored)
    for row in stored:  # whatever was stored is a valid punch, with a real time
        assert row["punched_at"].tzinfo is not None
    if not replies and after == before and leaf in ("punches", "events"):
        pytest.fail(f"a {leaf} payload was neither acknowledged nor recorded as rejected: {payload[:200]!r}")


def test_central_refuses_messages_on_unexpected_topics(ingest):
    for topic in ("seed/v2/x/y/punches", "seed/v1/bad site/d/punches", "seed/v1/s/d/unknown", "other", "seed/v1/s"):
        assert ingest.handle(topic, b"{}") == []
    reasons = list(RejectedMessage.objects.order_by("-id").values_list("reason", flat=True)[:5])
    assert len(reasons) == 5 and all(reasons)


@pytest.fixture
def offline_agent(site, broker_up, terminal_a):
    """An agent that is not running: its message handler is driven directly."""
    terminal_a.punch(3)
    agent = SyncAgent(terminal_a.config, terminal_a.store, ntp=False)
    yield agent
    agent.client.loop_stop()


def test_terminal_refuses_hostile_payloads_without_changing_anything(offline_agent, terminal_a):
    store = terminal_a.store
    snapshot = lambda: (store.query("SELECT id, ref_id, batch_id FROM outbox WHERE kind = 'punch' ORDER BY id"),  # noqa: E731
                        store.query("SELECT number, name FROM employees ORDER BY number"), roster_version(store))
    before = snapshot()

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def check(data):
        leaf = data.draw(st.sampled_from(DEVICE_LEAVES + ("site-roster",)))
        payload = data.draw(hostile("roster" if leaf == "site-roster" else leaf))
        topic = p.site_roster_topic(SITE) if leaf == "site-roster" else p.device_topic(SITE, "door-a", leaf)
        offline_agent._on_message(topic, payload)  # must not raise

    check()
    after = snapshot()
    assert after[0] == before[0]  # no punch left the outbox on a forged ack (refusal events were added)
    assert after[2] == before[2] or after[2] == 7  # only a fully valid roster could have applied
    assert store.query_one("PRAGMA integrity_check")["integrity_check"] == "ok"
    assert store.get_setting("door.open_request") is None  # no unsigned command ran
    # refusals are logged and rate-limited into events
    assert 1 <= store.query_one("SELECT count(*) AS n FROM events WHERE kind IN ('message_refused', 'command_refused')")["n"]


def test_hostile_traffic_over_the_wire_loses_no_punch(site, broker_up, terminal_a, central, agent_factory):
    terminal_a.punch(20)
    agent = agent_factory(terminal_a.config)
    wait_for(lambda: agent.agent.connected, what="agent connected")
    as_device = raw_client(site, broker_up, "door-a")
    as_central = raw_client(site, broker_up, "central")
    assert not as_device.connect().is_failure and not as_central.connect().is_failure
    sent = []

    @settings(max_examples=120, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def flood(data):
        if data.draw(st.booleans()):
            leaf = data.draw(st.sampled_from(CENTRAL_LEAVES))
            topic, client = p.device_topic(SITE, "door-a", leaf), as_device
        else:
            leaf = data.draw(st.sampled_from(DEVICE_LEAVES + ("site-roster",)))
            topic = p.site_roster_topic(SITE) if leaf == "site-roster" else p.device_topic(SITE, "door-a", leaf)
            client = as_central
        payload = data.draw(hostile("roster" if leaf == "site-roster" else leaf))
        if len(payload) < 1_000_000:
            assert client.publish_nowait(topic, payload) == 0
            sent.append(topic)

    try:
        flood()
        terminal_a.punch(5)  # the door keeps punching during the flood
        wait_for(lambda: terminal_a.outbox_depth() == 0, timeout=30, what="outbox drained after the flood")
    finally:
        as_device.close()
        as_central.close()
    assert len(sent) > 50
    assert agent.thread.is_alive() and central._thread.is_alive()
    assert central.ingest.counters["rejected"] > 0
    # The flood used door-a's own certificate, so a well-formed forged punch in it is door-a's to send:
    # every punch the terminal recorded is there exactly once, besides whatever the flood forged.
    local = {r["id"] for r in terminal_a.store.query("SELECT id FROM punches")}
    stored = central_ids("door-a")
    assert sorted(i for i in stored if i in local) == sorted(local)
    assert terminal_a.outbox_depth() == 0
