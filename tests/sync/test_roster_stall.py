"""The roster-stall case, end to end over a real broker.

A new user once typed ``verify_mode="pin+card"`` into ``seed-central employee add`` and gave two
employees the same card in two spellings; the central stored both, every terminal refused the
whole roster, and the site's roster sync stalled. Now the central refuses such a record with a
reason naming the field, every roster it publishes applies on the terminal, and a bad record
that still arrives (from an older central) is skipped, reported and never stops the sync.
"""
from __future__ import annotations

import json

from sync_support import SITE, publish_as_central, wait_for

from central.cli import main as central_main
from central.ingest.models import Event
from central.people import roster as central_roster
from central.people.models import Employee
from contract import protocol as p
from sync_agent.roster import roster_version


def cli(capsys, *args: str) -> tuple[int, str]:
    from django.db import connection

    code = central_main(["--db", str(connection.settings_dict["NAME"]), *args])
    return code, capsys.readouterr().err


def test_the_central_refuses_what_a_terminal_would_and_every_published_roster_applies(
        terminal_a, central, agent_factory, capsys):
    assert cli(capsys, "employee", "add", "S1", "张三", "--card", "0041E34E", "--verify-mode", "card+pin",
               "--pin", "2580")[0] == 0
    code, err = cli(capsys, "employee", "add", "S2", "李四", "--verify-mode", "pin+card")
    assert code == 2 and "verify_mode" in err and "S2" in err
    code, err = cli(capsys, "employee", "add", "S3", "王五", "--card", "4318030")  # 0041E34E in decimal
    assert code == 2 and "card" in err and "S1" in err
    assert sorted(Employee.objects.values_list("number", flat=True)) == ["S1"]
    assert cli(capsys, "employee", "add", "S4", "赵六", "--card", "W26:65,58191", "--verify-mode", "face+card")[0] == 0
    agent = agent_factory(terminal_a.config)
    wait_for(lambda: roster_version(terminal_a.store) == central_roster.current_version(), what="roster on the terminal")
    on_terminal = {r["number"]: r for r in terminal_a.store.query(
        "SELECT number, name, card, verify_mode FROM employees WHERE roster_version > 0")}
    assert {n: (r["name"], r["card"], r["verify_mode"]) for n, r in on_terminal.items()} == {
        "S1": ("张三", "4318030", "card+pin"), "S4": ("赵六", "4318031", "face+card")}
    assert not Event.objects.filter(kind="roster.rejected").exists()
    agent.stop()


def test_a_bad_record_from_an_older_central_is_skipped_reported_and_sync_goes_on(
        site, broker_up, terminal_a, central, agent_factory):
    central_roster.upsert_employees([{"number": "K1", "name": "One"}])
    agent = agent_factory(terminal_a.config)
    wait_for(lambda: roster_version(terminal_a.store) == 1, what="first roster")
    # an older central publishes a delta with a record today's rules refuse, between two good ones
    bad = {"version": 2, "base": 1, "full": False, "issued_at": p.utc_stamp(), "deletes": [], "upserts": [
        {"number": "K2", "name": "Two"},
        {"number": "K3", "name": "Three", "verify_mode": "pin+card"},
        {"number": "K4", "name": "Four", "card": "123456"}]}
    publish_as_central(site, broker_up, p.site_roster_topic(SITE), json.dumps(bad).encode())
    wait_for(lambda: roster_version(terminal_a.store) == 2, what="the delta applied in part")
    numbers = {r["number"] for r in terminal_a.store.query("SELECT number FROM employees")}
    assert {"K1", "K2", "K4"} <= numbers and "K3" not in numbers
    # the refusal reaches the central as an event naming the employee and the field
    event = wait_for(lambda: Event.objects.filter(kind="roster.rejected", device_id="door-a").first(),
                     what="roster.rejected event centrally")
    assert event.payload["number"] == "K3" and event.payload["field"] == "verify_mode"
    assert "pin_hash" not in json.dumps(event.payload)
    # and the sync keeps going: the next real change still arrives (the central's own version moves past 2)
    central_roster.upsert_employees([{"number": "K5", "name": "Five"}, {"number": "K6", "name": "Six"}])
    wait_for(lambda: roster_version(terminal_a.store) == 3, what="the next delta")
    assert {"K5", "K6"} <= {r["number"] for r in terminal_a.store.query("SELECT number FROM employees")}
    agent.stop()
