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
