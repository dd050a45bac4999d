"""The ZFM-20/R307 emulator, driven by the real client libraries and by raw bytes.

``pyfingerprint`` (the terminal's driver library) and Adafruit's ``adafruit_fingerprint``
(an independent client of the same sensor family) talk to the emulator over its pty
exactly as they would over a serial cable.
"""
from __future__ import annotations

import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial
from pyfingerprint.pyfingerprint import PyFingerprint

from terminal.hardware.fingerprint_sim import (
    SECURITY_THRESHOLDS,
    Features,
    FingerprintEmulator,
    capture_features,
    finger_template,
    frame,
    match_score,
    send_control,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def emulator(tmp_path):
    with FingerprintEmulator(tmp_path / "library.bin", capacity=1000) as emu:
        yield emu


@pytest.fixture
def finger(emulator):
    """pyfingerprint itself, connected to the emulator's pty."""
    client = PyFingerprint(emulator.port, 57600, 0xFFFFFFFF, 0x00000000)
    assert client.verifyPassword()
    yield client
    del client


def press(emulator: FingerprintEmulator, client: PyFingerprint, finger_id: str, buffer: int) -> None:
    emulator.place_finger(finger_id)
    assert client.readImage()
    client.convertImage(buffer)
    emulator.lift_finger()
    assert not client.readImage()


def enrol(emulator: FingerprintEmulator, client: PyFingerprint, finger_id: str) -> int:
    press(emulator, client, finger_id, 1)
    press(emulator, client, finger_id, 2)
    assert client.createTemplate()
    return client.storeTemplate()


def identify(emulator: FingerprintEmulator, client: PyFingerprint, finger_id: str) -> tuple[int, int]:
    emulator.place_finger(finger_id)
    assert client.readImage()
    client.convertImage(1)
    emulator.lift_finger()
    return client.searchTemplate()


class RawLine:
    """The host end of the serial line, for exact-byte tests."""

    def __init__(self, port: str):
        self.port = serial.Serial(port, 57600, timeout=0.5)

    def send(self, data: bytes) -> bytes:
        self.port.reset_input_buffer()
        self.port.write(data)
        return self.read_reply()

    def read_reply(self, silence_s: float = 0.3) -> bytes:
        """One packet, or b"" when the module stays silent for ``silence_s``."""
        out = b""
        deadline = time.monotonic() + silence_s
        while len(out) < 9 or len(out) < 9 + int.from_bytes(out[7:9], "big"):
            ready, _, _ = select.select([self.port.fileno()], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return out
            out += self.port.read(self.port.in_waiting or 1)
        return out

    def close(self) -> None:
        self.port.close()


@pytest.fixture
def raw(emulator):
    line = RawLine(emulator.port)
    yield line
    line.close()


# -- pyfingerprint: enrol, search, templates out and back in ---------------------------------
def test_pyfingerprint_enrols_and_searches(emulator, finger):
    assert finger.getTemplateCount() == 0
    position = enrol(emulator, finger, "alice-right-index")
    assert position == 0
    assert emulator.stored_positions() == [0]
    assert finger.getTemplateCount() == 1
    assert finger.getTemplateIndex(0)[0] is True

    found, score = identify(emulator, finger, "alice-right-index")
    assert found == 0 and score >= SECURITY_THRESHOLDS[finger.getSecurityLevel()]
    assert identify(emulator, finger, "bob-left-thumb") == (-1, -1)

    assert emulator.commands()[:8] == ["VfyPwd", "TempleteNum", "GenImg", "Img2Tz", "GenImg", "GenImg", "Img2Tz", "GenImg"]
    assert "RegModel" in emulator.commands() and "Store" in emulator.commands()


def test_two_presses_of_different_fingers_do_not_combine(emulator, finger):
    press(emulator, finger, "alice", 1)
    press(emulator, finger, "bob", 2)
    assert finger.compareCharacteristics() == 0
    assert finger.createTemplate() is False
    press(emulator, finger, "alice", 2)
    assert finger.compareCharacteristics() >= 150


def test_template_travels_from_one_sensor_to_another(emulator, finger, tmp_path):
    position = enrol(emulator, finger, "carol")
    finger.loadTemplate(position, 1)
    template = finger.downloadCharacteristics(1)  # UpChar: sensor → host, as data packets
    assert len(template) == 512 and bytes(template) == emulator.template_at(position)

    with FingerprintEmulator(tmp_path / "second.bin", capacity=200) as second:
        other = PyFingerprint(second.port, 57600, 0xFFFFFFFF, 0)
        assert other.verifyPassword()
        assert other.uploadCharacteristics(1, template)  # DownChar: host → sensor, then read back
        assert other.storeTemplate(42, 1) == 42
        assert second.stored_positions() == [42]
        assert identify(second, other, "carol")[0] == 42
        assert identify(second, other, "dave") == (-1, -1)
        assert "DownChar:data" in second.commands()


def test_system_parameters_come_from_the_module(tmp_path):
    with FingerprintEmulator(tmp_path / "lib.bin", capacity=300, security_level=4) as emu:
        client = PyFingerprint(emu.port, 57600, 0xFFFFFFFF, 0)
        assert client.verifyPassword()
        status, system_id, capacity, level, address, packet_code, baud_n = client.getSystemParameters()
        assert (capacity, level, address, packet_code, baud_n) == (300, 4, 0xFFFFFFFF, 2, 6)
        assert status & 0b0100  # handshake password verified
        client.setSecurityLevel(2)
        assert client.getSecurityLevel() == 2
        client.setMaxPacketSize(32)
        assert client.getMaxPacketSize() == 32
        emu.store_finger("erin", 3)
        client.loadTemplate(3, 1)
        assert bytes(client.downloadCharacteristics(1)) == finger_template("erin")  # 16 data packets of 32 bytes
        assert client.getStorageCapacity() == 300
        line = RawLine(emu.port)
        try:  # register 7 does not exist: 0x1A, invalid register number
            assert line.send(frame(0x01, bytes([0x0E, 7, 1]))) == bytes.fromhex("ef01ffffffff0700031a0024")
        finally:
            line.close()
    with FingerprintEmulator(tmp_path / "lib.bin") as again:  # settings live in the module's flash
        assert (again.capacity, again.security_level) == (300, 2)


def test_delete_empty_random_and_invalid_positions(emulator, finger):
    for name in ("a", "b", "c"):
        emulator.store_finger(name)
    assert finger.getTemplateCount() == 3
    assert finger.deleteTemplate(1)
    assert emulator.stored_positions() == [0, 2]
    with pytest.raises(Exception, match="could not be read"):
        finger.loadTemplate(1, 1)  # empty position: 0x0C
    assert finger.clearDatabase()
    assert emulator.stored_positions() == []
    numbers = {finger.generateRandomNumber() for _ in range(3)}
    assert len(numbers) == 3 and all(0 <= n < 2**32 for n in numbers)


def test_image_upload(emulator, finger, tmp_path):
    emulator.place_finger("frank")
    assert finger.readImage()
    target = tmp_path / "finger.bmp"
    finger.downloadImage(str(target))  # UpImage: 288 data packets of 4-bit pixels
    from PIL import Image

    with Image.open(target) as image:
        assert image.size == (256, 288)
        assert len(set(image.tobytes())) > 1


def test_poor_images_get_the_datasheet_codes(emulator, finger):
    emulator.place_finger("gina", quality="messy")
    assert finger.readImage()
    with pytest.raises(Exception, match="too messy"):
        finger.convertImage(1)
    emulator.place_finger("gina", quality="partial")
    assert finger.readImage()
    with pytest.raises(Exception, match="too few feature points"):
        finger.convertImage(1)
    emulator.place_finger("gina", quality="fail")
    with pytest.raises(Exception, match="Could not read image"):
        finger.readImage()


def test_fault_injection_flash_error(emulator, finger):
    press(emulator, finger, "hana", 1)
    emulator.fail_next(0x06, 0x18)
    with pytest.raises(Exception, match="Error writing to flash"):
        finger.storeTemplate(5, 1)
    assert finger.storeTemplate(5, 1) == 5


# -- persistence and capacity ----------------------------------------------------------------
def test_library_persists_across_restart(tmp_path):
    path = tmp_path / "flash.bin"
    with FingerprintEmulator(path, capacity=100) as emu:
        client = PyFingerprint(emu.port, 57600, 0xFFFFFFFF, 0)
        position = enrol(emu, client, "ivan")
        del client
    with FingerprintEmulator(path) as emu:
        client = PyFingerprint(emu.port, 57600, 0xFFFFFFFF, 0)
        assert client.verifyPassword()
        assert client.getTemplateCount() == 1 and client.getStorageCapacity() == 100
        found, score = identify(emu, client, "ivan")
        assert found == position and score >= SECURITY_THRESHOLDS[3]


def test_library_file_in_use_or_foreign_is_refused(tmp_path):
    path = tmp_path / "flash.bin"
    with FingerprintEmulator(path, capacity=10):
        with pytest.raises(ValueError, match="in use"):
            FingerprintEmulator(path)
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a library")
    with pytest.raises(ValueError, match="not a fingerprint emulator library"):
        FingerprintEmulator(foreign)
    assert foreign.read_text() == "not a library"
    with FingerprintEmulator(path) as emu:
        emu.store_finger("x", 9)
    with pytest.raises(ValueError, match="capacity of at least 10"):
        FingerprintEmulator(path, capacity=5)


def test_library_full(tmp_path):
    with FingerprintEmulator(tmp_path / "small.bin", capacity=3) as emu:
        for name in ("a", "b", "c"):
            emu.store_finger(name)
        client = PyFingerprint(emu.port, 57600, 0xFFFFFFFF, 0)
        press(emu, client, "d", 1)
        with pytest.raises(ValueError, match="position number is invalid"):
            client.storeTemplate()  # pyfingerprint finds no free bit in the index table
        line = RawLine(emu.port)
        try:  # Store at position 3 of a 3-template library: 0x0B, page beyond the library
            assert line.send(frame(0x01, bytes([0x06, 0x01, 0x00, 0x03]))) == bytes.fromhex("ef01ffffffff0700030b0015")
        finally:
            line.close()
        with pytest.raises(ValueError, match="full"):
            emu.store_finger("e")


# -- exact bytes ---------------------------------------------------------------------------
def test_datasheet_examples_byte_for_byte(raw, emulator):
    # GenImg as printed in the manual, no finger: confirmation 02
    assert raw.send(bytes.fromhex("ef01ffffffff010003010005")) == bytes.fromhex("ef01ffffffff07000302000c")
    # VfyPwd with the default password 0: confirmation 00
    assert raw.send(bytes.fromhex("ef01ffffffff0100071300000000001b")) == bytes.fromhex("ef01ffffffff07000300000a")
    # TempleteNum: confirmation 00, two bytes of count
    emulator.store_finger("jo")
    assert raw.send(bytes.fromhex("ef01ffffffff0100031d0021")) == bytes.fromhex("ef01ffffffff070005000001000d")


def test_wrong_checksum_gets_the_packet_error_reply(raw, emulator):
    good = bytes.fromhex("ef01ffffffff0100031d0021")
    bad = good[:-1] + bytes([good[-1] ^ 0xFF])
    assert raw.send(bad) == bytes.fromhex("ef01ffffffff07000301000b")
    assert emulator.history[-1].code == 0x01 and emulator.history[-1].name == "packet-error:checksum"
    assert raw.send(good)[9] == 0x00  # the line is in step again


def test_unknown_instruction_gets_the_r307_error_reply(raw, emulator):
    aura_led = frame(0x01, bytes([0x35, 0x01, 0x80, 0x01, 0x00]))  # an R503 instruction the R307 lacks
    assert raw.send(aura_led) == bytes.fromhex("ef01ffffffff07000301000b")
    assert emulator.history[-1].name == "unknown:0x35"


def test_other_addresses_are_ignored_and_noise_is_skipped(raw, emulator):
    assert raw.send(frame(0x01, bytes([0x1D]), address=0x12345678)) == b""
    assert emulator.history[-1].name == "wrong-address"
    assert raw.send(b"\x00\x55\xaa" + frame(0x01, bytes([0x1D]))) == bytes.fromhex("ef01ffffffff070005000000000c")
    assert raw.send(frame(0x01, b"")) == bytes.fromhex("ef01ffffffff07000301000b")  # empty command


def test_index_table_bit_layout(raw, emulator):
    for position in (0, 9, 300):
        emulator.store_finger(f"p{position}", position)
    page0 = raw.send(frame(0x01, bytes([0x1F, 0])))
    page1 = raw.send(frame(0x01, bytes([0x1F, 1])))
    assert len(page0) == 12 + 32 and page0[9] == 0x00
    table0, table1 = page0[10:42], page1[10:42]
    assert table0[0] == 0b0000_0001 and table0[1] == 0b0000_0010 and not any(table0[2:])
    assert table1[5] == 1 << 4 and sum(table1) == 16  # 300 = 256 + 5 * 8 + 4


def test_password_must_be_verified_first(tmp_path):
    with FingerprintEmulator(tmp_path / "lib.bin", password=0x0BADCAFE) as emu:
        wrong = PyFingerprint(emu.port, 57600, 0xFFFFFFFF, 0)
        assert wrong.verifyPassword() is False
        with pytest.raises(Exception, match="0x21"):
            wrong.getTemplateCount()
        del wrong
        right = PyFingerprint(emu.port, 57600, 0xFFFFFFFF, 0x0BADCAFE)
        assert right.verifyPassword() is True
        assert right.getTemplateCount() == 0
        assert all(e.params == b"" for e in emu.history if e.name == "VfyPwd")  # no password kept


def test_unplugged_module_is_silent_until_replugged(raw, emulator):
    count = frame(0x01, bytes([0x1D]))
    emulator.unplug()
    assert raw.send(count) == b""
    emulator.replug()
    assert raw.send(count) == bytes.fromhex("ef01ffffffff070005000000000c")


# -- the matcher model -------------------------------------------------------------------------
def test_matcher_separates_fingers():
    same, other = [], []
    for i in range(40):
        template = Features.decode(finger_template(f"m{i}"))
        same.append(match_score(capture_features(f"m{i}", 1000 + i), template))
        other.append(match_score(capture_features(f"n{i}", 5), template))
    assert min(same) >= 150 and max(other) <= 25
    assert min(same) > SECURITY_THRESHOLDS[5] > SECURITY_THRESHOLDS[1] > max(other)
    assert Features.decode(b"\0" * 512) is None


# -- a second, independent client of the same sensor family -----------------------------------
def test_adafruit_fingerprint_library_talks_to_the_emulator(emulator):
    adafruit_fingerprint = pytest.importorskip("adafruit_fingerprint")
    uart = serial.Serial(emulator.port, baudrate=57600, timeout=1)
    try:
        sensor = adafruit_fingerprint.Adafruit_Fingerprint(uart)  # VfyPwd + ReadSysPara
        assert (sensor.library_size, sensor.security_level, sensor.data_packet_size) == (1000, 3, 2)
        emulator.place_finger("kim")
        assert sensor.get_image() == adafruit_fingerprint.OK
        assert sensor.image_2_tz(1) == adafruit_fingerprint.OK
        assert sensor.get_image() == adafruit_fingerprint.OK
        assert sensor.image_2_tz(2) == adafruit_fingerprint.OK
        assert sensor.create_model() == adafruit_fingerprint.OK
        assert sensor.store_model(7) == adafruit_fingerprint.OK
        assert sensor.read_templates() == adafruit_fingerprint.OK and sensor.templates == [7]
        assert sensor.count_templates() == adafruit_fingerprint.OK and sensor.template_count == 1
        assert sensor.get_image() == adafruit_fingerprint.OK and sensor.image_2_tz(1) == adafruit_fingerprint.OK
        assert sensor.finger_search() == adafruit_fingerprint.OK and sensor.finger_id == 7
        assert sensor.finger_fast_search() == adafruit_fingerprint.OK and sensor.finger_id == 7
        data = sensor.get_fpdata("char", 1)
        assert len(data) == 512
        assert sensor.send_fpdata(data, "char", 2)
        assert sensor.compare_templates() == adafruit_fingerprint.OK
        emulator.lift_finger()
        assert sensor.get_image() == adafruit_fingerprint.NOFINGER
        assert sensor.delete_model(7) == adafruit_fingerprint.OK
        assert sensor.count_templates() == adafruit_fingerprint.OK and sensor.template_count == 0
        assert sensor.set_led() == adafruit_fingerprint.PACKETRECIEVEERR  # no aura LED on an R307
    finally:
        uart.close()


# -- standalone ----------------------------------------------------------------------------------
def test_standalone_emulator_with_control_socket(tmp_path):
    link, control, library = tmp_path / "finger", tmp_path / "finger.sock", tmp_path / "lib.bin"
    proc = subprocess.Popen([sys.executable, "-m", "terminal.hardware.fingerprint_sim", "--link", str(link),
                             "--library", str(library), "--capacity", "50", "--control", str(control)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not (link.is_symlink() and control.exists()):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the emulator did not come up"
            time.sleep(0.05)
        client = PyFingerprint(str(link), 57600, 0xFFFFFFFF, 0)
        assert client.verifyPassword() and client.getStorageCapacity() == 50
        assert send_control(control, "place lena") == "ok finger lena placed"
        assert client.readImage()
        client.convertImage(1)
        assert send_control(control, "lift") == "ok lifted"
        assert not client.readImage()
        assert send_control(control, "enrol lena 4") == "ok stored at 4"
        assert client.searchTemplate()[0] == 4
        assert send_control(control, "positions") == "ok 4"
        assert send_control(control, "place lena sticky").startswith("error quality must be one of")
        assert send_control(control, "fly away").startswith("error unknown command")
        assert "Search" in send_control(control, "history 3")
        del client
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert not link.exists() and not control.exists()
    with FingerprintEmulator(library) as emu:
        assert emu.stored_positions() == [4]


def test_standalone_emulator_refuses_a_foreign_library(tmp_path):
    foreign = tmp_path / "photo.jpg"
    foreign.write_bytes(b"\xff\xd8\xff\xe0 not a library")
    proc = subprocess.run([sys.executable, "-m", "terminal.hardware.fingerprint_sim", "--link", str(tmp_path / "f"),
                           "--library", str(foreign)], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "not a fingerprint emulator library" in proc.stderr
    assert foreign.read_bytes() == b"\xff\xd8\xff\xe0 not a library"
