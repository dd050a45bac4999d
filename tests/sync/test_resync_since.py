"""``resync`` with ``since``: a central restored from a backup gets back the punches and events it acknowledged since.

The terminal keeps every punch in ``punches`` and every event in ``events``; the outbox row goes when the central acks.
A signed ``resync`` with ``since`` puts back into the outbox every punch and event stored at or after that time which
is not waiting there already, with the payload the terminal queued it with the first time.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sync_support import SITE, assert_exactly_once, central_ids, wait_for

from contract import protocol as p
from sync_agent.commands import CommandHandler
from sync_agent.outbox import Outbox
from terminal.hardware.clock import SimClock
from terminal.punch import Identity, PunchService
from terminal.store.employees import add_employee

SINCE = "2026-03-10T00:00:00.000000Z"
BEFORE = "2026-03-09T23:59:59.999999Z"  # one microsecond before SINCE
LATER = "2026-03-11T08:00:00.000000Z"


class Door:
    """A terminal's store with the real punch path and the sync agent's command handler (no broker)."""

    def __init__(self, store, config):
        self.store = store
        self.config = config
        self.clock = SimClock(datetime(2026, 3, 12, 7, 0, tzinfo=timezone.utc))
        self.punches = PunchService(store, config, self.clock)
        self.employees = [add_employee(store, number=f"E{i:03d}", name=f"Employee {i}") for i in range(3)]
        self.key = ed25519.Ed25519PrivateKey.generate()
        self.resyncs = 0
        self.handler = CommandHandler(store, self.key.public_key(), site=config.device.site,
                                      device=config.device.id, on_resync=self._on_resync)

    def _on_resync(self) -> None:
        self.resyncs += 1

    def punch(self, created_at: str) -> str:
        """A punch through the terminal's punch path, then marked as stored at ``created_at``."""
        employee = self.employees[0]
        self.clock.advance(60)
        result = self.punches.punch(Identity(employee["id"], "card", 0.91234567))
        assert result.accepted and result.punch is not None, result.reason
        with self.store.transaction() as conn:
            conn.execute("UPDATE punches SET created_at = ? WHERE id = ?", (created_at, result.punch["id"]))
        return result.punch["id"]

    def event(self, created_at: str) -> str:
        return self.store.record_event("tailgating", {"faces": 2, "note": "两张脸 (zwei Gesichter)"}, severity="warning",
                                       at=created_at)

    def queued(self, kind: str | None = None) -> dict[str, str]:
        rows = self.store.query("SELECT ref_id, payload FROM outbox" + (" WHERE kind = ?" if kind else ""),
                                (kind,) if kind else ())
        return {r["ref_id"]: r["payload"] for r in rows}

    def deliver(self, kind: str) -> None:
        """Everything of ``kind`` queued is claimed and acknowledged by the central, as the agent does it."""
        outbox = Outbox(self.store)
        while (batch := outbox.claim(kind, 500, self.config.device.id)) is not None:
            assert outbox.acknowledge(p.Ack(batch=batch.batch_id, stored=batch.ref_ids)) == (len(batch.ref_ids), 0)

    def command(self, args: dict) -> dict:
        signed = p.sign_command(self.key, site=self.config.device.site, device=self.config.device.id, cmd="resync",
                                args=args)
        outcome = self.handler.handle(p.dumps(signed))
        message = outcome.message()
        assert message is not None
        p.validate(p.CommandResult, message)  # the answer stays within the contract
        return message


@pytest.fixture
def door(store, sim_config) -> Door:
    return Door(store, sim_config)


def test_resync_since_queues_again_what_was_stored_since_then_with_the_same_payload(door):
    old = door.punch(BEFORE)
    boundary = door.punch(SINCE)
    later = door.punch(LATER)
    old_event = door.event(BEFORE)
    later_event = door.event(LATER)
    original = door.queued()
    door.deliver("punch")
    door.deliver("event")
    waiting = door.punch(LATER)  # not yet delivered: stays as it is, not doubled
    door.store.record_event("clock_jump", {"jump_s": 3.2}, at=BEFORE)  # waiting too, and before since
    before = door.queued()
    assert set(before) == {waiting} | {r["id"] for r in door.store.query("SELECT id FROM events WHERE kind = 'clock_jump'")}

    answer = door.command({"since": SINCE})

    assert answer["ok"] is True, answer
    assert answer["result"] == {"roster_requested": True, "since": SINCE, "punches_requeued": 2, "events_requeued": 1}
    assert door.resyncs == 1
    now = door.queued()
    assert old not in now and old_event not in now  # stored before since: the central has had them all along
    for ref in (boundary, later, later_event):  # at or after since: back, byte for byte as first queued
        assert now[ref] == original[ref]
    assert {ref: now[ref] for ref in before} == before  # what was waiting is left alone
    counts = door.store.query("SELECT ref_id, count(*) AS n FROM outbox GROUP BY ref_id HAVING n > 1")
    assert counts == []
    # queued unclaimed and valid: the agent's next claim sends them
    batch = Outbox(door.store).claim("punch", 500, door.config.device.id)
    assert batch is not None and set(batch.ref_ids) == {boundary, later, waiting}
    assert p.validate(p.PunchBatch, json.loads(batch.payload)).punches

    # the audit entry: the stamp and the counts, nothing of the punches or the people
    [audit] = door.store.query("SELECT details FROM audit_log WHERE action = 'command.resync'")
    details = json.loads(audit["details"])
    assert details == {"id": answer["id"], "args": {"since": SINCE}, "punches_requeued": 2, "events_requeued": 1}
    assert "E000" not in audit["details"] and len(audit["details"]) < 200

    # the same again: all of it is waiting now, nothing is added
    again = door.command({"since": SINCE})
    assert again["result"]["punches_requeued"] == 0 and again["result"]["events_requeued"] == 0
    assert door.queued() == now


def test_a_re_stamped_punch_comes_back_as_the_terminal_now_holds_it(door):
    """The payload is made from the punch's row: a punch corrected after delivery goes out with its correction."""
    punch_id = door.punch(LATER)
    door.deliver("punch")
    with door.store.transaction() as conn:
        conn.execute("UPDATE punches SET original_punched_at = punched_at, punched_at = ?, restamped_at = ? "
                     "WHERE id = ?", ("2026-03-11T07:59:00.000000Z", "2026-03-11T08:05:00.000000Z", punch_id))
    assert door.command({"since": SINCE})["result"]["punches_requeued"] == 1
    sent = json.loads(door.queued("punch")[punch_id])
    assert sent["punched_at"] == "2026-03-11T07:59:00.000000Z" and sent["original_punched_at"] is not None


@pytest.mark.parametrize("since", [
    "yesterday", "2026-03-10", "2026-03-10T00:00:00Z", "2026-03-10T00:00:00.000000+00:00",
    "2026-02-30T00:00:00.000000Z", "2026-03-10T00:00:00.000000Z ", 1773100800, None, ["2026-03-10T00:00:00.000000Z"],
])
def test_a_bad_since_is_refused_with_the_reason_and_nothing_is_queued(door, since):
    door.punch(LATER)
    door.event(LATER)
    door.deliver("punch")
    door.deliver("event")

    answer = door.command({"since": since})

    assert answer["ok"] is False
    assert answer["reason"].startswith("args.since must be a UTC stamp"), answer
    assert door.resyncs == 0  # neither the roster asked nor the queue released
    assert door.queued("punch") == {}
    queued_events = door.store.query("SELECT e.kind FROM outbox o JOIN events e ON e.id = o.ref_id")
    assert [e["kind"] for e in queued_events] == ["command_refused"]  # the refusal itself, nothing queued again
    assert door.store.query("SELECT ok FROM command_log WHERE id = ?", (answer["id"],)) == [{"ok": 0}]
    assert door.store.query("SELECT 1 FROM audit_log WHERE action = 'command.resync'") == []


def test_resync_without_since_is_as_before(door):
    door.punch(LATER)
    door.deliver("punch")
    answer = door.command({})
    assert answer["ok"] is True and answer["result"] == {"roster_requested": True}
    assert door.resyncs == 1 and door.queued() == {}


def test_a_since_before_everything_queues_everything_in_order_across_chunks_and_a_future_one_nothing(door):
    made = [door.punch(f"2026-03-11T08:{i // 60:02d}:{i % 60:02d}.000000Z") for i in range(23)]
    door.deliver("punch")
    future = p.utc_stamp(datetime.now(timezone.utc) + timedelta(days=1))
    answer = door.command({"since": future})  # accepted: nothing was stored after it
    assert answer["ok"] is True and answer["result"]["punches_requeued"] == 0 and door.queued() == {}

    counts = Outbox(door.store).requeue_since("2000-01-01T00:00:00.000000Z", chunk=5)
    assert counts == {"punch": 23, "event": 0}
    order = [r["ref_id"] for r in door.store.query("SELECT ref_id FROM outbox WHERE kind = 'punch' ORDER BY id")]
    assert order == made


# -- through the broker: the central restored from a backup -----------------------------------------------------------
def test_a_central_restored_from_a_backup_gets_back_the_punches_acknowledged_since(terminal_a, central, agent_factory):
    from central.ingest.models import Punch

    agent = agent_factory(terminal_a.config)
    wait_for(lambda: agent.agent.connected, what="agent connected")
    kept = terminal_a.punch(4)
    wait_for(lambda: len(central_ids("door-a")) == 4 and terminal_a.outbox_depth() == 0, what="first punches stored")
    time.sleep(0.01)
    since = p.utc_stamp()  # the backup
    lost = terminal_a.punch(6)
    wait_for(lambda: len(central_ids("door-a")) == 10 and terminal_a.outbox_depth() == 0, what="later punches stored")
    # the central is restored from the backup: what it acknowledged since is gone from it, and from the outbox
    Punch.objects.filter(id__in=lost).delete()
    assert sorted(central_ids("door-a")) == sorted(kept)

    sent = central.send_command(SITE, "door-a", "resync", {"since": since})
    from central.ingest.models import Command

    result = wait_for(lambda: (r := Command.objects.filter(id=sent["id"]).values("ok", "result").first())
                      and r["ok"] is not None and r, what="resync result")
    assert result["ok"] is True, result
    assert result["result"]["since"] == since and result["result"]["punches_requeued"] == 6
    wait_for(lambda: len(central_ids("door-a")) == 10 and terminal_a.outbox_depth() == 0, what="lost punches back")
    assert_exactly_once(terminal_a)

