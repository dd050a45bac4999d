"""seed-central without the broker: idempotent storage on SQLite and PostgreSQL, roster versions, the CLI."""
from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from cryptography import x509
from sync_support import free_port

from central import roster
from central.cli import main as central_main
from central.db import CentralDB
from central.ingest import Ingest
from contract import protocol as p

@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        database = CentralDB.open(tmp_path / "central.db")
    else:
        import psycopg

        admin_url = request.getfixturevalue("postgres")
        name = f"t{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        database = CentralDB.open(admin_url.replace("/postgres?", f"/{name}?"))
    yield database
    database.close()


def punch(device: str = "door-a", **changes) -> dict:
    body = {"id": str(uuid.uuid4()), "device_id": device, "employee_number": "E001", "direction": "in",
            "method": "face", "score": 0.31, "punched_at": "2026-03-02T00:55:00.000000Z", "boot_id": "boot-1",
            "monotonic_ns": 123, "time_source": "ntp", "original_punched_at": None, "restamped_at": None}
    return {**body, **changes}


def send(ingest: Ingest, leaf: str, body) -> list[dict]:
    replies = ingest.handle(p.device_topic("s1", "door-a", leaf), p.dumps(body))
    return [json.loads(r.payload) for r in replies]


def test_punches_are_stored_once_however_often_they_come(db):
    ingest = Ingest(db)
    punches = [punch() for _ in range(5)]
    batch = {"batch": str(uuid.uuid4()), "punches": punches}
    first = send(ingest, "punches", batch)
    again = send(ingest, "punches", batch)
    other = send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": punches[:2]})
    for ack in (first[0], again[0]):
        assert ack["batch"] == batch["batch"] and sorted(ack["stored"]) == sorted(x["id"] for x in punches)
    assert sorted(other[0]["stored"]) == sorted(x["id"] for x in punches[:2])
    rows = db.query("SELECT id, site, device_id, score FROM punches")
    assert len(rows) == 5 and {r["site"] for r in rows} == {"s1"} and rows[0]["score"] == pytest.approx(0.31)


def test_a_restamp_corrects_the_stored_punch_once(db):
    ingest = Ingest(db)
    original = punch(time_source="unsynced", punched_at="2026-02-20T06:00:00.000000Z")
    send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": [original]})
    fixed = {**original, "time_source": "ntp", "punched_at": "2026-03-02T08:00:00.000000Z",
             "original_punched_at": original["punched_at"], "restamped_at": "2026-03-02T08:05:00.000000Z"}
    ack = send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": [fixed]})[0]
    assert ack["stored"] == [original["id"]]
    # a late copy of the unsynced version does not undo it, and a second restamp does not move it again
    send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": [original]})
    send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": [{**fixed, "punched_at": "2030-01-01T00:00:00.000000Z"}]})
    row = db.query_one("SELECT punched_at, original_punched_at, time_source FROM punches WHERE id = ?", (original["id"],))
    assert row == {"punched_at": "2026-03-02T08:00:00.000000Z", "original_punched_at": "2026-02-20T06:00:00.000000Z",
                   "time_source": "ntp"}


def test_bad_punches_are_refused_with_reasons_and_the_rest_stored(db):
    ingest = Ingest(db)
    good, wrong_device, bad_time = punch(), punch(device="door-b"), punch(punched_at="yesterday")
    ack = send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": [good, wrong_device, bad_time, "junk"]})[0]
    assert ack["stored"] == [good["id"]]
    reasons = {r["id"]: r["reason"] for r in ack["rejected"]}
    assert "does not match the topic" in reasons[wrong_device["id"]]
    assert reasons[bad_time["id"]].startswith("punched_at")
    assert reasons[None]
    refused = db.query("SELECT item_id, reason, payload FROM rejected ORDER BY id")
    assert len(refused) == 3 and json.loads(refused[0]["payload"])["id"] == wrong_device["id"]
    # a payload that is not even a batch is recorded, not answered
    assert ingest.handle(p.device_topic("s1", "door-a", "punches"), b"\x00garbage") == []
    assert db.query_one("SELECT reason FROM rejected ORDER BY id DESC LIMIT 1")["reason"] == "payload is not JSON: Expecting value: line 1 column 1 (char 0)"


def test_events_status_and_command_results_are_recorded(db):
    ingest = Ingest(db)
    event = {"id": str(uuid.uuid4()), "kind": "spoof_attempt", "severity": "warning", "at": p.utc_stamp(),
             "payload": {"score": 0.2}}
    for _ in range(2):
        ack = send(ingest, "events", {"batch": str(uuid.uuid4()), "events": [event]})[0]
        assert ack["stored"] == [event["id"]]
    assert db.query_one("SELECT count(*) AS n FROM events")["n"] == 1
    send(ingest, "status", {"online": True, "device": "door-a", "queue_depth": 4, "versions": {"roster": 7},
                            "clock_offset_s": 0.01})
    [device] = db.query("SELECT device_id, site, online, roster_version, status FROM devices")
    assert (device["device_id"], device["site"], device["online"], device["roster_version"]) == ("door-a", "s1", 1, 7)
    assert json.loads(device["status"])["queue_depth"] == 4
    send(ingest, "status", {"online": False, "reason": "connection lost"})
    assert db.query_one("SELECT online FROM devices")["online"] == 0


def test_roster_versions_deltas_and_full(db):
    assert roster.current_version(db) == 0 and roster.delta(db, 0) is None
    v = roster.upsert_employees(db, [{"number": "A1", "name": "One"}, {"number": "A2", "name": "Two"}])
    assert v == 2
    roster.upsert_employee(db, {"number": "A1", "name": "One again"})
    roster.delete_employee(db, "A2")
    delta = roster.delta(db, 2)
    assert (delta["version"], delta["base"], delta["deletes"]) == (4, 2, ["A2"])
    assert [e["name"] for e in delta["upserts"]] == ["One again"]
    full = roster.full_roster(db)
    assert full["full"] and full["version"] == 4 and [e["number"] for e in full["upserts"]] == ["A1"]
    p.validate(p.Roster, full)
    with pytest.raises(roster.RosterError, match="name"):
        roster.upsert_employee(db, {"number": "A3", "name": ""})
    with pytest.raises(roster.RosterError, match="no employee"):
        roster.delete_employee(db, "nobody")
    assert roster.current_version(db) == 4


# -- the command line ---------------------------------------------------------------------------------
def cli(capsys, tmp_path, *args) -> tuple[int, str, str]:
    code = central_main(["--db", str(tmp_path / "c.db"), "--pki", str(tmp_path / "pki"), "--site", "s1", *args])
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
    with CentralDB.open(tmp_path / "c.db") as db:
        ingest = Ingest(db)
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


def test_a_wrong_database_url_is_a_clear_error(capsys, tmp_path):
    code = central_main(["--db", f"postgresql://nobody@/nothing?host={tmp_path}&port={free_port()}", "devices"])
    assert code == 1 and "cannot connect to PostgreSQL" in capsys.readouterr().err



def test_a_lost_postgresql_connection_is_replaced(postgres):
    import psycopg

    name = f"t{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
        db = CentralDB.open(postgres.replace("/postgres?", f"/{name}?"))
        try:
            ingest = Ingest(db)
            send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": [punch()]})
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            with pytest.raises(psycopg.OperationalError):  # the message in hand fails; the terminal resends it
                send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": [punch()]})
            ack = send(ingest, "punches", {"batch": str(uuid.uuid4()), "punches": [punch()]})[0]
            assert len(ack["stored"]) == 1
            assert db.query_one("SELECT count(*) AS n FROM punches")["n"] == 2
        finally:
            db.close()
