"""Voice feedback: espeak-ng renders real WAV files, measured here; aplay plays them to ALSA's null device."""
from __future__ import annotations

import os
import shutil
import time

import pytest

from terminal.config import SpeakerSettings
from terminal.hardware.errors import DeviceMissing, SpeakerError
from terminal.hardware.speaker import AplaySpeaker, SimSpeaker, guess_language, wav_info

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt install espeak-ng)")

needs_aplay = pytest.mark.skipif(shutil.which("aplay") is None, reason="aplay is not installed (apt install alsa-utils)")

PHRASES = {"refuse.not_recognised": "未识别，请重试", "hint.call_admin": "Please contact an admin"}


@pytest.fixture
def sim(tmp_path):
    with SimSpeaker(SpeakerSettings(), tmp_path / "voice") as speaker:
        yield speaker


def test_prerendered_phrases_are_real_speech(sim, tmp_path):
    paths = sim.prerender(PHRASES)
    assert set(paths) == set(PHRASES)
    for path in paths.values():
        info = wav_info(path)
        assert path.parent == tmp_path / "voice"
        assert info.sample_rate == 22050 and info.channels == 1 and info.sample_width == 2
        assert 0.5 < info.duration_s < 5
        assert info.rms > 1000 and info.peak > 8000  # speech, not silence
    assert sim.phrases["refuse.not_recognised"][1] == "zh" and sim.phrases["hint.call_admin"][1] == "en"


def test_say_phrase_plays_the_prerendered_file(sim):
    paths = sim.prerender(PHRASES)
    sim.say_phrase("refuse.not_recognised")
    assert sim.wait_idle()
    (played,) = sim.played
    assert played.path == paths["refuse.not_recognised"] and played.key == "refuse.not_recognised"
    assert played.voice == "cmn-latn-pinyin" and played.language == "zh"


def test_say_returns_at_once_and_caches_names_by_hash(sim):
    sim.say("张伟，上班打卡成功", "zh")
    sim.say("Zhang Wei, clocked in")  # language guessed: English
    assert sim.wait_idle()
    sim.say("张伟，上班打卡成功", "zh")
    assert sim.wait_idle()
    first, english, again = sim.played
    assert first.path == again.path  # synthesised once, reused
    assert english.voice == "en" and english.language == "en"
    names = " ".join(p.name for p in sim.renderer.cache_dir.iterdir())
    assert "张伟" not in names and "Zhang" not in names
    assert all(len(p.stem) == 32 for p in sim.renderer.cache_dir.glob("*.wav"))
    assert sim.texts == ["张伟，上班打卡成功", "Zhang Wei, clocked in", "张伟，上班打卡成功"]


def test_same_text_in_two_voices_gives_two_files(sim):
    zh, _ = sim.renderer.render("OK", "zh")
    en, _ = sim.renderer.render("OK", "en")
    assert zh != en and wav_info(zh).frames != wav_info(en).frames


def test_volume_scales_the_rendered_speech(tmp_path):
    with SimSpeaker(SpeakerSettings(volume=80), tmp_path / "voice") as speaker:
        loud = wav_info(speaker.prerender({"k": "未识别，请重试"})["k"]).rms
        speaker.set_volume(20)
        quiet_path, _ = speaker.renderer.render("未识别，请重试", "zh")
        quiet = wav_info(quiet_path).rms
        speaker.set_volume(0)
        silent = wav_info(speaker.renderer.render("未识别，请重试", "zh")[0]).rms
    assert quiet < loud * 0.5 and silent < 50
    with pytest.raises(ValueError, match="volume must be 0-100"):
        SimSpeaker(SpeakerSettings(), tmp_path / "v2").set_volume(150)


def test_bad_requests_are_clear_errors(sim):
    with pytest.raises(SpeakerError, match="unknown phrase 'nope'"):
        sim.say_phrase("nope")
    with pytest.raises(SpeakerError, match="no voice configured for language 'fr'"):
        sim.renderer.render("bonjour", "fr")
    sim.say("   ")  # nothing to say: ignored
    assert sim.wait_idle() and sim.played == []
    sim.close()
    with pytest.raises(SpeakerError, match="closed"):
        sim.say("hello")


def test_a_voice_espeak_lacks_is_a_missing_speaker(tmp_path):
    with pytest.raises(DeviceMissing, match="voice 'nosuchvoice' for zh"):
        SimSpeaker(SpeakerSettings(voice_zh="nosuchvoice"), tmp_path / "voice")


def test_without_espeak_the_speaker_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DeviceMissing, match="espeak-ng not found"):
        SimSpeaker(SpeakerSettings(), tmp_path / "voice")


def test_cache_keeps_the_most_recent_files(tmp_path):
    cache = tmp_path / "voice"
    cache.mkdir()
    for i in range(60):
        path = cache / f"{i:032x}.wav"
        path.write_bytes(b"x")
        os.utime(path, (1000 + i, 1000 + i))
    with SimSpeaker(SpeakerSettings(cache_max_files=50), cache) as speaker:
        left = sorted(p.name for p in cache.glob("*.wav"))
        assert len(left) == 50 and f"{0:032x}.wav" not in left and f"{59:032x}.wav" in left
        assert speaker.renderer.trim_cache() == 0


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


def test_guess_language():
    assert guess_language("张三，上班打卡成功") == "zh" and guess_language("Zhang San 上班") == "zh"
    assert guess_language("Zhang San, clocked in") == "en"


# -- the real player ------------------------------------------------------------------------------
@needs_aplay
def test_aplay_plays_to_the_null_device(tmp_path):
    with AplaySpeaker(SpeakerSettings(player="aplay -q -D null"), tmp_path / "voice") as speaker:
        speaker.prerender({"ok": "OK"})
        speaker.say_phrase("ok")
        assert speaker.wait_idle(timeout=15)
        assert [u.key for u in speaker.played] == ["ok"] and speaker.health() == "ok"


@needs_aplay
def test_a_player_that_cannot_play_is_reported_at_start(tmp_path):
    with pytest.raises(DeviceMissing, match="speaker: cannot play sound: aplay exit 1"):
        AplaySpeaker(SpeakerSettings(player="aplay -q -D nosuchdevice"), tmp_path / "voice")


def test_a_player_that_does_not_exist_is_missing(tmp_path):
    with pytest.raises(DeviceMissing, match="player 'no-such-player -q' not found"):
        AplaySpeaker(SpeakerSettings(player="no-such-player -q"), tmp_path / "voice")


def test_player_failures_later_are_reported_and_survived(tmp_path):
    # plays the tiny start-up probe, fails on anything longer (a sound card that vanished)
    player = "sh -c '[ $(stat -c %s \"$0\") -lt 5000 ]'"
    with AplaySpeaker(SpeakerSettings(player=player), tmp_path / "voice") as speaker:
        speaker.say("未识别，请重试")
        assert speaker.wait_idle()
        assert speaker.played == [] and speaker.health().startswith("error: sh exit 1")
        speaker.say("again")
        assert speaker.wait_idle() and speaker._thread.is_alive()


def test_results_faster_than_speech_drop_the_oldest_and_cut_the_one_playing(tmp_path):
    with AplaySpeaker(SpeakerSettings(player="sh -c 'exec sleep 3'"), tmp_path / "voice", probe=False) as speaker:
        for i in range(7):
            speaker.renderer.render(f"result {i}", "en")  # rendered beforehand: only playing takes time
        speaker.say("result 0", "en")
        assert wait_until(lambda: speaker.played)  # the player has started on it
        for i in range(1, 7):
            speaker.say(f"result {i}", "en")  # returns at once: nobody waits for the player
        assert wait_until(lambda: speaker.interrupted >= 1)  # the newer results cut "result 0" short
        speaker.close()
    said = [u.text for u in speaker.played]
    assert said[0] == "result 0" and "result 1" not in said and "result 2" not in said
    assert speaker.dropped >= 3


def test_background_prerender_fills_the_cache_while_idle(sim):
    paths = sim.prerender(PHRASES, wait=False)
    sim.say("Zhang Wei, clocked in")  # a result spoken while phrases are still being prepared
    assert sim.wait_idle()
    assert all(path.exists() for path in paths.values())
    assert sim.texts == ["Zhang Wei, clocked in"]
    sim.say_phrase("hint.call_admin")
    assert sim.wait_idle() and sim.played[-1].path == paths["hint.call_admin"]
