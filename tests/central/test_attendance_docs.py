"""The scenario shown in docs/attendance.md runs as documented."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_documented_scenario_runs_and_gives_what_its_rules_say(tmp_path: Path) -> None:
    text = (REPO / "docs" / "attendance.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```json\n(.*?)```", text, flags=re.S)
    scenario = tmp_path / "scenario.json"
    scenario.write_text(block, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "central.cli", "attendance", "evaluate", str(scenario)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    records = {r["date"]: r for r in out["records"]}
    monday = records["2026-03-02"]
    # in 09:06 (late: 5 min grace), out 18:40; hours from 09:15 (rounded up) to 18:30 (down) less the lunch hour
    assert (monday["late"], monday["late_min"], monday["hours"]) == (True, 6, 8.25)
    assert (monday["overtime_min"], monday["overtime_state"]) == (30, "pending")  # 40 min after 18:00 -> 30 (step)
    assert records["2026-03-03"]["source"] == "leave"
    assert records["2026-03-04"]["status"] == "absent"
    assert "2026-03-05" not in records  # the holiday
    assert records["2026-03-08"]["status"] == "absent"  # a Sunday made a working day
    assert "2026-03-12" not in records  # the rotation's rest day
    assert records["2026-03-31"]["shift"] == "day"
