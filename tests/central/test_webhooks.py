"""Webhooks against a real HTTP receiver on loopback: signed bodies, retries on the clock, order per employee,
one send with two workers, ingest unhindered by a hanging receiver, and the facts the attendance side emits."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from central_support import batch, punch, send
from receiver_support import Received, Receiver, running_receiver

from central.accounts.models import Role, User
from central.attendance.evidence import Evidence
from central.attendance.models import AttendanceProfile, LeaveType, ShiftType
from central.attendance.requests import decide_leave, decide_makeup_punch, file_leave, file_makeup_punch, record_leave
from central.attendance.services import recompute
from central.ingest.handler import Ingest, store_punches
from central.ingest.models import Punch
from central.people.models import Employee, Site
from central.webhooks import services
from central.webhooks.models import Delivery, Hook
from central.webhooks.worker import RETRY_DELAYS_S, WebhookThread


class Clock:
    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def soon() -> datetime:
    """A whole second just after now: deliveries emitted before it are due at it."""
    return datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


@pytest.fixture
def admin(db: Any) -> User:
    return User.objects.create_user("root", password="x" * 12, role=Role.HR_ADMIN, is_superuser=True)


def make_hook(admin: User, url: str, events: list[str], **values: Any) -> tuple[Hook, str]:
    return services.create_hook(admin, {"name": "payroll", "url": url, "events": events, **values})


def expected_signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    mac = hmac.new(secret.encode(), headers["X-Seed-Timestamp"].encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def body_of(request: Received) -> dict[str, Any]:
    return json.loads(request.body.decode("utf-8"))


def emit_punch(number: str, n: int) -> None:
    services.emit("punch.stored", {"employee": number, "n": n}, key=number, event_id=f"test:{number}:{n}")


@pytest.mark.django_db
def test_a_delivery_is_signed_with_the_hooks_secret_and_carries_the_event(admin: User, receiver: Receiver) -> None:
    hook, secret = make_hook(admin, receiver.url, ["punch.stored", "anomaly"])
    assert len(secret) >= 40 and Hook.objects.get(pk=hook.pk).secret == secret
    assert services.emit("punch.stored", {"employee": "E1", "note": "上班"}, key="E1", event_id="p-1") == 1
    services.emit("punch.stored", {"employee": "E1", "note": "again"}, key="E1", event_id="p-1")
    assert Delivery.objects.count() == 1  # the same fact again: no second delivery
    assert services.emit("record.final", {"employee": "E1"}, key="E1", event_id="r-1") == 0  # not taken
    t0 = soon()
    clock = Clock(t0)
    assert WebhookThread(clock=clock).run_once() == 1
    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    delivery = Delivery.objects.get()
    assert got.path == "/hook"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Seed-Event"] == "punch.stored"
    assert got.headers["X-Seed-Delivery"] == str(delivery.pk)
    assert got.headers["X-Seed-Timestamp"] == str(int(t0.timestamp()))
    assert got.headers["X-Seed-Signature"] == expected_signature(secret, got.headers, got.body)
    assert got.headers["X-Seed-Signature"] != expected_signature("another secret", got.headers, got.body)
    document = body_of(got)
    assert document == {"id": delivery.pk, "event": "punch.stored",
                        "created_at": delivery.created_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
                        "data": {"employee": "E1", "note": "上班"}}
    assert got.body == json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status, delivery.delivered_at) == ("delivered", 1, 200, t0)


@pytest.mark.django_db
def test_verify_accepts_a_fresh_signed_body_and_refuses_a_replayed_or_altered_one() -> None:
    from central.webhooks.signing import verify

    body = b'{"id":1}'
    stamp = 1_800_000_000
    signed = {"x-seed-timestamp": str(stamp),
              "x-seed-signature": "sha256=" + hmac.new(b"k", f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()}
    assert verify("k", body, signed, now=stamp + 299)
    assert not verify("k", body, signed, now=stamp + 301)
    assert not verify("k", body + b" ", signed, now=stamp)
    assert not verify("other", body, signed, now=stamp)


@pytest.mark.django_db
def test_a_failing_receiver_is_retried_on_the_schedule_then_given_up(admin: User, receiver: Receiver) -> None:
    receiver.default = 500
    make_hook(admin, receiver.url, ["punch.stored"])
    emit_punch("E1", 1)
    t0 = soon()
    clock = Clock(t0)
    worker = WebhookThread(clock=clock)
    worker.run_once()
    assert len(receiver.requests) == 1
    for n, delay in enumerate(RETRY_DELAYS_S, start=2):
        clock.advance(delay - 1)
        worker.run_once()
        assert len(receiver.requests) == n - 1, f"retry {n} came before its {delay} s"
        delivery = Delivery.objects.get()
        assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", n - 1, 500)
        clock.advance(1)
        worker.run_once()
        assert len(receiver.requests) == n
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("failed", 9, "HTTP 500")
    assert [10, 30, 120, 600, 1800, 3600, 10800, 21600] == list(RETRY_DELAYS_S)
    clock.advance(86400)
    worker.run_once()
    assert len(receiver.requests) == 9
    # by hand: tried again at once, and delivered
    receiver.default = 200
    services.retry_delivery(admin, delivery)
    worker.run_once()
    delivery.refresh_from_db()
    assert (delivery.state, len(receiver.requests)) == ("delivered", 10)


@pytest.mark.django_db
def test_a_500_then_200_is_delivered_at_the_first_retry_and_a_timeout_or_refusal_counts_as_failure(
        admin: User, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    receiver.script = [500]
    hook, secret = make_hook(admin, receiver.url, ["punch.stored"])
    emit_punch("E1", 1)
    t0 = soon()
    clock = Clock(t0)
    worker = WebhookThread(clock=clock)
    worker.run_once()
    clock.advance(9)
    worker.run_once()
    assert len(receiver.requests) == 1
    clock.advance(1)
    worker.run_once()
    assert len(receiver.requests) == 2 and Delivery.objects.get().state == "delivered"
    first, second = receiver.requests
    assert first.body == second.body  # the same delivery, signed again at its own time
    assert second.headers["X-Seed-Timestamp"] == str(int((t0 + timedelta(seconds=10)).timestamp()))
    assert second.headers["X-Seed-Signature"] == expected_signature(secret, second.headers, second.body)
    # a receiver that does not answer in time, and one nobody listens on
    monkeypatch.setattr("central.webhooks.worker.TIMEOUT_S", 0.5)
    monkeypatch.setattr("central.webhooks.worker.post.__defaults__", (0.5,))
    receiver.script = ["hang"]
    emit_punch("E2", 1)
    worker.run_once()
    hung = Delivery.objects.get(key="E2")
    assert (hung.state, hung.attempts, hung.last_status) == ("pending", 1, None)
    assert "timed out" in hung.last_error.lower() or "timeout" in hung.last_error.lower()
    Hook.objects.filter(pk=hook.pk).update(url="http://127.0.0.1:9/nobody")
    emit_punch("E3", 1)
    worker.run_once()
    refused = Delivery.objects.get(key="E3")
    assert (refused.state, refused.attempts, refused.last_status) == ("pending", 1, None) and refused.last_error


@pytest.mark.django_db
def test_a_failing_delivery_holds_back_the_same_employees_later_ones_only(admin: User, receiver: Receiver) -> None:
    receiver.script = [500]
    make_hook(admin, receiver.url, ["punch.stored"])
    emit_punch("A", 1)
    emit_punch("A", 2)
    emit_punch("B", 1)
    t0 = soon()
    clock = Clock(t0)
    worker = WebhookThread(clock=clock)
    worker.run_once()
    seen = [(body_of(r)["data"]["employee"], body_of(r)["data"]["n"]) for r in receiver.requests]
    assert seen == [("A", 1), ("B", 1)]
    clock.advance(10)
    worker.run_once()
    seen = [(body_of(r)["data"]["employee"], body_of(r)["data"]["n"]) for r in receiver.requests]
    assert seen == [("A", 1), ("B", 1), ("A", 1), ("A", 2)]
    assert set(Delivery.objects.values_list("state", flat=True)) == {"delivered"}


@pytest.mark.django_db
def test_a_hook_of_a_site_gets_only_that_sites_facts_and_an_inactive_one_nothing(admin: User, receiver: Receiver) -> None:
    a = Site.objects.create(code="sa", name="甲")
    b = Site.objects.create(code="sb", name="乙")
    make_hook(admin, receiver.url, ["anomaly"], site=a)
    idle, _ = make_hook(admin, receiver.url, ["anomaly"], active=False)
    services.emit("anomaly", {"x": 1}, key="E1", event_id="a-1", site=a.pk)
    services.emit("anomaly", {"x": 2}, key="E2", event_id="b-1", site=b.pk)
    assert list(Delivery.objects.values_list("data", flat=True)) == [{"x": 1}]
    assert not Delivery.objects.filter(hook=idle).exists()


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_a_delivery_twice(admin: User, receiver: Receiver) -> None:
    make_hook(admin, receiver.url, ["punch.stored"])
    make_hook(admin, receiver.url, ["punch.stored"])
    for n in range(15):
        for number in ("A", "B", "C", "D"):
            emit_punch(number, n)
    total = Delivery.objects.count()
    assert total == 120
    workers = [WebhookThread(interval_s=0.01).start() for _ in range(2)]
    try:
        deadline = time.monotonic() + 60
        while Delivery.objects.exclude(state="delivered").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        for worker in workers:
            worker.stop()
    assert not Delivery.objects.exclude(state="delivered").exists()
    ids = [r.headers["X-Seed-Delivery"] for r in receiver.requests]
    assert len(ids) == total and len(set(ids)) == total
    assert all(w.sent > 0 for w in workers) or sum(w.sent for w in workers) == total
    assert sum(w.sent for w in workers) == total
    # and in order per hook and employee
    for hook in Hook.objects.all():
        for number in ("A", "B", "C", "D"):
            sent = [body_of(r)["data"]["n"] for r in receiver.requests
                    if body_of(r)["data"]["employee"] == number
                    and Delivery.objects.get(pk=int(r.headers["X-Seed-Delivery"])).hook_id == hook.pk]
            assert sent == list(range(15))


@pytest.mark.django_db(transaction=True)
def test_ingest_stores_and_acks_punches_while_the_receiver_hangs(admin: User, receiver: Receiver) -> None:
    Site.objects.create(code="s1", name="一厂")
    receiver.default = "hang"
    make_hook(admin, receiver.url, ["punch.stored"])
    worker = WebhookThread(interval_s=0.05).start()
    ingest = Ingest()
    try:
        first = batch(punch(employee_number="E001"), punch(employee_number="E002"))
        acks = send(ingest, "punches", first)
        assert acks[0]["stored"] == [p["id"] for p in first["punches"]]
        assert receiver.wait_for(1), "the worker never reached the receiver"
        # the receiver now hangs on the first delivery: ingest goes on
        for _ in range(5):
            more = batch(punch(employee_number="E003"), punch(employee_number="E001"))
            assert send(ingest, "punches", more)[0]["stored"] == [p["id"] for p in more["punches"]]
        assert send(ingest, "punches", first)[0]["stored"] == [p["id"] for p in first["punches"]]  # sent again
        assert Punch.objects.count() == 12
        receiver.release.set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                Delivery.objects.count() == 12 and not Delivery.objects.exclude(state="delivered").exists()):
            time.sleep(0.05)
    finally:
        worker.stop()
    assert Delivery.objects.count() == 12  # one per punch: the batch sent again added none
    told = {body_of(r)["data"]["punch_id"]: body_of(r)["data"] for r in receiver.requests}
    assert set(told) == set(Punch.objects.values_list("id", flat=True))
    sample = first["punches"][0]
    assert told[sample["id"]] == {"punch_id": sample["id"], "employee": "E001", "site": "s1", "device": "door-a",
                                  "direction": "in", "method": "face", "punched_at": "2026-03-02T00:55:00Z",
                                  "time_source": "ntp", "time_flag": ""}


# -- what the attendance side emits ----------------------------------------------------------------
NOW = datetime(2026, 3, 20, tzinfo=timezone.utc)  # every day below is long final (no terminal at the site)


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=timezone(timedelta(hours=8)))


@pytest.fixture
def staff(db: Any) -> Employee:
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    shift = ShiftType.objects.create(name="day", start=datetime.min.time().replace(hour=9),
                                     end=datetime.min.time().replace(hour=18), checkin_before_min=60,
                                     checkout_after_min=120, late_grace_min=0, early_grace_min=0,
                                     half_day_below_h=Decimal("6"), absent_below_h=Decimal("2"))
    emp = Employee.objects.create(number="E1", name="张三", site=site)
    AttendanceProfile.objects.create(employee=emp, default_shift=shift)
    return emp


def stored(number: str, *times: datetime) -> None:
    store_punches([{"id": f"{number}-{at.isoformat()}", "site": "s1", "device_id": "door-a", "employee_number": number,
                    "direction": "in", "method": "card", "score": None, "punched_at": at, "boot_id": "b",
                    "monotonic_ns": 0, "time_source": "ntp", "original_punched_at": None, "restamped_at": None,
                    "batch_id": "x", "received_at": NOW} for at in times])


def test_a_final_late_record_emits_one_anomaly_and_recomputing_emits_nothing_again(admin: User, staff: Employee) -> None:
    make_hook(admin, "http://127.0.0.1:9/h", ["record.final", "anomaly"])
    stored("E1", shanghai(3, 9, 20), shanghai(3, 18, 0))
    recompute(date(2026, 3, 3), date(2026, 3, 3), now=NOW)
    anomalies = list(Delivery.objects.filter(event="anomaly"))
    assert [(d.data["kind"], d.data["employee"], d.data["date"], d.data["late_min"], d.key) for d in anomalies] == \
        [("late", "E1", "2026-03-03", 20, "E1")]
    final = Delivery.objects.get(event="record.final")
    assert (final.data["status"], final.data["date"], final.data["shift"], final.data["late_min"]) == \
        ("present", "2026-03-03", "day", 20)
    recompute(date(2026, 3, 3), date(2026, 3, 3), now=NOW)
    recompute(date(2026, 3, 1), date(2026, 3, 5), now=NOW)  # other days: absences (anomalies of their own)
    assert Delivery.objects.filter(event="anomaly", data__date="2026-03-03").count() == 1
    assert Delivery.objects.filter(event="record.final", data__date="2026-03-03").count() == 1
    absent = Delivery.objects.filter(event="anomaly", data__kind="absent").values_list("data__date", flat=True)
    assert sorted(absent) == ["2026-03-01", "2026-03-02", "2026-03-04", "2026-03-05"]  # no weekly rest day set


def test_an_approved_leave_and_makeup_punch_emit_request_approved_and_a_rejected_one_nothing(
        admin: User, staff: Employee) -> None:
    make_hook(admin, "http://127.0.0.1:9/h", ["request.approved"])
    annual = LeaveType.objects.create(code="annual", name="年假 Annual leave")
    rejected = file_leave(staff, annual, date(2026, 3, 2), date(2026, 3, 2), reason="x", actor="E1")
    decide_leave(rejected, approve=False, actor="hr", now=NOW)
    assert not Delivery.objects.exists()
    leave = file_leave(staff, annual, date(2026, 3, 3), date(2026, 3, 4), reason="探亲", actor="E1")
    decide_leave(leave, approve=True, actor="hr", now=NOW)
    got = Delivery.objects.get()
    assert (got.event, got.key) == ("request.approved", "E1")
    assert {k: got.data[k] for k in ("kind", "id", "employee", "leave_type", "on_duty", "start", "end", "approved_by")} \
        == {"kind": "leave", "id": leave.pk, "employee": "E1", "leave_type": "annual", "on_duty": False,
            "start": "2026-03-03", "end": "2026-03-04", "approved_by": "hr"}
    makeup = file_makeup_punch(staff, shanghai(5, 18), "out", reason="忘打卡", actor="E1")
    decide_makeup_punch(makeup, approve=True, actor="hr", now=NOW)
    second = Delivery.objects.get(event_id=f"request.approved:makeup_punch:{makeup.pk}")
    assert (second.data["kind"], second.data["direction"], second.data["at"]) == ("makeup_punch", "out",
                                                                                  "2026-03-05T10:00:00Z")


def test_a_request_is_told_when_filed_with_its_reason_and_when_rejected_with_who_decided(
        admin: User, staff: Employee) -> None:
    make_hook(admin, "http://127.0.0.1:9/h", ["request.filed", "request.approved", "request.rejected"])
    annual = LeaveType.objects.create(code="annual", name="年假 Annual leave")
    leave = file_leave(staff, annual, date(2026, 3, 2), date(2026, 3, 3), half_day=False, reason="探亲", actor="E1")
    filed = Delivery.objects.get()
    assert (filed.event, filed.key, filed.event_id) == ("request.filed", "E1", f"request.filed:leave:{leave.pk}")
    assert {k: filed.data[k] for k in ("kind", "id", "employee", "leave_type", "on_duty", "start", "end", "half_day",
                                       "reason")} \
        == {"kind": "leave", "id": leave.pk, "employee": "E1", "leave_type": "annual", "on_duty": False,
            "start": "2026-03-02", "end": "2026-03-03", "half_day": False, "reason": "探亲"}
    assert filed.data["filed_at"].endswith("Z") and "approved_by" not in filed.data and filed.data["has_evidence"] is False
    decide_leave(leave, approve=False, actor="hr", now=NOW)
    rejected = Delivery.objects.get(event="request.rejected")
    assert (rejected.data["id"], rejected.data["rejected_by"], rejected.event_id) == (
        leave.pk, "hr", f"request.rejected:leave:{leave.pk}")
    assert rejected.data["rejected_at"].endswith("Z") and "reason" not in rejected.data
    photo = Evidence("door.png", "image/png", b"\x89PNG\r\n\x1a\n")  # told as attached, never sent
    makeup = file_makeup_punch(staff, shanghai(5, 18), "out", reason="忘打卡", actor="E1", evidence=photo)
    decide_makeup_punch(makeup, approve=True, actor="hr", now=NOW)
    assert sorted(Delivery.objects.filter(data__kind="makeup_punch").values_list("event", "data__has_evidence")) == [
        ("request.approved", True), ("request.filed", True)]
    assert not any("PNG" in str(d) for d in Delivery.objects.values_list("data", flat=True))
    # a leave HR records is filed and approved in one step: only its approval is news
    record_leave(staff, annual, date(2026, 3, 9), date(2026, 3, 9), reason="补录", actor="hr", now=NOW)
    assert list(Delivery.objects.filter(data__start="2026-03-09").values_list("event", flat=True)) == [
        "request.approved"]
    assert Delivery.objects.count() == 5


@pytest.mark.django_db
def test_no_hook_means_emit_does_nothing_not_even_a_query(admin: User, django_assert_num_queries: Any) -> None:
    services.active_hooks()  # read once: none
    with django_assert_num_queries(0):
        assert services.emit("punch.stored", {"a": 1}, key="E1", event_id="x") == 0
    assert not Delivery.objects.exists()


@pytest.mark.django_db
def test_a_bad_url_is_refused_with_a_clear_message(admin: User) -> None:
    for url in ("ftp://example.com/x", "javascript:alert(1)", "example.com/hook", "http:///nohost"):
        with pytest.raises(services.WebhookError) as refused:
            make_hook(admin, url, ["anomaly"])
        assert refused.value.field == "url"
        assert "http://" in str(refused.value) or "host" in str(refused.value)
    assert not Hook.objects.exists()


def test_a_colleague_answering_a_swap_is_told_once_agreed_or_declined(admin: User, staff: Employee) -> None:
    from central.attendance.shift_changes import answer_swap, file_swap

    make_hook(admin, "http://127.0.0.1:9/h", ["request.answered", "request.rejected"])
    li = Employee.objects.create(number="E2", name="李四", site=staff.site)
    night = ShiftType.objects.create(name="night", start=datetime.min.time().replace(hour=22),
                                     end=datetime.min.time().replace(hour=6), checkin_before_min=60,
                                     checkout_after_min=120)
    AttendanceProfile.objects.create(employee=li, default_shift=night)
    li_user = User.objects.create_user("li", password="x" * 12, role=Role.EMPLOYEE, employee=li)
    agreed = file_swap(staff, li, date(2026, 3, 4), reason="孩子生病", actor="E1")
    answer_swap(li_user, agreed, agree=True)
    told = Delivery.objects.get()
    assert (told.event, told.key, told.event_id) == ("request.answered", "E1", f"request.answered:shift_change:{agreed.pk}")
    assert (told.data["partner"], told.data["partner_answer"], told.data["answered_by"]) == ("E2", "agreed", "li")
    assert told.data["answered_at"].endswith("Z")
    declined = file_swap(staff, li, date(2026, 3, 5), reason="家里有事", actor="E1")
    answer_swap(li_user, declined, agree=False)
    events = sorted(Delivery.objects.filter(data__id=declined.pk).values_list("event", "data__partner_answer"))
    assert events == [("request.answered", "declined"), ("request.rejected", "declined")]


def test_an_overtime_request_is_told_when_filed_and_when_approved(admin: User, staff: Employee) -> None:
    from central.attendance.overtime_requests import decide_overtime_request, file_overtime

    make_hook(admin, "http://127.0.0.1:9/h", ["request.filed", "request.approved"])
    asked = file_overtime(staff, date(2026, 3, 7), 240, reason="周六盘点", actor="E1")
    decide_overtime_request(asked, approve=True, actor="hr", now=NOW)
    got = {d.event: d for d in Delivery.objects.all()}
    assert sorted(got) == ["request.approved", "request.filed"]
    assert {k: got["request.filed"].data[k] for k in ("kind", "id", "employee", "date", "minutes", "in_lieu", "reason")} == {
        "kind": "overtime_request", "id": asked.pk, "employee": "E1", "date": "2026-03-07", "minutes": 240,
        "in_lieu": False, "reason": "周六盘点"}
    assert (got["request.approved"].event_id, got["request.approved"].data["approved_by"]) == (
        f"request.approved:overtime_request:{asked.pk}", "hr")
