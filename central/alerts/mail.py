"""Alert mails: the SMTP settings from the environment, and the outbox the alert thread sends.

| variable | meaning | default |
| --- | --- | --- |
| ``SEED_SMTP_HOST`` | the SMTP server; unset: no mail at all | unset |
| ``SEED_SMTP_PORT`` | its port | ``25`` |
| ``SEED_SMTP_USER`` | the login, when the server wants one | none |
| credential ``smtp-password`` | the password, a file in ``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``) | none |
| ``SEED_SMTP_FROM`` | the sender address | ``seed@<host name>`` |
| ``SEED_SMTP_SECURITY`` | ``none``, ``starttls`` or ``ssl`` | ``none`` |

Each mail is claimed with one conditional UPDATE (pending to sending) that only one worker wins. A refused or
unreachable server puts it back to pending with the error and tries again after the next of
``RETRY_DELAYS_S``; after the last it is given up (failed). A claim left by a worker that died while sending is
never sent again (the server may have taken it): it is marked failed, saying so.
"""
from __future__ import annotations

import logging
import os
import smtplib
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.core.mail import EmailMessage, get_connection

from central.alerts.models import Alert, AlertMail
from central.alerts.texts import describe

log = logging.getLogger(__name__)

RETRY_DELAYS_S = (30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
STALE_CLAIM_S = 600
TIMEOUT_S = 15.0
SECURITIES = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    user: str
    password: str
    sender: str
    security: str

    def __repr__(self) -> str:  # never the password, wherever this ends up
        return f"Smtp(host={self.host!r}, port={self.port}, user={self.user!r}, security={self.security!r})"


def smtp() -> Smtp | None:
    """The SMTP settings, or None when no server is configured (then no mail is queued)."""
    host = os.environ.get("SEED_SMTP_HOST", "").strip()
    if not host:
        return None
    try:
        port = int(os.environ.get("SEED_SMTP_PORT", "25"))
    except ValueError:
        log.warning("SEED_SMTP_PORT is not a number: port 25 is used")
        port = 25
    security = os.environ.get("SEED_SMTP_SECURITY", "none").strip().lower() or "none"
    if security not in SECURITIES:
        log.warning("SEED_SMTP_SECURITY %s is not one of none/starttls/ssl: none is used", security)
        security = "none"
    password = ""
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if credentials and (Path(credentials) / "smtp-password").is_file():
        password = (Path(credentials) / "smtp-password").read_text(encoding="utf-8").strip()
    sender = os.environ.get("SEED_SMTP_FROM", "").strip() or f"seed@{socket.gethostname()}"
    return Smtp(host, port, os.environ.get("SEED_SMTP_USER", "").strip(), password, sender, security)


def compose(alert: Alert) -> tuple[str, str]:
    """Subject and plain-text body: Chinese first, then English, with the notification's link path."""
    zh, en = describe(alert.kind, alert.detail)
    link = f"/alerts/?alert={alert.pk}"
    subject = f"[Seed 考勤告警 Alert] {zh} / {en}"
    body = (f"{zh}\n\n发生时间：{alert.at.isoformat()}\n在控制台查看：{link}\n\n"
            f"{en}\n\nAt: {alert.at.isoformat()}\nSee it in the console: {link}\n")
    return subject[:250], body


def claim(pk: int, now: datetime) -> bool:
    return AlertMail.objects.filter(pk=pk, state=AlertMail.PENDING, next_at__lte=now).update(
        state=AlertMail.SENDING, claimed_at=now) == 1


def give_up_stale(now: datetime) -> int:
    """Claims older than STALE_CLAIM_S: their worker died mid-send; the server may have the mail, so no resend."""
    return AlertMail.objects.filter(state=AlertMail.SENDING, claimed_at__lt=now - timedelta(seconds=STALE_CLAIM_S)
                                    ).update(state=AlertMail.FAILED, claimed_at=None,
                                             last_error="发送时中断，可能已送达，不再重发 / Interrupted while "
                                                        "sending: it may have arrived, so it is not sent again")


def deliver(settings: Smtp, address: str, subject: str, body: str) -> str:
    """Send one mail; '' when the server took it, else the error (never the password)."""
    connection = get_connection("django.core.mail.backends.smtp.EmailBackend", host=settings.host,
                                port=settings.port, username=settings.user or None,
                                password=settings.password or None, use_tls=settings.security == "starttls",
                                use_ssl=settings.security == "ssl", timeout=TIMEOUT_S, fail_silently=False)
    try:
        sent = EmailMessage(subject, body, settings.sender, [address], connection=connection).send()
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        return (error.replace(settings.password, "***") if settings.password else error)[:500]
    finally:
        connection.close()
    return "" if sent == 1 else "SMTP: the server accepted no recipient"


def send_due(now: datetime, *, batch: int = 50) -> int:
    """Send every mail due at ``now``; returns how many the server took."""
    settings = smtp()
    if settings is None:
        return 0
    give_up_stale(now)
    sent = 0
    due = list(AlertMail.objects.filter(state=AlertMail.PENDING, next_at__lte=now).order_by("next_at", "pk")
               .values_list("pk", flat=True)[:batch])
    for pk in due:
        if not claim(pk, now):
            continue
        mail = AlertMail.objects.select_related("alert").get(pk=pk)
        subject, body = compose(mail.alert)
        error = deliver(settings, mail.address, subject, body)
        attempts = mail.attempts + 1
        claimed = AlertMail.objects.filter(pk=pk, state=AlertMail.SENDING)
        if not error:
            claimed.update(state=AlertMail.SENT, attempts=attempts, sent_at=now, claimed_at=None, last_error="")
            log.info("alert mail %s (alert %s) sent to %s", pk, mail.alert_id, mail.address)
            sent += 1
        elif attempts <= len(RETRY_DELAYS_S):
            delay = RETRY_DELAYS_S[attempts - 1]
            claimed.update(state=AlertMail.PENDING, attempts=attempts, claimed_at=None, last_error=error,
                           next_at=now + timedelta(seconds=delay))
            log.warning("alert mail %s to %s failed (%s), attempt %s; retried in %s s", pk, mail.address, error,
                        attempts, delay)
        else:
            claimed.update(state=AlertMail.FAILED, attempts=attempts, claimed_at=None, last_error=error)
            log.error("alert mail %s to %s failed %s times (%s): given up", pk, mail.address, attempts, error)
    return sent
