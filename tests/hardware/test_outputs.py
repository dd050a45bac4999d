"""Door relay, LEDs and buzzer on gpiozero's MockFactory: pin histories and timings."""
from __future__ import annotations

import time
from itertools import pairwise

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from terminal.config import OutputSettings
from terminal.hardware.errors import DeviceMissing
from terminal.hardware.outputs import GpioOutputs, SimOutputs

PULSE = 0.3
LED = 0.2
SLACK = 0.15  # threads on a busy 2-core machine wake late, never early


def settings(**changes) -> OutputSettings:
    values = dict(door_pulse_s=PULSE, led_on_s=LED, beep_s=0.05, beep_gap_s=0.05)
    values.update(changes)
    return OutputSettings(**values)


def wait_until(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def outputs():
    with SimOutputs(settings()) as sim:
        yield sim


def test_relay_is_active_low_and_released_at_rest(outputs):
    # relay boards pull the coil in when the pin is LOW: at rest the pin is driven HIGH
    assert outputs.levels("relay") == [(0.0, True)]
    assert outputs.levels("green") == [(0.0, False)] and outputs.levels("red") == [(0.0, False)]
    assert outputs.pin("relay").function == "output" and not outputs.door_open


def test_accept_lights_green_beeps_once_and_pulses_the_door(outputs):
    started = time.monotonic()
    outputs.signal_accept(open_door=True)
    # the call returned while the door is still held open: it does not wait for the pulse
    assert outputs.door_open and outputs.is_active("green")
    assert time.monotonic() - started < PULSE
    assert wait_until(lambda: len(outputs.relay_pulses()) == 1 and not outputs.door_open)
    assert wait_until(lambda: not outputs.is_active("green"))

    levels = [level for _, level in outputs.levels("relay")]
    assert levels == [True, False, True]  # high (rest) → low (open) → high (closed)
    (pulse,) = outputs.relay_pulses()
    assert PULSE - 0.01 <= pulse.length <= PULSE + SLACK
    (green,) = outputs.pulses("green")
    assert LED - 0.01 <= green.length <= LED + SLACK
    beeps = outputs.pulses("buzzer")
    assert len(beeps) == 1 and 0.04 <= beeps[0].length <= 0.05 + SLACK
    assert outputs.pulses("red") == []


def test_accept_without_door_leaves_the_relay_alone(outputs):
    outputs.signal_accept(open_door=False)
    assert wait_until(lambda: not outputs.is_active("green"))
    assert outputs.levels("relay") == [(0.0, True)]
    assert len(outputs.pulses("green")) == 1


def test_refuse_lights_red_and_beeps_three_times(outputs):
    outputs.signal_refuse()
    assert outputs.is_active("red") and not outputs.door_open
    assert wait_until(lambda: len(outputs.pulses("buzzer")) == 3 and not outputs.is_active("buzzer"))
    assert wait_until(lambda: not outputs.is_active("red"))
    beeps = outputs.pulses("buzzer")
    assert [round(b.length, 2) >= 0.04 for b in beeps] == [True] * 3
    gaps = [b.start - (a.start + a.length) for a, b in pairwise(beeps)]
    assert all(0.04 <= gap <= 0.05 + SLACK for gap in gaps)
    assert outputs.relay_pulses() == [] and outputs.pulses("green") == []


def test_refusal_after_accept_turns_green_off_but_keeps_the_door_open(outputs):
    outputs.signal_accept(open_door=True)
    outputs.signal_refuse()
    assert not outputs.is_active("green") and outputs.is_active("red") and outputs.door_open
    assert wait_until(lambda: not outputs.door_open)


def test_beep_patterns_are_configurable():
    with SimOutputs(settings(accept_beeps=2, refuse_beeps=0)) as sim:
        sim.signal_accept(open_door=False)
        assert wait_until(lambda: len(sim.pulses("buzzer")) == 2 and not sim.is_active("buzzer"))
        sim.clear_history()
        sim.signal_refuse()
        assert wait_until(lambda: not sim.is_active("red"))
        assert sim.pulses("buzzer") == []


def test_open_door_for_a_given_time_and_a_new_pulse_extends_it(outputs):
    outputs.open_door(0.2)
    time.sleep(0.1)
    outputs.open_door(0.3)  # replaces the running pulse: open until 0.3 s from now
    assert wait_until(lambda: not outputs.door_open)
    (pulse,) = outputs.relay_pulses()
    assert 0.4 - 0.01 <= pulse.length <= 0.4 + SLACK


@pytest.mark.parametrize("seconds", [0, -1, 601])
def test_open_door_refuses_silly_times(outputs, seconds):
    with pytest.raises(ValueError, match="door open time"):
        outputs.open_door(seconds)
    assert outputs.levels("relay") == [(0.0, True)]


def test_active_high_relay_and_buzzer():
    with SimOutputs(settings(relay_active_high=True, buzzer_active_high=False)) as sim:
        assert sim.levels("relay") == [(0.0, False)] and sim.levels("buzzer") == [(0.0, True)]
        sim.signal_accept(open_door=True)
        assert sim.pin("relay").state == 1 and sim.pin("buzzer").state == 0
        assert wait_until(lambda: not sim.door_open and not sim.is_active("buzzer"))
        assert [level for _, level in sim.levels("relay")] == [False, True, False]


def test_close_mid_pulse_locks_the_door_and_frees_the_pins():
    factory = MockFactory()
    sim = SimOutputs(settings(door_pulse_s=5), pin_factory=factory)
    sim.signal_accept(open_door=True)
    assert sim.door_open
    sim.close()
    assert sim.pin("relay").state == 1 and sim.pin("green").state == 0  # released, dark
    with pytest.raises(RuntimeError, match="closed"):
        sim.signal_refuse()
    with SimOutputs(settings(), pin_factory=factory) as again:  # pins are free for the next owner
        assert again.levels("relay")[0] == (0.0, True)


def test_two_simulated_terminals_do_not_share_pins():
    with SimOutputs(settings()) as one, SimOutputs(settings()) as two:
        one.signal_refuse()
        assert one.is_active("red") and not two.is_active("red")
        assert one.factory is not two.factory


def test_same_pin_twice_is_a_clear_error():
    with pytest.raises(DeviceMissing, match="outputs: GPIO pins not usable"):
        SimOutputs(settings(green_led_pin=17))  # the relay's pin


def test_real_outputs_without_gpio_are_missing_not_simulated(monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.setattr(Device, "pin_factory", None)
    try:
        outputs = GpioOutputs(settings())
    except DeviceMissing as exc:
        assert exc.device == "outputs" and "no GPIO available" in str(exc)
    else:  # on a Raspberry Pi this opens the real pins
        with outputs:
            assert not isinstance(outputs.pin_factory, MockFactory)


def test_real_outputs_refuse_the_mock_pin_factory(monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    with pytest.raises(DeviceMissing, match="mock pins"):
        GpioOutputs(settings())
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY")
    monkeypatch.setattr(Device, "pin_factory", MockFactory())  # set globally by some other code
    with pytest.raises(DeviceMissing, match="mock factory"):
        GpioOutputs(settings())
