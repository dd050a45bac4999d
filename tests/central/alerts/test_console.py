"""The alert pages: notifications read or unread per user, each role's scope, and rule forms refusing bad input."""
from __future__ import annotations

from typing import Any

import pytest
from central_support import client_for
from django.urls import reverse

from alerts.alert_support import MONDAY, at, make_world, rule
from central.accounts.models import AuditEntry, Role, User
from central.alerts.models import Alert, AlertRead, AlertRule
from central.alerts.services import evaluate
from central.attendance.models import DailyRecord
from central.people.models import Device

pytestmark = pytest.mark.django_db


def user(name: str, role: str, *, sites: Any = (), departments: Any = (), employee: Any = None) -> User:
    found = User.objects.create_user(name, password="x" * 12, role=role, employee=employee)
    found.sites.set(sites)
    found.departments.set(departments)
    return found



@pytest.fixture
def world() -> dict[str, Any]:
    world = make_world()
    rule(AlertRule.LATE, 5)
    rule(AlertRule.QUEUE_DEPTH, 5, site=world["bj"])
    for number, minutes in (("E1", 20), ("E2", 30), ("B1", 40)):
        DailyRecord.objects.create(employee=world[number], date=MONDAY, shift_name="day", status="present",
                                   source="punches", late=True, late_min=minutes, first_in=at(9, minutes))
    Device.objects.filter(pk=world["door_bj"].pk).update(status={"queue_depth": 99})
    assert len(evaluate(at(10))) == 4
    world["hr"] = user("hr", Role.HR_ADMIN, sites=[world["sh"]])
    world["mg"] = user("mg", Role.MANAGER, departments=[world["ops"]])
    world["em"] = user("em", Role.EMPLOYEE, employee=world["E1"])
    return world


def shown(page: Any) -> list[str]:
    return [a.key.split(":")[0] + ":" + (a.employee.number if a.employee else a.device.device_id)
            for a in page.context["page"]]


def test_reading_is_per_user(world: dict[str, Any]) -> None:
    hr, boss = client_for(world["hr"]), client_for(world["boss"])
    e1 = Alert.objects.get(employee=world["E1"])
    page = hr.get(reverse("console:alerts"))
    assert sorted(shown(page)) == ["late:E1", "late:E2"]  # site sh only
    assert page.content.decode().count("<strong>") >= 2 and 'id="alerts-unread">2<' in page.content.decode()
    answer = hr.post(reverse("console:alert_read", args=[e1.pk]), HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and "alert-read" in answer.content.decode()
    assert shown(hr.get(reverse("console:alerts"), {"state": "unread"})) == ["late:E2"]
    assert shown(hr.get(reverse("console:alerts"), {"state": "read"})) == ["late:E1"]
    # the superuser still has all four unread
    assert len(shown(boss.get(reverse("console:alerts"), {"state": "unread"}))) == 4
    assert boss.post(reverse("console:alerts")).status_code == 302
    assert AlertRead.objects.filter(user=world["boss"]).count() == 4
    assert AlertRead.objects.filter(user=world["hr"]).count() == 1
    assert 'id="alerts-unread"' not in boss.get(reverse("console:alerts")).content.decode()


def test_a_manager_sees_their_department_and_an_employee_nothing(world: dict[str, Any]) -> None:
    mg = client_for(world["mg"])
    assert shown(mg.get(reverse("console:alerts"))) == ["late:E1"]
    e2 = Alert.objects.get(employee=world["E2"])
    assert mg.post(reverse("console:alert_read", args=[e2.pk])).status_code == 404
    assert not AlertRead.objects.exists()
    em = client_for(world["em"])
    assert em.get(reverse("console:alerts")).status_code == 403
    assert em.get(reverse("console:alert_rules")).status_code == 403
    assert mg.get(reverse("console:alert_rules")).status_code == 200
    assert mg.post(reverse("console:alert_rules"), {"kind": "late", "threshold": "5"}).status_code == 403


FORM = {"kind": "late", "threshold": "10", "site": "sh", "department": "", "emails": "", "enabled": "on"}


def test_an_hr_admin_adds_switches_and_deletes_a_rule_of_their_site(world: dict[str, Any]) -> None:
    hr = client_for(world["hr"])
    answer = hr.post(reverse("console:alert_rules"), {**FORM, "emails": "hr@example.com, ops@example.com"})
    assert answer.status_code == 302
    made = AlertRule.objects.get(created_by="hr")
    assert (made.site, made.threshold, made.emails) == (world["sh"], 10, ["hr@example.com", "ops@example.com"])
    assert AuditEntry.objects.filter(action="alert_rule.create", actor="hr").exists()
    assert hr.post(reverse("console:alert_rule_toggle", args=[made.pk])).status_code == 302
    made.refresh_from_db()
    assert not made.enabled
    company = AlertRule.objects.get(kind="late", created_by="test")  # company-wide: not theirs to change
    assert hr.post(reverse("console:alert_rule_delete", args=[company.pk])).status_code == 404
    assert hr.post(reverse("console:alert_rule_delete", args=[made.pk])).status_code == 302
    assert not AlertRule.objects.filter(pk=made.pk).exists() and AlertRule.objects.filter(pk=company.pk).exists()


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"threshold": "-3"}, "threshold", "0"),
    ({"threshold": "ten"}, "threshold", ""),
    ({"emails": "hr@example.com, not-an-address"}, "emails", "邮件地址无效"),
    ({"site": "bj"}, "site", ""),
    ({"site": "", "department": "far"}, "department", ""),
    ({"site": ""}, "site", "人事管理员的规则必须选择站点或部门"),
    ({"kind": "coffee"}, "kind", ""),
])
def test_hostile_rule_input_is_refused_on_its_field(world: dict[str, Any], changes: dict[str, str], field: str,
                                                    words: str) -> None:
    if changes.get("department") == "far":
        changes = {**changes, "department": str(world["far"].pk)}
    before = AlertRule.objects.count()
    answer = client_for(world["hr"]).post(reverse("console:alert_rules"), {**FORM, **changes})
    assert answer.status_code == 200
    errors = answer.context["form"].errors
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert AlertRule.objects.count() == before


def test_the_pages_speak_chinese_first_and_english_when_asked(world: dict[str, Any]) -> None:
    hr = client_for(world["hr"])
    zh = hr.get(reverse("console:alert_rules")).content.decode()
    assert "告警规则" in zh and "迟到超过 N 分钟" in zh
    hr.cookies["seed_language"] = "en"
    en = hr.get(reverse("console:alert_rules")).content.decode()
    assert "Alert rules" in en and "Late beyond N minutes" in en and "告警规则" not in en
    assert "Notifications" in hr.get(reverse("console:alerts")).content.decode()
