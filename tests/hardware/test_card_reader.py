"""Card readers: evdev key events decoded into card numbers; the simulator's queue; missing readers."""
from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from contract.cards import wiegand_bits
from terminal.config import CardReaderSettings
from terminal.hardware.card_reader import EvdevCardReader, KeyDecoder, SimCardReader, _key_maps, key_events
from terminal.hardware.errors import CardReaderGone, DeviceMissing

evdev = pytest.importorskip("evdev", reason="the evdev package is not installed (pip install evdev)")
ecodes = evdev.ecodes


def typed(decoder: KeyDecoder, events) -> list[str]:
    return [s for s in (decoder.feed(e) for e in events) if s is not None]


class StepClock:
    """A monotonic clock the test moves by hand, to cross the key timeout without sleeping."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_decoder_types_digits_and_shifted_hex_letters():
    decoder = KeyDecoder()
    events = key_events("0004318030") + key_events("0041E34E") + key_events("65,58190")
    assert all(isinstance(e, evdev.InputEvent) for e in events)
    assert typed(decoder, events) == ["0004318030", "0041E34E", "65,58190"]


def test_decoder_reads_keypad_digits_and_ignores_repeats_and_other_events():
    decoder = KeyDecoder()
    ev = evdev.InputEvent
    events = [ev(0, 0, ecodes.EV_KEY, ecodes.KEY_KP4, 1), ev(0, 1, ecodes.EV_KEY, ecodes.KEY_KP4, 2),  # autorepeat
              ev(0, 2, ecodes.EV_KEY, ecodes.KEY_KP4, 0), ev(0, 3, ecodes.EV_MSC, ecodes.MSC_SCAN, 5),
              ev(0, 4, ecodes.EV_KEY, ecodes.KEY_F1, 1), ev(0, 5, ecodes.EV_KEY, ecodes.KEY_2, 1),
              ev(0, 6, ecodes.EV_KEY, ecodes.KEY_KPENTER, 1)]
    assert typed(decoder, events) == ["42"]
    # a lone Enter types nothing
    assert typed(decoder, [ev(0, 7, ecodes.EV_KEY, ecodes.KEY_ENTER, 1)]) == []


def test_a_half_typed_number_is_discarded_after_the_key_timeout():
    clock = StepClock()
    decoder = KeyDecoder(key_timeout_s=0.5, clock=clock)
    head = key_events("0004", enter=False)
    assert typed(decoder, head) == []
    clock.now += 0.6  # the reader glitched: the rest never came
    assert typed(decoder, key_events("4318030")) == ["4318030"]
    assert decoder.discarded == 1
    assert typed(decoder, key_events("12", enter=False)) == []
    clock.now += 0.6
    assert decoder.expire() and typed(decoder, key_events("", enter=True)) == []


def test_runaway_typing_is_cut_off():
    decoder = KeyDecoder()
    assert typed(decoder, key_events("1" * 70)) == []
    assert decoder.discarded == 1
    assert typed(decoder, key_events("77")) == ["77"]


# -- simulator -----------------------------------------------------------------------------------
def test_sim_returns_normalised_numbers_in_order():
    with SimCardReader() as reader:
        for raw in ("0004318030", "0041E34E", wiegand_bits(4318030, 26)):
            reader.present(raw)
        assert [reader.read(timeout=1) for _ in range(3)] == ["4318030"] * 3
        assert reader.read(timeout=0.05) is None
        assert reader.presented[0] == "0004318030" and reader.delivered == ["4318030"] * 3


def test_sim_skips_unreadable_cards_with_a_reason():
    with SimCardReader() as reader:
        reader.present("12#4")
        reader.present(wiegand_bits(77, 26)[:-1] + ("0" if wiegand_bits(77, 26)[-1] == "1" else "1"))
        assert reader.read(timeout=0.1) is None
        reader.present("77")
        assert reader.read(timeout=1) == "77"
        assert len(reader.rejected) == 2 and "parity error" in reader.rejected[1]
        assert reader.accepted == 1


def test_sim_reader_format_setting_applies():
    with SimCardReader(CardReaderSettings(format="hex")) as reader:
        reader.present("00123456")
        assert reader.read(timeout=1) == str(0x123456)


def test_sim_read_waits_for_a_card_presented_later():
    with SimCardReader() as reader:
        threading.Timer(0.1, reader.present, ("0004318030",)).start()
        assert reader.read(timeout=3) == "4318030"


def test_sim_unplugged_reader_raises_until_plugged_in():
    with SimCardReader() as reader:
        reader.unplug()
        with pytest.raises(CardReaderGone, match="card_reader: simulated reader unplugged"):
            reader.read(timeout=0.1)
        assert reader.health().startswith("missing")
        reader.plug_in()
        reader.present("5")
        assert reader.read(timeout=1) == "5" and reader.health() == "ok"


# -- real reader ---------------------------------------------------------------------------------
def test_real_reader_at_a_missing_path_is_missing(tmp_path):
    settings = CardReaderSettings(device=str(tmp_path / "no-such-event-kbd"))
    with pytest.raises(DeviceMissing, match=r"card_reader: no input device at .*no-such-event-kbd"):
        EvdevCardReader(settings)


def test_real_reader_on_a_file_that_is_no_input_device(tmp_path):
    path = tmp_path / "not-a-device"
    path.write_bytes(b"")
    with pytest.raises(DeviceMissing, match="card_reader: cannot open"):
        EvdevCardReader(CardReaderSettings(device=str(path)))


def test_real_reader_without_the_evdev_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "evdev", None)
    with pytest.raises(DeviceMissing, match="evdev package is not installed"):
        EvdevCardReader(CardReaderSettings())


uinput = pytest.mark.skipif(not os.access("/dev/uinput", os.W_OK),
                            reason="/dev/uinput is not available here (modprobe uinput, run as root)")


@uinput
def test_real_reader_through_a_virtual_keyboard():
    plain, _, _, _ = _key_maps()
    capabilities = {ecodes.EV_KEY: sorted(set(plain) | {ecodes.KEY_ENTER, ecodes.KEY_LEFTSHIFT})}
    with evdev.UInput(capabilities, name="seed-test-rfid-reader") as device:
        time.sleep(0.2)  # udev creates the node
        with EvdevCardReader(CardReaderSettings(device=device.device.path)) as reader:
            with pytest.raises(OSError):
                evdev.InputDevice(device.device.path).grab()  # grabbed exclusively by the reader
            for event in key_events("0041E34E"):
                device.write_event(event)
            device.syn()
            assert reader.read(timeout=2) == "4318030"
            assert reader.read(timeout=0.1) is None
