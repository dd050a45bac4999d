"""seed-sync on the command line: clear refusals of a configuration it cannot use, the status line."""
from __future__ import annotations

import json

from sync_support import Terminal, central_ids, device_config, write_config_file

from sync_agent.cli import main as sync_main


def test_missing_certificate_is_a_configuration_error(site, broker_up, tmp_path, capsys):
    config = device_config(site, broker_up, "door-a", tmp_path / "data", cert_file=str(tmp_path / "nope.crt"))
    config_file = write_config_file(config, tmp_path / "terminal.toml")
    assert sync_main(["--config", str(config_file), "--until-empty", "--timeout", "5"]) == 2
    assert f"sync.cert_file: {tmp_path / 'nope.crt'} does not exist" in capsys.readouterr().err


def test_a_device_key_from_the_credentials_directory_others_can_read_is_refused(site, broker_up, tmp_path, capsys,
                                                                                  monkeypatch):
    """The key seed-sync would use, even one systemd's LoadCredential= hands over, must be the owner's alone."""
    import os
    import shutil

    config = device_config(site, broker_up, "door-a", tmp_path / "data")
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    key = credentials / config.sync.key_credential
    shutil.copyfile(config.sync.key_file, key)
    os.chmod(key, 0o644)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    config_file = write_config_file(config, tmp_path / "terminal.toml")
    assert sync_main(["--config", str(config_file), "--until-empty", "--timeout", "5"]) == 2
    assert (f"device TLS key {key} can be read or changed by other users (mode 0644); only its owner may: "
            f"chmod 600 {key}") in capsys.readouterr().err


def test_bad_configuration_names_the_key(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text('[sync]\nbatch_size = 900\n', encoding="utf-8")
    assert sync_main(["--config", str(tmp_path / "bad.toml")]) == 2
    assert "sync.batch_size" in capsys.readouterr().err


def test_drain_then_status(site, broker_up, central, tmp_path, capsys):
    config = device_config(site, broker_up, "door-a", tmp_path / "data")
    terminal = Terminal(config)
    try:
        made = terminal.punch(7)
    finally:
        terminal.close()
    config_file = write_config_file(config, tmp_path / "terminal.toml")
    assert sync_main(["--config", str(config_file), "--no-ntp", "--until-empty", "--timeout", "30"]) == 0
    assert sorted(central_ids()) == sorted(made)
    capsys.readouterr()
    assert sync_main(["--config", str(config_file), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["queue_depth"] == 0 and status["last_ack_at"] and status["connected"] is False
