"""`make demo` end to end: real mosquitto, seed-central, seed-sync as its own process, the scenario."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_demo_punches_reach_the_central_server_exactly_once(tmp_path):
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("mosquitto is not installed")
    env = dict(os.environ, SEED_DEMO_DIR=str(tmp_path / "demo-data"), SEED_DEMO_HEADLESS="1")
    proc = subprocess.run([sys.executable, "-m", "terminal.demo"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=240)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    faces = (REPO.parent / "shared" / "testdata" / "faces" / "video").is_dir()
    punches = 9 if faces else 8
    if faces:
        assert "by face" in out and "spoof_suspected" in out and "tailgating" in out
    else:
        assert "face steps skipped" in out
    assert out.count("PUNCH ") == punches and "pin_locked" in out and "unknown_finger" in out and "unknown_card" in out
    assert "by finger" in out and "by card+pin" in out and "finger stored at sensor position" in out
    assert f"punches on the terminal: {punches}   at the central server: {punches} (distinct ids {punches})" in out
    assert "every punch arrived exactly once and the outbox is empty" in out
    _check_punches_in_both_databases(tmp_path / "demo-data", punches)
    assert "entries, intact" in out and "UNEXPECTED" not in out
    # the central console: migrated database, an admin whose printed one-time password works, a console that answered
    import re
    import sqlite3

    from django.contrib.auth.hashers import check_password

    assert re.search(r"地址 address: +http://127\.0\.0\.1:\d+/ +\(the console answered\)", out), out[-2000:]
    # the central's backup, made while it ran: the copy read back holds the punches the summary printed
    backed_up = re.search(r"备份 backup: (\S+\.db) \(.* MB, checked intact\): (\d+) punches", out)
    assert backed_up, out[-2000:]
    (copy,) = (tmp_path / "demo-data" / "central" / "backups").glob("seed-central-*.db")
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT count(*) FROM ingest_punch").fetchone()[0] == int(backed_up.group(2)) >= punches
    password = re.search(r"一次性密码 password: (\S+)", out).group(1)
    with sqlite3.connect(tmp_path / "demo-data" / "central" / "central.db") as db:
        [(username, encoded, superuser)] = db.execute("SELECT username, password, is_superuser FROM accounts_user "
                                                      "WHERE is_superuser")
        applied = {r[0] for r in db.execute("SELECT app FROM django_migrations")}
    assert username == "admin" and superuser == 1 and check_password(password, encoded)
    assert {"people", "ingest", "accounts"} <= applied
    assert {"attendance"} <= applied
    _check_attendance_table(out, tmp_path / "demo-data" / "central" / "central.db")
    _check_requests(out, tmp_path / "demo-data" / "central" / "central.db")
    _check_month_close(out, tmp_path / "demo-data" / "central" / "central.db")


def _check_punches_in_both_databases(demo: Path, punches: int) -> None:
    """What the summary says, counted here: the terminal's encrypted store against the central's database.

    The central's database also holds a month of generated history for the same door; the terminal's own
    punches are told apart by the boot ids the terminal stamped them with.
    """
    import sqlite3

    from terminal.config import load_config
    from terminal.store.database import open_store

    with open_store(load_config(demo / "terminal.toml").storage, create=False) as store:  # with its key file
        on_terminal = [r["id"] for r in store.query("SELECT id FROM punches")]
        boots = sorted({r["boot_id"] for r in store.query("SELECT boot_id FROM punches")})
        outbox = store.scalar("SELECT count(*) FROM outbox")
    assert len(on_terminal) == punches and outbox == 0
    with sqlite3.connect(demo / "central" / "central.db") as db:
        marks = ", ".join("?" * len(on_terminal))
        arrived = [r[0] for r in db.execute(f"SELECT id FROM ingest_punch WHERE id IN ({marks})", on_terminal)]
        from_the_door = [r[0] for r in db.execute(
            f"SELECT id FROM ingest_punch WHERE device_id = 'demo-door-01' AND boot_id IN ({', '.join('?' * len(boots))})",
            boots)]
    assert sorted(arrived) == sorted(on_terminal)  # none missing
    assert sorted(from_the_door) == sorted(on_terminal)  # none stored twice, nothing the terminal did not make


def _check_attendance_table(out: str, database: Path) -> None:
    """The demo's attendance table is what the engine wrote: re-counted here from the database with plain SQL."""
    import re
    import sqlite3

    block = out[out.index("考勤 Attendance"):out.index("中央控制台")]
    assert "36 people" in block
    printed = {}
    for line in block.splitlines()[2:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 10:
            printed[cells[0]] = cells[1:]
    assert set(printed) == {"行政 Office", "仓储 Warehouse", "生产 Production"}
    with sqlite3.connect(database) as db:
        db.execute("CREATE TEMP TABLE closing_approved AS SELECT json_extract(detail, '$.id') AS id "
                   "FROM accounts_auditentry WHERE action = 'attendance.overtime_approved' AND actor = 'hr'")
        for dept, cells in printed.items():
            where = ("FROM attendance_dailyrecord r JOIN people_employee e ON e.id = r.employee_id "
                     "JOIN people_department d ON d.id = e.department_id WHERE d.name = ?")
            people, present, late, late_min, early, early_min, absent, leave, away = db.execute(
                "SELECT count(DISTINCT e.id), sum(r.status = 'present'), sum(r.late), sum(r.late_min), sum(r.early), "
                f"sum(r.early_min), sum(r.status = 'absent'), sum(r.source = 'leave'), sum(r.source = 'on_duty') {where}",
                (dept,)).fetchone()
            assert cells[:7] == [str(people), str(present), f"{late} / {late_min}", f"{early} / {early_min}", str(absent),
                                 str(leave), str(away)], dept
            assert people > 0 and present > people * 10  # a month of mostly present days
            # overtime paid (approved or needing no approval) and waiting for a decision, as printed: before HR
            # approved what still waited in last month to close it (those days are in the audit log)
            paid, pending = db.execute(
                "SELECT coalesce(sum(CASE WHEN r.overtime_state IN ('', 'approved') AND r.id NOT IN (SELECT a.id FROM "
                "closing_approved a) THEN r.overtime_min END), 0), coalesce(sum(CASE WHEN r.overtime_state = 'pending' "
                f"OR r.id IN (SELECT a.id FROM closing_approved a) THEN r.overtime_min END), 0) {where}",
                (dept,)).fetchone()
            assert cells[7:] == [f"{Decimal(paid) / 60:.1f}", f"{Decimal(pending) / 60:.1f}"], dept
    assert int(printed["行政 Office"][5]) == 2  # one full-day and one half-day leave in the history
    assert int(printed["行政 Office"][6]) == 2  # two days of a business trip, approved


def _check_month_close(out: str, database: Path) -> None:
    """Last month closed by HR once its waiting overtime was approved, as the summary says; or the reasons it could not
    be (only in the first hours of a month, while a night shift's window is open)."""
    import re
    import sqlite3

    said = re.search(r"月结 Month close: HR closed (\d{4}-\d\d) \((\d+) days of overtime still waiting were approved "
                     r"first\): its (\d+) records", out)
    with sqlite3.connect(database) as db:
        closed = db.execute("SELECT c.month, c.closed_by, (SELECT count(*) FROM attendance_dailyrecord r JOIN "
                            "people_employee e ON e.id = r.employee_id WHERE e.site_id = c.site_id AND "
                            "strftime('%Y-%m', r.date) = strftime('%Y-%m', c.month)) FROM attendance_closedmonth c").fetchall()
        approved = db.execute("SELECT count(*) FROM accounts_auditentry WHERE action = 'attendance.overtime_approved' "
                              "AND actor = 'hr'").fetchone()[0]
        pending = db.execute("SELECT count(*) FROM attendance_dailyrecord WHERE overtime_state = 'pending' AND "
                             "strftime('%Y-%m', date) = ?", (said.group(1) if said else "",)).fetchone()[0]
    if said is None:
        assert "cannot be closed yet" in out and closed == [], out[out.index("月结 Month close"):][:500]
        return
    [(month, by, records)] = closed
    assert (month[:7], by, records) == (said.group(1), "hr", int(said.group(3)))
    assert records > 100 and pending == 0 and approved == int(said.group(2))


def _check_requests(out: str, database: Path) -> None:
    """The four requests the demo says are waiting are pending in the database, each with its notification: a leave,
    a make-up punch and a rest day worked for a working day off (two shift changes)."""
    import sqlite3

    assert "请求与审批 Requests: 4 waiting for a decision" in out and "put 4 notifications" in out
    assert "(调班 shift change, two requests)" in out
    with sqlite3.connect(database) as db:
        leave = db.execute("SELECT l.state, l.reason FROM attendance_leaverecord l JOIN attendance_leavetype t ON "
                           "t.id = l.leave_type_id WHERE NOT t.on_duty").fetchall()
        makeup = db.execute("SELECT state, direction FROM attendance_makeuppunch").fetchall()
        evidence = db.execute("SELECT e.content_type, e.data FROM attendance_requestevidence AS e "
                              "JOIN attendance_makeuppunch AS m ON m.id = e.makeup_id").fetchall()
        alerts = db.execute("SELECT kind, key FROM alerts_alert ORDER BY key").fetchall()
        changes = db.execute("SELECT state, shift_id IS NULL, start, employee_id FROM attendance_shiftchange "
                             "ORDER BY id").fetchall()
    assert [r[0] for r in leave] == ["pending"] and makeup == [("pending", "out")]
    assert [(state, rest) for state, rest, _, _ in changes] == [("pending", 0), ("pending", 1)]
    assert len({who for *_, who in changes}) == 1 and changes[0][2] != changes[1][2]
    [(kind, photo)] = evidence  # the photo of the door's screen, without the phone's EXIF (GPS position)
    assert kind == "image/jpeg" and photo[:3] == b"\xff\xd8\xff" and b"Exif" not in photo
    assert "with a photo of the door's screen attached" in out
    assert [kind for kind, _ in alerts] == ["request_waiting"] * 4
    assert [key.split(":")[1] for _, key in alerts] == ["leave", "makeup_punch", "shift_change", "shift_change"]
