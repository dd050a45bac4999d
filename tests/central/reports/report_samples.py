"""Hand-built reports for the writers' tests: no database, every value known in advance.

* :func:`monthly_like` — the monthly sheet's shape: number, name, department, a symbol per day (flagged:
  late and absent ``bad``, missing punch ``warn``, leave ``info``, rest ``muted``), then totals columns
  (``total="sum"``), a rate, a date and a datetime column; 45 columns in all. The first employees carry
  names that a spreadsheet would run as formulas (:data:`INJECTION_NAMES`); the others Chinese names.
  ``subtotals=True`` adds a subtotal row after each department.
* :func:`summary_like` — several parts with charts: a bar chart per department (rates, percent axis),
  a line chart over days, and a part whose title is too long and holds characters a sheet name may not.

The values are drawn from a seeded generator, so a sample is the same on every run; tests compute what
they expect from the sample's own rows (or by hand), never from a writer's output.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from central.reports.document import Chart, Column, Flag, LegendItem, Part, Report, Row, Value, check_rows

FIRST = date(2026, 3, 1)
LAST = date(2026, 3, 31)
GENERATED_AT = datetime(2026, 4, 1, 8, 30, 15)
COMPANY = "种子科技有限公司 Seed Technology Ltd."

INJECTION_NAME = '=HYPERLINK("http://x","y")'
INJECTION_NAMES: tuple[str, ...] = (INJECTION_NAME, "+1", "-x", "@x")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞")
DEPARTMENTS = ("生产部 Production", "质检部 Quality", "仓储部 Warehouse", "行政部 Admin")

# symbol → (legend label, flag)
SYMBOLS: dict[str, tuple[str, Flag]] = {
    "√": ("出勤 Present", ""),
    "迟": ("迟到 Late", "bad"),
    "缺": ("缺勤 Absent", "bad"),
    "卡": ("缺卡 Missing punch", "warn"),
    "假": ("请假 Leave", "info"),
    "休": ("休息 Rest day", "muted"),
}
WEEKDAYS = "一二三四五六日"

TOTAL_KEYS = ("present", "late", "late_minutes", "absent", "missing", "leave_days", "hours", "overtime")


def legend() -> list[LegendItem]:
    return [LegendItem(symbol, label, flag) for symbol, (label, flag) in SYMBOLS.items()]


def monthly_columns(days: int = 31) -> list[Column]:
    columns = [
        Column("number", "工号 No.", "text", 8),
        Column("name", "姓名 Name", "text", 14),
        Column("department", "部门 Department", "text", 16),
    ]
    for d in range(days):
        day = FIRST + timedelta(days=d)
        columns.append(Column(f"d{day.day:02d}", f"{day.day} {WEEKDAYS[day.weekday()]}", "symbol", 4))
    columns += [
        Column("present", "出勤天数 Days present", "int", 8, "sum"),
        Column("late", "迟到次数 Times late", "int", 8, "sum"),
        Column("late_minutes", "迟到分钟 Minutes late", "int", 8, "sum"),
        Column("absent", "缺勤天数 Days absent", "int", 8, "sum"),
        Column("missing", "缺卡次数 Missing punches", "int", 8, "sum"),
        Column("leave_days", "请假天数 Days on leave", "decimal", 8, "sum"),
        Column("hours", "工时 Hours worked", "decimal", 10, "sum"),
        Column("overtime", "加班 Overtime hours", "decimal", 10, "sum"),
        Column("rate", "出勤率 Attendance rate", "percent", 10),
        Column("hired", "入职日期 Hired", "date", 12),
        Column("first_punch", "首次打卡 First punch", "datetime", 17),
    ]
    return columns


def employee_name(index: int) -> str:
    if index < len(INJECTION_NAMES):
        return INJECTION_NAMES[index]
    return SURNAMES[index % len(SURNAMES)] + GIVEN[(index // len(SURNAMES)) % len(GIVEN)]


def _employee_row(index: int, rng: random.Random, days: int) -> Row:
    values: list[Value] = [f"E{index + 1:05d}", employee_name(index), DEPARTMENTS[index % len(DEPARTMENTS)]]
    flags: list[Flag] = ["", "", ""]
    counts = {"√": 0, "迟": 0, "缺": 0, "卡": 0, "假": 0}
    late_minutes = 0
    for d in range(days):
        day = FIRST + timedelta(days=d)
        if day.weekday() >= 5:
            symbol = "休"
        else:
            symbol = rng.choices(("√", "迟", "缺", "卡", "假"), weights=(80, 8, 3, 4, 5))[0]
            counts[symbol] += 1
            if symbol == "迟":
                late_minutes += rng.randint(1, 45)
        values.append(symbol)
        flags.append(SYMBOLS[symbol][1])
    workdays = sum(counts.values())
    present = counts["√"] + counts["迟"] + counts["卡"]
    hours = Decimal(present * 8) - Decimal(late_minutes) / 60
    hours = hours.quantize(Decimal("0.01"))
    overtime = Decimal(rng.randint(0, 40)) / 4
    rate = Decimal(present) / Decimal(workdays) if workdays else Decimal(0)
    first_punch = datetime.combine(FIRST + timedelta(days=rng.randint(0, 4)), time(8, rng.randint(0, 59)))
    values += [present, counts["迟"], late_minutes, counts["缺"], counts["卡"], Decimal(counts["假"]),
               hours, overtime, rate.quantize(Decimal("0.0001")), date(2020, 1, 1) + timedelta(days=index % 2000),
               first_punch]
    flags += ["", "bad" if counts["迟"] else "", "", "bad" if counts["缺"] else "", "warn" if counts["卡"] else "",
              "", "", "", "", "", ""]
    return Row(tuple(values), tuple(flags))


def _subtotal_row(columns: list[Column], rows: list[Row], department: str) -> Row:
    values: list[Value] = ["", f"小计 Subtotal: {department}", department]
    for column in columns[3:]:
        if column.total == "sum":
            i = [c.key for c in columns].index(column.key)
            values.append(sum((row.values[i] for row in rows), start=0))  # type: ignore[misc, arg-type]
        else:
            values.append(None)
    return Row(tuple(values), style="subtotal")


def monthly_like(n_employees: int = 20, *, days: int = 31, subtotals: bool = False, seed: int = 11) -> Report:
    """A monthly sheet of ``n_employees`` rows (45 columns for 31 days), sorted by department."""
    rng = random.Random(seed)
    columns = monthly_columns(days)
    rows = [_employee_row(i, rng, days) for i in range(n_employees)]
    rows.sort(key=lambda row: (DEPARTMENTS.index(str(row.values[2])), str(row.values[0])))
    if subtotals:
        grouped: list[Row] = []
        for department in DEPARTMENTS:
            members = [row for row in rows if row.values[2] == department]
            if members:
                grouped += members
                grouped.append(_subtotal_row(columns, members, department))
        rows = grouped
    part = Part("sheet", "考勤月报 Monthly sheet", columns, rows, freeze_columns=2,
                note="符号见图例 / symbols as in the legend")
    check_rows(part, rows)
    return Report(
        name="monthly", title="考勤月报 Monthly attendance sheet", company=COMPANY,
        scope="站点 Site: 上海工厂 Shanghai plant · 部门 Department: 全部 All",
        first=FIRST, last=FIRST + timedelta(days=days - 1), generated_at=GENERATED_AT, parts=[part],
        legend=legend(),
        notes=["迟到与缺勤以红色标出 / late and absent cells are red",
               "工时按打卡计算 / hours worked are counted from the punches"])


DEPARTMENT_ROWS: tuple[tuple[str, int, Decimal, Decimal, Decimal], ...] = (
    # department, headcount, attendance rate, late rate, overtime hours
    ("生产部 Production", 120, Decimal("0.9612"), Decimal("0.0815"), Decimal("1320.50")),
    ("质检部 Quality", 35, Decimal("0.9833"), Decimal("0.0240"), Decimal("210.25")),
    ("仓储部 Warehouse", 48, Decimal("0.9420"), Decimal("0.1102"), Decimal("402.00")),
    ("行政部 Admin", 17, Decimal("0.9901"), Decimal("0.0105"), Decimal("12.75")),
)


def summary_like(days: int = 14) -> Report:
    """Three parts: departments (a bar chart of rates), a daily trend (a line chart), and a long-titled list."""
    dept_columns = [
        Column("department", "部门 Department", "text", 18),
        Column("headcount", "人数 Headcount", "int", 8, "sum"),
        Column("attendance_rate", "出勤率 Attendance rate", "percent", 10),
        Column("late_rate", "迟到率 Late rate", "percent", 10),
        Column("overtime", "加班小时 Overtime hours", "decimal", 12, "sum"),
    ]
    dept_rows = [Row((name, n, rate, late, overtime), ("", "", "", "bad" if late > Decimal("0.1") else "", ""))
                 for name, n, rate, late, overtime in DEPARTMENT_ROWS]
    departments = Part("departments", "按部门 By department", dept_columns, dept_rows, freeze_columns=1,
                       charts=[Chart("bar", "各部门出勤率与迟到率 Rates by department", "department",
                                     ("attendance_rate", "late_rate"), percent=True, y_title="比率 Rate")])

    trend_columns = [
        Column("day", "日期 Date", "date", 12),
        Column("present", "出勤人数 Present", "int", 10, "sum"),
        Column("late", "迟到人数 Late", "int", 10, "sum"),
        Column("rate", "出勤率 Attendance rate", "percent", 10),
    ]
    rng = random.Random(7)
    trend_rows = []
    for d in range(days):
        day = FIRST + timedelta(days=d)
        present = 200 + rng.randint(0, 20)
        late = rng.randint(0, 25)
        trend_rows.append(Row((day, present, late, Decimal(present) / Decimal(220)),
                              ("", "", "warn" if late > 20 else "", "")))
    trend = Part("trend", "每日趋势 Daily trend", trend_columns, trend_rows, freeze_columns=1,
                 charts=[Chart("line", "每日出勤率 Attendance rate per day", "day", ("rate",), percent=True,
                               y_title="出勤率 Rate"),
                         Chart("line", "每日出勤与迟到人数 Present and late per day", "day", ("present", "late"),
                               y_title="人数 People")])

    odd_columns = [Column("item", "项目 Item", "text", 30), Column("count", "数量 Count", "int", 8, "sum")]
    odd = Part("odd", "异常/说明: [全部] *站点?* 以及一个非常长的标题 A very long title indeed", odd_columns,
               [Row(("-x 负号开头 starts with a minus", 3)), Row(("@x", 4)), Row(("+1", -2)),
                Row((INJECTION_NAME, None)), Row(("'Neill", 0))], freeze_columns=0,
               note="名称以 = + - @ 开头的单元格按文本保存 / cells beginning with = + - @ stay text")
    for part in (departments, trend, odd):
        check_rows(part, part.rows)
    return Report(
        name="summary", title="考勤汇总 Attendance summary", company=COMPANY,
        scope="站点 Site: 全部 All", first=FIRST, last=FIRST + timedelta(days=days - 1),
        generated_at=GENERATED_AT, parts=[departments, trend, odd],
        notes=["比率为出勤天数除以应出勤天数 / a rate is days present over days due"])
