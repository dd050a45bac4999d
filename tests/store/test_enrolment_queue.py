"""Templates enrolled at the door are queued for the central (docs/protocol.md, change 20): in the same transaction as
the templates, the employee's whole set of the kind that changed, only for an employee of the roster; and the outbox
of a terminal from before takes the new kind without losing a queued row or reusing an id."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from contract import protocol as p
from sync_agent.outbox import ATTENDANCE_KINDS, Outbox
from terminal.config import StorageSettings
from terminal.store import migrations as migrations_module
from terminal.store.database import IntegrityError, open_store
from terminal.store.employees import add_employee, add_face_templates, add_finger_template, delete_face_templates


def queued(store) -> list[dict]:
    return [json.loads(r["payload"]) for r in store.query("SELECT payload FROM outbox WHERE kind = 'enrolment' ORDER BY id")]


def face(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return vector / np.linalg.norm(vector) * 1.4


def test_a_roster_employees_templates_are_queued_whole_and_a_local_ones_are_not(store) -> None:
    ours = add_employee(store, number="R1", name="From the roster")["id"]
    local = add_employee(store, number="L1", name="Only here")["id"]
    with store.transaction() as conn:
        conn.execute("UPDATE employees SET roster_version = 7 WHERE id = ?", (ours,))

    add_face_templates(store, local, [face(1)], source="camera")
    add_finger_template(store, local, 2, b"\x05" * 498, 3)
    assert queued(store) == []  # an employee this terminal alone knows stays here

    add_face_templates(store, ours, [face(2), face(3)], source="camera")
    assert [(s["employee_number"], len(s["faces"]), "fingers" in s) for s in queued(store)] == [("R1", 2, False)]
    with store.transaction() as conn:  # the agent takes it into a batch: sent, waiting for its ack
        conn.execute("UPDATE outbox SET batch_id = 'b-1' WHERE kind = 'enrolment'")
    add_finger_template(store, ours, 1, b"\x07" * 498, 4)
    add_face_templates(store, ours, [face(4)], source="camera")
    delete_face_templates(store, ours)  # a re-enrolment begins: what waits unsent is folded into one enrolment
    sent = queued(store)
    assert [(s["employee_number"], len(s["faces"]), "fingers" in s) for s in sent] == [("R1", 2, False), ("R1", 0, True)]
    assert sent[1]["fingers"] == [{"finger": 1, "template": base64.b64encode(b"\x07" * 498).decode()}]
    add_face_templates(store, ours, [face(5), face(6)], source="camera")  # ... and ends: one enrolment, never no faces
    sent = queued(store)
    assert [(len(s["faces"]), "fingers" in s) for s in sent] == [(2, False), (2, True)]
    assert [base64.b64decode(f) for f in sent[1]["faces"]] == [face(5).tobytes(), face(6).tobytes()]
    assert base64.b64decode(sent[0]["faces"][1]) == face(3).tobytes()  # the one in flight is left as it was sent
    for item in sent:  # what the agent will send passes the wire contract
        p.validate(p.Enrolment, item)
    # the status's queue_depth, on which the central's finality waits, counts punches and events only
    outbox = Outbox(store)
    assert (outbox.depth(), outbox.depth(ATTENDANCE_KINDS)) == (len(sent), 0)


def test_an_older_terminals_outbox_takes_enrolments_and_keeps_its_rows_and_ids(tmp_path, monkeypatch) -> None:
    import terminal.store.database as database_module

    older = [m for m in migrations_module.MIGRATIONS if m.version < 50]
    monkeypatch.setattr(migrations_module, "MIGRATIONS", older)
    monkeypatch.setattr(database_module, "MIGRATIONS", older)
    settings = StorageSettings(data_dir=tmp_path)
    with open_store(settings) as store:
        event_ids = [store.record_event("test.queued", {"n": n}) for n in range(3)]
        with store.transaction() as conn:
            conn.execute("DELETE FROM outbox WHERE ref_id = ?", (event_ids[2],))  # acked: its id is not to come back
            with pytest.raises(IntegrityError):
                conn.execute("INSERT INTO outbox (kind, ref_id, payload, created_at) VALUES ('enrolment', 'x', '{}', 't')")
        before = [(r["id"], r["ref_id"]) for r in store.query("SELECT id, ref_id FROM outbox ORDER BY id")]
    monkeypatch.undo()
    with open_store(settings) as store:
        assert store.schema_version() == migrations_module.MIGRATIONS[-1].version
        assert [(r["id"], r["ref_id"]) for r in store.query("SELECT id, ref_id FROM outbox ORDER BY id")] == before
        with store.transaction() as conn:
            conn.execute("INSERT INTO outbox (kind, ref_id, payload, created_at) VALUES ('enrolment', 'e1', '{}', 't')")
            with pytest.raises(IntegrityError):
                conn.execute("INSERT INTO outbox (kind, ref_id, payload, created_at) VALUES ('other', 'e2', '{}', 't')")
        newest = store.query_one("SELECT id FROM outbox WHERE ref_id = 'e1'")["id"]
        assert newest > max(i for i, _ in before) + 1  # after the acked row's id too
        assert [r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE tbl_name = 'outbox' AND type = 'index' "
                                               "ORDER BY name")] == ["outbox_kind", "outbox_unclaimed", "sqlite_autoindex_outbox_1"]
