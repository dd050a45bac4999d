"""额度导入 Importing leave allowances: a CSV as HR exports it from the old system, each row checked (the employee in
scope, a type that keeps allowances, the year and days) before anything is written, all rows or none set, each
allowance audited as when set by hand, and the console page. Read back through the balances, the audit log and the
pages' HTML."""
from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Any

import pytest
from central_support import client_for
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone as dj_timezone

from central.accounts.models import AuditEntry, Role, User
from central.attendance import allowance_import
from central.attendance.leave_balances import balances
from central.attendance.models import AttendanceProfile, LeaveAllowance, LeaveType, ShiftType
from central.people.importing import ImportRefused
from central.people.models import Employee, Site

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    """张三 (E1) at 一厂 with annual leave of 5 days a year, statutory 年休假 and 调休假; 李四 (E2) at 二厂, outside
    人事's scope."""
    s1, s2 = Site.objects.create(code="s1", name="一厂"), Site.objects.create(code="s2", name="二厂")
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18))
    e1 = Employee.objects.create(number="E1", name="张三", site=s1)
    Employee.objects.create(number="E2", name="李四", site=s2)
    AttendanceProfile.objects.create(employee=e1, default_shift=day, work_started=dj_timezone.localdate().replace(
        year=dj_timezone.localdate().year - 12))
    LeaveType.objects.create(code="annual", name="年假", yearly_days=Decimal(5))
    LeaveType.objects.create(code="al", name="年休假", statutory=True)
    LeaveType.objects.create(code="comp", name="调休假", in_lieu=True)
    hr = User.objects.create_user("hr", password="x" * 12, role=Role.HR_ADMIN)
    hr.sites.set([s1])
    return {"e1": e1, "hr": hr}


def csv_file(*rows: str) -> bytes:
    return ("工号,假别,年份,额度\n" + "\n".join(rows) + "\n").encode("utf-8-sig")


def allowance(employee: Employee, code: str, year: int) -> str:
    [found] = [b for b in balances(employee, [year]) if b.leave_type.code == code]
    return f"{found.allowance.normalize():f} {found.basis}"


def test_each_row_is_checked_and_a_file_with_errors_sets_nothing(plant) -> None:
    year = dj_timezone.localdate().year
    data = csv_file("E1,annual,2026,8",  # row 2: a new own allowance
                    "E1,年休假,,12",  # 3: by the type's name, this year
                    "E1,annual,2026,9",  # 4: the same employee, type and year again
                    "E2,annual,2026,8",  # 5: another site's
                    "E1,comp,2026,3",  # 6: time off in lieu keeps no allowance
                    "E1,annual,1999,3",  # 7
                    "E1,annual,2027,3.25",  # 8: a hundredth
                    "E1,sick,2026,3",  # 9: no such type
                    "E1,annual,二〇二六,3")  # 10
    checked = allowance_import.plan(plant["hr"], allowance_import.read("old.csv", data))
    found = {r.line: (r.action, [k for k, _m in r.errors]) for r in checked.rows}
    assert found == {2: ("add", []), 3: ("add", []), 4: ("error", ["number"]), 5: ("error", ["number"]),
                     6: ("error", ["leave_type"]), 7: ("error", ["year"]), 8: ("error", ["days"]),
                     9: ("error", ["leave_type"]), 10: ("error", ["year"])}
    messages = {r.line: r.errors[0][1].split(" / ")[0] for r in checked.rows if r.errors}
    assert messages[4] == "与第 2 行重复（同一员工、假别和年份）"
    assert messages[6] == "调休假的额度来自审批为调休的加班，不能单独设置"
    assert [r.changes for r in checked.rows if r.line == 3] == [[f"年休假 {year}：12"]]
    with pytest.raises(ImportRefused, match="有 7 行有错误，没有导入任何额度"):
        allowance_import.apply(plant["hr"], allowance_import.read("old.csv", data))
    assert not LeaveAllowance.objects.exists()


def test_a_clean_file_sets_every_allowance_each_audited(plant) -> None:
    e1, year = plant["e1"], dj_timezone.localdate().year
    assert allowance(e1, "al", year) == "10 statutory"  # 12 years of working life
    data = csv_file("E1,annual,2026,8", f"E1,al,{year},12")
    assert allowance_import.apply(plant["hr"], allowance_import.read("old.csv", data)) == 2
    assert (allowance(e1, "annual", 2026), allowance(e1, "al", year)) == ("8 own", "12 own")
    assert sorted(AuditEntry.objects.filter(action="attendance.leave_allowance").values_list("target", "detail")) == [
        ("E1 al " + str(year), {"from": None, "to": "12"}), ("E1 annual 2026", {"from": None, "to": "8"})]
    again = allowance_import.plan(plant["hr"], allowance_import.read("old.csv", data))
    assert [r.action for r in again.rows] == ["same", "same"] and not again.writes
    back = allowance_import.plan(plant["hr"], allowance_import.read("old.csv", csv_file("E1,annual,2026,")))
    assert [(r.action, r.changes) for r in back.rows] == [("change", ["年假 2026：8 → 假别额度 type's"])]
    allowance_import.apply(plant["hr"], allowance_import.read("old.csv", csv_file("E1,annual,2026,")))
    assert allowance(e1, "annual", 2026) == "5 type"


def test_the_console_checks_a_file_then_sets_the_allowances(plant) -> None:
    hr = client_for(plant["hr"])
    url = reverse("console:attendance_allowance_import")
    assert url in hr.get(reverse("console:attendance_leave_types")).content.decode()
    page = hr.post(url, {"action": "check", "file": SimpleUploadedFile("old.csv", csv_file("E1,annual,2026,8"))})
    text = page.content.decode()
    assert 'id="import-apply"' in text and 'id="import-row-2" data-action="add"' in text and "年假 2026：8" in text
    done = hr.post(url, {"action": "import"}, follow=True)
    assert done.redirect_chain[-1][0] == reverse("console:attendance_leave_types")
    assert "已导入 old.csv：设置了 1 项假期额度" in done.content.decode()
    assert LeaveAllowance.objects.get().days == Decimal(8)
    missing = hr.post(url, {"action": "check", "file": SimpleUploadedFile("old.csv", "工号,年份\nE1,2026\n".encode())})
    assert "缺少必需的列：假别、额度" in missing.content.decode()
    manager = User.objects.create_user("mg", password="x" * 12, role=Role.MANAGER)
    assert client_for(manager).get(url).status_code == 403
