"""The central cuts a roster version into parts under the payload limit, each naming the whole set and its digest.

Runs on SQLite and, with ``--central-db=postgresql``, on PostgreSQL.
"""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from central.ingest.service import CentralService, CentralSettings
from central.people import roster
from contract import protocol as p

pytestmark = pytest.mark.django_db


def face(seed: int) -> str:
    return base64.b64encode(np.random.default_rng(seed).random(128, dtype=np.float32).tobytes()).decode()


def people(count: int, prefix: str = "P") -> list[dict]:
    return [{"number": f"{prefix}{i:05d}", "name": f"Person {i}", "faces": [face(i * 5 + k) for k in range(5)]}
            for i in range(count)]


def assembled(payloads) -> tuple[list[dict], list[str], set]:
    upserts, deletes, heads = [], [], set()
    for index, payload in enumerate(payloads):
        assert len(payload) <= p.ROSTER_PART_BYTES < p.MAX_PAYLOAD_BYTES
        part = p.validate(p.Roster, p.loads(payload))  # every part is a valid roster message on its own
        assert (part.part, part.parts) == (index, len(payloads))
        heads.add((part.history, part.version, part.base, part.full, part.digest))
        body = json.loads(payload)
        upserts += body["upserts"]
        deletes += body["deletes"]
    return upserts, deletes, heads


def test_a_roster_over_the_limit_is_cut_into_parts_that_carry_it_whole():
    version = roster.upsert_employees(people(1300))
    message = roster.full_roster()
    assert len(p.dumps(message)) > p.MAX_PAYLOAD_BYTES
    parts = roster.split_roster(message)
    assert len(parts.payloads) >= 5 and parts.version == version and parts.full
    upserts, deletes, heads = assembled(parts.payloads)
    assert heads == {(roster.current_history(), version, 0, True, parts.digest)}
    assert upserts == message["upserts"] and deletes == []
    assert p.roster_digest((p.canonical_json(u) for u in upserts), ()) == parts.digest


def test_a_delta_as_big_is_cut_too_and_its_deletes_travel_with_it():
    roster.upsert_employees(people(3, prefix="OLD"))
    base = roster.current_version()
    roster.upsert_employees(people(1300))
    roster.delete_employee("OLD00001")
    message = roster.delta(base)
    assert message is not None
    parts = roster.split_roster(message, part_bytes=512 * 1024)
    assert len(parts.payloads) >= 9 and not parts.full and parts.base == base
    upserts, deletes, heads = assembled(parts.payloads)
    assert len({h[4] for h in heads}) == 1 and deletes == ["OLD00001"] and len(upserts) == 1300
    assert max(len(x) for x in parts.payloads) <= 512 * 1024


def test_an_empty_roster_is_one_part_and_a_small_one_too():
    parts = roster.split_roster(roster.full_roster())
    assert len(parts.payloads) == 1 and parts.version == 0
    assert p.validate(p.RosterEnvelope, p.loads(parts.payloads[0])).upserts == []
    roster.upsert_employees(people(2))
    assert len(roster.split_roster(roster.full_roster()).payloads) == 1


def test_the_receiver_sends_only_the_parts_a_terminal_misses_while_it_can_build_the_same_set(tmp_path):
    roster.upsert_employees(people(1300))
    service = CentralService(CentralSettings(state_dir=tmp_path, roster_part_bytes=1024 * 1024))
    full = service.roster_reply("s1", "door-a", p.RosterRequest(have=0))
    heads = [p.validate(p.RosterEnvelope, p.loads(o.payload)) for o in full]
    assert len(full) >= 5 and [h.part for h in heads] == list(range(len(full)))
    pending = {"version": heads[0].version, "base": 0, "full": True, "digest": heads[0].digest, "parts": len(full)}
    missing = p.validate(p.RosterRequest, {"have": 0, "history": heads[0].history, "pending": pending,
                                           "missing": [3, 1]})
    again = service.roster_reply("s1", "door-a", missing)
    assert [o.payload for o in again] == [full[1].payload, full[3].payload]
    # once the roster moved on, that set cannot be built again: the terminal gets the new version whole
    roster.upsert_employees(people(1, prefix="NEW"))
    moved = service.roster_reply("s1", "door-a", missing)
    versions = {p.validate(p.RosterEnvelope, p.loads(o.payload)).version for o in moved}
    assert versions == {roster.current_version()}
    assert sum(len(p.validate(p.RosterEnvelope, p.loads(o.payload)).upserts) for o in moved) == 1301


def test_a_part_naming_an_impossible_set_is_refused_by_the_contract():
    base = {"version": 3, "base": 0, "full": True, "upserts": [], "deletes": []}
    with pytest.raises(p.ProtocolError):
        p.validate(p.RosterEnvelope, {**base, "part": 2, "parts": 2, "digest": "0" * 64})
    with pytest.raises(p.ProtocolError):
        p.validate(p.RosterEnvelope, {**base, "part": 0, "parts": 2})  # several parts without a digest
    with pytest.raises(p.ProtocolError):
        p.validate(p.RosterEnvelope, {**base, "full": False, "version": 0})
    with pytest.raises(p.ProtocolError):
        p.validate(p.RosterRequest, {"have": 1, "missing": [1]})
