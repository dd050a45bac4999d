"""The admin audit log: every admin action lands in one hash chain that ``seed-central verify-audit`` checks."""
from __future__ import annotations

import json

import pytest
from central_support import central_cli
from django.db import connection

from central.accounts.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_admin_actions_are_chained_and_a_changed_or_removed_entry_is_found() -> None:
    assert central_cli("createadmin", "hr1", "--role", "superuser")[0] == 0
    assert central_cli("employee", "add", "E1", "张三", "--pin", "2468")[0] == 0
    assert central_cli("employee", "add", "E2", "李四")[0] == 0
    assert central_cli("employee", "delete", "E2")[0] == 0
    actions = list(AuditEntry.objects.order_by("seq").values_list("action", "target"))
    assert actions == [("user.create", "hr1"), ("employee.save", "E1"), ("employee.save", "E2"),
                       ("employee.delete", "E2")]
    assert "2468" not in json.dumps(list(AuditEntry.objects.values("detail")))  # never a PIN or password
    code, out, _ = central_cli("verify-audit")
    assert code == 0 and "intact: 4 entries" in out

    second = AuditEntry.objects.order_by("seq")[1]
    with connection.cursor() as cur:  # someone edits an entry behind the application's back
        cur.execute("UPDATE accounts_auditentry SET target = %s WHERE seq = %s", ["E9", second.seq])
    code, out, _ = central_cli("verify-audit", "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["intact"] is False and report["first_broken"] == second.seq
    assert "edited" in report["reason"]

    with connection.cursor() as cur:  # put it back, then remove a whole entry instead
        cur.execute("UPDATE accounts_auditentry SET target = %s WHERE seq = %s", ["E1", second.seq])
        cur.execute("DELETE FROM accounts_auditentry WHERE seq = %s", [second.seq])
    code, out, _ = central_cli("verify-audit")
    assert code == 1 and "BROKEN" in out and "removed" in out


def test_createadmin_prints_a_password_that_signs_in_once_printed() -> None:
    from django.contrib.auth import authenticate

    code, out, _ = central_cli("createadmin", "boss")
    password = next(line.split(": ", 1)[1] for line in out.splitlines() if "password" in line)
    assert code == 0 and authenticate(username="boss", password=password) is not None
    assert authenticate(username="boss", password=password + "x") is None
    code, _, err = central_cli("createadmin", "hr2", "--role", "hr_admin", "--site", "nowhere")
    assert code == 2 and "nowhere" in err
