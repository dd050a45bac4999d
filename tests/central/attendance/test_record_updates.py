"""Records the follower changes are written in place, each in the columns it changed and no other, whatever their
values hold: read back through the ORM (SQLite's executemany, PostgreSQL's UPDATE from arrays bound on the server)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from central.attendance.models import DailyRecord
from central.attendance.services import _update_records
from central.people.models import Employee, Site

pytestmark = pytest.mark.django_db
HOSTILE_IDS = ["E001", 'quo"te', "back\\slash", "comma,brace}{", "NULL", "", "员工\t07", "a'b"]


def test_changed_columns_are_written_and_the_others_and_what_a_person_wrote_stay(db: Any) -> None:
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    rows = []
    for i in range(3):
        emp = Employee.objects.create(number=f"E{i}", name=f"员工{i}", site=site)
        rows.append(DailyRecord.objects.create(
            employee=emp, date=date(2026, 3, 2), shift_name="day", status="present", source="punches",
            hours=Decimal("1.25"), late=True, late_min=7, first_in=datetime(2026, 3, 2, 1, 7, tzinfo=timezone.utc),
            last_out=datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc), missing_out=False, punch_ids=["a", "b"],
            reason="人事备注 HR's note", created_by="hr"))
    before = {r.pk: r.updated_at for r in rows}

    def row(**values: Any) -> dict[str, Any]:
        return {"date": date(2026, 3, 2), "shift_name": "day", "status": "present", "source": "punches",
                "half_day": False, "hours": Decimal("1.25"), "late": True, "early": False, "late_min": 7, "early_min": 0,
                "overtime_min": 0, "overtime_kind": "workday", "overtime_state": "", "first_in": rows[0].first_in,
                "last_out": None, "other_half": None, "missing_out": True, "day_kind": "workday", "final": False,
                "closed_by_timeout": False, "punch_ids": ["a"], **values}
    # the out punch gone from two of them (a re-stamp moved it), the third with hostile punch ids and new hours
    _update_records([
        (rows[0].pk, row(), ["hours", "last_out", "missing_out", "punch_ids"]),
        # read before HR's note and a manager's decision on its hours: only what the pass changed is written
        (rows[1].pk, row(hours=Decimal("9.99"), late_min=99), ["last_out", "missing_out", "punch_ids"]),
        (rows[2].pk, row(last_out=rows[2].last_out, missing_out=False, hours=Decimal("7.75"), punch_ids=HOSTILE_IDS,
                         status="half_day"), ["hours", "punch_ids", "status"]),
    ])
    after = {r.pk: r for r in DailyRecord.objects.all()}
    for r in rows[:2]:
        got = after[r.pk]
        assert (got.last_out, got.missing_out, got.punch_ids, got.hours) == (None, True, ["a"], Decimal("1.25"))
    third = after[rows[2].pk]
    assert (third.hours, third.punch_ids, third.status, third.missing_out, third.last_out) == (
        Decimal("7.75"), HOSTILE_IDS, "half_day", False, datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
    for got in after.values():  # unchanged columns and what a person wrote are as they were
        assert (got.late, got.late_min, got.first_in, got.reason, got.created_by, got.final) == (
            True, 7, rows[0].first_in, "人事备注 HR's note", "hr", False)
        assert got.updated_at > before[got.pk]
