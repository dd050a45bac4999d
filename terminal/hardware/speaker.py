"""Spoken feedback: espeak-ng renders WAV files once, a background worker plays them.

Fixed phrases are rendered at start (:meth:`Speaker.prerender`), so a result is heard
as soon as it is decided; any other text (a name with its greeting) is rendered the
first time it is said and cached. Cache files are named by a hash of the voice, the
loudness, the rate and the text, so the cache directory never shows a name.

:class:`AplaySpeaker` plays through a command (``aplay -q`` by default) and fails
at start, naming the reason, when the command cannot play; :class:`SimSpeaker`
renders the same files and records them in ``played`` instead, for tests to
measure with :func:`wav_info`. ``say`` never blocks: the worker plays one utterance
at a time and drops the oldest waiting ones when results come faster than speech.
"""
from __future__ import annotations

import collections
import hashlib
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from terminal.config import SpeakerSettings
from terminal.hardware.errors import DeviceMissing, SpeakerError

log = logging.getLogger(__name__)

ESPEAK = "espeak-ng"
MAX_TEXT = 400
MAX_PENDING = 3
RENDER_TIMEOUT_S = 20.0


@runtime_checkable
class Speaker(Protocol):
    def prerender(self, phrases: dict[str, str], language: str | None = None, wait: bool = True) -> dict[str, Path]:
        """Render fixed phrases (key -> text) so ``say_phrase(key)`` starts without delay.

        ``wait=False`` renders them on the worker whenever nothing is being said.
        """
        ...

    def say(self, text: str, language: str | None = None) -> None:
        """Speak ``text`` in ``language`` ("zh"/"en"; guessed from the text when None); returns at once."""
        ...

    def say_phrase(self, key: str) -> None:
        """Speak a phrase given to :meth:`prerender` by its key; returns at once."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Utterance:
    text: str
    language: str
    voice: str
    path: Path
    key: str | None = None  # the phrase key when said with say_phrase


@dataclass(frozen=True)
class WavInfo:
    sample_rate: int
    channels: int
    sample_width: int
    frames: int
    duration_s: float
    rms: float  # of 16-bit samples, 0..32768
    peak: int


def wav_info(path: Path | str) -> WavInfo:
    """Format, length and loudness of a 16-bit PCM WAV file."""
    import numpy as np

    with wave.open(str(path), "rb") as wav:
        rate, channels, width, frames = wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes()
        raw = wav.readframes(frames)
    if width != 2:
        raise ValueError(f"{path}: expected 16-bit samples, got {8 * width}-bit")
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    rms = float(np.sqrt(np.mean(samples ** 2))) if samples.size else 0.0
    peak = int(np.abs(samples).max()) if samples.size else 0
    return WavInfo(rate, channels, width, frames, frames / rate if rate else 0.0, rms, peak)


def guess_language(text: str) -> str:
    """'zh' when the text contains CJK characters, else 'en'."""
    return "zh" if any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text) else "en"


def write_silence(path: Path, seconds: float = 0.05, rate: int = 22050) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\0\0" * int(rate * seconds))
    return path


class EspeakRenderer:
    """Text to cached WAV files with espeak-ng; safe to call from several threads."""

    def __init__(self, cache_dir: Path, voices: dict[str, str], volume: int = 80, rate_wpm: int = 160,
                 max_files: int = 2000, command: str = ESPEAK):
        self.cache_dir = Path(cache_dir)
        self.voices = dict(voices)
        self.volume = volume
        self.rate_wpm = rate_wpm
        self.max_files = max_files
        self.command = command
        self._renders = 0
        self._lock = threading.Lock()
        if shutil.which(command) is None:
            raise DeviceMissing("speaker", f"{command} not found (install the espeak-ng package)")
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeviceMissing("speaker", f"voice cache {self.cache_dir} not writable: {exc.strerror or exc}") from None
        self.trim_cache()

    @property
    def amplitude(self) -> int:
        """espeak-ng's -a (0-200; 100 is its normal loudness) for the volume percentage."""
        return max(0, min(200, round(self.volume * 2)))

    def voice_for(self, language: str) -> str:
        try:
            return self.voices[language]
        except KeyError:
            raise SpeakerError(f"no voice configured for language {language!r} (have {', '.join(self.voices)})") from None

    def check_voices(self) -> None:
        """Render a probe with every configured voice; a voice espeak-ng lacks is a DeviceMissing."""
        for language, voice in self.voices.items():
            with tempfile.TemporaryDirectory(dir=self.cache_dir) as tmp:
                try:
                    self._espeak("1", voice, Path(tmp) / "probe.wav")
                except SpeakerError as exc:
                    raise DeviceMissing("speaker", f"voice {voice!r} for {language}: {exc.reason}") from None

    def cache_path(self, text: str, voice: str) -> Path:
        digest = hashlib.sha256(f"{voice}\0{self.amplitude}\0{self.rate_wpm}\0{text}".encode()).hexdigest()
        return self.cache_dir / f"{digest[:32]}.wav"

    def render(self, text: str, language: str) -> tuple[Path, str]:
        """The WAV file speaking ``text`` (rendered now unless cached) and the voice used."""
        voice = self.voice_for(language)
        path = self.cache_path(text, voice)
        if path.exists():
            try:
                os.utime(path)  # recently used files survive trimming
            except OSError:
                pass
            return path, voice
        fd, tmp_name = tempfile.mkstemp(suffix=".wav.part", dir=self.cache_dir)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            self._espeak(text, voice, tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        with self._lock:
            self._renders += 1
            trim = self._renders % 100 == 0
        if trim:
            self.trim_cache()
        return path, voice

    def _espeak(self, text: str, voice: str, out: Path) -> None:
        argv = [self.command, "-v", voice, "-a", str(self.amplitude), "-s", str(self.rate_wpm), "-w", str(out), "--stdin"]
        try:
            # The text goes through stdin: it never appears in a process listing and cannot be taken for an option.
            done = subprocess.run(argv, input=text.encode("utf-8"), capture_output=True, timeout=RENDER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise SpeakerError(f"{self.command} did not finish within {RENDER_TIMEOUT_S:g} s") from None
        except OSError as exc:
            raise SpeakerError(f"cannot run {self.command}: {exc.strerror or exc}") from None
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        if done.returncode != 0 or not out.exists() or out.stat().st_size <= 44:
            raise SpeakerError(f"{self.command} failed (exit {done.returncode}): {message[-1] if message else 'no audio written'}")

    def trim_cache(self) -> int:
        """Remove the least recently used files beyond ``max_files``; returns how many went."""
        try:
            files = sorted(self.cache_dir.glob("*.wav"), key=lambda p: p.stat().st_mtime)
        except OSError:
            return 0
        excess = files[: max(0, len(files) - self.max_files)]
        for path in excess:
            path.unlink(missing_ok=True)
        return len(excess)


class BaseSpeaker:
    """Rendering, the phrase table and the background worker; subclasses decide what "play" means."""

    max_pending = MAX_PENDING  # utterances waiting behind the one playing; older ones are dropped

    def __init__(self, settings: SpeakerSettings, cache_dir: Path, default_language: str = "zh"):
        self.settings = settings
        self.default_language = default_language
        self.renderer = EspeakRenderer(cache_dir, {"zh": settings.voice_zh, "en": settings.voice_en},
                                       volume=settings.volume, rate_wpm=settings.rate_wpm,
                                       max_files=settings.cache_max_files)
        self.renderer.check_voices()
        self.phrases: dict[str, tuple[str, str]] = {}
        self.played: list[Utterance] = []
        self.dropped = 0
        self.last_error: str | None = None
        self._pending: collections.deque[tuple[str, str, str | None]] = collections.deque()
        self._background: collections.deque[tuple[str, str]] = collections.deque()  # phrases to render when idle
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="seed-speaker", daemon=True)
        self._thread.start()

    # -- public API ------------------------------------------------------------------------
    def prerender(self, phrases: dict[str, str], language: str | None = None, wait: bool = True) -> dict[str, Path]:
        jobs = {}
        for key, text in phrases.items():
            clean = self._clean(text)
            lang = language or guess_language(clean)
            self.renderer.voice_for(lang)  # an unknown language is an error now, not later on the worker
            self.phrases[key] = jobs[key] = (clean, lang)
        if wait:
            rendered = {key: self.renderer.render(text, lang)[0] for key, (text, lang) in jobs.items()}
            log.info("voice: %d phrases ready in %s", len(rendered), self.renderer.cache_dir)
            return rendered
        with self._cond:
            self._background.extend(jobs.values())
            self._cond.notify_all()
        return {key: self.renderer.cache_path(text, self.renderer.voice_for(lang)) for key, (text, lang) in jobs.items()}

    def say(self, text: str, language: str | None = None) -> None:
        self._enqueue(text, language, None)

    def say_phrase(self, key: str) -> None:
        try:
            text, language = self.phrases[key]
        except KeyError:
            raise SpeakerError(f"unknown phrase {key!r}; prerender it first") from None
        self._enqueue(text, language, key)

    def set_volume(self, percent: int) -> None:
        """Change loudness; phrases already prepared are rendered again at the new volume."""
        if not 0 <= int(percent) <= 100:
            raise ValueError(f"volume must be 0-100, got {percent}")
        self.renderer.volume = int(percent)
        for text, language in list(self.phrases.values()):
            self.renderer.render(text, language)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until everything said so far has been played (tests and shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._background or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def health(self) -> str:
        return f"error: {self.last_error}" if self.last_error else "ok"

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._pending.clear()
            self._background.clear()
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def __enter__(self) -> BaseSpeaker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- worker ----------------------------------------------------------------------------
    @staticmethod
    def _clean(text: str) -> str:
        text = " ".join(str(text).split())
        return text[:MAX_TEXT]

    def _enqueue(self, text: str, language: str | None, key: str | None) -> None:
        text = self._clean(text)
        if not text:
            return
        language = language or guess_language(text)
        with self._cond:
            if self._closed:
                raise SpeakerError("speaker is closed")
            while len(self._pending) >= self.max_pending:
                self._pending.popleft()
                self.dropped += 1
            self._pending.append((text, language, key))
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._background and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                self._busy = True
                if not self._pending:
                    text, language = self._background.popleft()
                    job = None
                else:
                    text, language, key = self._pending.popleft()
                    job = (text, language, key)
            if job is None:
                try:
                    self.renderer.render(text, language)
                except Exception as exc:
                    self.last_error = str(exc)
                    log.warning("voice: a phrase could not be rendered: %s", exc)
                finally:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()
                continue
            try:
                path, voice = self.renderer.render(text, language)
                self._play(Utterance(text, language, voice, path, key))
                self.last_error = None
            except SpeakerError as exc:
                self.last_error = exc.reason
                log.warning("voice feedback failed: %s", exc.reason)
            except Exception as exc:  # the worker must survive anything a player or the disk throws
                self.last_error = str(exc)
                log.exception("voice feedback failed")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _play(self, utterance: Utterance) -> None:
        raise NotImplementedError


class AplaySpeaker(BaseSpeaker):
    """Plays through ``settings.player`` (default ``aplay -q``), the WAV path appended as the last argument."""

    def __init__(self, settings: SpeakerSettings, cache_dir: Path, default_language: str = "zh", probe: bool = True):
        self.player = shlex.split(settings.player)
        if not self.player or shutil.which(self.player[0]) is None:
            raise DeviceMissing("speaker", f"player {settings.player!r} not found (aplay comes with alsa-utils)")
        super().__init__(settings, cache_dir, default_language)
        if probe:
            silence = write_silence(self.renderer.cache_dir / "probe-silence.wav.tmp")
            try:
                self._run_player(silence, timeout=5.0)
            except SpeakerError as exc:
                self.close()
                raise DeviceMissing("speaker", f"cannot play sound: {exc.reason}") from None
            finally:
                silence.unlink(missing_ok=True)

    interrupted = 0  # utterances cut short because a newer result was waiting

    def _run_player(self, path: Path, timeout: float, interruptible: bool = False) -> None:
        try:
            proc = subprocess.Popen([*self.player, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
        except OSError as exc:
            raise SpeakerError(f"cannot run {self.player[0]}: {exc.strerror or exc}") from None
        deadline = time.monotonic() + timeout
        with proc:
            while True:
                try:
                    proc.wait(timeout=0.05)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if interruptible and (self._pending or self._closed):  # superseded by a newer result, or closing
                    proc.terminate()
                    proc.wait()
                    self.interrupted += 1
                    return
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    raise SpeakerError(f"{self.player[0]} did not finish within {timeout:.0f} s")
            stderr = proc.stderr.read() if proc.stderr else b""
        if proc.returncode != 0:
            lines = stderr.decode("utf-8", "replace").strip().splitlines()
            raise SpeakerError(f"{self.player[0]} exit {proc.returncode}: {lines[-1] if lines else 'no message'}")

    def _play(self, utterance: Utterance) -> None:
        duration = wav_info(utterance.path).duration_s
        self.played.append(utterance)
        try:
            self._run_player(utterance.path, timeout=duration + 10.0, interruptible=True)
        except SpeakerError:
            self.played.pop()
            raise


class SimSpeaker(BaseSpeaker):
    """Renders exactly what the real speaker would and records it in ``played`` instead of playing it."""

    max_pending = 1000  # playing takes no time here, so nothing said is ever stale

    def _play(self, utterance: Utterance) -> None:
        self.played.append(utterance)

    @property
    def texts(self) -> list[str]:
        return [u.text for u in self.played]
