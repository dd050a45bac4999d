"""Configuration: strict models, clear errors naming each key, --validate-config exit codes."""
from __future__ import annotations

from pathlib import Path

import pytest

from terminal.cli import main
from terminal.config import ConfigError, TerminalConfig, load_config

EXAMPLE = Path(__file__).resolve().parent.parent / "terminal" / "config.example.toml"


def test_example_configuration_is_valid_and_complete():
    config = load_config(EXAMPLE)
    assert config.device.id == "door-01" and config.hardware.profile == "pi"
    assert config.hardware.driver_for("camera") == "pi"


def test_every_field_is_described():
    def walk(model):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, TerminalConfig.__mro__[1]):
                walk(annotation)

    walk(TerminalConfig)


def write(tmp_path, text):
    path = tmp_path / "terminal.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_key_and_out_of_bounds_value_are_named(tmp_path):
    path = write(tmp_path, '[device]\nid = "d1"\ncolour = "red"\n[hardware.outputs]\ndoor_pulse_s = 99\n'
                           '[punch]\nday_starts_at = "25:00"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = dict(info.value.problems)
    assert problems["device.colour"] == "unknown key"
    assert "hardware.outputs.door_pulse_s" in problems
    assert "punch.day_starts_at" in problems


def test_per_device_driver_overrides_the_profile(tmp_path):
    config = load_config(write(tmp_path, '[hardware]\nprofile = "pi"\n[hardware.camera]\ndriver = "sim"\n'))
    assert config.hardware.driver_for("camera") == "sim"
    assert config.hardware.driver_for("outputs") == "pi"


def test_validate_config_command(tmp_path, capsys):
    assert main(["--validate-config", str(EXAMPLE)]) == 0
    assert "configuration is valid" in capsys.readouterr().out
    bad = write(tmp_path, '[device]\nid = "bad id!"\ntimezone = "Mars/Olympus"\n[sync]\nbatch_size = 5000\n')
    assert main(["--validate-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "device.id:" in err and "device.timezone:" in err and "sync.batch_size:" in err


@pytest.mark.parametrize("content, problem", [
    ("[device\nid = 1", "(syntax)"),
    (b"\xff\xfe\x00garbage", "(file)"),
])
def test_corrupt_configuration_files(tmp_path, capsys, content, problem):
    path = tmp_path / "terminal.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["--validate-config", str(path)]) == 2
    assert problem in capsys.readouterr().err


def test_missing_configuration_file(tmp_path, capsys):
    assert main(["--validate-config", str(tmp_path / "nope.toml")]) == 2
    assert "file not found" in capsys.readouterr().err


# -- strict types, and values that validate but cannot work ---------------------------------------
@pytest.mark.parametrize("text, key", [
    ('[punch]\ndebounce_s = "60"\n', "punch.debounce_s"),
    ("[punch]\ndebounce_s = 60.5\n", "punch.debounce_s"),
    ('[sync]\ntls = "no"\n', "sync.tls"),
    ("[sync]\nenabled = 0\n", "sync.enabled"),
    ("[face]\nenabled = 1\n", "face.enabled"),
    ('[hardware.camera]\nfps = "15"\n', "hardware.camera.fps"),
    ("[hardware.camera]\nfps = true\n", "hardware.camera.fps"),
    ('[face]\nzone = ["0.1", 0.0, 0.9, 1.0]\n', "face.zone.0"),
    ("[hardware.clock]\nntp_servers = [1]\n", "hardware.clock.ntp_servers.0"),
    ("[device]\nid = 7\n", "device.id"),
])
def test_values_of_the_wrong_type_are_refused_not_coerced(tmp_path, capsys, text, key):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert key in dict(info.value.problems)
    assert str(path) in str(info.value)
    assert main(["--validate-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and f"{key}:" in err


@pytest.mark.parametrize("zone", ["[0.9, 0.0, 0.1, 1.0]", "[0.1, 1.0, 0.9, 0.0]", "[0.5, 0.0, 0.5, 1.0]",
                                  "[-0.2, 0.0, 0.9, 1.0]", "[0.1, 0.0, 1.5, 1.0]"])
@pytest.mark.parametrize("key", ["zone", "tailgate_zone"])
def test_a_face_zone_whose_corners_are_out_of_order_or_outside_the_frame_is_refused(tmp_path, zone, key):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f"[face]\n{key} = {zone}\n"))
    message = dict(info.value.problems)[f"face.{key}"]
    assert "left" in message and "right" in message and "top" in message and "bottom" in message


def test_tailgating_counts_in_the_whole_frame_unless_narrowed_and_apart_from_the_capture_zone(tmp_path):
    from terminal.config import FaceSettings

    assert FaceSettings().tailgate_zone == (0.0, 0.0, 1.0, 1.0) and FaceSettings().zone != FaceSettings().tailgate_zone
    config = load_config(write(tmp_path, "[face]\ntailgate_zone = [0.05, 0, 0.95, 1]\ndescriptor_flip_average = false\n"))
    assert config.face.tailgate_zone == (0.05, 0.0, 0.95, 1.0) and config.face.zone == (0.1, 0.0, 0.9, 1.0)
    assert config.face.descriptor_flip_average is False and FaceSettings().descriptor_flip_average is True


@pytest.mark.parametrize("name", ['""', '"   "', '"."', '".."', '"backups/"'])
def test_an_empty_or_directory_database_name_is_refused(tmp_path, name):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f"[storage]\ndatabase = {name}\n"))
    assert "storage.database" in dict(info.value.problems)


def test_numbers_that_are_whole_still_fill_fractional_settings(tmp_path):
    config = load_config(write(tmp_path, "[hardware.camera]\nfps = 15\n[face]\nzone = [0, 0, 1, 1]\n"
                                         "[hardware.clock]\ncheck_interval_s = 600\n"))
    assert config.hardware.camera.fps == 15.0 and config.face.zone == (0.0, 0.0, 1.0, 1.0)


def test_the_shared_test_configuration_file_is_valid(config_file):
    config = load_config(config_file)
    assert config.hardware.profile == "sim" and config.storage.data_dir.name == "data"


def private_file(path, mode):
    import os

    path.write_text("x")
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("mode", [0o644, 0o666, 0o640, 0o604])
@pytest.mark.parametrize("section, key", [("storage", "key_file"), ("sync", "key_file")])
def test_a_key_file_others_can_read_is_refused_naming_it_and_the_chmod(tmp_path, capsys, mode, section, key):
    key_path = private_file(tmp_path / "secret.key", mode)
    path = write(tmp_path, f'[{section}]\n{key} = "{key_path}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = dict(info.value.problems)[f"{section}.{key}"]
    assert str(key_path) in message and f"mode {mode:04o}" in message and f"chmod 600 {key_path}" in message
    assert not message.startswith("Value error")
    assert main(["--validate-config", str(path)]) == 2
    assert f"chmod 600 {key_path}" in capsys.readouterr().err


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_key_file_only_its_owner_can_read_is_accepted(tmp_path, mode):
    key_path = private_file(tmp_path / "secret.key", mode)
    config = load_config(write(tmp_path, f'[storage]\nkey_file = "{key_path}"\n[sync]\nkey_file = "{key_path}"\n'))
    assert config.storage.key_file == key_path == config.sync.key_file


def test_a_key_file_not_there_yet_is_left_to_the_program_that_reads_it(tmp_path):
    # the example names /etc/seed/device.key, which a machine that only checks the file does not have
    config = load_config(write(tmp_path, f'[sync]\nkey_file = "{tmp_path / "absent.key"}"\n'))
    assert config.sync.key_file == tmp_path / "absent.key"


def test_face_liveness_defaults_to_the_prompted_challenge_and_the_profile_is_checked(tmp_path):
    from terminal.config import FaceSettings

    assert FaceSettings().liveness == "challenge" and FaceSettings().profile == "standard"
    config = load_config(write(tmp_path, '[face]\nprofile = "low_power"\nliveness = "blink_or_turn"\n'))
    assert config.face.profile == "low_power" and config.face.liveness == "blink_or_turn"
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, '[face]\nprofile = "turbo"\n'))
    assert "face.profile" in dict(info.value.problems)
