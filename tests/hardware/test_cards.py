"""Card numbers: every presentation of the same bits normalises to one canonical string."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.cards import CardFormatError, normalize_card, parse_card, wiegand_bits

# One card (EM4100 id 0x0041E34E) as differently configured readers present it.
SAME_CARD = ["0004318030", "4318030", "0041E34E", "0x41e34e", "0X0041E34E", "65,58190", "65:58190",
             "W26:65,58190", "w34:65:58190", " 0004318030\n", wiegand_bits(4318030, 26), wiegand_bits(4318030, 34)]


@pytest.mark.parametrize("raw", SAME_CARD)
def test_one_card_many_presentations(raw):
    assert normalize_card(raw) == "4318030"


@pytest.mark.parametrize("raw, fmt, expected", [
    ("00123456", "hex", str(0x123456)),       # hex without letters needs the reader's format
    ("00123456", "auto", "123456"),           # ... auto takes digits as decimal
    ("00123456", "decimal", "123456"),
    ("123,45678", "wiegand26", str((123 << 16) | 45678)),
    ("8106606", "wiegand26", "8106606"),      # a Wiegand controller printing the 24 data bits in decimal
    ("1000,1", "wiegand34", str((1000 << 16) | 1)),
    (wiegand_bits(0xDEADBEEF, 34), "wiegand34", str(0xDEADBEEF)),
    ("FFFFFFFFFFFFFFFF", "hex", str(2 ** 64 - 1)),
    ("18446744073709551615", "decimal", str(2 ** 64 - 1)),
])
def test_formats(raw, fmt, expected):
    assert normalize_card(raw, fmt) == expected


def test_wiegand26_fields_and_parity_layout():
    bits = wiegand_bits((123 << 16) | 45678, 26)
    assert len(bits) == 26 and bits[1:9] == format(123, "08b") and bits[9:25] == format(45678, "016b")
    assert bits[:13].count("1") % 2 == 0 and bits[13:].count("1") % 2 == 1
    card = parse_card(bits)
    assert (card.facility, card.card, card.source) == (123, 45678, "wiegand26")


@pytest.mark.parametrize("raw, fmt, message", [
    ("", "auto", "empty card number"),
    ("   ", "auto", "empty card number"),
    ("0000000000", "auto", "card number 0"),
    ("12-34", "auto", "not a card number"),
    ("-5", "auto", "not a card number"),
    ("12G4", "auto", "not a card number"),
    ("0x", "auto", "hex card number may contain only"),
    ("12AB", "decimal", "only digits"),
    ("XYZ", "hex", "only 0-9 and A-F"),
    ("1" * 21, "decimal", "at most 20"),
    ("1" * 17, "hex", "at most 16"),
    ("99999999999999999999", "decimal", "wider than 64 bits"),
    ("256,1", "wiegand26", "facility code 256 is out of range 0-255"),
    ("1,65536", "auto", "card code 65536 is out of range"),
    ("16777216", "wiegand26", "does not fit in the 24 data bits"),
    ("12AB", "wiegand26", "Wiegand-26 reading must be"),
    ("1" * 25, "wiegand26", r"25 digits \(at most 20\)"),
    ("W26:1,2", "hex", "marked Wiegand-26 but the reader is set to hex"),
    ("123", "octal", "unknown card format"),
])
def test_bad_input_is_refused_with_a_reason(raw, fmt, message):
    with pytest.raises(CardFormatError, match=message):
        normalize_card(raw, fmt)


def test_parity_errors_name_the_failed_half():
    good = wiegand_bits(4318030, 26)
    lead = ("1" if good[0] == "0" else "0") + good[1:]
    trail = good[:-1] + ("1" if good[-1] == "0" else "0")
    with pytest.raises(CardFormatError, match="leading even-parity"):
        normalize_card(lead)
    with pytest.raises(CardFormatError, match="trailing odd-parity"):
        normalize_card(trail)


def test_non_text_is_refused():
    with pytest.raises(CardFormatError, match="must be text"):
        normalize_card(4318030)  # type: ignore[arg-type]


@given(st.integers(min_value=1, max_value=2 ** 24 - 1))
def test_round_trip_24_bit_cards(value):
    expected = str(value)
    forms = [str(value), f"{value:010d}", f"0x{value:x}", f"{value >> 16},{value & 0xFFFF}",
             wiegand_bits(value, 26), wiegand_bits(value, 34)]
    assert {normalize_card(form) for form in forms} == {expected}
    assert normalize_card(f"{value:08X}", "hex") == expected
    assert normalize_card(str(value), "wiegand26") == normalize_card(wiegand_bits(value, 26), "wiegand26") == expected


@given(st.integers(min_value=1, max_value=2 ** 32 - 1))
def test_round_trip_32_bit_cards(value):
    expected = str(value)
    forms = [f"{value:010d}", f"0x{value:08X}", f"{value >> 16}:{value & 0xFFFF}", wiegand_bits(value, 34)]
    assert {normalize_card(form) for form in forms} == {expected}
    assert normalize_card(f"{value:08x}", "hex") == expected
    assert normalize_card(f"{value >> 16},{value & 0xFFFF}", "wiegand34") == expected


@given(st.integers(min_value=1, max_value=2 ** 24 - 1), st.integers(min_value=0, max_value=25))
def test_any_single_bit_error_in_wiegand26_is_caught(value, position):
    bits = list(wiegand_bits(value, 26))
    bits[position] = "1" if bits[position] == "0" else "0"
    with pytest.raises(CardFormatError, match="parity error"):
        normalize_card("".join(bits))


@given(st.integers(min_value=1, max_value=2 ** 32 - 1), st.integers(min_value=0, max_value=33))
def test_any_single_bit_error_in_wiegand34_is_caught(value, position):
    bits = list(wiegand_bits(value, 34))
    bits[position] = "1" if bits[position] == "0" else "0"
    with pytest.raises(CardFormatError, match="parity error"):
        normalize_card("".join(bits), "wiegand34")


@given(st.text(max_size=30))
def test_arbitrary_text_never_crashes(text):
    try:
        result = normalize_card(text)
    except CardFormatError:
        return
    assert result.isdigit() and not result.startswith("0") and int(result) < 2 ** 64


def test_wiegand_bits_rejects_values_that_do_not_fit():
    with pytest.raises(ValueError):
        wiegand_bits(2 ** 24, 26)
    with pytest.raises(ValueError):
        wiegand_bits(1, 30)
