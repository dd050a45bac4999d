"""Fixtures shared by every suite: paths to shared test data, temporary stores and configurations."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# tests/ is not a package: its plugin module is found on sys.path (appended: tests/central must not shadow central)
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))

import leftovers  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SEED_SHARED_DIR", REPO.parent / "shared"))
FACES = SHARED / "testdata" / "faces"

# Kivy must never open a window or grab a device in tests.
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """The real face photos; tests that need them skip (with the reason) when they are absent."""
    if not (FACES / "people").is_dir():
        pytest.skip(f"real face photos not found at {FACES} (clone the project with ../shared beside it)")
    return FACES


@pytest.fixture
def sim_config(tmp_path: Path):
    """A simulated terminal's configuration, with its data in a temporary directory."""
    from terminal.config import parse_config

    return parse_config({
        "device": {"id": "test-door-1", "site": "test", "language": "en", "timezone": "UTC"},
        "storage": {"data_dir": str(tmp_path / "data"), "min_free_mb": 1},
        "hardware": {"profile": "sim"},
    })


@pytest.fixture
def store(sim_config):
    """An open, migrated, encrypted store for one test."""
    from terminal.store.database import open_store

    with open_store(sim_config.storage) as opened:
        yield opened


@pytest.fixture
def config_file(tmp_path: Path) -> str:
    """A simulated terminal's configuration file, as seed-enroll and seed-terminal read it."""
    path = tmp_path / "terminal.toml"
    path.write_text(f'[device]\nid = "door-9"\ntimezone = "UTC"\nlanguage = "en"\n'
                    f'[storage]\ndata_dir = "{tmp_path / "data"}"\n[hardware]\nprofile = "sim"\n')
    return str(path)


def pytest_configure(config: pytest.Config) -> None:
    """Every session fails when a broker, chrony, PostgreSQL, browser or server it started outlives it."""
    leftovers.register(config)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--central-db", choices=("sqlite", "postgresql"), default="sqlite",
                     help="database of the central suite: SQLite (default) or a PostgreSQL cluster the tests start")


# the fixtures through which a test reaches the central's database (the one --central-db chooses)
DATABASE_FIXTURES = frozenset({"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback",
                               "live_server", "central_db_target"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    central = Path(__file__).resolve().parent / "central"
    for item in items:
        if central in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.central)
            # a test that reaches no database answers the same on either: run once (Makefile: the PostgreSQL line)
            if item.get_closest_marker("django_db") is None and not DATABASE_FIXTURES & set(
                    getattr(item, "fixturenames", ())):
                item.add_marker(pytest.mark.no_database)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PG_BIN = Path("/usr/lib/postgresql")


def _pg_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(PG_BIN.glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


@pytest.fixture(scope="session")
def postgres(pytestconfig: pytest.Config):
    """A throwaway PostgreSQL cluster on a free port (skipped when the server is not installed)."""
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server not installed (apt-get install postgresql)")
    # not under pytest's private temporary folder: the server runs as another user and must reach it
    folder = Path(tempfile.mkdtemp(prefix="seed-pg-"))
    leftovers.watch_folder(pytestconfig, folder)  # the daemonised server must be gone when the session ends
    data, sock = folder / "data", folder / "sock"
    sock.mkdir()
    run_as: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run the server as")
        shutil.chown(folder, "postgres")
        shutil.chown(sock, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*run_as, initdb, "-D", str(data), "-U", "seed", "--auth=trust", "-E", "UTF8"], check=True,
                   capture_output=True)
    port = _free_port()
    subprocess.run([*run_as, pg_ctl, "-D", str(data), "-l", str(folder / "pg.log"), "-w", "-o",
                    f"-p {port} -k {sock} -c listen_addresses='' -c fsync=off", "start"], check=True, capture_output=True)
    yield f"postgresql://seed@/postgres?host={sock}&port={port}"
    subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request: pytest.FixtureRequest) -> None:
    """With --central-db=postgresql, the central suite's test database lives in a cluster started here."""
    if request.config.getoption("--central-db") != "postgresql":
        return
    from django.conf import settings
    from django.db import connections

    from central.dburl import database_settings

    url = request.getfixturevalue("postgres")
    settings.DATABASES["default"] = database_settings(url.replace("/postgres?", "/seed?"))
    # the handler caches its settings on first use: replace them, so the next connection is a PostgreSQL one
    vars(connections)["settings"] = connections.configure_settings(settings.DATABASES)
    del connections["default"]


@pytest.fixture
def central_db_target(transactional_db: None) -> str:
    """The test database as ``seed-central --db`` takes it, for commands run in another process."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgresql://{s['USER']}@/{s['NAME']}?host={s['HOST']}&port={s['PORT']}"
    return str(s["NAME"])


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 1 MB tmpfs to fill, for full-disk cases (root only; skipped elsewhere), unmounted after the test."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {proc.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
