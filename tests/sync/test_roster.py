"""The roster travels down: versioned, in one transaction, with a full resync when a terminal is behind."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from sync_support import SITE, publish_as_central, wait_for

from central.people import roster as central_roster
from contract import protocol as p
from sync_agent.roster import PURGE_KEY, apply_roster, roster_version


def descriptor(seed: int) -> str:
    return base64.b64encode(np.random.default_rng(seed).random(128, dtype=np.float32).tobytes()).decode()


def employee(number: str, name: str, **extra) -> dict:
    return {"number": number, "name": name, "department": "Ops", "allowed_devices": [], **extra}


def local(store, number: str) -> dict | None:
    return store.query_one("SELECT id, name, card, roster_version, active FROM employees WHERE number = ?", (number,))


def templates(store, number: str) -> tuple[int, int]:
    row = local(store, number)
    assert row is not None, number
    faces = store.scalar("SELECT count(*) FROM face_templates WHERE employee_id = ?", (row["id"],))
    fingers = store.scalar("SELECT count(*) FROM finger_templates WHERE employee_id = ?", (row["id"],))
    return faces, fingers


def test_roster_changes_reach_the_terminal_and_survive_being_offline(terminal_a, central, agent_factory):
    finger = base64.b64encode(bytes(range(256)) * 2).decode()
    central_roster.upsert_employees([
        employee("C100", "王小明", card="A1B2C3", faces=[descriptor(1), descriptor(2)],
                 fingers=[{"finger": 1, "template": finger}]),
        employee("C101", "Li Lei", allowed_devices=["door-b"]),
    ])
    agent = agent_factory(terminal_a.config)
    wait_for(lambda: roster_version(terminal_a.store) == 2, what="roster v2 on the terminal")
    assert local(terminal_a.store, "C100")["name"] == "王小明"
    assert templates(terminal_a.store, "C100") == (2, 1)
    assert json.loads(terminal_a.store.query_one("SELECT allowed_devices FROM employees WHERE number = 'C101'")
                      ["allowed_devices"]) == ["door-b"]
    # online change: published on the site topic
    central_roster.upsert_employee(employee("C102", "Han Meimei"))
    wait_for(lambda: roster_version(terminal_a.store) == 3, what="online delta")
    # the sensor slot of a template that goes away is queued for the terminal to clear
    with terminal_a.store.transaction() as conn:
        conn.execute("UPDATE finger_templates SET sensor_position = 17")
    agent.stop()

    # while the terminal is offline the roster moves on
    central_roster.delete_employee("C100")
    central_roster.upsert_employee(employee("C101", "Li Lei", active=False))
    central_roster.upsert_employee(employee("C103", "Zhang San", faces=[descriptor(3)]))
    assert central_roster.current_version() == 6

    agent_factory(terminal_a.config)
    wait_for(lambda: roster_version(terminal_a.store) == 6, what="catch-up after reconnecting")
    assert local(terminal_a.store, "C100") is None
    assert local(terminal_a.store, "C101")["active"] == 0
    assert templates(terminal_a.store, "C103") == (1, 0)
    assert terminal_a.store.get_setting(PURGE_KEY) == [17]
    # employees enrolled on the terminal itself are not touched
    assert local(terminal_a.store, terminal_a.employees[0]["number"]) is not None
    assert terminal_a.store.query_one("SELECT 1 AS x FROM face_templates WHERE employee_id NOT IN (SELECT id FROM employees)") is None


def test_a_terminal_that_missed_versions_asks_for_the_full_roster(site, broker_up, terminal_a, central, agent_factory):
    central_roster.upsert_employees([employee(f"F{i}", f"Person {i}") for i in range(3)])
    agent_factory(terminal_a.config)
    wait_for(lambda: roster_version(terminal_a.store) == 3, what="roster v3")
    # the terminal never sees v4..v5 (they are only in the central's log), then gets a delta from further ahead
    central._published_roster = 10**6  # keep the running central from broadcasting v4..v5 itself
    central_roster.upsert_employee(employee("F9", "Late"))
    central_roster.delete_employee("F0")
    jump = {"version": 99, "base": 98, "full": False, "upserts": [employee("F5", "Ghost")], "deletes": []}
    publish_as_central(site, broker_up, p.device_topic(SITE, "door-a", "roster"), p.dumps(jump))
    # it refuses to apply the gap and gets the full roster (version 5) instead
    wait_for(lambda: roster_version(terminal_a.store) == 5, what="full resync")
    numbers = {r["number"] for r in terminal_a.store.query("SELECT number FROM employees WHERE roster_version > 0")}
    assert numbers == {"F1", "F2", "F9"}


def test_an_invalid_roster_envelope_changes_nothing_and_a_repeated_employee_is_refused(store):
    good = p.validate(p.Roster, {"version": 1, "base": 0, "upserts": [employee("A1", "One", card="111"),
                                                                      employee("A2", "Two", card="222")]})
    assert apply_roster(store, good).outcome == "applied"
    swap = p.validate(p.Roster, {"version": 2, "base": 1, "upserts": [employee("A1", "One", card="222"),
                                                                      employee("A2", "Two", card="111")]})
    assert apply_roster(store, swap).outcome == "applied"  # cards may change hands in one message
    assert local(store, "A1")["card"] == "222" and local(store, "A2")["card"] == "111"
    with pytest.raises(p.ProtocolError):  # the envelope itself is wrong: nothing of it can be applied
        p.validate(p.RosterEnvelope, {"version": 3, "base": 2, "upserts": [employee("A1", "X")], "deletes": ["no such!"]})
    assert roster_version(store) == 2 and local(store, "A1")["name"] == "One"
    twice = p.validate(p.RosterEnvelope, {"version": 3, "base": 2, "upserts": [employee("A1", "X"), employee("A1", "Y")]})
    result = apply_roster(store, twice)  # one bad record does not stall the roster: the first A1 stands
    assert result.outcome == "applied" and [(e.number, e.field) for e in result.rejected] == [("A1", "number")]
    assert roster_version(store) == 3 and local(store, "A1")["name"] == "X"
    assert apply_roster(store, swap).outcome == "duplicate"
    ahead = p.validate(p.Roster, {"version": 9, "base": 8, "upserts": [employee("A3", "Three")]})
    assert apply_roster(store, ahead).outcome == "behind" and local(store, "A3") is None


def test_roster_cards_are_stored_in_the_form_a_tap_produces(store):
    from contract.cards import normalize_card

    message = p.validate(p.Roster, {"version": 1, "base": 0, "upserts": [employee("K1", "Hex card", card="0x00A1B2C3")]})
    assert apply_roster(store, message).outcome == "applied"
    assert store.query_one("SELECT card FROM employees WHERE number = 'K1'")["card"] == normalize_card("00A1B2C3")
    with pytest.raises(p.ProtocolError):
        p.validate(p.Roster, {"version": 2, "base": 1, "upserts": [employee("K2", "Bad", card="W26:999,1")]})


def test_templates_enrolled_at_the_door_survive_the_centrals_changes_until_the_central_holds_its_own(store, db):
    """The roster carries an employee's templates only once the central holds them: a face and a finger enrolled at
    the door stay through HR's edits of that employee (and a full roster); the central's own faces then replace the
    door's, and clearing them on the central deletes them at the door too. The finger, never sent, stays."""
    from terminal.store.employees import add_face_templates, add_finger_template

    central_roster.upsert_employees([employee("D1", "Door One")])
    assert apply_roster(store, p.validate(p.Roster, central_roster.full_roster())).outcome == "applied"
    assert [(e["faces"], e["fingers"]) for e in central_roster.list_employees()] == [(None, None)]
    own = local(store, "D1")["id"]
    add_face_templates(store, own, [np.frombuffer(base64.b64decode(descriptor(1)), np.float32)], source="camera")
    add_finger_template(store, own, 1, b"\x03" * 498, 7)
    assert templates(store, "D1") == (1, 1)

    def follow() -> None:
        msg = central_roster.delta(roster_version(store))
        assert msg is not None and apply_roster(store, p.validate(p.Roster, msg)).outcome == "applied"

    central_roster.upsert_employee(employee("D1", "Door One Renamed", card="123"))  # what HR's edits send
    follow()
    assert local(store, "D1")["name"] == "Door One Renamed" and templates(store, "D1") == (1, 1)
    central_roster.rotate_history("restored by hand")  # a new history: the terminal takes the full roster, which
    resync = p.validate(p.Roster, central_roster.full_roster())  # keeps them as well
    assert apply_roster(store, resync).outcome == "applied" and roster_version(store) == resync.version
    assert templates(store, "D1") == (1, 1)

    central_roster.upsert_employee(employee("D1", "Door One Renamed", card="123", faces=[descriptor(2), descriptor(3)]))
    follow()
    kept = store.query("SELECT descriptor FROM face_templates WHERE employee_id = ?", (own,))
    assert sorted(bytes(r["descriptor"]) for r in kept) == sorted(base64.b64decode(descriptor(n)) for n in (2, 3))
    assert templates(store, "D1") == (2, 1)
    central_roster.upsert_employee(employee("D1", "Door One Renamed", card="123", faces=[]))  # cleared on the central
    follow()
    assert templates(store, "D1") == (0, 1)


def test_a_face_and_a_finger_enrolled_at_one_door_reach_the_other_doors(site, broker_up, terminal_a, central,
                                                                           agent_factory, tmp_path):
    """An admin enrols a roster employee's face and finger at door-a: its agent sends them (…/enrolments), the central
    takes them as the employee's and door-b gets them with the roster, the finger without a sensor slot (to load);
    door-a keeps its own finger in its slot, and its queue empties once the central acknowledged."""
    from sync_support import Terminal, device_config

    from central.accounts.models import AuditEntry
    from central.people.models import Employee
    from terminal.store.employees import add_face_templates, add_finger_template

    terminal_b = Terminal(device_config(site, broker_up, "door-b", tmp_path / "door-b"))
    try:
        central_roster.upsert_employees([employee("G1", "门上登记")])
        agent_factory(terminal_a.config)
        agent_factory(terminal_b.config)
        wait_for(lambda: local(terminal_a.store, "G1") is not None and local(terminal_b.store, "G1") is not None,
                 what="G1 on both doors")
        g1 = local(terminal_a.store, "G1")["id"]
        finger = bytes(range(256)) * 2
        add_face_templates(terminal_a.store, g1, [np.frombuffer(base64.b64decode(descriptor(4)), np.float32)],
                           source="camera")
        add_finger_template(terminal_a.store, g1, 2, finger, 5)

        wait_for(lambda: templates(terminal_b.store, "G1") == (1, 1), what="door-a's enrolment on door-b")
        held = Employee.objects.get(number="G1")
        assert held.faces == [descriptor(4)] and held.faces_managed and held.fingers_managed
        # one enrolment carrying both, or two when door-a's agent sent the face before the finger was added
        assert AuditEntry.objects.filter(action="employee.templates_enrolled", actor="device:door-a").count() in (1, 2)
        other = terminal_b.store.query_one("SELECT finger, sensor_position, template FROM finger_templates")
        assert (other["finger"], other["sensor_position"], bytes(other["template"])) == (2, None, finger)
        wait_for(lambda: terminal_a.store.scalar("SELECT count(*) FROM outbox WHERE kind = 'enrolment'") == 0,
                 what="door-a's queue emptied by the acks")
        wait_for(lambda: roster_version(terminal_a.store) == central_roster.current_version(), what="door-a up to date")
        own = terminal_a.store.query_one("SELECT sensor_position FROM finger_templates WHERE employee_id = ?", (g1,))
        assert own["sensor_position"] == 5 and templates(terminal_a.store, "G1") == (1, 1)
    finally:
        terminal_b.close()
