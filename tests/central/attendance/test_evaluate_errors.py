"""A scenario the attendance evaluate command cannot use is refused: exit 2, a message on stderr naming
the field at fault, nothing on stdout."""
from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
from central_support import evaluate_command

GOOD = {
    "shifts": [{"name": "day", "start": "09:00", "end": "18:00", "checkin_before_min": 60, "checkout_after_min": 120,
                "late_grace_min": 5, "early_grace_min": 5, "hours": "first_last", "direction": "alternate",
                "half_day_below_h": 6, "absent_below_h": 2, "count_on_holidays": False}],
    "rotations": [{"name": "weekly", "anchor": "2026-03-02", "pattern": ["day", None]}],
    "employee": {"number": "E1001", "joined": None, "left": None, "active": True, "default_shift": None},
    "assignments": [{"shift": "day", "from": "2026-03-02", "to": None}],
    "holidays": [],
    "weekly_rest": ["sat", "sun"],
    "records": [{"date": "2026-03-03", "shift": None, "status": "on_leave", "source": "leave", "half_day": False}],
    "punches": [{"at": "2026-03-02T09:00", "direction": None}, {"at": "2026-03-02T18:00", "direction": None}],
    "process": {"from": "2026-03-02", "to": "2026-03-03", "final_until": "2026-03-10T00:00"},
}


def run_scenario(scenario, tmp_path: Path, *, new_process: bool = False) -> subprocess.CompletedProcess:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    return evaluate_command(path, new_process=new_process)


def _delete(*keys):
    def change(s):
        target = s
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
    return change


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(s):
        target = s
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


# (test id, change to the good scenario, text the message must contain)
BAD = [
    ("no_employee", _delete("employee"), "employee"),
    ("no_shifts", _delete("shifts"), "shifts"),
    ("no_process", _delete("process"), "process"),
    ("shift_without_start", _delete("shifts", 0, "start"), "start"),
    ("shift_without_checkin_before", _delete("shifts", 0, "checkin_before_min"), "checkin_before_min"),
    ("employee_without_active", _delete("employee", "active"), "active"),
    ("checkin_before_not_a_number", _set("shifts", 0, "checkin_before_min", "sixty"), "checkin_before_min"),
    ("late_grace_a_string", _set("shifts", 0, "late_grace_min", "5"), "late_grace_min"),
    ("flex_negative", _set("shifts", 0, "flex_min", -30), "flex_min"),
    ("flex_a_string", _set("shifts", 0, "flex_min", "30"), "flex_min"),
    ("count_on_holidays_a_string", _set("shifts", 0, "count_on_holidays", "yes"), "count_on_holidays"),
    ("punches_not_a_list", _set("punches", {"at": "2026-03-02T09:00"}), "punches"),
    ("start_25_00", _set("shifts", 0, "start", "25:00"), "start"),
    ("end_18_60", _set("shifts", 0, "end", "18:60"), "end"),
    ("hours_unknown_method", _set("shifts", 0, "hours", "both"), "hours"),
    ("shift_direction_unknown", _set("shifts", 0, "direction", "sideways"), "direction"),
    ("punch_direction_unknown", _set("punches", 0, "direction", "sideways"), "direction"),
    ("punch_at_bad_time", _set("punches", 0, "at", "2026-03-02T25:00"), "at"),
    ("process_from_30_february", _set("process", "from", "2026-02-30"), "from"),
    ("holiday_not_a_date", _set("holidays", ["next friday"]), "holidays"),
    ("record_status_unknown", _set("records", 0, "status", "late"), "status"),
    ("assignment_unknown_shift", _set("assignments", 0, "shift", "nightwatch"), "nightwatch"),
    ("assignment_unknown_rotation", _set("assignments", [{"rotation": "fortnightly", "from": "2026-03-02", "to": None}]),
     "fortnightly"),
    ("rotation_pattern_unknown_shift", _set("rotations", 0, "pattern", ["day", "swing"]), "swing"),
    ("default_shift_unknown", _set("employee", "default_shift", "swing"), "swing"),
    ("process_shift_unknown", _set("process", "shift", "swing"), "swing"),
    ("change_unknown_shift", _set("changes", [{"from": "2026-03-02", "to": "2026-03-02", "shift": "swing"}]), "swing"),
    ("change_without_shift", _set("changes", [{"from": "2026-03-02", "to": "2026-03-02"}]), "changes[0].shift"),
    ("change_to_before_from", _set("changes", [{"from": "2026-03-03", "to": "2026-03-02", "shift": None}]),
     "changes[0].to"),
    ("change_without_to", _set("changes", [{"from": "2026-03-03", "shift": None}]), "changes[0].to"),
    ("changes_not_a_list", _set("changes", {"from": "2026-03-03", "to": "2026-03-03", "shift": None}), "changes"),
    ("overtime_request_without_minutes", _set("overtime_requests", [{"date": "2026-03-02"}]),
     "overtime_requests[0].minutes"),
    ("overtime_request_zero_minutes", _set("overtime_requests", [{"date": "2026-03-02", "minutes": 0}]),
     "overtime_requests[0].minutes"),
    ("overtime_request_in_lieu_a_string", _set("overtime_requests", [{"date": "2026-03-02", "minutes": 60,
                                                                      "in_lieu": "yes"}]), "overtime_requests[0].in_lieu"),
    ("overtime_requests_twice_a_day", _set("overtime_requests", [{"date": "2026-03-02", "minutes": 60},
                                                                 {"date": "2026-03-02", "minutes": 30}]),
     "overtime_requests[1].date"),
    ("late_allowance_not_an_object", _set("late_allowance", 3), "late_allowance"),
    ("late_allowance_without_minutes", _set("late_allowance", {"times": 3}), "late_allowance.minutes"),
    ("late_allowance_times_too_many", _set("late_allowance", {"times": 32, "minutes": 10}), "late_allowance.times"),
    ("late_allowance_minutes_negative", _set("late_allowance", {"times": 3, "minutes": -1}), "late_allowance.minutes"),
    ("time_zone_unknown", _set("time_zone", "Mars/Olympus_Mons"), "time_zone"),
    ("time_zone_a_folder_of_zones", _set("time_zone", "Europe"), "time_zone"),
    ("time_zone_a_path", _set("time_zone", "../../etc/passwd"), "time_zone"),
    ("time_zone_a_number", _set("time_zone", 8), "time_zone"),
    ("punch_offset_without_time_zone", _set("punches", 0, "at", "2026-03-02T09:00:00+01:00"), "punches[0].at"),
    ("punch_offset_malformed", lambda s: (s.update(time_zone="Europe/Berlin"),
                                          _set("punches", 0, "at", "2026-03-02T09:00:00+1h")(s)), "punches[0].at"),
]


def test_the_good_scenario_runs(tmp_path: Path):
    proc = run_scenario(GOOD, tmp_path, new_process=True)  # as an integrator runs it: a process of its own
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["records"]
    assert json.loads(proc.stdout) == json.loads(run_scenario(GOOD, tmp_path).stdout)  # the same as in-process


@pytest.mark.parametrize(("change", "named"), [pytest.param(change, named, id=name) for name, change, named in BAD])
def test_bad_scenario_is_refused_naming_the_field(change, named, tmp_path: Path):
    scenario = copy.deepcopy(GOOD)
    change(scenario)
    proc = run_scenario(scenario, tmp_path)
    assert proc.returncode == 2, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    assert proc.stdout.strip() == ""
    assert named in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_scenario_not_an_object(tmp_path: Path):
    proc = run_scenario([GOOD], tmp_path)
    assert proc.returncode == 2
    assert proc.stdout.strip() == ""
    assert proc.stderr.strip() and "Traceback" not in proc.stderr


def test_malformed_json(tmp_path: Path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(GOOD)[:-40], encoding="utf-8")
    proc = evaluate_command(path)
    assert proc.returncode == 2
    assert proc.stdout.strip() == ""
    assert proc.stderr.strip() and "Traceback" not in proc.stderr


def test_file_missing(tmp_path: Path):
    path = tmp_path / "no-such-scenario.json"
    proc = evaluate_command(path, new_process=True)
    assert proc.returncode == 2
    assert proc.stdout.strip() == ""
    assert "no-such-scenario.json" in proc.stderr
    assert "Traceback" not in proc.stderr
