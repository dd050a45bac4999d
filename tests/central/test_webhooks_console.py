"""The webhook pages of the console as each role: hooks of one's own sites only, the secret shown once, the log."""
from __future__ import annotations

import re
from typing import Any

import pytest
from central_support import client_for
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from central.accounts.models import AuditEntry, Role, User
from central.people.models import Employee, Site
from central.webhooks import services
from central.webhooks.models import Delivery, Hook

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    a = Site.objects.create(code="site-a", name="甲厂")
    b = Site.objects.create(code="site-b", name="乙厂")
    employee = Employee.objects.create(number="A-1", name="甲", site=a)
    return {
        "a": a, "b": b,
        "superuser": _user("su", Role.HR_ADMIN, superuser=True),
        "hr_admin": _user("hr", Role.HR_ADMIN, sites=[a]),
        "hr_b": _user("hrb", Role.HR_ADMIN, sites=[b]),
        "manager": _user("mg", Role.MANAGER, sites=[a]),
        "auditor": _user("au", Role.AUDITOR),
        "employee": _user("em", Role.EMPLOYEE, employee=employee),
    }


def _user(name: str, role: str, *, sites: Any = (), superuser: bool = False, employee: Any = None) -> User:
    user = User.objects.create_user(name, password="x" * 12, role=role, is_superuser=superuser, employee=employee)
    user.sites.set(sites)
    return user



def test_only_the_superuser_and_hr_admins_open_the_webhook_pages(world: dict[str, Any]) -> None:
    for role in ("superuser", "hr_admin", "manager", "auditor", "employee"):
        client = client_for(world[role])
        for name in ("webhooks", "webhook_deliveries"):
            answer = client.get(reverse(f"console:{name}"))
            assert answer.status_code == (200 if role in ("superuser", "hr_admin") else 403), (role, name)
        if role not in ("superuser", "hr_admin"):
            answer = client.post(reverse("console:webhooks"), {"name": "x", "url": "https://x.example/h",
                                                               "events": ["anomaly"], "site": "site-a"})
            assert answer.status_code == 403
    assert not Hook.objects.exists()
    assert Client().get(reverse("console:webhooks")).status_code == 302  # anonymous: to the sign-in page


def test_an_hr_admin_adds_a_hook_for_their_site_and_sees_the_secret_once(world: dict[str, Any]) -> None:
    client = client_for(world["hr_admin"])
    answer = client.post(reverse("console:webhooks"), {"name": "薪资系统", "url": "https://pay.example/seed",
                                                       "events": ["anomaly", "record.final"], "site": "site-a",
                                                       "active": "on"})
    assert answer.status_code == 200
    secret = re.search(r'<code class="token" id="new-secret">([^<]+)</code>', answer.content.decode()).group(1)
    hook = Hook.objects.get()
    assert (hook.name, hook.url, hook.events, hook.site, hook.active, hook.secret) == \
        ("薪资系统", "https://pay.example/seed", ["anomaly", "record.final"], world["a"], True, secret)
    listing = client.get(reverse("console:webhooks")).content.decode()
    assert "薪资系统" in listing and secret not in listing
    entry = AuditEntry.objects.get(action="webhook.create")
    assert entry.actor == "hr" and secret not in str(entry.detail)
    # rotating shows the new secret once; the old one is gone
    rotated = client.post(reverse("console:webhook_rotate", args=[hook.pk])).content.decode()
    fresh = re.search(r'id="new-secret">([^<]+)<', rotated).group(1)
    hook.refresh_from_db()
    assert fresh != secret and hook.secret == fresh and AuditEntry.objects.filter(action="webhook.rotate_secret").exists()
    # editing: deactivate
    answer = client.post(reverse("console:webhooks") + f"?edit={hook.pk}", {
        "name": "薪资系统", "url": "https://pay.example/seed", "events": ["anomaly"], "site": "site-a"})
    assert answer.status_code == 302
    hook.refresh_from_db()
    assert (hook.active, hook.events) == (False, ["anomaly"])
    assert AuditEntry.objects.filter(action="webhook.update").exists()


def test_an_hr_admin_cannot_reach_another_sites_or_an_all_sites_hook(world: dict[str, Any]) -> None:
    everything, _ = services.create_hook(world["superuser"], {"name": "总部全部", "url": "https://hq.example/h",
                                                              "events": ["anomaly"], "site": None})
    theirs, _ = services.create_hook(world["hr_b"], {"name": "乙厂系统", "url": "https://b.example/h",
                                                      "events": ["anomaly"], "site": world["b"]})
    client = client_for(world["hr_admin"])
    page = client.get(reverse("console:webhooks")).content.decode()
    assert "总部全部" not in page and "乙厂系统" not in page
    for hook in (everything, theirs):
        assert client.post(reverse("console:webhook_rotate", args=[hook.pk])).status_code == 404
        assert client.post(reverse("console:webhook_delete", args=[hook.pk])).status_code == 404
        assert client.get(reverse("console:webhooks") + f"?edit={hook.pk}").status_code == 404
    # a form naming site B, or no site, is refused on its field
    for site in ("site-b", ""):
        answer = client.post(reverse("console:webhooks"), {"name": "偷看", "url": "https://x.example/h",
                                                           "events": ["anomaly"], "site": site})
        assert answer.status_code == 200 and 'class="error"' in answer.content.decode()
    assert not Hook.objects.filter(name="偷看").exists()
    # the superuser sees both
    page = client_for(world["superuser"]).get(reverse("console:webhooks")).content.decode()
    assert "总部全部" in page and "乙厂系统" in page


def test_a_bad_url_is_refused_on_the_form_with_a_clear_message(world: dict[str, Any]) -> None:
    answer = client_for(world["superuser"]).post(reverse("console:webhooks"), {
        "name": "坏地址", "url": "ftp://files.example/drop", "events": ["anomaly"], "site": ""})
    text = answer.content.decode()
    assert answer.status_code == 200
    assert "地址必须以 http:// 或 https:// 开头 / The URL must start with http:// or https://" in text
    assert not Hook.objects.exists()


def test_the_delivery_log_filters_and_a_failed_delivery_is_retried_by_hand(world: dict[str, Any]) -> None:
    mine, _ = services.create_hook(world["hr_admin"], {"name": "甲厂系统", "url": "https://a.example/h",
                                                       "events": ["anomaly", "punch.stored"], "site": world["a"]})
    other, _ = services.create_hook(world["hr_b"], {"name": "乙厂系统", "url": "https://b.example/h",
                                                     "events": ["anomaly"], "site": world["b"]})
    now = timezone.now()
    failed = Delivery.objects.create(hook=mine, event="anomaly", event_id="f", key="A-1", state="failed", attempts=9,
                                     last_status=500, last_error="HTTP 500", next_attempt_at=now, created_at=now)
    Delivery.objects.create(hook=mine, event="punch.stored", event_id="d", key="A-1", state="delivered", attempts=1,
                            last_status=200, next_attempt_at=now, created_at=now, delivered_at=now)
    hidden = Delivery.objects.create(hook=other, event="anomaly", event_id="B-SECRET-KEY", key="B-SECRET-KEY",
                                     state="failed", next_attempt_at=now, created_at=now)
    client = client_for(world["hr_admin"])
    page = client.get(reverse("console:webhook_deliveries")).content.decode()
    assert "B-SECRET-KEY" not in page and "甲厂系统" in page and "HTTP 500" in page
    only_failed = client.get(reverse("console:webhook_deliveries"), {"state": "failed"}).content.decode()
    assert "punch.stored</code>" not in only_failed and "anomaly</code>" in only_failed
    by_event = client.get(reverse("console:webhook_deliveries"), {"event": "punch.stored"}).content.decode()
    assert "punch.stored</code>" in by_event and "anomaly</code>" not in by_event
    assert client.post(reverse("console:webhook_retry", args=[hidden.pk])).status_code == 404
    assert client.post(reverse("console:webhook_retry", args=[failed.pk])).status_code == 302
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == ("pending", 0)
    assert AuditEntry.objects.filter(action="webhook.retry", actor="hr").exists()
    # deleting the hook gives up what was pending and keeps the log
    assert client.post(reverse("console:webhook_delete", args=[mine.pk])).status_code == 302
    failed.refresh_from_db()
    mine.refresh_from_db()
    assert (failed.state, mine.deleted_at is not None, mine.secret, mine.active) == ("failed", True, "", False)
    assert "<td>甲厂系统</td>" not in client.get(reverse("console:webhooks")).content.decode()
    assert "甲厂系统" in client.get(reverse("console:webhook_deliveries")).content.decode()
