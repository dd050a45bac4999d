"""The central restored from a backup gets back, by itself, the punches it acknowledged after that backup.

Real mosquitto, a real terminal store and sync agent, the receiver in this process: punches stored, a backup made
while the receiver runs (``seed-central backup create``), more punches stored and acknowledged, the receiver
stopped, the database restored by ``seed-central backup restore --force`` in its own process, the receiver started
again. Nobody sends a command by hand: the receiver asks the terminal (``resync`` with ``since``) and the punches
come back, each stored once.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.db import connections
from sync_support import assert_exactly_once, central_ids, central_settings, start_central, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def run_cli(target: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "central.cli", "--db", target, *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "DJANGO_SETTINGS_MODULE": "central.settings"})


def test_a_restored_central_asks_the_terminal_and_gets_back_what_the_backup_lacks(
        site, broker_up, terminal_a, agent_factory, central_db_target, tmp_path):
    from central.ingest.models import Command, PunchRecovery
    from central.people.models import Device

    service = start_central(central_settings(site, broker_up))
    try:
        agent = agent_factory(terminal_a.config)
        wait_for(lambda: agent.agent.connected, what="agent connected")
        before = terminal_a.punch(4)
        wait_for(lambda: len(central_ids("door-a")) == 4 and terminal_a.outbox_depth() == 0, what="first punches")
        wait_for(lambda: Device.objects.filter(device_id="door-a", drained_at__isnull=False).exists(),
                 what="the terminal reported an empty outbox")
        made = run_cli(central_db_target, "backup", "--to", str(tmp_path / "backups"), "create")
        assert made.returncode == 0, made.stderr
        after = terminal_a.punch(6)
        wait_for(lambda: len(central_ids("door-a")) == 10 and terminal_a.outbox_depth() == 0, what="later punches")
    finally:
        service.stop()
    connections.close_all()  # the restore refuses a database another process (or this one) holds

    (manifest,) = (tmp_path / "backups").glob("seed-central-*.json")
    assert json.loads(manifest.read_text())["counts"]["punches"] == 4
    restored = run_cli(central_db_target, "backup", "--to", str(tmp_path / "backups"), "restore", "--force",
                       str(manifest))
    assert restored.returncode == 0, restored.stderr
    assert "door-a" in restored.stdout
    assert sorted(central_ids("door-a")) == sorted(before)  # the six later punches are not in the backup

    service = start_central(central_settings(site, broker_up))
    try:
        wait_for(lambda: len(central_ids("door-a")) == 10 and terminal_a.outbox_depth() == 0, timeout=30,
                 what="the punches after the backup back from the terminal")
        assert sorted(central_ids("door-a")) == sorted(before + after)
        assert_exactly_once(terminal_a)
        wait_for(lambda: PunchRecovery.objects.filter(device_id="door-a", done_at__isnull=False).exists(),
                 what="the terminal's recovery closed once it answered")
        command = Command.objects.get(device_id="door-a", cmd="resync", issued_by="system:restore")
        assert command.ok is True and command.result["punches_requeued"] >= 6
    finally:
        service.stop()
