"""The delivery worker: a thread of ``seed-central run`` that sends pending deliveries, signed, with retries.

Each delivery is claimed with one conditional UPDATE (pending to sending) that only one worker wins, so
with several central instances a delivery is sent by one of them. A 2xx answer delivers it; any other
answer, a timeout or a connection error tries it again after the next of ``RETRY_DELAYS_S``, then gives
up (``failed``; the console can retry it). A worker that died while sending leaves a claim that is
released after ``STALE_CLAIM_S`` (the delivery is then sent again: receivers dedupe on X-Seed-Delivery).
"""
from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO

from django.utils import timezone as dj_timezone

from central.loop_thread import LoopThread
from central.webhooks import signing
from central.webhooks.models import Delivery
from central.webhooks.punches import PunchFollower
from central.webhooks.selectors import due

log = logging.getLogger(__name__)

RETRY_DELAYS_S = (10, 30, 120, 600, 1800, 3600, 10800, 21600)
TIMEOUT_S = 10.0
STALE_CLAIM_S = 120
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Answer:
    status: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other non-2xx: the body is not sent again elsewhere."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: object, newurl: str) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_S) -> Answer:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(65536)
            return Answer(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return Answer(None, f"{type(reason).__name__}: {reason}"[:500])


def claim(pk: int, now: datetime) -> bool:
    """Take one due delivery for this worker; False when another worker took it first."""
    return Delivery.objects.filter(pk=pk, state=Delivery.PENDING, next_attempt_at__lte=now).update(
        state=Delivery.SENDING, claimed_at=now) == 1


def release_stale(now: datetime) -> int:
    return Delivery.objects.filter(state=Delivery.SENDING, claimed_at__lt=now - timedelta(seconds=STALE_CLAIM_S)
                                   ).update(state=Delivery.PENDING, claimed_at=None)


def send(pk: int, clock: Clock) -> Answer:
    """Send one claimed delivery and record what came of it."""
    delivery = Delivery.objects.select_related("hook").get(pk=pk)
    hook = delivery.hook
    body = signing.body(delivery.pk, delivery.event, delivery.created_at, delivery.data)
    timestamp = int(clock().timestamp())
    answer = post(hook.url, body, signing.headers(hook.secret, delivery.pk, delivery.event, timestamp, body))
    record(delivery, answer, clock())
    return answer


def record(delivery: Delivery, answer: Answer, now: datetime) -> None:
    attempts = delivery.attempts + 1
    claimed = Delivery.objects.filter(pk=delivery.pk, state=Delivery.SENDING)
    if answer.ok:
        claimed.update(state=Delivery.DELIVERED, attempts=attempts, last_status=answer.status, last_error="",
                       delivered_at=now, claimed_at=None)
        log.info("webhook delivery %s (%s) to hook %s: %s", delivery.pk, delivery.event, delivery.hook_id, answer.status)
        return
    error = answer.error or f"HTTP {answer.status}"
    if attempts <= len(RETRY_DELAYS_S):
        claimed.update(state=Delivery.PENDING, attempts=attempts, last_status=answer.status, last_error=error,
                       next_attempt_at=now + timedelta(seconds=RETRY_DELAYS_S[attempts - 1]), claimed_at=None)
        log.warning("webhook delivery %s to hook %s failed (%s), attempt %s; retried in %s s", delivery.pk,
                    delivery.hook_id, error, attempts, RETRY_DELAYS_S[attempts - 1])
    else:
        claimed.update(state=Delivery.FAILED, attempts=attempts, last_status=answer.status, last_error=error,
                       claimed_at=None)
        log.error("webhook delivery %s to hook %s failed %s times (%s): given up", delivery.pk, delivery.hook_id,
                  attempts, error)


class WebhookThread(LoopThread):
    """Start with :meth:`start`, end with :meth:`stop`; :meth:`run_once` does one pass in the caller's thread."""
    name = "seed-webhooks"

    def __init__(self, interval_s: float = 1.0, *, clock: Clock | None = None, batch: int = 50):
        super().__init__(interval_s)
        self.clock: Clock = clock or dj_timezone.now
        self.batch = batch
        self.follower = PunchFollower()
        self.sent = 0

    def start(self) -> WebhookThread:
        super().start()
        return self

    def work(self) -> None:
        self.run_once()

    def run_once(self) -> int:
        """Follow new punches, then send every delivery due now (those a delivery unblocks too); returns how many
        were sent."""
        self.follower.tick(self.clock())
        release_stale(self.clock())
        sent = 0
        while not self.stopping:
            progress = False
            for pk in due(self.clock(), self.batch):  # claimed one at a time: a slow receiver holds one claim
                if self.stopping:
                    break
                if claim(pk, self.clock()):
                    send(pk, self.clock)
                    sent += 1
                    progress = True
            if not progress:
                break
        self.sent += sent
        return sent
