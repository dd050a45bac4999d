"""A central restored from an older backup: its terminals end with exactly the restored roster.

Version numbers alone cannot tell two histories apart: after a restore the central reuses
version numbers the terminals already hold with other content. Every roster message names
the central's history; the central starts a new history when it finds its database restored
(it remembers outside the database the highest version it sent), or when a terminal holds a
version of its history above the database's, and a terminal that sees another history
applies a full roster.
"""
from __future__ import annotations

import pytest
from roster_support import backup_central, central_roster_numbers, restore_central, terminal_roster
from sync_support import central_settings, wait_for

from central.people import roster as central_roster
from sync_agent.roster import roster_version


def person(number: str) -> dict:
    return {"number": number, "name": f"Person {number}"}


def start_central(site, broker, state_dir):
    from central.ingest.service import CentralService

    service = CentralService(central_settings(site, broker, state_dir=state_dir)).start()
    assert service.wait_connected(10), "central did not connect"
    return service


@pytest.fixture
def restartable_central(site, broker_up, transactional_db, tmp_path):
    services = []

    def start(state_dir=None):
        service = start_central(site, broker_up, state_dir or tmp_path / "central-state")
        services.append(service)
        return service

    yield start
    for service in services:
        service.stop()


def in_sync(store) -> bool:
    return terminal_roster(store) == central_roster_numbers()


def test_a_restored_central_brings_its_terminals_back_to_the_restored_roster(
        site, broker_up, terminal_a, restartable_central, agent_factory, tmp_path):
    central = restartable_central()
    central_roster.upsert_employees([person(n) for n in ("A1", "A2", "A3", "A4")])
    agent = agent_factory(terminal_a.config)
    wait_for(lambda: roster_version(terminal_a.store) == 4, what="version 4 on the terminal")
    backup = backup_central(tmp_path / "backup.json")
    central_roster.delete_employee("A2")
    central_roster.upsert_employees([person("B1"), person("B2")])
    wait_for(lambda: roster_version(terminal_a.store) == 7, what="version 7 on the terminal")
    assert terminal_roster(terminal_a.store) == {"A1", "A3", "A4", "B1", "B2"}

    central.stop()  # the operator stops the central and restores last night's backup
    restore_central(backup)
    assert central_roster.current_version() == 4
    central_roster.upsert_employee(person("C1"))  # versions 5, 6 and 7 again, with other content
    central_roster.delete_employee("A4")
    central_roster.upsert_employee(person("C2"))
    assert central_roster.current_version() == 7
    restartable_central()  # the terminal stays connected all along

    wait_for(lambda: in_sync(terminal_a.store), timeout=30, what="the terminal on the restored roster")
    assert terminal_roster(terminal_a.store) == {"A1", "A2", "A3", "C1", "C2"}
    agent.stop()


def test_without_its_own_record_the_central_learns_of_the_restore_from_a_terminal_ahead_of_it(
        site, broker_up, terminal_a, restartable_central, agent_factory, tmp_path):
    central = restartable_central(tmp_path / "state-1")
    central_roster.upsert_employees([person(n) for n in ("A1", "A2", "A3")])
    agent = agent_factory(terminal_a.config)
    wait_for(lambda: roster_version(terminal_a.store) == 3, what="version 3 on the terminal")
    backup = backup_central(tmp_path / "backup.json")
    central_roster.upsert_employees([person("B1"), person("B2")])
    central_roster.delete_employee("A1")
    wait_for(lambda: roster_version(terminal_a.store) == 6, what="version 6 on the terminal")
    agent.stop()

    central.stop()
    restore_central(backup)  # restored on another machine: the record of what was sent is not there
    central_roster.upsert_employee(person("C1"))
    restartable_central(tmp_path / "state-2")
    agent = agent_factory(terminal_a.config)  # asks holding version 6 of a history now at version 4

    wait_for(lambda: in_sync(terminal_a.store), timeout=30, what="the terminal on the restored roster")
    assert terminal_roster(terminal_a.store) == {"A1", "A2", "A3", "C1"}
    agent.stop()
