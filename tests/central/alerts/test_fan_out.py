"""What a new alert sets off: mails through a real SMTP server on loopback (retried while it is down, never sent
twice), one webhook delivery to a real HTTP receiver, and nothing again after a restart."""
from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from receiver_support import running_receiver

from alerts.alert_support import MONDAY, at, free_port, make_world, rule, smtp_server
from central.alerts import mail
from central.alerts.models import Alert, AlertMail, AlertRule
from central.alerts.services import evaluate
from central.alerts.worker import AlertThread
from central.attendance.models import DailyRecord
from central.webhooks import services as webhooks
from central.webhooks.models import Delivery, Hook
from central.webhooks.worker import WebhookThread


@pytest.fixture
def world(db: None) -> dict[str, Any]:
    return make_world()


def late_record(world: dict[str, Any]) -> None:
    DailyRecord.objects.create(employee=world["E1"], date=MONDAY, shift_name="day", status="present",
                               source="punches", late=True, late_min=20, first_in=at(9, 25))


def use_smtp(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    monkeypatch.setenv("SEED_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SEED_SMTP_PORT", str(port))
    monkeypatch.setenv("SEED_SMTP_FROM", "seed@example.test")
    monkeypatch.delenv("SEED_SMTP_SECURITY", raising=False)
    monkeypatch.delenv("SEED_SMTP_USER", raising=False)


def test_each_address_gets_one_mail_in_chinese_and_english(world: dict[str, Any],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    rule(AlertRule.LATE, 10, site=world["sh"], emails=["hr@example.test", "boss@example.test"])
    late_record(world)
    with smtp_server() as (box, port):
        use_smtp(monkeypatch, port)
        [alert] = evaluate(at(9, 30))
        assert mail.send_due(at(9, 30)) == 2
        assert box.wait_for(2)
        assert mail.send_due(at(9, 31)) == 0 and evaluate(at(9, 31)) == []
        assert sorted(r[0] for r in box.recipients) == ["boss@example.test", "hr@example.test"]
    message = box.messages[0]
    subject, body = str(message["subject"]), message.get_content()
    assert "迟到" in subject and "Late" in subject and "张三" in subject
    assert "迟到 20 分钟" in body and "was 20 min late" in body and f"/alerts/?alert={alert.pk}" in body
    assert body.index("迟到") < body.index("Late")
    assert str(message["from"]) == "seed@example.test"
    assert set(AlertMail.objects.values_list("state", flat=True)) == {"sent"} and len(box.messages) == 2


def test_smtp_down_keeps_the_mail_pending_then_sends_it_once(world: dict[str, Any],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    rule(AlertRule.LATE, 10, emails=["hr@example.test"])
    late_record(world)
    port = free_port()  # nobody listens there yet
    use_smtp(monkeypatch, port)
    now = at(9, 30)
    evaluate(now)
    assert mail.send_due(now) == 0
    waiting = AlertMail.objects.get()
    assert waiting.state == "pending" and waiting.attempts == 1 and "Connection" in waiting.last_error
    assert waiting.next_at == now + timedelta(seconds=mail.RETRY_DELAYS_S[0])
    with smtp_server(port) as (box, _port):
        assert mail.send_due(now + timedelta(seconds=mail.RETRY_DELAYS_S[0] - 1)) == 0  # not due yet
        assert mail.send_due(now + timedelta(seconds=mail.RETRY_DELAYS_S[0])) == 1
        assert box.wait_for(1)
        assert mail.send_due(now + timedelta(hours=5)) == 0
    assert len(box.messages) == 1
    sent = AlertMail.objects.get()
    assert sent.state == "sent" and sent.attempts == 2 and sent.last_error == ""


def test_without_an_smtp_server_no_mail_is_queued(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEED_SMTP_HOST", raising=False)
    rule(AlertRule.LATE, 10, emails=["hr@example.test"])
    late_record(world)
    assert len(evaluate(at(9, 30))) == 1 and not AlertMail.objects.exists()
    assert mail.send_due(at(9, 30)) == 0


def test_the_password_comes_from_the_credentials_folder_and_is_never_shown(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Any) -> None:
    (tmp_path / "smtp-password").write_text("pa55-w0rd-secret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    monkeypatch.setenv("SEED_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SEED_SMTP_USER", "seed")
    monkeypatch.setenv("SEED_SMTP_SECURITY", "starttls")
    settings = mail.smtp()
    assert settings is not None and settings.password == "pa55-w0rd-secret" and settings.security == "starttls"
    assert "pa55" not in repr(settings) and "pa55" not in str(settings)


def test_a_registered_hook_gets_one_delivery_per_alert(world: dict[str, Any]) -> None:
    rule(AlertRule.LATE, 10, site=world["sh"])
    late_record(world)
    with running_receiver() as receiver:
        Hook.objects.create(name="值班系统", url=receiver.url, events=["alert"], secret="s" * 20, created_by="t")
        Hook.objects.create(name="只要打卡", url=receiver.url, events=["punch.stored"], secret="t" * 20,
                            created_by="t")
        webhooks.forget_hooks()
        try:
            [alert] = evaluate(at(9, 30))
            assert evaluate(at(9, 31)) == [] and evaluate(at(12)) == []
            delivery = Delivery.objects.get()
            assert (delivery.event, delivery.event_id) == ("alert", f"alert:{alert.pk}")
            assert WebhookThread().run_once() == 1 and receiver.wait_for(1)
            assert WebhookThread().run_once() == 0
        finally:
            webhooks.forget_hooks()
    assert len(receiver.requests) == 1
    body = json.loads(receiver.requests[0].body)
    assert body["event"] == "alert" and body["data"]["kind"] == "late" and body["data"]["employee"] == "E1"
    assert "迟到" in body["data"]["text_zh"] and "late" in body["data"]["text_en"]


def _run_until_a_pass(thread: AlertThread) -> None:
    thread.start()
    try:
        for _ in range(400):
            if thread.passes or thread.errors:
                break
            threading.Event().wait(0.05)
    finally:
        thread.stop()
    assert thread.errors == 0 and thread.passes >= 1


def test_a_restart_repeats_nothing(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world()
    rule(AlertRule.LATE, 10, emails=["hr@example.test"])
    rule(AlertRule.QUEUE_DEPTH, 5)
    late_record(world)
    from central.people.models import Device

    Device.objects.filter(pk=world["door"].pk).update(status={"queue_depth": 9})
    with smtp_server() as (box, port):
        use_smtp(monkeypatch, port)
        first = AlertThread(interval_s=3600, clock=lambda: at(9, 30))
        _run_until_a_pass(first)
        assert first.raised == 2 and first.mailed == 1 and box.wait_for(1)
        again = AlertThread(interval_s=3600, clock=lambda: at(9, 45))  # the server started again
        _run_until_a_pass(again)
        assert again.raised == 0 and again.mailed == 0
    assert Alert.objects.count() == 2 and len(box.messages) == 1
