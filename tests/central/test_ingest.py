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
from datetime import datetime, timezone

import pytest
from central_support import batch, punch, send
from cryptography import x509

from central.cli import main as central_main
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
def cli(capsys, tmp_path, *args) -> tuple[int, str, str]:
    """The CLI in this process: Django is already started on the test database, which ``--db`` names."""
    from django.db import connection

    code = central_main(["--db", str(connection.settings_dict["NAME"]), "--pki", str(tmp_path / "pki"), "--site", "s1",
                         *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_provision_and_broker_config(capsys, tmp_path):
    code, out, _ = cli(capsys, tmp_path, "provision", "door-7", "--out", str(tmp_path / "b"), "--broker-host", "mq.example")
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
    assert cli(capsys, tmp_path, "provision", "door-8", "--out", str(tmp_path / "b"))[0] == 0
    assert (tmp_path / "pki" / "ca.crt").read_bytes() == ca
    code, out, _ = cli(capsys, tmp_path, "broker-config", "--out", str(tmp_path / "broker"), "--port", "18883")
    assert code == 0
    conf = (tmp_path / "broker" / "mosquitto.conf").read_text()
    for line in ("require_certificate true", "use_identity_as_username true", "allow_anonymous false", "listener 18883"):
        assert line in conf
    acl = (tmp_path / "broker" / "acl").read_text()
    assert "user door-7\ntopic write seed/v1/s1/door-7/punches" in acl
    assert "topic read seed/v1/s1/door-8/cmd" in acl and "user seed-central\ntopic readwrite seed/#" in acl
    # refused names
    assert cli(capsys, tmp_path, "provision", "seed-central")[0] == 2
    code, _, err = cli(capsys, tmp_path, "provision", "bad/name")
    assert code == 2 and "device id" in err


def test_punches_and_devices_reports(capsys, tmp_path):
    ingest = Ingest()
    early = punch(punched_at="2026-03-01T07:00:00.000000Z", employee_number="E7")
    late = punch(punched_at="2026-03-02T07:00:00.000000Z")
    send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": [early, late]})
    send(ingest, "status", {"online": True, "device": "door-a", "queue_depth": 0})
    code, out, _ = cli(capsys, tmp_path, "punches", "--since", "2026-03-02", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["id"] for r in rows] == [late["id"]]
    code, out, _ = cli(capsys, tmp_path, "punches", "--format", "json")
    assert [r["employee_number"] for r in json.loads(out)] == ["E7", "E001"]
    code, out, _ = cli(capsys, tmp_path, "devices")
    assert code == 0 and "door-a" in out and "True" in out
    code, _, err = cli(capsys, tmp_path, "punches", "--since", "last tuesday")
    assert code == 2 and "neither an ISO date" in err
    assert cli(capsys, tmp_path, "employee", "add", "E9", "Nine", "--pin", "4321")[0] == 0
    code, out, _ = cli(capsys, tmp_path, "employee", "list")
    assert "E9" in out and "4321" not in out
    code, _, err = cli(capsys, tmp_path, "employee", "add", "E10", "")
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
    """The receiver's worker drops a broken connection; the next message reconnects and is stored."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: run the central suite with --central-db=postgresql")
    import psycopg
    from django.db import close_old_connections
    from django.db.utils import OperationalError

    s = connection.settings_dict
    ingest = Ingest()
    send(ingest, "punches", batch(punch()))
    with psycopg.connect(host=s["HOST"], port=s["PORT"], user=s["USER"], dbname="postgres", autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                      (s["NAME"],))
    with pytest.raises(OperationalError):  # the message in hand fails; the terminal resends it
        send(ingest, "punches", batch(punch()))
    close_old_connections()  # what the worker does after a database error
    if connection.connection is not None and not connection.is_usable():
        connection.close()
    ack = send(ingest, "punches", batch(punch()))[0]
    assert len(ack["stored"]) == 1
    assert Punch.objects.count() == 2
