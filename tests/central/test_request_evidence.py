"""Evidence with requests (证明): an employee attaches a sick note's photo or a PDF when asking, a leave type can
require one, the people who see the request open it (each look at someone else's audited), nobody else can, and it
goes with the employee. Read back through the models, the audit log, the served bytes and headers."""
from __future__ import annotations

import io
from datetime import date, datetime, time, timezone
from typing import Any
from urllib.parse import quote

import pytest
from central_support import central_cli, client_for
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from central.accounts.models import AuditEntry, Role, User
from central.attendance.models import AttendanceProfile, LeaveRecord, LeaveType, MakeupPunch, RequestEvidence, ShiftType
from central.people import roster
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db
PAGE = reverse("console:attendance_requests")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def phone_photo() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825).update({1: "N", 2: (31.0, 13.0, 30.0), 3: "E", 4: (121.0, 28.0, 12.0)})
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), (240, 240, 230)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def user(name: str, role: str, **grants: Any) -> User:
    found = User.objects.create_user(name, password="x" * 12, role=role, employee=grants.pop("employee", None))
    found.departments.set(grants.get("departments", ()))
    found.sites.set(grants.get("sites", ()))
    return found


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    site, elsewhere = (Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai"),
                       Site.objects.create(code="s2", name="二厂", time_zone="Asia/Shanghai"))
    dept = Department.objects.create(site=site, name="装配")
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18))
    e1 = Employee.objects.create(number="E1", name="张三", site=site, department=dept)
    AttendanceProfile.objects.create(employee=e1, default_shift=day)
    sick = LeaveType.objects.create(code="sick", name="病假", needs_evidence=True)
    return {"e1": e1, "sick": sick, "users": {
        "e1": user("e1", Role.EMPLOYEE, employee=e1), "boss": user("boss", Role.MANAGER, departments=[dept]),
        "hr": user("hr", Role.HR_ADMIN, sites=[site]), "hr_b": user("hr_b", Role.HR_ADMIN, sites=[elsewhere])}}


def ask_sick_leave(client: Client, sick: LeaveType, evidence: Any = None) -> Any:
    body = {"kind": "leave", "leave-leave_type": str(sick.pk), "leave-start": "2026-03-02", "leave-end": "2026-03-03",
            "leave-reason": "发烧 Fever"}
    if evidence is not None:
        body["leave-evidence"] = evidence
    return client.post(PAGE, body)


def test_a_sick_note_follows_the_request_is_kept_without_its_location_and_opened_by_those_who_see_it(plant) -> None:
    sick, users = plant["sick"], plant["users"]
    employee, boss = client_for(users["e1"]), client_for(users["boss"])
    # a page named like a photo is refused on its field, nothing filed
    answer = ask_sick_leave(employee, sick, SimpleUploadedFile("note.jpg", b"<html><script>x</script>", "image/jpeg"))
    page = answer.content.decode()
    assert answer.status_code == 200 and 'id="field-leave-evidence"' in page and "JPEG、PNG" in page
    assert not LeaveRecord.objects.exists() and not RequestEvidence.objects.exists()
    # asked for on the day, before the doctor: filed, marked as waiting for its evidence, and not approved without it
    assert ask_sick_leave(employee, sick).status_code == 302
    leave = LeaveRecord.objects.get()
    row = boss.get(PAGE).content.decode().split(f'id="request-leave-{leave.pk}"')[1].split("</tr>")[0]
    assert "待补证明" in row
    decided = boss.post(reverse("console:attendance_request_decide"),
                        {"kind": "leave", "id": leave.pk, "decision": "approve"}, follow=True)
    assert "还没有证明" in decided.content.decode() and LeaveRecord.objects.get().state == "pending"
    # the note comes: she attaches it to her waiting request; nobody else can
    attach = reverse("console:attendance_request_attach")
    note = SimpleUploadedFile("IMG_0042.jpg", phone_photo(), "image/jpeg")
    assert boss.post(attach, {"kind": "leave", "id": leave.pk, "evidence": note}).status_code == 403
    assert employee.post(attach, {"kind": "leave", "id": leave.pk + 99}).status_code == 404
    shown = employee.post(attach, {"kind": "leave", "id": leave.pk}, follow=True).content.decode()
    assert "请选择证明文件" in shown and not RequestEvidence.objects.exists()
    note.seek(0)
    assert employee.post(attach, {"kind": "leave", "id": leave.pk, "evidence": note}).status_code == 302
    kept = RequestEvidence.objects.get(leave=leave)
    data = bytes(kept.data)
    assert (kept.name, kept.content_type, kept.size, kept.uploaded_by) == ("IMG_0042.jpg", "image/jpeg", len(data), "e1")
    assert b"Exif" not in data and b"PhoneMaker" not in data
    url = reverse("console:attendance_request_evidence", args=["leave", leave.pk])

    # the manager sees the link on the requests page and opens the photo: audited; then approves
    row = boss.get(PAGE).content.decode().split(f'id="request-leave-{leave.pk}"')[1].split("</tr>")[0]
    assert f'href="{url}"' in row and "证明" in row and "待补证明" not in row
    answer = boss.get(url)
    assert answer.status_code == 200 and answer.content == data and answer["Content-Type"] == "image/jpeg"
    assert answer["X-Content-Type-Options"] == "nosniff" and "sandbox" in answer["Content-Security-Policy"]
    assert answer["Content-Disposition"].startswith("inline") and answer["Cache-Control"] == "private, no-store"
    viewed = AuditEntry.objects.filter(action="attendance.evidence_viewed")
    assert list(viewed.values_list("actor", flat=True)) == ["boss"]
    assert client_for(users["e1"]).get(url).status_code == 200 and viewed.count() == 1  # one's own: not audited
    boss.post(reverse("console:attendance_request_decide"), {"kind": "leave", "id": leave.pk, "decision": "approve"})
    assert LeaveRecord.objects.get().state == "approved"
    note.seek(0)
    late = employee.post(attach, {"kind": "leave", "id": leave.pk, "evidence": note}, follow=True).content.decode()
    assert "已处理" in late and RequestEvidence.objects.count() == 1  # settled: the evidence stays as decided on
    # nobody else opens it: another site's HR, an anonymous visitor, a kind that keeps none, a request not there
    assert client_for(users["hr_b"]).get(url).status_code == 404
    assert Client().get(url).status_code == 302
    for kind, pk in (("overtime", leave.pk), ("leave", leave.pk + 99), ("payroll", leave.pk)):
        assert boss.get(reverse("console:attendance_request_evidence", args=[kind, pk])).status_code == 404
    assert AuditEntry.objects.filter(action="attendance.evidence_attached", actor="e1").count() == 1


def test_a_pdf_with_a_make_up_punch_is_only_downloaded_and_hr_records_leave_without_one(plant) -> None:
    e1, sick, users = plant["e1"], plant["sick"], plant["users"]
    employee = client_for(users["e1"])
    answer = employee.post(PAGE, {"kind": "makeup", "makeup-at": "2026-03-02T18:05", "makeup-direction": "out",
                                  "makeup-reason": "门禁故障 The door was broken",
                                  "makeup-evidence": SimpleUploadedFile("门禁报修单.pdf", PDF, "application/pdf")})
    assert answer.status_code == 302
    punch = MakeupPunch.objects.get()
    assert punch.at == datetime(2026, 3, 2, 10, 5, tzinfo=timezone.utc)
    answer = client_for(users["hr"]).get(reverse("console:attendance_request_evidence", args=["makeup", punch.pk]))
    assert answer.status_code == 200 and answer.content == PDF and answer["Content-Type"] == "application/pdf"
    assert answer["Content-Disposition"] == f"attachment; filename*=UTF-8''{quote('门禁报修单.pdf')}"
    # a clearer photo instead, while it waits: replaced, one file kept
    assert employee.post(reverse("console:attendance_request_attach"), {
        "kind": "makeup", "id": punch.pk, "evidence": SimpleUploadedFile("门禁.png", _png(), "image/png")}).status_code == 302
    assert list(RequestEvidence.objects.values_list("makeup_id", "name", "content_type")) == [
        (punch.pk, "门禁.png", "image/png")]
    # a file too large is refused before it is read, on its field
    huge = SimpleUploadedFile("scan.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024 + 10), "application/pdf")
    answer = employee.post(PAGE, {"kind": "makeup", "makeup-at": "2026-03-03T18:05", "makeup-reason": "x",
                                  "makeup-evidence": huge})
    assert answer.status_code == 200 and "5 MB" in answer.content.decode() and MakeupPunch.objects.count() == 1
    # HR records a sick leave it has seen the paper of: no file needed
    month = reverse("console:attendance_month", args=[e1.pk])
    answer = client_for(users["hr"]).post(month, {"kind": "leave", "month": "2026-03", "leave-leave_type": str(sick.pk),
                                                  "leave-start": "2026-03-09", "leave-end": "2026-03-09",
                                                  "leave-reason": "住院 In hospital"})
    assert answer.status_code == 302 and LeaveRecord.objects.get(start=date(2026, 3, 9)).state == "approved"


def test_evidence_goes_with_the_employee_and_the_api_says_which_requests_have_some(plant) -> None:
    from central.accounts.services import create_token

    e1, sick, users = plant["e1"], plant["sick"], plant["users"]
    ask_sick_leave(client_for(users["e1"]), sick, SimpleUploadedFile("note.png", _png(), "image/png"))
    plain = LeaveRecord.objects.create(employee=e1, leave_type=sick, start=date(2026, 3, 16), end=date(2026, 3, 16))
    token = create_token(users["hr"], "hr", actor="test")[1]
    answer = Client().get("/api/v1/attendance/leave?from=2026-03-01&to=2026-03-31",
                          HTTP_AUTHORIZATION=f"Bearer {token}")
    assert {r["id"]: r["has_evidence"] for r in answer.json()["items"]} == {
        LeaveRecord.objects.exclude(pk=plain.pk).get().pk: True, plain.pk: False}
    roster.delete_employee("E1", actor="test")
    assert not RequestEvidence.objects.exists()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (64, 48), 128).save(out, "PNG")
    return out.getvalue()


def settled_with_evidence(request: LeaveRecord | MakeupPunch, state: str, days_ago: float, now: datetime) -> None:
    from datetime import timedelta

    type(request).objects.filter(pk=request.pk).update(state=state, approved_by="boss",
                                                        approved_at=now - timedelta(days=days_ago))
    owner = {"leave": request} if isinstance(request, LeaveRecord) else {"makeup": request}
    RequestEvidence.objects.create(name=f"{state}-{days_ago}.pdf", content_type="application/pdf", size=len(PDF),
                                   sha256=f"{int(days_ago):064d}", data=PDF, uploaded_by="E1", **owner)


def test_evidence_is_deleted_once_its_retention_after_settling_ends_and_each_deletion_is_audited(
        plant, settings) -> None:

    from central.attendance.evidence import purge_expired

    e1, sick = plant["e1"], plant["sick"]
    now = datetime(2028, 6, 1, 12, tzinfo=timezone.utc)

    def leave(day: int) -> LeaveRecord:
        return LeaveRecord.objects.create(employee=e1, leave_type=sick, start=date(2026, 3, day), end=date(2026, 3, day))

    settled_with_evidence(leave(2), "approved", 731, now)  # two years and a day ago: deleted
    settled_with_evidence(leave(3), "rejected", 729, now)  # a day short of two years: kept
    settled_with_evidence(MakeupPunch.objects.create(employee=e1, at=datetime(2026, 3, 4, 1, tzinfo=timezone.utc),
                                                     direction="in", reason="忘打卡"), "withdrawn", 800, now)
    waiting = leave(5)  # still waiting, filed long ago: never deleted while it waits
    RequestEvidence.objects.create(leave=waiting, name="pending.pdf", content_type="application/pdf", size=len(PDF),
                                   sha256="f" * 64, data=PDF, uploaded_by="E1")
    LeaveRecord.objects.filter(pk=waiting.pk).update(created_at=now.replace(year=2025))

    assert purge_expired(now, 0) == 0 and RequestEvidence.objects.count() == 4  # 0: kept until the employee goes
    assert purge_expired(now, 730) == 2
    assert sorted(RequestEvidence.objects.values_list("name", flat=True)) == ["pending.pdf", "rejected-729.pdf"]
    purged = AuditEntry.objects.filter(action="attendance.evidence_purged").order_by("pk")
    assert sorted((a.actor, a.target, a.detail["sha256"][-3:], a.detail["kept_days"]) for a in purged) == [
        ("system", "E1 approved-731.pdf", "731", 730), ("system", "E1 withdrawn-800.pdf", "800", 730)]
    assert all("data" not in a.detail and "%PDF" not in str(a.detail) for a in purged)  # never the content
    assert purge_expired(now, 730) == 0  # nothing left to delete: nothing audited twice

    # the command does the same at once, with the configured days or its own
    def cli(*args: str) -> tuple[int, str, str]:
        return central_cli("attendance", "purge-evidence", *args)

    code, _, err = cli("--days", "0")
    assert code == 2 and "--days is 1 or more" in err and RequestEvidence.objects.count() == 2
    code, out, _ = cli("--days", "1")  # the rejected one, settled 729 days before 1 June 2028, is long past a day
    assert code == 0 and "1 evidence file(s)" in out and list(RequestEvidence.objects.values_list("name", flat=True)) == [
        "pending.pdf"]
    assert AuditEntry.objects.filter(action="attendance.evidence_purged", actor="cli").count() == 1


def test_the_form_says_how_long_evidence_is_kept(plant, settings) -> None:
    employee = client_for(plant["users"]["e1"])
    assert "请求处理 730 天后删除" in employee.get(PAGE).content.decode()
    settings.EVIDENCE_RETENTION_DAYS = 0  # kept until the employee's data are deleted: no such promise
    assert "天后删除" not in employee.get(PAGE).content.decode()


@pytest.mark.parametrize("value", ["abc", "-1", "36501", "1.5"])
def test_a_retention_that_is_not_a_number_of_days_stops_the_server_saying_so(value: str, monkeypatch) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from central.settings import _whole_number

    def retention_days() -> int:
        return _whole_number("SEED_EVIDENCE_RETENTION_DAYS", 730, 36_500, "days")

    monkeypatch.setenv("SEED_EVIDENCE_RETENTION_DAYS", value)
    with pytest.raises(ImproperlyConfigured, match="SEED_EVIDENCE_RETENTION_DAYS must be a whole number of days"):
        retention_days()
    monkeypatch.setenv("SEED_EVIDENCE_RETENTION_DAYS", " 365 ")
    assert retention_days() == 365


@pytest.mark.django_db(transaction=True)
def test_the_receivers_thread_deletes_expired_evidence_at_start(plant) -> None:
    """The thread ``seed-central run`` starts: its first pass, at once, deletes what expired while it was down."""
    import time as clock

    from django.utils import timezone as dj_timezone

    from central.attendance.worker import EvidenceRetentionThread

    now = dj_timezone.now()
    old = LeaveRecord.objects.create(employee=plant["e1"], leave_type=plant["sick"], start=date(2024, 3, 4),
                                     end=date(2024, 3, 4))
    settled_with_evidence(old, "approved", 731, now)
    recent = LeaveRecord.objects.create(employee=plant["e1"], leave_type=plant["sick"], start=date(2026, 3, 4),
                                        end=date(2026, 3, 4))
    settled_with_evidence(recent, "approved", 10, now)
    thread = EvidenceRetentionThread(interval_s=3600).start()
    try:
        deadline = clock.monotonic() + 20
        while thread.purged < 1 and thread.errors == 0 and clock.monotonic() < deadline:
            clock.sleep(0.05)
    finally:
        thread.stop()
    assert (thread.purged, thread.errors) == (1, 0)
    assert list(RequestEvidence.objects.values_list("leave_id", flat=True)) == [recent.pk]
