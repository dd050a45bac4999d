"""One bad roster record never stalls a terminal: the good records apply, the version advances,
and each refused record is reported to the central as a ``roster.rejected`` event."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from contract import protocol as p
from contract.pins import hash_pin
from sync_agent.agent import SyncAgent
from sync_agent.roster import (
    MAX_REJECTED_EVENTS,
    REJECTED_EVENT,
    apply_roster,
    roster_version,
)
from terminal.store.employees import add_employee

SITE, DEVICE = "test", "test-door-1"


@pytest.fixture
def agent_config(tmp_path):
    from terminal.config import parse_config

    return parse_config({
        "device": {"id": DEVICE, "site": SITE, "language": "en", "timezone": "UTC"},
        "storage": {"data_dir": str(tmp_path / "data"), "min_free_mb": 1},
        "hardware": {"profile": "sim"},
        "sync": {"tls": False, "broker_host": "127.0.0.1", "broker_port": 1},
    })


@pytest.fixture
def terminal(agent_config):
    """The terminal's encrypted store and its sync agent, never connected: its message handler is driven directly."""
    from terminal.store.database import open_store

    with open_store(agent_config.storage) as store:
        agent = SyncAgent(agent_config, store, ntp=False)
        yield store, agent
        agent.client.loop_stop()


def employee(number: str, **extra: object) -> dict:
    return {"number": number, "name": f"Employee {number}", "department": "Ops", **extra}


def roster(version: int, upserts: list, base: int | None = None, **extra: object) -> dict:
    return {"version": version, "base": version - 1 if base is None else base, "upserts": upserts, "deletes": [], **extra}


def deliver(agent: SyncAgent, message: dict) -> None:
    agent._on_message(p.device_topic(SITE, DEVICE, "roster"), p.dumps(message))


def local(store, number: str) -> dict | None:
    return store.query_one("SELECT id, name, card, verify_mode, roster_version FROM employees WHERE number = ?", (number,))


def rejected_events(store) -> list[dict]:
    rows = store.query("SELECT id, severity, payload FROM events WHERE kind = ? ORDER BY created_at, id", (REJECTED_EVENT,))
    return [{"id": r["id"], "severity": r["severity"], **json.loads(r["payload"])} for r in rows]


def outbox_events(store) -> dict[str, dict]:
    return {r["ref_id"]: json.loads(r["payload"]) for r in store.query("SELECT ref_id, payload FROM outbox WHERE kind = 'event'")}


def face(values: np.ndarray) -> str:
    return base64.b64encode(values.astype(np.float32).tobytes()).decode()


def test_one_bad_record_is_skipped_and_reported_the_others_apply(terminal):
    store, agent = terminal
    secret = hash_pin("2580")
    deliver(agent, roster(1, [employee("A1", card="0041E34E"),
                              employee("B1", verify_mode="pin+card", pin_hash=secret, faces=[face(np.ones(128))]),
                              employee("A2", verify_mode="card+pin", pin_hash=hash_pin("1357"))]))
    assert roster_version(store) == 1
    assert local(store, "A1")["card"] == "4318030" and local(store, "A2")["verify_mode"] == "card+pin"
    assert local(store, "B1") is None
    events = rejected_events(store)
    assert [(e["number"], e["field"], e["version"], e["severity"]) for e in events] == [("B1", "verify_mode", 1, "warning")]
    assert "not a verification mode" in events[0]["reason"]
    queued = outbox_events(store)[events[0]["id"]]  # on its way to the central, as a valid event
    assert p.validate(p.Event, queued).kind == REJECTED_EVENT and queued["payload"]["number"] == "B1"
    everything = json.dumps(store.query("SELECT payload FROM events")) + json.dumps(list(outbox_events(store).values()))
    assert secret not in everything and face(np.ones(128)) not in everything
    applied = store.query_one("SELECT payload FROM events WHERE kind = 'roster_applied'")
    assert json.loads(applied["payload"])["rejected"] == 1
    # sync keeps going: the next delta builds on version 1
    deliver(agent, roster(2, [employee("B1", verify_mode="pin+card", pin_hash=secret)]))
    deliver(agent, roster(3, [employee("B1", verify_mode="card+pin", pin_hash=secret)]))
    assert roster_version(store) == 3 and local(store, "B1")["verify_mode"] == "card+pin"
    assert [(e["number"], e["version"]) for e in rejected_events(store)] == [("B1", 1), ("B1", 2)]


def test_cards_one_holder_each_the_second_holder_is_refused(terminal):
    store, agent = terminal
    deliver(agent, roster(1, [employee("A1", card="0041E34E"), employee("A2", card="4318030"), employee("A3", card="12")]))
    assert roster_version(store) == 1
    assert local(store, "A1")["card"] == "4318030" and local(store, "A2") is None and local(store, "A3")["card"] == "12"
    [event] = rejected_events(store)
    assert (event["number"], event["field"]) == ("A2", "card") and "employee A1" in event["reason"]


def test_a_card_moves_only_when_its_holder_changes_in_the_same_message(terminal):
    store, agent = terminal
    add_employee(store, number="L1", name="Enrolled here", card="999")
    deliver(agent, roster(1, [employee("A1", card="111"), employee("A2", card="222")]))
    # A3 wants A1's card but A1 is not in the message: refused; a card held by a local enrolment is not taken either
    deliver(agent, roster(2, [employee("A3", card="111"), employee("A4", card="999"), employee("A5", card="555")]))
    assert roster_version(store) == 2 and local(store, "A5")["card"] == "555"
    assert local(store, "A3") is None and local(store, "A4") is None
    assert local(store, "A1")["card"] == "111" and local(store, "L1")["card"] == "999"
    reasons = {e["number"]: (e["field"], e["reason"]) for e in rejected_events(store)}
    assert reasons["A3"][0] == "card" and "employee A1 on this terminal" in reasons["A3"][1]
    assert reasons["A4"][0] == "card" and "employee L1 on this terminal" in reasons["A4"][1]
    # the roster is authoritative: a swap in one message, and a card freed by a delete, move
    deliver(agent, roster(3, [employee("A1", card="222"), employee("A2", card="111")]))
    assert local(store, "A1")["card"] == "222" and local(store, "A2")["card"] == "111"
    message = roster(4, [employee("A6", card="555")])
    message["deletes"] = ["A5"]
    deliver(agent, message)
    assert local(store, "A6")["card"] == "555" and local(store, "A5") is None
    assert len(rejected_events(store)) == 2


def test_a_refused_record_keeps_its_card_which_may_refuse_another(terminal):
    store, agent = terminal
    deliver(agent, roster(1, [employee("A1", card="111")]))
    # A1 would give up 111 for 333, but its record is bad: A1 keeps 111, so A2 cannot have it
    deliver(agent, roster(2, [employee("A1", card="333", verify_mode="nope"), employee("A2", card="111"),
                              employee("A3", card="444")]))
    assert roster_version(store) == 2
    assert local(store, "A1")["card"] == "111" and local(store, "A2") is None and local(store, "A3")["card"] == "444"
    assert [(e["number"], e["field"]) for e in rejected_events(store)] == [("A1", "verify_mode"), ("A2", "card")]


def test_a_full_roster_keeps_an_employee_whose_record_is_refused(store):
    first = p.validate(p.RosterEnvelope, roster(1, [employee("F1", name="One"), employee("F2"), employee("F3")]))
    assert apply_roster(store, first).outcome == "applied"
    nan = np.zeros(128)
    nan[5] = np.nan
    full = p.validate(p.RosterEnvelope, roster(5, [employee("F1", name="Changed", faces=[face(nan)]), employee("F2")],
                                               base=0, full=True))
    result = apply_roster(store, full)
    assert (result.outcome, result.upserts, result.deletes) == ("applied", 1, 1)
    assert [(e.number, e.field) for e in result.rejected] == [("F1", "faces")]
    assert roster_version(store) == 5
    assert local(store, "F1")["name"] == "One"  # as it was: a refused record neither changes nor deletes
    assert local(store, "F3") is None  # not named by the full roster: deleted as before


def test_upserted_and_deleted_in_one_message_the_delete_applies(store):
    apply_roster(store, p.validate(p.RosterEnvelope, roster(1, [employee("D1")])))
    message = roster(2, [employee("D1", name="Again"), employee("D2")])
    message["deletes"] = ["D1"]
    result = apply_roster(store, p.validate(p.RosterEnvelope, message))
    assert local(store, "D1") is None and local(store, "D2") is not None
    assert [(e.number, e.field) for e in result.rejected] == [("D1", "number")]


def test_a_flood_of_bad_records_is_summed_up_not_queued_one_by_one(store):
    bad = [employee(f"X{i}", verify_mode="bogus") for i in range(MAX_REJECTED_EVENTS + 30)]
    result = apply_roster(store, p.validate(p.RosterEnvelope, roster(1, [*bad, employee("OK")])))
    assert len(result.rejected) == MAX_REJECTED_EVENTS + 30 and result.upserts == 1
    events = rejected_events(store)
    assert len(events) == MAX_REJECTED_EVENTS + 1
    assert events[-1]["number"] is None and events[-1]["reason"].startswith("30 more records")


def test_a_broken_envelope_still_refuses_the_whole_message(terminal):
    store, agent = terminal
    deliver(agent, {"version": 1, "base": 0, "upserts": [employee("E1")], "deletes": ["not a number!"]})
    deliver(agent, {"version": "one", "base": 0, "upserts": [employee("E1")]})
    assert roster_version(store) == 0 and local(store, "E1") is None
    assert rejected_events(store) == []
    assert store.query_one("SELECT count(*) AS n FROM events WHERE kind = 'message_refused'")["n"] >= 1


def test_a_repeated_message_reports_nothing_again(terminal):
    store, agent = terminal
    message = roster(1, [employee("R1"), employee("R2", card="zz-not-a-card")])
    deliver(agent, message)
    deliver(agent, message)
    assert roster_version(store) == 1
    assert [(e["number"], e["field"]) for e in rejected_events(store)] == [("R2", "card")]


def test_an_already_validated_roster_still_applies(store):
    message = p.validate(p.Roster, roster(1, [employee("V1", card="7"), employee("V2")]))
    result = apply_roster(store, message)
    assert (result.outcome, result.upserts, result.rejected) == ("applied", 2, ())


def test_a_whole_set_left_unapplied_by_a_stop_is_applied_at_the_next_connect_as_what_it_is(terminal):
    """The terminal stopped after keeping a full roster's last part but before applying it: the agent applies it
    when it connects again, and its roster_applied event says it was a full roster."""
    import json as json_

    from sync_agent.roster import receive_roster
    from terminal.store.database import utc_now

    store, agent = terminal
    upserts = [employee("R1"), employee("R2")]
    history = "ab" * 16
    digest = p.roster_digest([p.canonical_json(u) for u in upserts], [])
    head = {"version": 1, "base": 0, "full": True, "history": history, "digest": digest, "parts": 2, "deletes": []}
    assert receive_roster(store, p.validate(p.RosterEnvelope, {**head, "part": 0, "upserts": upserts[:1]})).outcome == "partial"
    with store.transaction() as conn:  # the second part stored, then the stop: nothing applied
        conn.execute("INSERT INTO roster_parts (history, version, base, full, digest, parts, part, body, received_at) "
                     "VALUES (?, 1, 0, 1, ?, 2, 1, ?, ?)",
                     (history, digest, json_.dumps({"upserts": upserts[1:], "deletes": []}), utc_now()))
    assert roster_version(store) == 0
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    agent._on_connect(ReasonCode(PacketTypes.CONNACK, "Success"))
    assert roster_version(store) == 1 and local(store, "R2") is not None
    applied = json_.loads(store.query_one("SELECT payload FROM events WHERE kind = 'roster_applied'")["payload"])
    assert (applied["version"], applied["full"], applied["upserts"]) == (1, True, 2)
