"""A console user's grants are read once per request, not at every question a page asks about scope, and a change of
them is seen: on the same user object at once, on another after its ``refresh_from_db()`` and at the next request.
Read back through the scope functions, the statements a page runs and the pages' answers."""
from __future__ import annotations

from typing import Any

import pytest
from central_support import client_for
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from central.accounts import scope
from central.accounts.models import Role, User
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    """一厂 (s1) with 装配, 二厂 (s2) with 质检; 人事 (hr) granted 一厂 only."""
    s1 = Site.objects.create(code="s1", name="一厂")
    s2 = Site.objects.create(code="s2", name="二厂")
    assembly = Department.objects.create(site=s1, name="装配")
    quality = Department.objects.create(site=s2, name="质检")
    Employee.objects.create(number="E1", name="张三", site=s1, department=assembly)
    Employee.objects.create(number="E2", name="李四", site=s2, department=quality)
    hr = User.objects.create_user("hr", password="x" * 12, role=Role.HR_ADMIN)
    hr.sites.set([s1])
    return {"s1": s1, "s2": s2, "assembly": assembly, "quality": quality, "hr": hr}


def numbers(user: User) -> list[str]:
    return sorted(scope.employees(user).values_list("number", flat=True))


def test_a_change_of_grants_is_seen_on_the_same_object_and_on_another_once_read_again(world) -> None:
    hr = world["hr"]
    assert numbers(hr) == ["E1"]
    hr.sites.add(world["s2"])  # the same object: seen at once
    assert numbers(hr) == ["E1", "E2"]
    User.objects.get(pk=hr.pk).sites.remove(world["s2"])  # through another object: this one keeps what it read
    assert numbers(hr) == ["E1", "E2"]
    hr.refresh_from_db()
    assert numbers(hr) == ["E1"]
    hr.departments.set([world["quality"]])  # a department of 二厂: its people, and a write placed there
    assert numbers(hr) == ["E1", "E2"]
    scope.check_site_allowed(hr, world["s2"], world["quality"])
    with pytest.raises(scope.ScopeDenied):  # 二厂 itself is not granted: only through 质检
        scope.check_site_allowed(hr, world["s2"], None)
    hr.sites.clear()
    assert numbers(hr) == ["E2"]
    with pytest.raises(scope.ScopeDenied):  # 质检 is 二厂's: it places nothing at 一厂
        scope.check_site_allowed(hr, world["s1"], world["quality"])


def test_a_page_reads_the_grants_once_and_the_next_request_sees_them_changed(world) -> None:
    client = client_for(world["hr"])
    with CaptureQueriesContext(connection) as statements:
        page = client.get(reverse("console:employees")).content.decode()
    grant_reads = [q["sql"] for q in statements.captured_queries if "accounts_user_sites" in q["sql"]]
    assert "张三" in page and "李四" not in page and len(grant_reads) == 1
    User.objects.get(username="hr").sites.add(world["s2"])  # another admin grants 二厂
    assert "李四" in client.get(reverse("console:employees")).content.decode()
