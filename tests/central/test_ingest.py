"""seed-central's receiver without the broker: idempotent bulk storage, refusals, status, roster versions, the CLI.

Runs on SQLite and, with ``--central-db=postgresql``, on PostgreSQL.
"""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from central_support import batch, central_cli, punch, send
from cryptography import x509

from central.ingest.handler import Ingest
from central.ingest.models import Event, Punch, RejectedMessage
from central.people import roster
from central.people.models import Device
from contract import protocol as p

pytestmark = pytest.mark.django_db


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def test_punches_are_stored_once_however_often_they_come():
    ingest = Ingest()
    punches = [punch() for _ in range(5)]
    batch = {"batch": str(uuid.uuid4()), "punches": punches}
    first = send(ingest, "punches", batch)
    again = send(ingest, "punches", batch)
    other = send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": punches[:2]})
    for ack in (first[0], again[0]):
        assert ack["batch"] == batch["batch"] and sorted(ack["stored"]) == sorted(x["id"] for x in punches)
    assert sorted(other[0]["stored"]) == sorted(x["id"] for x in punches[:2])
    rows = list(Punch.objects.values("id", "site", "device_id", "score"))
    assert len(rows) == 5 and {r["site"] for r in rows} == {"s1"} and rows[0]["score"] == pytest.approx(0.31)


def test_a_restamp_corrects_the_stored_punch_once():
    ingest = Ingest()
    original = punch(time_source="unsynced", punched_at="2026-02-20T06:00:00.000000Z")
    send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": [original]})
    fixed = {**original, "time_source": "ntp", "punched_at": "2026-03-02T08:00:00.000000Z",
             "original_punched_at": original["punched_at"], "restamped_at": "2026-03-02T08:05:00.000000Z"}
    ack = send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": [fixed]})[0]
    assert ack["stored"] == [original["id"]]
    # a late copy of the unsynced version does not undo it, and a second restamp does not move it again
    send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": [original]})
    send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": [{**fixed, "punched_at": "2030-01-01T00:00:00.000000Z"}]})
    row = Punch.objects.values("punched_at", "original_punched_at", "time_source").get(id=original["id"])
    assert row == {"punched_at": utc("2026-03-02T08:00:00Z"), "original_punched_at": utc("2026-02-20T06:00:00Z"),
                   "time_source": "ntp"}


def test_bad_punches_are_refused_with_reasons_and_the_rest_stored():
    ingest = Ingest()
    good, wrong_device, bad_time = punch(), punch(device="door-b"), punch(punched_at="yesterday")
    ack = send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": [good, wrong_device, bad_time, "junk"]})[0]
    assert ack["stored"] == [good["id"]]
    reasons = {r["id"]: r["reason"] for r in ack["rejected"]}
    assert "does not match the topic" in reasons[wrong_device["id"]]
    assert reasons[bad_time["id"]].startswith("punched_at")
    assert reasons[None]
    refused = list(RejectedMessage.objects.order_by("id").values("item_id", "reason", "payload"))
    assert len(refused) == 3 and json.loads(refused[0]["payload"])["id"] == wrong_device["id"]
    # a payload that is not even a batch is recorded, not answered
    assert ingest.handle(p.device_topic("s1", "door-a", "punches"), b"\x00garbage") == []
    assert RejectedMessage.objects.order_by("-id").first().reason == "payload is not JSON: Expecting value: line 1 column 1 (char 0)"


def test_a_time_no_correct_clock_could_stamp_is_stored_acked_and_flagged(tmp_path):
    """1970 and 2100 stamped ``ntp``: kept as evidence and acknowledged (never resent forever), but flagged."""
    ingest = Ingest()
    now = datetime.now(timezone.utc)
    epoch = punch(punched_at="1970-01-01T00:00:07.000000Z")
    future = punch(punched_at="2100-01-01T08:00:00.000000Z", time_source="rtc")
    offline = punch(punched_at=p.utc_stamp(now - timedelta(days=21)))  # three weeks in an outbox: plausible
    skewed = punch(punched_at=p.utc_stamp(now + timedelta(minutes=2)))  # a clock a little ahead: plausible
    ack = send(ingest, "punches", batch(epoch, future, offline, skewed))[0]
    assert sorted(ack["stored"]) == sorted(x["id"] for x in (epoch, future, offline, skewed)) and ack["rejected"] == []
    flags = dict(Punch.objects.values_list("id", "time_flag"))
    assert flags == {epoch["id"]: "before_floor", future["id"]: "ahead", offline["id"]: "", skewed["id"]: ""}
    # the terminal's timekeeper re-stamps the punch once its clock is right: the flag is judged again
    fixed = {**future, "punched_at": p.utc_stamp(now - timedelta(minutes=5)), "time_source": "ntp",
             "original_punched_at": future["punched_at"], "restamped_at": p.utc_stamp(now)}
    send(ingest, "punches", batch(fixed))
    assert Punch.objects.get(id=future["id"]).time_flag == ""
    # the flag is shown where punches are read: the CLI's JSON
    code, out, _ = cli(tmp_path, "punches", "--format", "json", "--since", "1969-12-31T00:00:00Z")
    assert code == 0
    listed = {row["id"]: row["time_flag"] for row in json.loads(out)}
    assert listed[epoch["id"]] == "before_floor" and listed[offline["id"]] == ""


def _raw(ingest: Ingest, leaf: str, body: object, device: str = "door-a") -> list[dict]:
    """Send a body as ASCII JSON, the way a device can write a NUL or a lone surrogate: as a \\u escape."""
    replies = ingest.handle(p.device_topic("s1", device, leaf), json.dumps(body).encode("ascii"))
    return [json.loads(r.payload) for r in replies]


def test_text_no_database_can_store_is_refused_item_by_item():
    """A NUL or a lone surrogate is valid JSON but no database stores it: refused per punch, the rest stored."""
    ingest = Ingest()
    good, surrogate, nul = punch(), punch(boot_id="boot-\ud800"), punch(boot_id="boot\x00-1")
    ack = _raw(ingest, "punches", batch(good, surrogate, nul))[0]
    assert ack["stored"] == [good["id"]]
    reasons = {r["id"]: r["reason"] for r in ack["rejected"]}
    assert "lone UTF-16 surrogate" in reasons[surrogate["id"]] and "NUL" in reasons[nul["id"]]
    assert list(Punch.objects.values_list("id", flat=True)) == [good["id"]]
    assert RejectedMessage.objects.filter(item_id__in=[surrogate["id"], nul["id"]]).count() == 2
    # the same in an event's free-form payload, in a key as in a value
    events = [{"id": str(uuid.uuid4()), "kind": "door.open", "severity": "info", "at": "2026-03-02T00:55:00.000000Z",
               "payload": payload} for payload in ({"who": "E001"}, {"note\x00": 1}, {"list": ["x", "\udfff"]})]
    ack = _raw(ingest, "events", {"batch": str(uuid.uuid4()), "events": events})[0]
    assert ack["stored"] == [events[0]["id"]] and len(ack["rejected"]) == 2
    assert list(Event.objects.values_list("id", flat=True)) == [events[0]["id"]]
    # a status with such text is refused whole and recorded; the receiver goes on
    assert _raw(ingest, "status", {"online": True, "reason": "x\x00"}) == []
    assert "NUL" in RejectedMessage.objects.order_by("-id").first().reason


@pytest.fixture
def events_table_refusing_a_kind():
    """A trigger in the real database that refuses events of kind ``refuse.me``: a storage error no check foresees."""
    from django.db import connection

    table = Event._meta.db_table
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("CREATE FUNCTION seed_test_refuse() RETURNS trigger AS $$ BEGIN "
                        "IF NEW.kind = 'refuse.me' THEN RAISE EXCEPTION 'refused by the database'; END IF; "
                        "RETURN NEW; END $$ LANGUAGE plpgsql")
            cur.execute(f"CREATE TRIGGER seed_test_refuse BEFORE INSERT ON {table} FOR EACH ROW "
                        "EXECUTE FUNCTION seed_test_refuse()")
        else:
            cur.execute(f"CREATE TRIGGER seed_test_refuse BEFORE INSERT ON {table} WHEN NEW.kind = 'refuse.me' "
                        "BEGIN SELECT RAISE(ABORT, 'refused by the database'); END")
    yield
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"DROP TRIGGER seed_test_refuse ON {table}")
            cur.execute("DROP FUNCTION seed_test_refuse()")
        else:
            cur.execute("DROP TRIGGER seed_test_refuse")


@pytest.mark.django_db(transaction=True)
def test_a_storage_error_becomes_a_recorded_refusal_and_the_next_message_goes_on(events_table_refusing_a_kind):
    ingest = Ingest()
    event = {"id": str(uuid.uuid4()), "kind": "refuse.me", "severity": "info", "at": "2026-03-02T00:55:00.000000Z"}
    assert send(ingest, "events", {"batch": str(uuid.uuid4()), "events": [event]}) == []  # no ack: the device sends again
    refused = RejectedMessage.objects.order_by("-id").first()
    assert refused.reason.startswith("could not be stored:") and "refused by the database" in refused.reason
    assert refused.topic.endswith("/events") and not Event.objects.exists()
    good = punch()
    assert send(ingest, "punches", batch(good))[0]["stored"] == [good["id"]]


def test_events_status_and_command_results_are_recorded():
    ingest = Ingest()
    event = {"id": str(uuid.uuid4()), "kind": "spoof_attempt", "severity": "warning", "at": p.utc_stamp(),
             "payload": {"score": 0.2}}
    for _ in range(2):
        ack = send(ingest, "events", {"batch": str(uuid.uuid4()), "events": [event]})[0]
        assert ack["stored"] == [event["id"]]
    assert Event.objects.count() == 1
    send(ingest, "status", {"online": True, "device": "door-a", "queue_depth": 4, "versions": {"roster": 7},
                            "clock_offset_s": 0.01})
    [device] = Device.objects.select_related("site")
    assert (device.device_id, device.site.code, device.online, device.roster_version) == ("door-a", "s1", True, 7)
    assert device.status["queue_depth"] == 4 and device.queue_depth == 4
    send(ingest, "status", {"online": False, "reason": "connection lost"})
    assert Device.objects.get().online is False


def test_roster_versions_deltas_and_full():
    assert roster.current_version() == 0 and roster.delta(0) is None
    v = roster.upsert_employees([{"number": "A1", "name": "One"}, {"number": "A2", "name": "Two"}])
    assert v == 2
    roster.upsert_employee({"number": "A1", "name": "One again"})
    roster.delete_employee("A2")
    delta = roster.delta(2)
    assert (delta["version"], delta["base"], delta["deletes"]) == (4, 2, ["A2"])
    assert [e["name"] for e in delta["upserts"]] == ["One again"]
    full = roster.full_roster()
    assert full["full"] and full["version"] == 4 and [e["number"] for e in full["upserts"]] == ["A1"]
    p.validate(p.Roster, full)
    with pytest.raises(roster.RosterError, match="name"):
        roster.upsert_employee({"number": "A3", "name": ""})
    with pytest.raises(roster.RosterError, match="no employee"):
        roster.delete_employee("nobody")
    assert roster.current_version() == 4


# -- the command line ---------------------------------------------------------------------------------
def cli(tmp_path, *args) -> tuple[int, str, str]:
    """The CLI in this process, on the test database, with this test's PKI folder and site."""
    return central_cli("--pki", str(tmp_path / "pki"), "--site", "s1", *args)


def test_provision_and_broker_config(tmp_path):
    code, out, _ = cli(tmp_path, "provision", "door-7", "--out", str(tmp_path / "b"), "--broker-host", "mq.example")
    assert code == 0 and "door-7" in out
    folder = tmp_path / "b" / "door-7"
    assert sorted(f.name for f in folder.iterdir()) == ["ca.crt", "command-signing.pub", "device.crt", "device.key", "sync.toml"]
    assert oct((folder / "device.key").stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "pki" / "ca.key").stat().st_mode & 0o777) == "0o600"
    cert = x509.load_pem_x509_certificate((folder / "device.crt").read_bytes())
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "door-7"
    ca = (tmp_path / "pki" / "ca.crt").read_bytes()
    # the bundle's settings are a valid terminal configuration
    from terminal.config import load_config

    config = load_config(folder / "sync.toml")
    assert (config.device.id, config.device.site, config.sync.broker_host) == ("door-7", "s1", "mq.example")
    assert str(config.sync.key_file) == "/etc/seed/sync/device.key"
    # a second terminal reuses the CA
    assert cli(tmp_path, "provision", "door-8", "--out", str(tmp_path / "b"))[0] == 0
    assert (tmp_path / "pki" / "ca.crt").read_bytes() == ca
    code, out, _ = cli(tmp_path, "broker-config", "--out", str(tmp_path / "broker"), "--port", "18883")
    assert code == 0
    conf = (tmp_path / "broker" / "mosquitto.conf").read_text()
    for line in ("require_certificate true", "use_identity_as_username true", "allow_anonymous false", "listener 18883"):
        assert line in conf
    acl = (tmp_path / "broker" / "acl").read_text()
    assert "user door-7\ntopic write seed/v1/s1/door-7/punches" in acl
    assert "topic read seed/v1/s1/door-8/cmd" in acl and "user seed-central\ntopic readwrite seed/#" in acl
    # refused names
    assert cli(tmp_path, "provision", "seed-central")[0] == 2
    code, _, err = cli(tmp_path, "provision", "bad/name")
    assert code == 2 and "device id" in err


def test_punches_and_devices_reports(tmp_path):
    ingest = Ingest()
    early = punch(punched_at="2026-03-01T07:00:00.000000Z", employee_number="E7")
    late = punch(punched_at="2026-03-02T07:00:00.000000Z")
    send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": [early, late]})
    send(ingest, "status", {"online": True, "device": "door-a", "queue_depth": 0})
    code, out, _ = cli(tmp_path, "punches", "--since", "2026-03-02", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["id"] for r in rows] == [late["id"]]
    code, out, _ = cli(tmp_path, "punches", "--format", "json")
    assert [r["employee_number"] for r in json.loads(out)] == ["E7", "E001"]
    code, out, _ = cli(tmp_path, "devices")
    assert code == 0 and "door-a" in out and "True" in out
    code, _, err = cli(tmp_path, "punches", "--since", "last tuesday")
    assert code == 2 and "neither an ISO date" in err
    assert cli(tmp_path, "employee", "add", "E9", "Nine", "--pin", "4321")[0] == 0
    code, out, _ = cli(tmp_path, "employee", "list")
    assert "E9" in out and "4321" not in out
    code, _, err = cli(tmp_path, "employee", "add", "E10", "")
    assert code == 2 and "name" in err


def test_a_wrong_database_url_is_a_clear_error(tmp_path):
    """In a process of its own, as a user runs it: one line naming the database, no traceback, no password."""
    proc = subprocess.run([sys.executable, "-m", "central.cli", "--db",
                           f"postgresql://nobody:secret@/nothing?host={tmp_path}&port=1", "devices"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "cannot use the database postgresql://nobody:***@" in proc.stderr
    assert "secret" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.django_db(transaction=True)
def test_a_lost_postgresql_connection_is_replaced():
    """The receiver drops a connection an error broke; the refusal is recorded and the next message is stored."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: run the central suite with --central-db=postgresql")
    import psycopg

    s = connection.settings_dict
    ingest = Ingest()
    send(ingest, "punches", batch(punch()))
    with psycopg.connect(host=s["HOST"], port=s["PORT"], user=s["USER"], dbname="postgres", autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                      (s["NAME"],))
    assert send(ingest, "punches", batch(punch())) == []  # the message in hand fails, unacked: the terminal resends it
    refused = RejectedMessage.objects.order_by("-id").first()  # recorded on the new connection the handler opened
    assert refused.reason.startswith("could not be stored: OperationalError")
    ack = send(ingest, "punches", batch(punch()))[0]
    assert len(ack["stored"]) == 1
    assert Punch.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_waited_for_the_write_lock_arrives_when_it_got_it(transactional_db):
    """On SQLite a batch's arrival time is taken once its transaction holds the write lock, so arrival order is
    commit order: a batch that waited behind another writer is not stamped before that writer's commit, where a
    follower that had passed it would look for it in vain."""
    import sqlite3
    import threading
    import time

    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: its one write lock orders the commits")
    other = sqlite3.connect(str(connection.settings_dict["NAME"]), isolation_level=None)
    stored: list[dict] = []

    def receive() -> None:
        try:
            stored.extend(send(Ingest(), "punches", batch(punch())))
        finally:
            connection.close()
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer (a console edit, a recompute) holds the lock
        before = datetime.now(timezone.utc)
        receiver = threading.Thread(target=receive)
        receiver.start()
        time.sleep(0.6)
        assert not stored  # still waiting for the lock
        released = datetime.now(timezone.utc)
        other.execute("COMMIT")
        receiver.join(30)
    finally:
        other.close()
    assert len(stored) == 1 and len(stored[0]["stored"]) == 1
    arrived = Punch.objects.get().received_at
    assert arrived >= released > before + timedelta(seconds=0.5)
