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


def _site_ca(tmp_path: Path):
    from central.pki import SitePki

    pki = SitePki(tmp_path / "pki", "plant-1")
    pki.ensure_ca()
    return pki


@pytest.mark.browser
def test_over_https_the_certificate_holds_its_names_and_no_cookie_goes_in_clear(
        central_db_target: str, tmp_path: Path, settings) -> None:
    import base64
    import hashlib
    import http.client
    import urllib.error

    from browser_support import PBKDF2, account
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from central.console.screenshots import chromium, sign_in

    settings.PASSWORD_HASHERS = PBKDF2
    pki = _site_ca(tmp_path)
    server = ConsoleServer(central_db_target, tmp_path / "console.log", args=["--tls"], ca_file=pki.ca_cert, env={
        "SEED_CENTRAL_SECRET_KEY": "serve-tests-only", "SEED_CENTRAL_PKI": str(pki.root),
        "SEED_CENTRAL_HOSTS": "kaoqin.plant-1.example.cn,127.0.0.1"})
    server.start()  # answers on https, its certificate checked against the site CA
    try:
        with urllib.request.urlopen(f"{server.url}/login/", timeout=15, context=server.ssl_context) as response:
            cookies = response.headers.get_all("Set-Cookie") or []
        assert any(c.startswith("csrftoken=") and "; Secure" in c for c in cookies), cookies
        # read back with cryptography: made for the names the console is reached by, its key the owner's only
        cert = x509.load_pem_x509_certificate((pki.root / "console.crt").read_bytes())
        names = {str(n.value) for n in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value}
        assert names == {"kaoqin.plant-1.example.cn", "127.0.0.1"}
        assert cert.issuer == x509.load_pem_x509_certificate(pki.ca_cert.read_bytes()).subject
        assert (pki.root / "console.key").stat().st_mode & 0o777 == 0o600
        # nothing is served in clear on the same port
        with pytest.raises((urllib.error.URLError, http.client.HTTPException, ConnectionError)):
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/login/", timeout=15).read()
        # an office browser that trusts the site CA (here: this server's key) signs in; its session cookie is
        # never sent over plain HTTP
        password = account("it.wang", role="superuser", actor="test")
        spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        with chromium((1280, 800), trusted_keys=[base64.b64encode(hashlib.sha256(spki).digest()).decode()]) as driver:
            sign_in(driver, server.url, "it.wang", password)
            assert driver.current_url.startswith("https://127.0.0.1:")
            session = next(c for c in driver.get_cookies() if c["name"] == "sessionid")
            assert session["secure"] is True and session["httpOnly"] is True
    finally:
        server.stop()
    assert "Traceback" not in server.log_tail(20000)


def test_a_second_start_keeps_the_certificate_and_a_new_name_makes_it_again(tmp_path: Path) -> None:
    pki = _site_ca(tmp_path)
    first = pki.console_cert(["kaoqin.example.cn", "127.0.0.1"])
    assert pki.console_cert(["127.0.0.1"]).serial == first.serial  # every name already in it
    again = pki.console_cert(["kaoqin.example.cn", "10.0.0.5"])
    assert again.serial != first.serial
    assert pki.console_cert(["10.0.0.5"], renew_days=900).serial != again.serial  # within 900 days of its end


def test_half_a_tls_setup_and_a_key_others_can_read_are_refused_with_a_reason(tmp_path: Path) -> None:
    import subprocess
    import sys

    from central.console.screenshots import REPO

    def serve(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "central.cli", "--db", str(tmp_path / "c.db"), "serve",
                               "--bind", "127.0.0.1:1", *args], capture_output=True, text=True, timeout=120, cwd=REPO,
                              env={"PATH": "/usr/bin:/bin", "SEED_CENTRAL_SECRET_KEY": "serve-tests-only"})

    done = serve("--certfile", str(tmp_path / "console.crt"))
    assert done.returncode == 2 and "--certfile with --keyfile" in done.stderr
    done = serve("--certfile", str(tmp_path / "missing.crt"), "--keyfile", str(tmp_path / "missing.key"))
    assert done.returncode == 2 and f"not found: {tmp_path / 'missing.crt'}" in done.stderr
    pki = _site_ca(tmp_path)
    issued = pki.console_cert(["127.0.0.1"])
    issued.key_path.chmod(0o644)
    done = serve("--certfile", str(issued.cert_path), "--keyfile", str(issued.key_path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"console TLS key {issued.key_path} can be read or changed by other users (mode 0644)" in done.stderr
