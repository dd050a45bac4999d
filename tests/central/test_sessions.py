"""A console session left alone on a shared office machine is signed out, and a part of a page that refreshes
itself (htmx) on a session that is gone takes the whole page to the sign-in form instead of drawing the form
inside itself."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
from central_support import client_for, make_user
from django.urls import reverse

from central.accounts.models import Role
from central.people.models import Site

pytestmark = [pytest.mark.django_db, pytest.mark.central]

POLL = {"HTTP_HX_REQUEST": "true", "HTTP_X_SEED_POLL": "1"}


@pytest.fixture
def hr(db):
    site = Site.objects.create(code="hq", name="总部")
    return make_user("hr-wang", Role.HR_ADMIN, sites=[site])


def seen_ago(client, seconds: float) -> None:
    """The session's holder last did something ``seconds`` ago."""
    session = client.session
    session["seed_seen"] = time.time() - seconds
    session.save()


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_a_session_idle_past_the_limit_is_signed_out_and_comes_back_to_its_page(hr, settings):
    settings.SESSION_IDLE_MIN = 30
    client = client_for(hr)
    assert client.get(reverse("console:employees")).status_code == 200
    seen_ago(client, 29 * 60)
    assert client.get(reverse("console:employees")).status_code == 200 and signed_in(client)

    seen_ago(client, 31 * 60)
    answer = client.get(reverse("console:employees"), {"q": "张"})
    assert answer.status_code == 302 and answer["Location"] == "/login/?next=/employees/%3Fq%3D%25E5%25BC%25A0"
    assert not signed_in(client)
    page = client.get(answer["Location"]).content.decode()
    assert "您已 30 分钟未操作，为保护数据已自动退出，请重新登录。" in page and 'value="/employees/?q=%E5%BC%A0"' in page


def test_the_pages_own_refreshes_keep_nobody_signed_in(hr, settings):
    settings.SESSION_IDLE_MIN = 30
    client = client_for(hr)
    client.get(reverse("console:home"))
    seen_ago(client, 25 * 60)
    stamp = client.session["seed_seen"]
    live = client.get(reverse("console:dashboard_live"), **POLL, HTTP_HX_CURRENT_URL="http://testserver/")
    assert live.status_code == 200 and client.session["seed_seen"] == stamp  # a refresh is no sign of anyone
    client.get(reverse("console:home"))
    assert client.session["seed_seen"] > stamp + 24 * 60  # a page is

    seen_ago(client, 31 * 60)
    gone = client.get(reverse("console:dashboard_live"), {"site": "hq"}, **POLL,
                      HTTP_HX_CURRENT_URL="http://testserver/?site=hq")
    assert gone.status_code == 204 and gone["HX-Redirect"] == "/login/?next=/%3Fsite%3Dhq"
    assert not signed_in(client)


def test_a_refresh_whose_session_is_gone_sends_the_whole_page_to_the_sign_in_form(hr):
    client = client_for(hr)
    client.get(reverse("console:home"))
    client.post(reverse("console:logout"))  # as from another tab
    poll = client.get(reverse("console:attendance_recompute_jobs"), **POLL,
                      HTTP_HX_CURRENT_URL="http://testserver/attendance/shifts/")
    assert poll.status_code == 204 and poll["HX-Redirect"] == "/login/?next=/attendance/shifts/"
    # a page of another host named as the current one is not where the form sends anyone back to
    other = client.get(reverse("console:attendance_recompute_jobs"), **POLL,
                       HTTP_HX_CURRENT_URL="http://elsewhere.example/phish/")
    assert other["HX-Redirect"] == "/login/?next=/"
    # a page asked for by the browser itself is redirected as before
    plain = client.get(reverse("console:attendance_recompute_jobs"))
    assert plain.status_code == 302 and plain["Location"].startswith("/login/?next=")


def test_no_limit_signs_nobody_out(hr, settings):
    settings.SESSION_IDLE_MIN = 0
    client = client_for(hr)
    client.get(reverse("console:home"))
    seen_ago(client, 30 * 24 * 3600)
    assert client.get(reverse("console:home")).status_code == 200 and signed_in(client)


@pytest.mark.no_database
@pytest.mark.parametrize("value", ["abc", "-5", "1.5", "99999999"])
def test_a_bad_limit_is_a_clear_error_naming_the_variable(value):
    run = subprocess.run([sys.executable, "-c", "import central.settings"], capture_output=True, text=True,
                         env={"SEED_CENTRAL_SESSION_IDLE_MIN": value, "SEED_CENTRAL_SECRET_KEY": "x", "PATH": "/usr/bin"},
                         timeout=60)
    assert run.returncode != 0
    assert (f"SEED_CENTRAL_SESSION_IDLE_MIN must be a whole number of minutes (0: never), 0 to 10080, not {value!r}"
            in run.stderr)


# -- a form sent after the limit is kept for its sender (central/console/kept_forms.py) ---------------------------
def csrf_client():
    """A browser-like client: CSRF checked as a browser's requests are, signed in through the form."""
    from django.test import Client

    return Client(enforce_csrf_checks=True)


def sign_in(client, username: str, next_path: str = "/") -> None:
    client.get(reverse("console:login"))
    answer = client.post(f"{reverse('console:login')}?next={next_path}",
                         {"username": username, "password": "x" * 12,
                          "csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert answer.status_code == 302 and signed_in(client), answer.content.decode()[:300]


def kept_on(page: str) -> dict | None:
    """The form a page was given back to fill in (its json_script), or None."""
    import html
    import json
    import re

    found = re.search(r'<script id="seed-kept-form" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(html.unescape(found.group(1))) if found else None


EMPLOYEE_FORM = {"number": "E-77", "name": "赵六", "site": "hq", "card": "55667788", "pin": "246810",
                 "verify_mode": "any", "role": "employee"}  # "active" left unticked


def test_a_form_sent_after_the_limit_is_kept_for_its_sender_and_given_back_on_its_page(hr, settings):
    from central.console.kept_forms import KEPT_KEY
    from central.people.models import Employee

    settings.SESSION_IDLE_MIN = 30
    client = csrf_client()
    sign_in(client, "hr-wang")
    assert client.get(reverse("console:employee_add")).status_code == 200
    seen_ago(client, 31 * 60)
    sent = client.post(reverse("console:employee_add"),
                       {**EMPLOYEE_FORM, "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
                       HTTP_REFERER="http://testserver/employees/new/")
    assert sent.status_code == 302 and sent["Location"] == "/login/?next=/employees/new/"
    assert not signed_in(client) and not Employee.objects.filter(number="E-77").exists()  # nothing sent on its own
    kept = client.session[KEPT_KEY]
    assert kept["user"] == "hr-wang" and kept["page"] == kept["action"] == "/employees/new/"
    assert kept["fields"]["name"] == ["赵六"] and kept["fields"]["card"] == ["55667788"]
    assert "pin" not in kept["fields"] and "csrfmiddlewaretoken" not in kept["fields"]  # never a PIN or a token
    login_page = client.get(sent["Location"]).content.decode()
    assert "您填写的内容已保留：重新登录后会回到该页并填好，检查后再提交即可。" in login_page

    sign_in(client, "hr-wang", "/employees/new/")
    elsewhere = client.get(reverse("console:employees")).content.decode()
    assert kept_on(elsewhere) is None and KEPT_KEY in client.session  # only its own page takes it
    page = client.get(reverse("console:employee_add")).content.decode()
    given = kept_on(page)
    assert given is not None and given["fields"]["name"] == ["赵六"] and "246810" not in page
    assert given["action"] == "/employees/new/" and "user" not in given
    assert given["notices"] == ["您上次提交时已超时退出，填写的内容已恢复：请检查后再提交。"]  # shown once filled in
    assert KEPT_KEY not in client.session  # given back once
    assert kept_on(client.get(reverse("console:employee_add")).content.decode()) is None


def test_a_kept_form_goes_to_nobody_else_nor_when_forged_or_late(hr, settings):
    from central.console.kept_forms import KEPT_FOR_S, KEPT_KEY

    make_user("hr-li", Role.HR_ADMIN, sites=list(Site.objects.all()))
    settings.SESSION_IDLE_MIN = 30
    client = csrf_client()
    sign_in(client, "hr-wang")
    seen_ago(client, 31 * 60)
    client.post(reverse("console:employee_add"),
                {**EMPLOYEE_FORM, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert KEPT_KEY in client.session
    sign_in(client, "hr-li", "/employees/new/")  # someone else at the same machine
    page = client.get(reverse("console:employee_add")).content.decode()
    assert kept_on(page) is None and "赵六" not in page and KEPT_KEY not in client.session

    seen_ago(client, 31 * 60)  # a form with a token that does not hold (sent from another site) is not kept
    forged = client.post(reverse("console:employee_add"), {**EMPLOYEE_FORM, "csrfmiddlewaretoken": "x" * 64})
    assert forged.status_code == 302 and KEPT_KEY not in client.session

    sign_in(client, "hr-li")
    seen_ago(client, 31 * 60)
    client.post(reverse("console:employee_add"),
                {**EMPLOYEE_FORM, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    session = client.session
    session[KEPT_KEY] = {**session[KEPT_KEY], "at": time.time() - KEPT_FOR_S - 1}
    session.save()
    sign_in(client, "hr-li", "/employees/new/")
    assert kept_on(client.get(reverse("console:employee_add")).content.decode()) is None
    assert KEPT_KEY not in client.session


def test_a_panel_form_sent_after_the_limit_takes_the_page_to_sign_in_and_keeps_the_form_for_that_page(hr, settings):
    """A form inside a page's panel (htmx) sent past the limit: the whole page goes to the sign-in form, and the form
    is kept for the page the panel is on, not for the address the panel sent it to."""
    from central.console.kept_forms import KEPT_KEY

    settings.SESSION_IDLE_MIN = 30
    client = csrf_client()
    sign_in(client, "hr-wang")
    client.get(reverse("console:attendance_shifts"))
    seen_ago(client, 31 * 60)
    sent = client.post(reverse("console:attendance_request_decide"),
                       {"kind": "leave", "id": "7", "note": "同意，注意交接",
                        "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
                       HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver/attendance/requests/?state=pending")
    assert sent.status_code == 204 and sent["HX-Redirect"] == "/login/?next=/attendance/requests/%3Fstate%3Dpending"
    kept = client.session[KEPT_KEY]
    assert (kept["page"], kept["action"]) == ("/attendance/requests/", "/attendance/requests/decide/")
    assert kept["fields"]["note"] == ["同意，注意交接"]
