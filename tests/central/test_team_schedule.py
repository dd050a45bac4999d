"""A department's month as planned (排班表, /attendance/team/): who works which shift each day, leave over the days it
takes, how many are at work, and a day changed from the page by HR. Read back as the page's HTML (cells by their
``data-day``), the shift changes and the audit log.

The plant is :func:`schedule_plant.march_plant`.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from central_support import client_for, make_user, text_of
from django.urls import reverse
from schedule_plant import march_plant

from central.accounts.models import AuditEntry, Role
from central.attendance.models import ClosedMonth, ShiftChange
from central.people.models import Employee

pytestmark = pytest.mark.django_db
PAGE = reverse("console:attendance_team")
MARCH = "2026-03"


@pytest.fixture
def plant() -> dict[str, Any]:
    plant = march_plant()
    hr = make_user("hr", Role.HR_ADMIN, sites=[plant["site"]])
    boss = make_user("boss", Role.MANAGER, departments=[plant["assembly"]])
    worker = make_user("e1", Role.EMPLOYEE, employee=plant["people"]["E1"])
    return plant | {"hr": client_for(hr), "boss": client_for(boss), "worker": client_for(worker)}


def grid(html: str) -> dict[str, dict[str, str]]:
    """Employee number → day → the cell's text, from the page's table."""
    table = html.split('id="team-grid"')[1].split("</table>")[0]
    rows = {}
    for row in re.findall(r'<tr id="team-row-\d+">(.*?)</tr>', table, re.S):
        number = re.search(r'<span class="sub">(\w+)</span>', row)
        assert number is not None
        rows[number.group(1)] = {day: text_of(cell) for day, cell in
                                 re.findall(r'data-day="([\d-]+)"[^>]*>(.*?)</td>', row, re.S)}
    return rows


def cell(html: str, number: str, day: str) -> str:
    """The whole ``<td>`` of an employee's day."""
    row = html.split(f'id="team-row-{Employee.objects.get(number=number).pk}"')[1].split("</tr>")[0]
    found = re.search(rf'<td [^>]*data-day="{day}"[^>]*>.*?</td>', row, re.S)
    assert found is not None, (number, day)
    return found.group(0)


def at_work(html: str) -> dict[str, tuple[str, str]]:
    """Day → (the count, its title) from the footer."""
    foot = html.split("<tfoot>")[1].split("</tfoot>")[0]
    return {day: (n, title) for day, title, n in
            re.findall(r'<td class="roster-count" data-day="([\d-]+)" title="([^"]*)">(\d+)</td>', foot)}


def test_the_month_shows_each_employees_shifts_leave_and_changes(plant: dict[str, Any]) -> None:
    answer = plant["hr"].get(PAGE, {"department": plant["assembly"].pk, "month": MARCH})
    assert answer.status_code == 200
    html = answer.content.decode()
    cells = grid(html)
    assert list(cells) == ["E1", "E2", "E3"]  # active employees of 装配, by number: not 包装's, not the inactive one
    assert all(len(days) == 31 for days in cells.values())
    e1, e2, e3 = cells["E1"], cells["E2"], cells["E3"]
    assert (e1["2026-03-01"], e1["2026-03-02"], e1["2026-03-13"], e1["2026-03-15"]) == ("休", "da", "da", "休")
    assert e1["2026-03-14"] == "da" and "roster-changed" in cell(html, "E1", "2026-03-14")  # the change HR recorded
    assert [e2[f"2026-03-{d:02}"] for d in (6, 9, 13, 14, 16)] == ["da", "ni", "ni", "休", "da"]
    assert (e3["2026-03-09"], e3["2026-03-10"], e3["2026-03-11"], e3["2026-03-12"], e3["2026-03-13"]) == (
        "da", "年假", "年假", "年假", "da")
    assert "roster-leave-waiting" not in cell(html, "E3", "2026-03-10")
    assert "roster-leave-waiting" in cell(html, "E3", "2026-03-12") and "待批" in cell(html, "E3", "2026-03-12")
    counts = at_work(html)
    assert counts["2026-03-10"] == ("2", "day 1 · night 1")  # 王五 on leave approved: not at work
    assert counts["2026-03-12"] == ("3", "day 2 · night 1")  # leave still waiting: counted until decided
    assert counts["2026-03-14"] == ("1", "day 1") and counts["2026-03-15"][0] == "0"
    assert 'id="change-form"' in html  # HR changes days from here


def test_a_manager_sees_their_department_and_changes_nothing_an_employee_sees_no_schedule(
        plant: dict[str, Any]) -> None:
    html = plant["boss"].get(PAGE, {"month": MARCH}).content.decode()
    assert list(grid(html)) == ["E1", "E2", "E3"] and 'id="change-form"' not in html and "roster-link" not in html
    assert f'<option value="{plant["packing"].pk}"' not in html  # only the departments they manage
    assert plant["boss"].get(PAGE, {"department": plant["packing"].pk}).status_code == 404
    posted = plant["boss"].post(PAGE, {"department": plant["assembly"].pk, "change-employee": plant["people"]["E1"].pk,
                                       "change-start": "2026-03-16", "change-reason": "x"})
    assert posted.status_code == 403
    assert plant["worker"].get(PAGE).status_code == 403
    assert ShiftChange.objects.count() == 1


def test_hr_changes_a_day_from_a_cell_and_the_page_shows_it(plant: dict[str, Any]) -> None:
    e2 = plant["people"]["E2"]
    html = plant["hr"].get(PAGE, {"department": plant["assembly"].pk, "month": MARCH}).content.decode()
    link = re.search(rf'href="([^"]*edit={e2.pk}&amp;day=2026-03-16[^"]*)"', cell(html, "E2", "2026-03-16"))
    assert link is not None
    opened = plant["hr"].get(PAGE + link.group(1).replace("&amp;", "&")).content.decode()
    form = opened.split('id="change-form"')[1]
    assert re.search(rf'<option value="{e2.pk}" selected>E2 李四</option>', form)
    assert 'value="2026-03-16"' in form
    answer = plant["hr"].post(PAGE, {"department": plant["assembly"].pk, "month": MARCH, "change-employee": e2.pk,
                                     "change-start": "2026-03-16", "change-end": "2026-03-17",
                                     "change-shift": plant["night"].pk, "change-reason": "补夜班 Night cover"},
                              follow=True)
    page = answer.content.decode()
    assert "已为 李四 登记 2026-03-16 至 2026-03-17 的调班" in page
    change = ShiftChange.objects.get(employee=e2)
    assert (change.start, change.end, change.shift, change.state, change.approved_by) == (
        date(2026, 3, 16), date(2026, 3, 17), plant["night"], "approved", "hr")
    assert {"attendance.shift_change_filed", "attendance.shift_change_approved"} <= set(
        AuditEntry.objects.filter(target__startswith="E2").values_list("action", flat=True))
    cells = grid(page)["E2"]
    assert (cells["2026-03-16"], cells["2026-03-17"], cells["2026-03-18"]) == ("ni", "ni", "da")
    assert "roster-changed" in cell(page, "E2", "2026-03-16")


def test_a_change_is_refused_with_the_reason_on_a_closed_month_or_a_day_already_so(plant: dict[str, Any]) -> None:
    e1 = plant["people"]["E1"]

    def post(start: str, shift: Any, reason: str = "x") -> str:
        return plant["hr"].post(PAGE, {"department": plant["assembly"].pk, "change-employee": e1.pk,
                                       "change-start": start, "change-shift": shift.pk if shift else "",
                                       "change-reason": reason}).content.decode()

    assert "这些天本来就是day，无需调班" in post("2026-03-16", plant["day"])
    assert "请填写事由" in post("2026-03-16", None, reason="  ")
    ClosedMonth.objects.create(site=plant["site"], month=date(2026, 2, 1), closed_by="hr")
    assert "已月结" in post("2026-02-16", None)
    outsider = plant["hr"].post(PAGE, {"department": plant["assembly"].pk, "change-employee": plant["people"]["E4"].pk,
                                       "change-start": "2026-03-16", "change-reason": "x"}).content.decode()
    assert "选择一个有效的选项" in outsider  # 包装's 钱七 is not on 装配's schedule
    assert ShiftChange.objects.count() == 1


def test_the_page_reads_in_english(plant: dict[str, Any]) -> None:
    plant["hr"].post(reverse("console:set_language"), {"language": "en", "next": "/"})
    html = plant["hr"].get(PAGE, {"department": plant["assembly"].pk, "month": MARCH}).content.decode()
    assert "Team schedule" in html and "At work" in html and "Change a day" in html
    assert "排班表" not in text_of(html.split("<main")[1])


def test_the_month_exports_as_the_schedule_report(plant: dict[str, Any]) -> None:
    html = plant["hr"].get(PAGE, {"department": plant["assembly"].pk, "month": MARCH}).content.decode()
    link = re.search(r'id="export-schedule" href="([^"]+)"', html)
    assert link is not None
    preview = plant["hr"].get(link.group(1).replace("&amp;", "&")).content.decode()
    assert "排班表 Schedule" in preview and "2026-03-01" in preview and "2026-03-31" in preview
    assert "李四" in preview and "钱七" not in preview  # 装配 only
    assert 'id="download-csv"' in preview
