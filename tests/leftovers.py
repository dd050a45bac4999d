"""A run fails when a process its fixtures started outlives it: brokers, chrony, PostgreSQL, browsers, servers.

At session start the plugin notes the processes of the watched kinds already running (another
suite on this machine, a system service: never reported) and marks this session in the
environment every child inherits (``SEED_TEST_SESSIONS``). At session end, after every fixture
has been torn down, a watched process that was not there at the start is a leftover when

* its ancestry leads to this pytest process, or
* it inherited this session's mark (daemons re-parented to init, e.g. PostgreSQL via ``pg_ctl``), or
* its command line mentions this session's temporary folders (pytest's basetemp, and folders
  fixtures announce with :func:`watch_folder`, e.g. ``/tmp/seed-pg-*``).

Each leftover is named (pid, command line, the fixture family it belongs to), killed, and the
session's exit status set to "tests failed". Loaded by ``tests/conftest.py``; ``-p leftovers``
with ``tests/`` on ``sys.path`` loads it into any other session.
"""
from __future__ import annotations

import logging
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

log = logging.getLogger(__name__)

PLUGIN_NAME = "seed-leftovers"
SESSION_ENV = "SEED_TEST_SESSIONS"
# a fixture's process may still be exiting when the session ends (SIGTERM just sent, the fixture not waiting)
GRACE_S = float(os.environ.get("SEED_LEFTOVERS_GRACE_S", "3"))

# (process names, or the start of one; the fixture family that starts them)
FAMILIES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("mosquitto",), "MQTT broker (tests/sync/conftest.py `broker`, central.demo_stack)"),
    (("chronyd", "faketime"), "chrony under faketime (tests/sync/sync_support.py `Chrony`)"),
    (("postgres", "pg_ctl", "postmaster"), "PostgreSQL cluster (tests/conftest.py `postgres`)"),
    (("chrom", "headless_shell"), "headless Chromium (tests/central/browser_support.py)"),
    (("gunicorn",), "central web server (gunicorn)"),
    (("soffice",), "LibreOffice (document conversion)"),
    (("seed-",), "a Seed command (seed-central, seed-sync, seed-terminal, seed-enroll)"),
)
SEED_MODULE = re.compile(r"(?:^|\s)-m\s*(?:terminal|sync_agent|central|enrollment)(?:[.\s]|$)")
SEED_MODULE_FAMILY = "a Seed module run as a process (python -m terminal|sync_agent|central|enrollment)"


@dataclass(frozen=True)
class Leftover:
    pid: int
    cmdline: str
    family: str
    why: str  # how it was tied to this session

    def describe(self) -> str:
        return f"pid {self.pid} [{self.family}] ({self.why}): {self.cmdline}"


def family_of(proc: psutil.Process) -> str | None:
    """The fixture family of a watched process, or None when it is not of a watched kind."""
    try:
        name = proc.name()
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    names = {name, *(os.path.basename(arg) for arg in cmdline[:2])}
    for prefixes, family in FAMILIES:
        if any(n.startswith(prefix) for n in names for prefix in prefixes):
            return family
    if SEED_MODULE.search(" ".join(cmdline)):
        return SEED_MODULE_FAMILY
    return None


def _identity(proc: psutil.Process) -> tuple[int, float]:
    return proc.pid, proc.create_time()


@dataclass
class LeftoverCheck:
    """The session's bookkeeping; hooks are its methods."""

    config: pytest.Config
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    before: set[tuple[int, float]] = field(default_factory=set)
    folders: list[str] = field(default_factory=list)
    leftovers: list[Leftover] = field(default_factory=list)
    previous_env: str | None = None

    def watch(self, folder: Path | str) -> None:
        self.folders.append(str(folder))

    # -- hooks ---------------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        for proc in psutil.process_iter():
            try:
                if family_of(proc) is not None:
                    self.before.add(_identity(proc))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        self.previous_env = os.environ.get(SESSION_ENV)
        os.environ[SESSION_ENV] = f"{self.previous_env} {self.session_id}".strip()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.leftovers = self.find()
        if self.leftovers:
            self.kill([lo.pid for lo in self.leftovers])
            if session.exitstatus == pytest.ExitCode.OK or session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.previous_env is None:
            os.environ.pop(SESSION_ENV, None)
        else:
            os.environ[SESSION_ENV] = self.previous_env

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.leftovers:
            return
        terminalreporter.section("processes left running by this session", red=True, bold=True)
        terminalreporter.line(f"FAILED: {len(self.leftovers)} process(es) this session started were still alive after "
                              "every fixture was torn down (now killed):", red=True)
        for leftover in self.leftovers:
            terminalreporter.line(f"  {leftover.describe()}", red=True)

    # -- the check ---------------------------------------------------------------------------------
    def _temp_folders(self) -> list[str]:
        folders = list(self.folders)
        # the basetemp in use, else the one given (not getbasetemp(): that would make, or empty, the folder now)
        factory = getattr(self.config, "_tmp_path_factory", None)
        basetemp = getattr(factory, "_basetemp", None) or getattr(factory, "_given_basetemp", None)
        if basetemp is not None:
            folders.append(str(Path(basetemp).resolve()))
        return folders

    def _tie(self, proc: psutil.Process, folders: list[str]) -> str | None:
        """Why this process belongs to this session, or None."""
        me = os.getpid()
        try:
            if any(parent.pid == me for parent in proc.parents()):
                return "started under this pytest"
            cmdline = " ".join(proc.cmdline()).strip()
            for folder in folders:
                # the whole folder name: /tmp/pytest-of-root/pytest-1 is not .../pytest-12 (another session's)
                if re.search(re.escape(folder.rstrip("/")) + r"(?![\w.-])", cmdline):
                    return f"runs from {folder}"
            try:
                marks = proc.environ().get(SESSION_ENV, "").split()
            except psutil.AccessDenied:
                marks = []
            if self.session_id in marks:
                return "inherited this session's environment"
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return None
        return None

    def _candidates(self) -> list[Leftover]:
        folders = self._temp_folders()
        found: dict[int, Leftover] = {}
        untied: list[tuple[psutil.Process, str]] = []
        for proc in psutil.process_iter():
            try:
                if proc.pid == os.getpid() or proc.status() == psutil.STATUS_ZOMBIE or _identity(proc) in self.before:
                    continue
                family = family_of(proc)
                if family is None:
                    continue
                why = self._tie(proc, folders)
                if why is None:
                    untied.append((proc, family))
                else:
                    found[proc.pid] = Leftover(proc.pid, " ".join(proc.cmdline()).strip(), family, why)
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue
        for proc, family in untied:  # e.g. PostgreSQL's workers: their title overwrites their environment
            try:
                parent = next((p.pid for p in proc.parents() if p.pid in found), None)
                if parent is not None:
                    found[proc.pid] = Leftover(proc.pid, " ".join(proc.cmdline()).strip(), family, f"child of pid {parent}")
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue
        return list(found.values())

    def find(self) -> list[Leftover]:
        """The watched processes of this session still alive once the ones already exiting had time to go."""
        candidates = self._candidates()
        if not candidates:
            return []
        procs = []
        for candidate in candidates:
            try:
                procs.append(psutil.Process(candidate.pid))
            except psutil.NoSuchProcess:
                continue
        _, alive = psutil.wait_procs(procs, timeout=GRACE_S)
        still = {p.pid for p in alive if _running(p)}
        return [c for c in candidates if c.pid in still]

    @staticmethod
    def kill(pids: list[int]) -> None:
        procs = []
        for pid in pids:
            try:
                proc = psutil.Process(pid)
                proc.kill()
                procs.append(proc)
            except psutil.NoSuchProcess:
                continue
        _, alive = psutil.wait_procs(procs, timeout=5)
        for proc in alive:
            log.warning("leftover process %s did not die on SIGKILL", proc.pid)


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def register(config: pytest.Config) -> LeftoverCheck:
    """The session's check, registered once however many conftests ask for it."""
    check = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if check is None:
        check = LeftoverCheck(config)
        config.pluginmanager.register(check, PLUGIN_NAME)
    return check


def watch_folder(config: pytest.Config, folder: Path | str) -> None:
    """A folder outside basetemp whose processes belong to this session (e.g. a PostgreSQL cluster's)."""
    register(config).watch(folder)


def pytest_configure(config: pytest.Config) -> None:
    register(config)
