"""A roster bigger than one message reaches the terminal in parts, whole or not at all, over a real broker.

1,300 employees with five face templates each make a roster of about 4.7 MB, more than the
4 MiB a message may hold. The central sends it as parts under the limit, each naming the
version, its index and count and the digest of the whole content; the terminal keeps the
parts it has (across a restart too), asks again for the ones missing, and applies the version
in one transaction once the set is complete and its digest checks.
"""
from __future__ import annotations

import json

import pytest
from roster_support import employees_with_faces, terminal_roster
from sync_support import AgentThread, wait_for

from central.people import roster as central_roster
from contract import protocol as p
from sync_agent.roster import roster_version

EMPLOYEES = 1300


@pytest.fixture
def big_roster(central):
    version = central_roster.upsert_employees(employees_with_faces(EMPLOYEES))
    assert len(p.dumps(central_roster.full_roster())) > p.MAX_PAYLOAD_BYTES  # one message could not carry it
    # the central's own site-wide publication of the change is out before a terminal listens
    wait_for(lambda: central._published_roster == version, timeout=60, what="the change published to the site")
    return version


def faces_on(store) -> int:
    return store.query_one("SELECT count(*) AS n FROM face_templates WHERE source = 'roster'")["n"]


def held_parts(store) -> list[int]:
    return [r["part"] for r in store.query("SELECT part FROM roster_parts ORDER BY part")]


def roster_parts(payload: bytes) -> tuple[int, int] | None:
    data = json.loads(payload)
    return (data.get("part", 0), data.get("parts", 1)) if isinstance(data, dict) else None


class Dropping:
    """Wraps an agent's message handler: roster parts the predicate names never reach it (lost on the way)."""

    def __init__(self, agent: AgentThread, drop):
        self.agent = agent.agent
        self.handler = self.agent._on_message
        self.drop = drop
        self.seen: list[tuple[int, int]] = []
        self.dropped: list[int] = []
        self.agent._on_message = self  # type: ignore[method-assign]

    def __call__(self, topic: str, payload: bytes) -> None:
        parts = roster_parts(payload) if topic.endswith("/roster") else None
        if parts is not None:
            if self.drop(parts[0], len([s for s in self.seen if s[0] == parts[0]])):
                self.dropped.append(parts[0])
                self.seen.append(parts)
                return
            self.seen.append(parts)
        self.handler(topic, payload)


def test_a_roster_over_the_size_limit_reaches_a_fresh_terminal_complete(terminal_a, central, big_roster):
    agent = AgentThread(terminal_a.config)
    watch = Dropping(agent, lambda index, before: False)
    agent.start()
    try:
        wait_for(lambda: roster_version(terminal_a.store) == big_roster, timeout=120, what="the big roster applied")
        assert len(terminal_roster(terminal_a.store)) == EMPLOYEES
        assert faces_on(terminal_a.store) == EMPLOYEES * 5
        counts = {parts for _, parts in watch.seen}
        assert len(counts) == 1 and counts.pop() >= 2  # sent in several parts, each under the limit
    finally:
        agent.stop()


def test_a_lost_part_is_asked_for_again_and_nothing_applies_before_the_set_is_whole(terminal_a, central, big_roster):
    agent = AgentThread(terminal_a.config)
    agent.agent.roster_part_wait_s = 1.0
    watch = Dropping(agent, lambda index, before: index == 1 and before == 0)  # the first copy of part 1 is lost
    agent.start()
    try:
        wait_for(lambda: watch.dropped and len(watch.seen) >= watch.seen[0][1], timeout=120, what="every part once")
        assert roster_version(terminal_a.store) == 0 and not terminal_roster(terminal_a.store)  # not half applied
        wait_for(lambda: roster_version(terminal_a.store) == big_roster, timeout=60, what="the roster after part 1 again")
        assert len(terminal_roster(terminal_a.store)) == EMPLOYEES and faces_on(terminal_a.store) == EMPLOYEES * 5
        indexes = sorted(index for index, _ in watch.seen)
        parts = watch.seen[0][1]
        assert indexes == sorted([*range(parts), 1])  # only the lost part came again
        assert terminal_a.store.query_one("SELECT count(*) AS n FROM roster_parts")["n"] == 0  # nothing left over
    finally:
        agent.stop()


def test_parts_received_before_a_restart_are_kept_and_only_the_rest_is_sent(terminal_a, central, big_roster):
    first = AgentThread(terminal_a.config)
    first.agent.roster_part_wait_s = 3600.0  # this run never asks again: it stops with the set incomplete
    cut = Dropping(first, lambda index, before: index >= 2)
    first.start()
    try:
        wait_for(lambda: len(cut.seen) >= 3 and len(cut.seen) >= cut.seen[0][1], timeout=120, what="the first parts")
        wait_for(lambda: held_parts(terminal_a.store) == [0, 1], what="the parts that got through to be kept")
    finally:
        first.stop()
    parts = cut.seen[0][1]
    assert parts >= 3
    assert roster_version(terminal_a.store) == 0 and not terminal_roster(terminal_a.store)
    second = AgentThread(terminal_a.config)
    watch = Dropping(second, lambda index, before: False)
    second.start()
    try:
        wait_for(lambda: roster_version(terminal_a.store) == big_roster, timeout=120, what="the roster after the restart")
        assert len(terminal_roster(terminal_a.store)) == EMPLOYEES and faces_on(terminal_a.store) == EMPLOYEES * 5
        assert sorted(index for index, _ in watch.seen) == list(range(2, parts))  # parts 0 and 1 were kept
    finally:
        second.stop()
