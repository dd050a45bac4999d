"""``seed-central serve`` as systemd runs it: browsers that hold idle connections neither starve it nor keep it from
stopping."""
from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from central.console.screenshots import ConsoleServer

pytestmark = pytest.mark.slow


def test_idle_connections_starve_no_one_and_a_stop_is_clean(central_db_target: str, tmp_path: Path) -> None:
    server = ConsoleServer(central_db_target, tmp_path / "console.log", workers=2,
                           env={"SEED_CENTRAL_SECRET_KEY": "serve-tests-only"})
    server.start()
    idle: list[socket.socket] = []
    try:
        # a browser's preconnects: connected, nothing sent; one per worker process and more
        for _ in range(3):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        with urllib.request.urlopen(f"{server.url}/login/", timeout=15) as response:
            page = response.read().decode()
        assert response.status == 200 and "<form" in page
        code = server.stop()
    finally:
        for sock in idle:
            sock.close()
        server.stop()
    # SIGTERM stopped the workers and the master by themselves: ConsoleServer.stop kills (-9) what is left after 20 s
    assert code == 0, server.log_tail()
    assert "Shutting down: Master" in server.log_tail()
