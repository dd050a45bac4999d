"""/api/v1/reports: the list, a report as JSON, and the same report as XLSX, PDF and CSV files read back
with independent readers (openpyxl, pdftotext, the csv module). Scope: site A's HR never gets site B's
rows, in JSON or in any file. Runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from reports import report_files

from central.accounts.models import Role, User
from central.accounts.services import create_token
from central.attendance.models import DailyRecord
from central.ingest.models import Punch
from central.people import roster
from central.people.models import Department, Employee, Site
from central.reports.registry import REPORTS

pytestmark = pytest.mark.django_db
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}
CONTENT_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "pdf": "application/pdf", "csv": "text/csv"}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def _punch(i: int, number: str, site: str, at: datetime) -> None:
    Punch.objects.create(id=f"0190f3a0-0000-7000-8000-{i:012d}", site=site, device_id=f"door-{site[-1]}",
                         employee_number=number, direction="in", method="face", punched_at=at, boot_id="b",
                         monotonic_ns=i, time_source="ntp", batch_id="0190f3a0-0000-7000-8000-0000000000bb",
                         received_at=at)


class World:
    def __init__(self) -> None:
        a = Site.objects.create(code="site-a", name="工厂 A", time_zone="Asia/Shanghai")
        b = Site.objects.create(code="site-b", name="工厂 B", time_zone="Europe/Berlin")
        Department.objects.create(site=a, name="装配 Assembly")
        Department.objects.create(site=b, name="仓库 Store")
        roster.upsert_employees([
            {"number": "A001", "name": "张三", "site": "site-a", "department": "装配 Assembly"},
            {"number": "A002", "name": "=HYPERLINK(\"x\")", "site": "site-a", "department": "装配 Assembly"},
            {"number": "B001", "name": "王五秘密", "site": "site-b", "department": "仓库 Store"},
        ])
        _punch(1, "A001", "site-a", utc(2026, 3, 2, 1, 0))  # 09:00 in Shanghai
        _punch(2, "A002", "site-a", utc(2026, 3, 2, 1, 30))
        _punch(3, "B001", "site-b", utc(2026, 3, 2, 7, 0))
        _punch(4, "A001", "site-a", utc(2026, 2, 28, 17, 0))  # 3/1 01:00 in Shanghai: inside March
        _punch(5, "A001", "site-a", utc(2026, 3, 31, 16, 5))  # 4/1 00:05 in Shanghai: outside March
        people = {e.number: e for e in Employee.objects.all()}
        for number, day, hours, late_min in (("A001", 2, "7.50", 12), ("A001", 3, "8.25", 0), ("A002", 2, "8.00", 0),
                                             ("B001", 2, "6.00", 5)):
            DailyRecord.objects.create(employee=people[number], date=date(2026, 3, day), shift_name="白班 Day",
                                       status="present", source="punches", hours=hours, late=late_min > 0,
                                       late_min=late_min, final=True)
        self.tokens: dict[str, str] = {}
        for name, superuser, sites in (("root", True, []), ("hr_a", False, [a])):
            user = User.objects.create(username=name, role=Role.HR_ADMIN, is_superuser=superuser)
            user.sites.set(sites)
            self.tokens[name] = create_token(user, name, actor="test")[1]

    def get(self, who: str, path: str, **params: Any) -> Any:
        url = f"/api/v1/{path}" + (f"?{urlencode(params)}" if params else "")
        return Client().get(url, HTTP_AUTHORIZATION=f"Bearer {self.tokens[who]}")


@pytest.fixture
def world() -> World:
    return World()


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_list_of_reports(world: World) -> None:
    response = world.get("hr_a", "reports")
    assert response.status_code == 200
    listed = {r["name"]: r for r in json.loads(response.content)}
    assert set(listed) == {"monthly", "daily", "summary", "exceptions", "punches", "payroll", "schedule", "leave"}
    assert listed["monthly"]["max_days"] == 62 and listed["monthly"]["title"].startswith("考勤月报")
    assert set(listed["punches"]["formats"]) == {"xlsx", "pdf", "csv"}


def test_the_punch_log_as_json_keeps_to_the_callers_scope(world: World) -> None:
    response = world.get("hr_a", "reports/punches", **MARCH)
    assert response.status_code == 200
    report = json.loads(response.content)
    assert (report["name"], report["first"], report["last"]) == ("punches", "2026-03-01", "2026-03-31")
    rows = report["parts"][0]["rows"]
    assert [(r["number"], r["time"]) for r in rows] == [
        ("A001", "2026-03-01T01:00:00"), ("A001", "2026-03-02T09:00:00"), ("A002", "2026-03-02T09:30:00")]
    assert rows[1]["name"] == "张三" and rows[1]["device"] == "door-a"
    assert "王五秘密" not in response.content.decode() and "B001" not in response.content.decode()
    everyone = json.loads(world.get("root", "reports/punches", **MARCH).content)
    assert {r["number"] for r in everyone["parts"][0]["rows"]} == {"A001", "A002", "B001"}


def test_the_monthly_sheet_as_json_has_totals_as_decimal_strings(world: World) -> None:
    response = world.get("hr_a", "reports/monthly", **MARCH)
    assert response.status_code == 200, response.content
    report = json.loads(response.content)
    part = report["parts"][0]
    keys = {c["key"]: c["kind"] for c in part["columns"]}
    assert keys["hours"] == "decimal" and keys["d2026-03-02"] == "symbol"
    by_number = {r["number"]: r for r in part["rows"]}
    assert set(by_number) == {"A001", "A002"}
    assert by_number["A001"]["hours"] == "15.75" and by_number["A001"]["late_min"] == 12
    assert part["totals"]["hours"] == "23.75" and part["totals"]["late_min"] == 12
    assert "王五秘密" not in response.content.decode()


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "pdf"])
def test_the_punch_log_as_a_file(world: World, fmt: str, tmp_path: Path) -> None:
    response = world.get("hr_a", "reports/punches", format=fmt, **MARCH)
    assert response.status_code == 200, response.content if not response.streaming else ""
    assert response["Content-Type"].startswith(CONTENT_TYPES[fmt])
    assert response["Content-Disposition"] == f'attachment; filename="seed-punches-2026-03-01_2026-03-31.{fmt}"'
    data = _body(response)
    assert int(response["Content-Length"]) == len(data)
    path = tmp_path / f"punches.{fmt}"
    path.write_bytes(data)
    if fmt == "csv":
        assert data.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        header = rows[0]
        number, time = header.index("工号 Number"), header.index("时间 Time")
        assert [(r[number], r[time]) for r in rows[1:] if r and r[0] != "合计 Total"] == [
            ("A001", "2026-03-01 01:00:00"), ("A001", "2026-03-02 09:00:00"), ("A002", "2026-03-02 09:30:00")]
        text = data.decode("utf-8-sig")
    elif fmt == "xlsx":
        import openpyxl
        with open(path, "rb") as handle:
            book = openpyxl.load_workbook(handle, read_only=True)
            try:
                cells = [str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                         for v in row if v is not None]
            finally:
                book.close()
        assert cells.count("A001") == 2 and cells.count("A002") == 1
        assert "=HYPERLINK(\"x\")" not in [c for c in cells if c.startswith("=")]  # a name stays text
        text = "\n".join(cells)
    else:
        text = report_files.pdf_text(path)
        assert data.startswith(b"%PDF")
        assert "A001" in text and "张三" in text and "A002" in text
    assert "B001" not in text and "王五秘密" not in text


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_monthly_sheet_file_holds_the_same_hours(world: World, fmt: str, tmp_path: Path) -> None:
    response = world.get("hr_a", "reports/monthly", format=fmt, **MARCH)
    assert response.status_code == 200
    data = _body(response)
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        header = next(r for r in rows if "工号 Number" in r)
        a001 = next(r for r in rows if r and r[header.index("工号 Number")] == "A001")
        assert a001[header.index("工时 Hours worked")] == "15.75"
    else:
        import openpyxl
        path = tmp_path / "monthly.xlsx"
        path.write_bytes(data)
        with open(path, "rb") as handle:
            book = openpyxl.load_workbook(handle, read_only=True)
            try:
                found = None
                for sheet in book.worksheets:
                    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
                    header = next((r for r in rows if "工号 Number" in r), None)
                    if header is None:
                        continue
                    a001 = next(r for r in rows if r[header.index("工号 Number")] == "A001")
                    found = a001[header.index("工时 Hours worked")]
            finally:
                book.close()
        assert found is not None and float(found) == 15.75


@pytest.mark.parametrize("params, status, text", [
    ({"site": "site-b", **MARCH}, 400, "site-b"),  # a site outside the caller's scope
    ({"from": "2026-01-01", "to": "2026-03-31"}, 400, "62"),  # longer than the punch log allows
    ({"from": "2026-03-31", "to": "2026-03-01"}, 400, "before"),
    ({"from": "2026-03-32", "to": "2026-03-31"}, 400, "from"),
    ({"from": "2026-03-01"}, 422, "to"),
    ({"format": "docx", **MARCH}, 422, "format"),
])
def test_reports_refuse_what_cannot_be_made(world: World, params: dict[str, str], status: int, text: str) -> None:
    response = world.get("hr_a", "reports/punches", **params)
    assert response.status_code == status and response["Content-Type"].startswith("application/json")
    detail = json.loads(response.content)["detail"]
    assert text in detail and "/" in detail, detail


def test_an_unknown_report_lists_the_names(world: World) -> None:
    response = world.get("hr_a", "reports/weekly", **MARCH)
    assert response.status_code == 404
    detail = json.loads(response.content)["detail"]
    assert all(name in detail for name in REPORTS)


def test_the_openapi_document_describes_the_report_files() -> None:
    doc = json.loads(Client().get("/api/v1/openapi.json").content)
    op = doc["paths"]["/api/v1/reports/{name}"]["get"]
    assert set(CONTENT_TYPES["xlsx"].split()) <= set(op["responses"]["200"]["content"])
    assert {"application/pdf", "text/csv; charset=utf-8"} <= set(op["responses"]["200"]["content"])
    params = {p["name"]: p for p in op["parameters"]}
    assert params["format"]["example"] == "xlsx" and params["from"]["example"] == "2026-03-01"
    assert doc["components"]["schemas"]["ReportInfo"]["properties"]["name"]["examples"] == ["monthly"]
