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
