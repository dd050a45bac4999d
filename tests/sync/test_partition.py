"""A network partition of minutes: the broker is gone, the door keeps punching, the roster moves on centrally.

The partition is a stopped mosquitto, long enough (SEED_PARTITION_S, default 150 s) for every
timer on the way to be exceeded several times over: paho's reconnect backoff (capped at 30 s),
the keepalive (30 s) and the agent's resend backoff. When the broker comes back, every punch
recorded during the partition reaches the central exactly once, the outbox empties, and the
roster changes made meanwhile reach the terminal.
"""
from __future__ import annotations

import os
import time

import pytest
from sync_support import assert_exactly_once, wait_for

from central.people import roster as central_roster
from sync_agent.roster import roster_version
from sync_agent.status import read_status

PARTITION_S = float(os.environ.get("SEED_PARTITION_S", "150"))


@pytest.mark.slow
def test_a_partition_of_minutes_loses_nothing_and_the_roster_catches_up(terminal_a, central, broker_up,
                                                                       agent_factory):
    central_roster.upsert_employee({"number": "R1", "name": "Before", "allowed_devices": []})
    agent = agent_factory(terminal_a.config)
    wait_for(lambda: roster_version(terminal_a.store) == 1, what="the roster before the partition")
    terminal_a.punch(5)
    wait_for(lambda: terminal_a.outbox_depth() == 0, what="the online punches to be acknowledged")

    broker_up.stop()
    started = time.monotonic()
    wait_for(lambda: not agent.agent.connected, timeout=60, what="the agent to notice the partition")
    # while the network is down: the door keeps punching and the central's roster moves on
    central_roster.upsert_employee({"number": "R2", "name": "During", "allowed_devices": []})
    central_roster.delete_employee("R1")
    during = 0
    while time.monotonic() - started < PARTITION_S:
        during += len(terminal_a.punch(3))
        # by design: the partition is wall time passing (minutes), with the door punching now and then
        time.sleep(min(10.0, max(0.0, PARTITION_S - (time.monotonic() - started))))
    during += len(terminal_a.bulk_punch(2000))
    status = read_status(agent.store)
    assert status["connected"] is False
    assert terminal_a.outbox_depth() == during  # every punch of the partition waits in the outbox

    broker_up.start()
    # paho retries at most every 30 s; the resend of a batch it had in flight waits at most retry_max_s
    wait_for(lambda: terminal_a.outbox_depth() == 0, timeout=120, what="the partition's backlog to drain")
    assert_exactly_once(terminal_a)
    wait_for(lambda: roster_version(terminal_a.store) == central_roster.current_version(), timeout=60,
             what="the roster changed during the partition to reach the terminal")
    numbers = {r["number"] for r in terminal_a.store.query("SELECT number FROM employees WHERE roster_version > 0")}
    assert numbers == {"R2"}
    wait_for(lambda: read_status(agent.store)["connected"] is True, what="the status line to say connected")
