"""The systemd units verify cleanly and keep the promised hardening, watchdog and credentials."""
from __future__ import annotations

import argparse
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


def _central(name: str) -> Path:
    return next(u for u in CENTRAL_UNITS if u.name == name)


def _command(unit: Path) -> argparse.Namespace:
    """The unit's command line as seed-central parses it (an unknown option fails here, as at the first start), its
    variables expanded from the unit's own ``Environment=`` lines as systemd does with no environment file (a
    variable that is empty drops out of the command)."""
    from central.cli import _parser

    env = dict(item.split("=", 1) for line in unit.read_text().splitlines() if line.startswith("Environment=")
               for item in line.removeprefix("Environment=").split())
    command = []
    for word in parse(unit)["Service"]["ExecStart"].split():
        name = word.removeprefix("$").strip("{}")
        value = env[name] if word.startswith("$") else word
        if value:
            command.append(value)
    assert command[0] == "/opt/seed/.venv/bin/seed-central"
    return _parser().parse_args(command[1:])


def test_the_nightly_backup_runs_a_command_the_central_takes():
    assert [u.name for u in CENTRAL_UNITS] == ["seed-central-backup.service", "seed-central-backup.timer",
                                               "seed-central-console.service", "seed-central-receiver.service"]
    service = parse(_central("seed-central-backup.service"))["Service"]
    args = _command(_central("seed-central-backup.service"))
    assert service["Type"] == "oneshot" and (args.command, args.action, args.keep) == ("backup", "create", 14)
    assert service["User"] == "seed" and service["NoNewPrivileges"] == "yes" and service["UMask"] == "0077"
    timer = parse(_central("seed-central-backup.timer"))["Timer"]
    assert timer["Persistent"] == "true" and timer["OnCalendar"].endswith("02:30:00")


def test_the_receiver_and_the_console_run_hardened_and_wait_for_what_they_finish():
    from central.attendance.worker import AttendanceThread
    from central.console.serve import GRACEFUL_S

    for name, command in (("seed-central-receiver.service", "run"), ("seed-central-console.service", "serve")):
        unit = parse(_central(name))
        service = unit["Service"]
        args = _command(_central(name))
        assert args.command == command, name
        # the receiver tells systemd itself; gunicorn's master (the command's own process) does for the console
        assert service["Type"] == "notify" and service["NotifyAccess"] == "main", name
        assert service["Restart"] == "on-failure" and "StartLimitBurst" in unit["Unit"], name
        assert service["User"] == "seed" and service["NoNewPrivileges"] == "yes", name
        assert service["ProtectSystem"] == "strict" and service["UMask"] == "0077", name
        assert "/var/lib/seed" in service["ReadWritePaths"] and service["CapabilityBoundingSet"] == "", name
    receiver = parse(_central("seed-central-receiver.service"))["Service"]
    assert int(receiver["WatchdogSec"]) > 0
    # systemd's stop must outwait the pass of the attendance follower in progress, and gunicorn's graceful stop
    assert int(receiver["TimeoutStopSec"]) > AttendanceThread.join_s
    console = parse(_central("seed-central-console.service"))["Service"]
    assert int(console["TimeoutStopSec"]) > GRACEFUL_S
    # as installed: the console on loopback, plain HTTP, until central.env says otherwise
    served = _command(_central("seed-central-console.service"))
    assert (served.bind, served.tls) == ("127.0.0.1:8000", False)
