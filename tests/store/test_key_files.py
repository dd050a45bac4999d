"""The database key is used only when no one but its owner can read it, wherever it comes from."""
from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from terminal.config import StorageSettings, load_config
from terminal.store.database import open_store
from terminal.store.errors import DatabaseKeyError
from terminal.store.keys import load_or_create_key

REPO = Path(__file__).resolve().parents[2]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("mode", [0o644, 0o666, 0o640, 0o604])
def test_a_database_key_others_can_read_is_refused_with_the_chmod(tmp_path, mode):
    settings = StorageSettings(data_dir=tmp_path)
    with open_store(settings) as store:
        store.set_setting("kept", True)
    key, db = tmp_path / "db.key", tmp_path / "terminal.db"
    os.chmod(key, mode)
    before = digest(db)
    with pytest.raises(DatabaseKeyError) as info:
        open_store(settings)
    message = str(info.value)
    assert str(key) in message and f"mode {mode:04o}" in message and f"chmod 600 {key}" in message
    assert digest(db) == before and stat.S_IMODE(key.stat().st_mode) == mode
    os.chmod(key, 0o600)
    with open_store(settings) as store:
        assert store.get_setting("kept") is True


def test_a_systemd_credential_others_can_read_is_refused_and_0400_is_accepted(tmp_path, monkeypatch):
    creds = tmp_path / "creds"
    creds.mkdir()
    credential = creds / "seed-db-key"
    credential.write_text(os.urandom(32).hex())
    os.chmod(credential, 0o644)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    settings = StorageSettings(data_dir=tmp_path / "data")
    with pytest.raises(DatabaseKeyError, match=f"chmod 600 {credential}"):
        load_or_create_key(settings)
    assert not (tmp_path / "data" / "terminal.db").exists()
    os.chmod(credential, 0o400)  # as systemd's LoadCredential= writes it
    assert len(load_or_create_key(settings)) == 32


def test_a_key_made_meanwhile_by_the_other_process_is_read_not_replaced(tmp_path):
    from terminal.store.keys import create_key

    key = tmp_path / "db.key"
    first = create_key(key)
    assert create_key(key) == first
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_seed_terminal_refuses_a_readable_key_with_the_chmod_and_no_traceback(config_file):
    config = load_config(config_file)
    with open_store(config.storage):
        pass
    key = config.storage.data_dir / "db.key"
    os.chmod(key, 0o644)
    proc = subprocess.run([str(Path(sys.executable).parent / "seed-terminal"), "--config", config_file, "backup"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"seed-terminal: database key file {key} can be read or changed by other users (mode 0644); "
        f"only its owner may: chmod 600 {key}")
