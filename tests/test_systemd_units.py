"""The systemd units verify cleanly and keep the promised hardening, watchdog and credentials."""
from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = sorted((Path(__file__).resolve().parent.parent / "systemd").glob("*.service"))
VENV_BIN = Path(sys.executable).parent


def parse(unit: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    parser.read_string(unit.read_text())
    return parser


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_passes_systemd_analyze_verify(unit, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    local = tmp_path / unit.name
    local.write_text(unit.read_text().replace("/opt/seed/.venv/bin", str(VENV_BIN)))
    proc = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True)
    problems = [line for line in (proc.stdout + proc.stderr).splitlines() if unit.name in line]
    assert proc.returncode == 0 and not problems, proc.stdout + proc.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_is_hardened_with_watchdog_and_credentials(unit):
    service = parse(unit)["Service"]
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "on-failure"
    assert service["User"] == "seed"
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert "/var/lib/seed" in service["ReadWritePaths"]
    assert "seed-db-key:" in unit.read_text()
    assert "StartLimitBurst" in parse(unit)["Unit"]


def test_terminal_reaches_its_devices_through_groups_not_root():
    service = parse(next(u for u in UNITS if u.name == "seed-terminal.service"))["Service"]
    groups = service["SupplementaryGroups"].split()
    assert {"video", "gpio", "dialout", "input"} <= set(groups)
    assert service["CapabilityBoundingSet"] == ""


CENTRAL_UNITS = sorted((Path(__file__).resolve().parent.parent / "systemd" / "central").glob("seed-central-*"))


@pytest.mark.parametrize("unit", CENTRAL_UNITS, ids=lambda p: p.name)
def test_central_unit_passes_systemd_analyze_verify(unit, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    for one in CENTRAL_UNITS:  # a timer is verified with the service it starts beside it
        (tmp_path / one.name).write_text(one.read_text().replace("/opt/seed/.venv/bin", str(VENV_BIN)))
    proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / unit.name)], capture_output=True, text=True)
    problems = [line for line in (proc.stdout + proc.stderr).splitlines() if unit.name in line]
    assert proc.returncode == 0 and not problems, proc.stdout + proc.stderr


def test_the_nightly_backup_runs_a_command_the_central_takes():
    from central.cli import _parser

    assert [u.name for u in CENTRAL_UNITS] == ["seed-central-backup.service", "seed-central-backup.timer"]
    service = parse(CENTRAL_UNITS[0])["Service"]
    command = service["ExecStart"].split()
    assert command[0] == "/opt/seed/.venv/bin/seed-central" and service["Type"] == "oneshot"
    args = _parser().parse_args(command[1:])
    assert (args.command, args.action, args.keep) == ("backup", "create", 14)
    assert service["User"] == "seed" and service["NoNewPrivileges"] == "yes" and service["UMask"] == "0077"
    timer = parse(CENTRAL_UNITS[1])["Timer"]
    assert timer["Persistent"] == "true" and timer["OnCalendar"].endswith("02:30:00")
