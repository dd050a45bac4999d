"""The attendance rules, pinned case by case through ``seed-central attendance evaluate``.

Each file in ``cases/`` is one scenario: ``about`` (the rule and the edge it pins), ``input`` (what the
evaluate command reads) and ``expect``. The expected values were worked out by hand from the rules, not
taken from the engine's output. Only the keys a case gives are compared, so a case pins just what it is
about; records are matched by (date, shift), punches by id. Every record a case lists must be there; unless it
says ``"only_listed": true`` the run must give exactly those, no more.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from central_support import evaluate_command

CASES = Path(__file__).resolve().parent / "cases"


def _params():
    for path in sorted(CASES.glob("*.json")):
        yield pytest.param(path, id=path.stem)


def evaluate(scenario: dict, tmp_path: Path) -> dict:
    """Runs the command line on the scenario (its ``main``, in this process) and returns its JSON output."""
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario, ensure_ascii=False), encoding="utf-8")
    proc = evaluate_command(path)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr}"
    return json.loads(proc.stdout)


def _same(key: str, got, want) -> bool:
    """Hours to 2 decimals; true/false/null only by identity (0 is not false); everything else by equality."""
    if isinstance(want, bool) or want is None or isinstance(got, bool) or got is None:
        return got is want
    if key == "hours" and isinstance(got, int | float) and isinstance(want, int | float):
        return round(float(got), 2) == round(float(want), 2)
    return got == want


def _key(record: dict) -> tuple:
    return record["date"], record["shift"]


def _compare(kind: str, got: dict, want: dict) -> list[str]:
    problems = []
    for key, value in want.items():
        if key not in got:
            problems.append(f"{kind}: no field {key!r} (want {value!r})")
        elif not _same(key, got[key], value):
            problems.append(f"{kind}: {key} = {got[key]!r}, want {value!r}")
    return problems


def test_there_are_cases():
    assert len(list(CASES.glob("*.json"))) >= 45


@pytest.mark.parametrize("path", list(_params()))
def test_case(path: Path, tmp_path: Path):
    case = json.loads(path.read_text(encoding="utf-8"))
    assert set(case) <= {"about", "input", "expect", "only_listed"} and case["about"], "malformed case file"
    out = evaluate(case["input"], tmp_path)
    expect = case["expect"]
    problems: list[str] = []

    got_records = {}
    for record in out["records"]:
        assert _key(record) not in got_records, f"two records for {_key(record)}"
        got_records[_key(record)] = record
    want_records = {_key(r): r for r in expect["records"]}
    missing = sorted(set(want_records) - set(got_records), key=str)
    if missing:  # a listed record is there, whether or not the case lists them all
        problems.append(f"records missing: {missing}")
    if not case.get("only_listed"):
        extra = sorted(set(got_records) - set(want_records), key=str)
        if extra:
            problems.append(f"records not expected: {extra}")
    for key, want in want_records.items():
        if key in got_records:
            problems += _compare(f"record {key}", got_records[key], want)

    dates = [r["date"] for r in out["records"]]
    if dates != sorted(dates):
        problems.append(f"records not sorted by date: {dates}")

    if "punches" in expect:
        got_punches = {p["id"]: p for p in out["punches"]}
        for want in expect["punches"]:
            if want["id"] not in got_punches:
                problems.append(f"punch {want['id']} not in the output")
            else:
                problems += _compare(f"punch {want['id']}", got_punches[want["id"]], want)

    assert not problems, case["about"] + "\n" + "\n".join(problems) + "\n\noutput records:\n" + json.dumps(
        out["records"], indent=1, ensure_ascii=False)
