"""Private key files are used only when no one but their owner can read them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from contract.keyfiles import KeyFileError, check_private_file, read_private_file
from contract.signing import SigningKeyError, load_signing_key


def key_file(tmp_path: Path, mode: int, name: str = "device.key") -> Path:
    path = tmp_path / name
    path.write_bytes(b"secret")
    os.chmod(path, mode)
    return path




@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_key_only_its_owner_can_read_is_accepted(tmp_path, mode):
    path = key_file(tmp_path, mode)
    assert read_private_file(path) == b"secret" and check_private_file(path) == path


@pytest.mark.parametrize("mode", [0o644, 0o666, 0o640, 0o604, 0o620])
def test_a_key_others_can_read_or_change_is_refused_with_the_fix(tmp_path, mode):
    path = key_file(tmp_path, mode)
    for check in (read_private_file, check_private_file):
        with pytest.raises(KeyFileError) as caught:
            check(path, "TLS key")
        assert str(caught.value) == (f"TLS key {path} can be read or changed by other users (mode {mode:04o}); "
                                     f"only its owner may: chmod 600 {path}")


def test_a_directory_or_a_missing_file_is_not_a_key(tmp_path):
    with pytest.raises(KeyFileError, match="not a regular file"):
        check_private_file(tmp_path)
    with pytest.raises(FileNotFoundError):
        read_private_file(tmp_path / "absent.key")


def test_the_central_signing_key_readable_by_others_is_refused(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    path = tmp_path / "command-signing.key"
    path.write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    os.chmod(path, 0o600)
    assert isinstance(load_signing_key(path), ed25519.Ed25519PrivateKey)
    os.chmod(path, 0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        load_signing_key(path)


def test_seed_central_refuses_a_console_secret_key_and_a_ca_key_others_can_read(tmp_path):
    """The real command: a clear message and exit 1, never a traceback and never the key used."""
    def run(*args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "SEED_CENTRAL_SECRET_KEY")}
        return subprocess.run([sys.executable, "-m", "central.cli", "--db", str(tmp_path / "central.db"), *args],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)

    assert run("--pki", str(tmp_path / "pki"), "provision", "door-1", "--out", str(tmp_path / "b")).returncode == 0
    assert run("punches").returncode == 0  # the console's secret key is made on first use, beside the database
    secret = tmp_path / "central-secret.key"
    assert secret.exists() and secret.stat().st_mode & 0o777 == 0o600
    ca_key = tmp_path / "pki" / "ca.key"
    os.chmod(ca_key, 0o644)
    done = run("--pki", str(tmp_path / "pki"), "provision", "door-2", "--out", str(tmp_path / "b"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"site CA key {ca_key} can be read or changed by other users (mode 0644)" in done.stderr
    assert not (tmp_path / "b" / "door-2").exists()
    os.chmod(ca_key, 0o600)
    tls_key = tmp_path / "pki" / "central.key"
    assert run("--pki", str(tmp_path / "pki"), "broker-config", "--out", str(tmp_path / "broker")).returncode == 0
    assert tls_key.exists()  # made with the broker's configuration
    os.chmod(tls_key, 0o640)
    done = run("--pki", str(tmp_path / "pki"), "run", "--broker-port", "1")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"central TLS key {tls_key} can be read or changed by other users (mode 0640)" in done.stderr
    os.chmod(secret, 0o644)
    done = run("punches")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"console secret key {secret} can be read or changed by other users" in done.stderr
