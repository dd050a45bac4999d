"""``seed-central attendance evaluate FILE.json``: the engine on one self-contained scenario.

Integrators check a rule set with it before going live; the tests check the engine against
independent cases with it. The input and output formats are described in docs/attendance.md.
Bad input raises :class:`ScenarioError` naming the field (``shifts[1].start``).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from central.attendance import engine as e
from central.attendance.late_allowance import NONE, Allowance, Key, let_go
from central.attendance.pre_approval import Asked, pre_approved

T = TypeVar("T")
SHIFT_KEYS = {"name", "start", "end", "checkin_before_min", "checkout_after_min", "late_grace_min", "early_grace_min",
              "hours", "direction", "half_day_below_h", "absent_below_h", "count_on_holidays", "breaks", "rounding",
              "overtime", "flex_min"}
REQUIRED_SHIFT_KEYS = ("name", "start", "end")


class ScenarioError(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# -- small typed readers, each naming the field it reads -------------------------------------------------
def _get(obj: dict[str, Any], key: str, where: str, read: Callable[[Any, str], T], default: Any = ...) -> T:
    if key not in obj:
        if default is ...:
            raise ScenarioError(f"{where}{key}", "is required / 必填")
        return default  # type: ignore[no-any-return]
    return read(obj[key], f"{where}{key}")


def _obj(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(field, "must be an object / 应为对象")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise ScenarioError(field, "must be a list / 应为列表")
    return value


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise ScenarioError(field, "must be a non-empty text of at most 100 characters / 应为非空文本")
    return value


def _opt_text(value: Any, field: str) -> str | None:
    return None if value is None else _text(value, field)


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ScenarioError(field, "must be true or false / 应为 true 或 false")
    return value


def _minutes(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 24 * 60:
        raise ScenarioError(field, "must be whole minutes from 0 to 1440 / 应为 0–1440 的整数分钟")
    return value


def _bounded(most: int) -> Callable[[Any, str], int]:
    """A reader of a whole number from 0 to ``most``."""
    def read(value: Any, field: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
            raise ScenarioError(field, f"must be a whole number from 0 to {most} / 应为 0–{most} 的整数")
        return value
    return read


def _opt_minutes(value: Any, field: str) -> int | None:
    return None if value is None else _minutes(value, field)


def _opt_hours(value: Any, field: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(field, "must be a number of hours or null / 应为小时数或 null")
    try:
        hours = Decimal(str(value))
    except InvalidOperation as exc:
        raise ScenarioError(field, "must be a number of hours / 应为小时数") from exc
    if not hours.is_finite() or not 0 <= hours <= 24:
        raise ScenarioError(field, "must be between 0 and 24 / 应在 0 到 24 之间")
    return hours


def _time(value: Any, field: str) -> time:
    try:
        return time.fromisoformat(value) if isinstance(value, str) and len(value) in (5, 8) else _bad(field, "HH:MM")
    except ValueError:
        return _bad(field, "HH:MM")


def _date(value: Any, field: str) -> date:
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _bad(field, "YYYY-MM-DD")
    except ValueError:
        return _bad(field, "YYYY-MM-DD")


def _opt_date(value: Any, field: str) -> date | None:
    return None if value is None else _date(value, field)


def _moment(value: Any, field: str) -> datetime:
    try:
        if isinstance(value, str) and len(value) in (16, 19) and value[10] == "T":
            return datetime.fromisoformat(value)
    except ValueError:
        pass
    return _bad(field, "YYYY-MM-DDTHH:MM[:SS], local time")


def _zone(value: Any, field: str) -> tzinfo | None:
    if value is None:
        return None
    try:
        return ZoneInfo(_text(value, field))
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a folder of zones, such as "Europe"
        raise ScenarioError(field, "is not a time zone name such as Europe/Berlin / 不是时区名") from exc


def _moment_in(zone: tzinfo | None) -> Callable[[Any, str], datetime]:
    """A punch time: local wall time, or with a time zone also a time with its UTC offset (``+01:00``, ``Z``), which
    tells the hour the clocks go back through twice apart."""
    def read(value: Any, field: str) -> datetime:
        if zone is None and isinstance(value, str) and len(value) >= 20:
            raise ScenarioError(field, "has a UTC offset: give the scenario its time_zone / 带时差的时间需要 time_zone")
        if zone is None or not isinstance(value, str) or len(value) in (16, 19):
            return _moment(value, field)
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            at = None
        if at is None or at.tzinfo is None or len(value) < 20 or value[10] != "T":
            return _bad(field, "YYYY-MM-DDTHH:MM[:SS] local time, or with its UTC offset (+01:00)")
        return at.astimezone(zone).replace(tzinfo=None)  # the wall time, fold=1 the second time round
    return read


def _choice(options: tuple[str | None, ...]) -> Callable[[Any, str], Any]:
    def read(value: Any, field: str) -> Any:
        if value not in options:
            raise ScenarioError(field, f"must be one of {', '.join(str(o) for o in options)} / 应为其中之一")
        return value
    return read


def _bad(field: str, shape: str) -> Any:
    raise ScenarioError(field, f"must look like {shape} / 格式应为 {shape}")


# -- the scenario -----------------------------------------------------------------------------------------
def shift_from(data: Any, where: str) -> e.Shift:
    """One shift from its JSON form (also how the console's import and the models' rule set read shifts)."""
    data = _obj(data, where.rstrip("."))
    unknown = sorted(set(data) - SHIFT_KEYS)
    if unknown:
        raise ScenarioError(f"{where}{unknown[0]}", "is not a shift field / 不是班次字段")
    breaks = tuple(e.Break(_get(_obj(b, f"{where}breaks[{i}]"), "start", f"{where}breaks[{i}].", _time),
                           _get(b, "end", f"{where}breaks[{i}].", _time))
                   for i, b in enumerate(_get(data, "breaks", where, _list, [])))
    rounding = None
    if data.get("rounding") is not None:
        r = _obj(data["rounding"], f"{where}rounding")
        minutes = _get(r, "minutes", f"{where}rounding.", _minutes)
        if minutes < 1:
            raise ScenarioError(f"{where}rounding.minutes", "must be at least 1 / 至少 1 分钟")
        modes = ("up", "down", "nearest")
        rounding = e.Rounding(minutes, _get(r, "in", f"{where}rounding.", _choice(modes), "up"),
                              _get(r, "out", f"{where}rounding.", _choice(modes), "down"))
    overtime = e.OvertimeRule()
    if data.get("overtime") is not None:
        o = _obj(data["overtime"], f"{where}overtime")
        step = _get(o, "step_min", f"{where}overtime.", _minutes, 1)
        overtime = e.OvertimeRule(_get(o, "min_minutes", f"{where}overtime.", _minutes, 0), max(step, 1),
                                  _get(o, "before_start", f"{where}overtime.", _bool, False),
                                  _get(o, "requires_approval", f"{where}overtime.", _bool, False),
                                  _get(o, "listed_only", f"{where}overtime.", _bool, False))
    start, end = _get(data, "start", where, _time), _get(data, "end", where, _time)
    return e.Shift(
        name=_get(data, "name", where, _text), start=start, end=end,
        checkin_before_min=_get(data, "checkin_before_min", where, _minutes),
        checkout_after_min=_get(data, "checkout_after_min", where, _minutes),
        late_grace_min=_get(data, "late_grace_min", where, _opt_minutes),
        early_grace_min=_get(data, "early_grace_min", where, _opt_minutes),
        hours=_get(data, "hours", where, _choice(("first_last", "pairs"))),
        direction=_get(data, "direction", where, _choice(("alternate", "as_punched"))),
        half_day_below_h=_get(data, "half_day_below_h", where, _opt_hours),
        absent_below_h=_get(data, "absent_below_h", where, _opt_hours),
        count_on_holidays=_get(data, "count_on_holidays", where, _bool),
        breaks=breaks, rounding=rounding, overtime=overtime, flex_min=_get(data, "flex_min", where, _minutes, 0))


def _named(shifts: dict[str, e.Shift], name: Any, field: str) -> str:
    text = _text(name, field)
    if text not in shifts:
        raise ScenarioError(field, f"no shift named {text!r} / 没有这个班次")
    return text


class Scenario:
    """A parsed scenario: the engine's inputs and the run's span."""

    def __init__(self, data: Any):
        data = _obj(data, "scenario")
        shifts: dict[str, e.Shift] = {}
        for i, raw in enumerate(_get(data, "shifts", "", _list)):
            shift = shift_from(raw, f"shifts[{i}].")
            if shift.name in shifts:
                raise ScenarioError(f"shifts[{i}].name", "is used twice / 班次名重复")
            shifts[shift.name] = shift
        rotations: dict[str, e.Rotation] = {}
        for i, raw in enumerate(_get(data, "rotations", "", _list, [])):
            where = f"rotations[{i}]."
            raw = _obj(raw, where.rstrip("."))
            pattern = _get(raw, "pattern", where, _list)
            if not pattern or len(pattern) > 366:
                raise ScenarioError(f"{where}pattern", "must list 1 to 366 days / 应为 1–366 天")
            names = tuple(None if x in (None, "", "rest") else _named(shifts, x, f"{where}pattern[{j}]")
                          for j, x in enumerate(pattern))
            rotation = e.Rotation(_get(raw, "name", where, _text), _get(raw, "anchor", where, _date), names)
            rotations[rotation.name] = rotation
        assignments = []
        for i, raw in enumerate(_get(data, "assignments", "", _list)):
            where = f"assignments[{i}]."
            raw = _obj(raw, where.rstrip("."))
            if ("shift" in raw) == ("rotation" in raw):
                raise ScenarioError(f"{where}shift", "give a shift or a rotation, not both / 班次与轮班二选一")
            start, end = _get(raw, "from", where, _date), _get(raw, "to", where, _opt_date)
            if end is not None and end < start:
                raise ScenarioError(f"{where}to", "is before from / 早于开始日期")
            if "shift" in raw:
                assignments.append(e.Assignment(start, end, shift=_named(shifts, raw["shift"], f"{where}shift")))
            else:
                name = _text(raw["rotation"], f"{where}rotation")
                if name not in rotations:
                    raise ScenarioError(f"{where}rotation", f"no rotation named {name!r} / 没有这个轮班")
                assignments.append(e.Assignment(start, end, rotation=name))
        for i, raw in enumerate(_get(data, "changes", "", _list, [])):
            where = f"changes[{i}]."
            raw = _obj(raw, where.rstrip("."))
            start, end = _get(raw, "from", where, _date), _get(raw, "to", where, _date)
            if end < start:
                raise ScenarioError(f"{where}to", "is before from / 早于开始日期")
            if "shift" not in raw:
                raise ScenarioError(f"{where}shift", "is missing: a shift's name, or null for a rest day / "
                                                     "缺少：班次名，休息填 null")
            worked = None if raw["shift"] is None else _named(shifts, raw["shift"], f"{where}shift")
            assignments.append(e.Assignment(start, end, shift=worked, changed=True))
        weekly = _get(data, "weekly_rest", "", _list)
        rest = frozenset(e.WEEKDAYS.index(_choice(e.WEEKDAYS)(d, f"weekly_rest[{i}]")) for i, d in enumerate(weekly))
        self.zone = _get(data, "time_zone", "", _zone, None)
        calendar = e.Calendar(
            holidays=frozenset(_date(d, f"holidays[{i}]") for i, d in enumerate(_get(data, "holidays", "", _list))),
            workdays=frozenset(_date(d, f"workdays[{i}]") for i, d in enumerate(_get(data, "workdays", "", _list, []))),
            weekly_rest=rest, zone=self.zone)
        self.schedule = e.Schedule(shifts, rotations, tuple(assignments), calendar)

        emp = _get(data, "employee", "", _obj)
        default = _get(emp, "default_shift", "employee.", _opt_text)
        self.person = e.Person(
            number=_get(emp, "number", "employee.", _text), joined=_get(emp, "joined", "employee.", _opt_date),
            left=_get(emp, "left", "employee.", _opt_date), active=_get(emp, "active", "employee.", _bool),
            default_shift=None if default is None else _named(shifts, default, "employee.default_shift"),
            exempt=_get(emp, "exempt", "employee.", _bool, False),
            overtime_listed=_get(emp, "overtime_listed", "employee.", _bool, False))

        self.records = []
        for i, raw in enumerate(_get(data, "records", "", _list)):
            where = f"records[{i}]."
            raw = _obj(raw, where.rstrip("."))
            named = _get(raw, "shift", where, _opt_text)
            status = _get(raw, "status", where, _choice(e.STATUSES))
            half = _get(raw, "half_day", where, _bool)
            self.records.append(e.Record(
                date=_get(raw, "date", where, _date),
                shift=None if named is None else _named(shifts, named, f"{where}shift"),
                status=status, source=_get(raw, "source", where, _choice(("manual", "leave", "on_duty"))),
                half_day=half))
        self.punches = []
        for i, raw in enumerate(_get(data, "punches", "", _list)):
            where = f"punches[{i}]."
            raw = _obj(raw, where.rstrip("."))
            direction = _get(raw, "direction", where, _choice(("in", "out", None)))
            self.punches.append(e.PunchIn(_get(raw, "id", where, _text, f"p{i + 1}"),
                                          _get(raw, "at", where, _moment_in(self.zone)), direction))
        if len({p.id for p in self.punches}) != len(self.punches):
            raise ScenarioError("punches", "two punches share an id / 打卡编号重复")

        self.asked: dict[date, Asked] = {}
        for i, raw in enumerate(_get(data, "overtime_requests", "", _list, [])):
            where = f"overtime_requests[{i}]."
            raw = _obj(raw, where.rstrip("."))
            day = _get(raw, "date", where, _date)
            if day in self.asked:
                raise ScenarioError(f"{where}date", "has a request already: one a day / 这天已有加班申请")
            minutes = _get(raw, "minutes", where, _minutes)
            if minutes == 0:
                raise ScenarioError(f"{where}minutes", "must be more than 0 / 应大于 0")
            self.asked[day] = Asked(minutes, _get(raw, "in_lieu", where, _bool, False))
        allowance = _get(data, "late_allowance", "", _obj, None)
        self.allowance = NONE if allowance is None else Allowance(
            _get(allowance, "times", "late_allowance.", _bounded(31)),
            _get(allowance, "minutes", "late_allowance.", _bounded(120)))

        process = _get(data, "process", "", _obj)
        self.first = _get(process, "from", "process.", _date)
        self.final_until = _get(process, "final_until", "process.", _moment)
        default_last = max([self.final_until.date(), *(p.at.date() for p in self.punches)])
        self.last = _get(process, "to", "process.", _date, default_last)
        if self.last < self.first:
            raise ScenarioError("process.to", "is before process.from / 早于开始日期")
        if (self.last - self.first).days > 3660:
            raise ScenarioError("process.to", "a run covers at most ten years / 最多十年")
        only = process.get("shift")
        self.only_shift = None if only is None else _named(shifts, only, "process.shift")

    def run(self) -> e.Result:
        """The engine's records, with overtime asked for ahead approved (:mod:`pre_approval`)."""
        result = e.evaluate(self.schedule, self.person, self.punches, self.records, first=self.first, last=self.last,
                            finality=e.Finality(reported_until=self.final_until), only_shift=self.only_shift)
        if self.asked:
            result.records[:] = [pre_approved(self.asked, r) for r in result.records]
        return result

    def let_go(self, result: e.Result) -> set[Key]:
        """The late records the monthly allowance lets go (:mod:`late_allowance`), among every record listed."""
        if not self.allowance:
            return set()
        return let_go([(r.date, r.shift or "", r.late_min) for r in result.records if r.late], self.allowance)


def _stamp(at: datetime | None, zone: tzinfo | None = None) -> str | None:
    """Local time; with the scenario's time zone, also its UTC offset."""
    if at is None:
        return None
    return (at if zone is None else at.replace(tzinfo=zone)).isoformat(timespec="seconds")


def record_json(r: e.Record, zone: tzinfo | None = None, let_go: frozenset[Key] | set[Key] = frozenset()) -> dict[str, Any]:
    body: dict[str, Any] = {
        "date": r.date.isoformat(), "shift": r.shift, "status": r.status, "hours": float(r.hours),
        "late": r.late, "late_let_go": (r.date, r.shift or "") in let_go, "early": r.early, "late_min": r.late_min,
        "early_min": r.early_min,
        "overtime_min": r.overtime_min, "overtime_kind": r.overtime_kind, "overtime_state": r.overtime_state,
        "in": _stamp(r.first_in, zone), "out": _stamp(r.last_out, zone), "source": r.source, "final": r.final,
        "missing_out": r.missing_out, "day_kind": r.day_kind, "closed_by_timeout": r.closed_by_timeout}
    if r.half_day:
        body["other_half"] = r.other_half
    return body


def result_json(result: e.Result, zone: tzinfo | None = None,
                let_go: frozenset[Key] | set[Key] = frozenset()) -> dict[str, Any]:
    return {"records": [record_json(r, zone, let_go) for r in result.records],
            "punches": [{"id": p.id, "at": _stamp(p.at, zone), "shift": p.shift,
                         "date": p.date.isoformat() if p.date else None, "used": p.used} for p in result.punches]}


def evaluate_text(text: str) -> dict[str, Any]:
    """Parse a scenario's JSON text, run it, and return the output document."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError("scenario", f"is not valid JSON (line {exc.lineno}, column {exc.colno}) / 不是有效的 JSON") from exc
    scenario = Scenario(data)
    result = scenario.run()
    return result_json(result, scenario.zone, scenario.let_go(result))


