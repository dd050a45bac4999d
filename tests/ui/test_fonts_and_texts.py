"""Every visible string exists in both languages with the same placeholders, and a font on this system draws them all."""
from __future__ import annotations

import string
from pathlib import Path

import pytest

from terminal.i18n import LANGUAGES, TEXTS, t
from terminal.ui.fonts import FontError, all_texts, covers, find_cjk_font, font_faces

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_text_has_both_languages_with_the_same_placeholders():
    for key, entry in TEXTS.items():
        assert set(entry) == set(LANGUAGES), key
        assert all(entry[lang].strip() for lang in LANGUAGES), key
        assert placeholders(entry["zh"]) == placeholders(entry["en"]), key


def test_chinese_is_the_default_and_a_missing_key_shows_itself():
    assert t("pin.ok") == "确定" and t("pin.ok", "en") == "OK"
    assert t("no.such.key", "zh") == "no.such.key"


def test_the_font_found_draws_every_kiosk_text():
    choice = find_cjk_font()
    ranges = font_faces(str(choice.path))[0][2]
    assert covers(ranges, all_texts()) == []
    assert covers(ranges, "上班打卡成功") == []


def test_a_configured_font_without_chinese_is_refused_naming_what_it_lacks():
    if not DEJAVU.is_file():
        pytest.skip(f"{DEJAVU} not installed")
    with pytest.raises(FontError) as caught:
        find_cjk_font(DEJAVU)
    assert "cannot draw every text" in str(caught.value) and "DejaVuSans" in str(caught.value)


def test_a_configured_font_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(FontError, match="does not exist"):
        find_cjk_font(tmp_path / "missing.ttc")


def test_no_font_at_all_says_what_to_install(monkeypatch):
    import terminal.ui.fonts as fonts

    monkeypatch.setattr(fonts, "_candidates", lambda configured: [(str(DEJAVU), "fontconfig")])
    with pytest.raises(FontError, match="install fonts-wqy-microhei or fonts-noto-cjk"):
        find_cjk_font()
