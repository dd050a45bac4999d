"""The roster's history: a new database starts one, a restored database is found out and starts another.

Runs on SQLite and, with ``--central-db=postgresql``, on PostgreSQL. The backup and restore are
Django's own dumpdata and flush + loaddata of the whole database.
"""
from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from central.cli import main as central_main
from central.ingest.service import CentralService, CentralSettings, RosterSent
from central.people import roster
from contract import protocol as p

pytestmark = pytest.mark.django_db(transaction=True)


def backup(path):
    with open(path, "w", encoding="utf-8") as out:
        call_command("dumpdata", natural_foreign=True, natural_primary=True, exclude=["contenttypes", "auth.permission"],
                     stdout=out, verbosity=0)
    return path


def restore(path) -> None:
    call_command("flush", interactive=False, verbosity=0)
    call_command("loaddata", str(path), verbosity=0)


def person(number: str) -> dict:
    return {"number": number, "name": f"Person {number}"}


def test_a_new_database_has_a_history_of_its_own_that_stays():
    first = roster.current_history()
    assert len(first) == 32 and roster.current_history() == first
    assert [h["reason"] for h in roster.histories()] == ["new database"]
    roster.upsert_employee(person("A1"))
    assert roster.full_roster()["history"] == first == roster.delta(0)["history"]


def test_a_restore_shows_even_when_later_changes_reach_the_same_version(tmp_path):
    roster.upsert_employees([person("A1"), person("A2")])
    history = roster.current_history()
    sent = RosterSent(tmp_path)
    sent.sent(history, 2)
    saved = backup(tmp_path / "backup.json")
    roster.upsert_employee(person("B1"))
    sent.sent(history, 3)
    assert RosterSent(tmp_path).restored(history) is None  # the same database: nothing to see
    restore(saved)
    assert roster.current_history() == history and roster.current_version() == 2
    assert "does not have it" in RosterSent(tmp_path).restored(history)
    roster.upsert_employee(person("C1"))  # version 3 again, another change
    assert "not the one sent" in RosterSent(tmp_path).restored(history)
    # the receiver starts a new history at start, and its first publication is the full roster
    service = CentralService(CentralSettings(state_dir=tmp_path))
    service._check_restored()
    assert roster.current_history() != history and service._announce_full
    assert "restored" in roster.histories()[-1]["reason"]
    assert RosterSent(tmp_path).history == history  # until something of the new history is sent
    reply = service.roster_reply("s1", "door-a", p.RosterRequest(have=0))
    assert RosterSent(tmp_path).history == roster.current_history()
    assert {p.validate(p.RosterEnvelope, p.loads(o.payload)).history for o in reply} == {roster.current_history()}


def test_a_terminal_ahead_of_the_database_in_its_history_starts_a_new_one_and_gets_the_full_roster(tmp_path):
    roster.upsert_employees([person("A1"), person("A2")])
    history = roster.current_history()
    service = CentralService(CentralSettings(state_dir=tmp_path))
    ahead = p.validate(p.RosterRequest, {"have": 5, "history": history})
    reply = [p.validate(p.RosterEnvelope, p.loads(o.payload)) for o in service.roster_reply("s1", "door-a", ahead)]
    assert roster.current_history() != history
    assert [(m.full, m.version, m.history, sorted(e["number"] for e in m.upserts)) for m in reply] == [
        (True, 2, roster.current_history(), ["A1", "A2"])]
    # a terminal of another history asking with its own version gets the full roster, not a delta
    other = p.validate(p.RosterRequest, {"have": 1, "history": history})
    again = [p.validate(p.RosterEnvelope, p.loads(o.payload)) for o in service.roster_reply("s1", "door-a", other)]
    assert [m.full for m in again] == [True] and len(roster.histories()) == 2
    # and one on the current history and version gets nothing
    current = p.validate(p.RosterRequest, {"have": 2, "history": roster.current_history()})
    assert service.roster_reply("s1", "door-a", current) == []


def test_an_operator_starts_a_new_history_by_hand(tmp_path, capsys, central_db_target):
    history = roster.current_history()
    assert central_main(["--db", central_db_target, "roster", "history"]) == 0
    assert history in capsys.readouterr().out
    assert central_main(["--db", central_db_target, "roster", "new-history", "--reason", "restored by hand"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["history"] != history and shown["reason"] == "restored by hand"
    assert roster.current_history() == shown["history"]
