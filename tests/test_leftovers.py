"""The session-end check: a run whose fixtures leave a broker, chrony or PostgreSQL running fails, naming it."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A separate pytest run (own process) with only the leftovers plugin loaded."""
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    monkeypatch.setenv("SEED_LEFTOVERS_GRACE_S", "0.3")  # nothing in these runs is still exiting
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # a bare session starts in a fraction of the time
    pytester.makeini("[pytest]\naddopts = -p leftovers -p no:cacheprovider\n")
    return pytester


def run(inner: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    inner.makepyfile(test_inner=source)
    return inner.runpytest_subprocess("-q", *args, timeout=60)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_broker_left_running_fails_the_run_is_named_and_killed(inner):
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    result = run(inner, """
import socket, subprocess

def test_starts_a_broker_and_forgets_it():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(["mosquitto", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert proc.poll() is None
""")
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out
    assert "1 passed" in out  # the test itself passed: the session failed on the leftover
    leftover_lines = [line for line in out.splitlines() if "MQTT broker" in line and "mosquitto -p" in line]
    assert len(leftover_lines) == 1, out
    assert "started under this pytest" in leftover_lines[0]
    pid = int(leftover_lines[0].split("pid ", 1)[1].split()[0])
    assert gone(pid)


def test_a_daemonised_process_is_caught_through_the_sessions_environment(inner, tmp_path):
    fake = tmp_path / "chronyd"  # a real program under a watched name, so nothing needs installing
    shutil.copy(shutil.which("sleep") or "/bin/sleep", fake)
    result = run(inner, f"""
import subprocess

def test_daemonises_a_process():
    # double fork: the process is re-parented to init, as pg_ctl leaves PostgreSQL
    subprocess.run(["sh", "-c", "{fake} 60 >/dev/null 2>&1 &"], check=True)
""")
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out
    lines = [line for line in out.splitlines() if "chrony under faketime" in line and str(fake) in line]
    assert len(lines) == 1 and "inherited this session's environment" in lines[0], out
    pid = int(lines[0].split("pid ", 1)[1].split()[0])
    assert gone(pid)


def test_a_clean_run_passes_and_processes_from_before_it_are_left_alone(inner, tmp_path):
    # "another suite's broker", running before the inner session starts, from the folder that becomes its basetemp:
    # only the start-of-session snapshot keeps it from being taken for the session's own
    basetemp = tmp_path / "inner-basetemp"
    basetemp.mkdir()
    fake = basetemp / "mosquitto"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", fake)
    before = subprocess.Popen([str(fake), "60"])
    try:
        result = run(inner, """
import subprocess, sys

def test_stops_what_it_starts():
    proc = subprocess.Popen([sys.executable, "-m", "sync_agent.nonexistent_but_watched"], stderr=subprocess.DEVNULL)
    proc.wait(30)
""", f"--basetemp={basetemp}")
        out = result.stdout.str()
        assert result.ret == pytest.ExitCode.OK, out
        assert "processes left running" not in out
        assert before.poll() is None  # not the inner session's: neither reported nor killed
    finally:
        before.kill()
        before.wait(5)


def test_watched_kinds_are_recognised_by_name_and_by_module():
    from leftovers import SEED_MODULE

    assert SEED_MODULE.search(f"{sys.executable} -m sync_agent.cli --config x")
    assert SEED_MODULE.search("python -mcentral run")
    assert not SEED_MODULE.search("python -m pytest tests/central")
