"""Real infrastructure for the sync tests: mosquitto with TLS, the central receiver, terminals, chrony.

Everything is made by the project's own code: the site CA, certificates and broker
configuration by ``central.pki`` / ``central.broker`` / ``central.provision``; the broker
is the real ``mosquitto`` on a free port; chrony runs on loopback (``-x``: it never
touches the system clock) under ``faketime`` to skew it. Helpers live in sync_support.py.
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_support import (  # noqa: E402
    DEVICES,
    SITE,
    AgentThread,
    Broker,
    Terminal,
    central_settings,
    device_config,
    start_central,
)

from central.pki import SitePki  # noqa: E402
from central.provision import provision_device  # noqa: E402


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> dict:
    """The site's PKI and one provisioned bundle per test terminal."""
    root = tmp_path_factory.mktemp("site")
    pki = SitePki(root / "pki", SITE)
    bundles = {d: provision_device(pki, d, root / "bundles", broker_host="127.0.0.1", broker_port=1,
                                   install_dir=root / "bundles" / d) for d in DEVICES}
    return {"root": root, "pki": pki, "bundles": bundles}


@pytest.fixture(scope="module")
def broker(site, tmp_path_factory) -> Iterator[Broker]:
    running = Broker(site["pki"], tmp_path_factory.mktemp("broker")).start()
    yield running
    running.stop()


@pytest.fixture
def broker_up(broker) -> Broker:
    """The module's broker, restarted if an earlier test left it stopped."""
    if broker.proc is None or broker.proc.poll() is not None:
        broker.start()
    return broker


@pytest.fixture
def central(site, broker_up, transactional_db):
    """seed-central running in this process on the test database (emptied after each test)."""
    service = start_central(central_settings(site, broker_up))
    yield service
    service.stop()


@pytest.fixture
def terminal_a(site, broker_up, tmp_path) -> Iterator[Terminal]:
    term = Terminal(device_config(site, broker_up, "door-a", tmp_path / "door-a"))
    yield term
    term.close()


@pytest.fixture
def agent_factory():
    started: list[AgentThread] = []

    def make(config, clock=None, ntp: bool = False) -> AgentThread:
        agent = AgentThread(config, clock, ntp).start()
        started.append(agent)
        return agent

    yield make
    for agent in started:
        with contextlib.suppress(Exception):
            if agent.thread.is_alive():
                agent.stop()
