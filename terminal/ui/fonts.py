"""Finding a font that draws every string of the kiosk, Chinese included.

Kivy's bundled Roboto has no CJK glyphs: Chinese would show as empty boxes. The kiosk
looks for a CJK-capable font on the system (``ui.font`` when configured, then
fontconfig's own answer for Simplified Chinese, then well-known files of the
fonts-wqy-microhei, fonts-wqy-zenhei and fonts-noto-cjk packages), checks with
fontconfig that it covers every character of every text in :mod:`terminal.i18n`, and
registers it under Kivy's default font name so every label, button and text input uses it.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

KNOWN_CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
FC_TIMEOUT_S = 10.0


class FontError(RuntimeError):
    """No usable font: the message says what was tried and what to install."""


@dataclass(frozen=True)
class FontChoice:
    path: Path
    family: str
    index: int  # face index inside a .ttc collection
    source: str  # "config", "fontconfig" or "known path"


def _fc(args: list[str]) -> str:
    tool = shutil.which(args[0])
    if tool is None:
        return ""
    try:
        done = subprocess.run([tool, *args[1:]], capture_output=True, timeout=FC_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("%s failed: %s", args[0], exc)
        return ""
    return done.stdout.decode("utf-8", "replace")


def _parse_charset(text: str) -> list[tuple[int, int]]:
    ranges = []
    for part in text.split():
        lo, _, hi = part.partition("-")
        try:
            ranges.append((int(lo, 16), int(hi or lo, 16)))
        except ValueError:
            continue
    return ranges


@lru_cache(maxsize=32)
def font_faces(path: str) -> tuple[tuple[int, str, tuple[tuple[int, int], ...]], ...]:
    """(index, family, charset ranges) of each face in a font file, as fontconfig reads it."""
    out = _fc(["fc-query", "--format", "%{index}\t%{family[0]}\t%{charset}\n", path])
    faces = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        try:
            index = int(parts[0])
        except ValueError:
            continue
        faces.append((index, parts[1], tuple(_parse_charset(parts[2]))))
    return tuple(faces)


def covers(ranges: Iterable[tuple[int, int]], text: str) -> list[str]:
    """The characters of ``text`` a face with these charset ranges cannot draw (spaces ignored)."""
    ranges = sorted(ranges)
    missing = []
    for ch in sorted(set(text)):
        if ch.isspace():
            continue
        code = ord(ch)
        if not any(lo <= code <= hi for lo, hi in ranges):
            missing.append(ch)
    return missing


def all_texts() -> str:
    from terminal.i18n import TEXTS

    return "".join(value for entry in TEXTS.values() for value in entry.values()) + "0123456789:-/.,%()"


def _candidates(configured: Path | None) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if configured:
        found.append((str(configured), "config"))
    match = _fc(["fc-match", "-f", "%{file}", "sans-serif:lang=zh-cn"]).strip()
    if match:
        found.append((match, "fontconfig"))
    for line in _fc(["fc-list", ":lang=zh-cn", "file"]).splitlines():
        path = line.split(":")[0].strip()
        if path:
            found.append((path, "fontconfig"))
    found.extend((path, "known path") for path in KNOWN_CJK_FONTS)
    seen, unique = set(), []
    for path, source in found:
        if path not in seen:
            seen.add(path)
            unique.append((path, source))
    return unique


def find_cjk_font(configured: Path | None = None, text: str | None = None) -> FontChoice:
    """The first candidate font that covers ``text`` (default: every kiosk string) completely."""
    text = all_texts() if text is None else text
    tried = []
    for path, source in _candidates(configured):
        if not Path(path).is_file():
            if source == "config":
                raise FontError(f"ui.font {path} does not exist")
            continue
        faces = font_faces(path)
        if not faces:
            tried.append(f"{path} (fontconfig cannot read it)")
            continue
        best = None
        for index, family, ranges in faces:
            if index != 0:
                continue  # Kivy's SDL2 text provider always opens the first face of a collection
            missing = covers(ranges, text)
            if not missing:
                best = FontChoice(Path(path), family, index, source)
                break
            tried.append(f"{path}#{index} lacks {''.join(missing[:8])}")
        if best is not None:
            log.info("font: %s (%s, face %d, from %s)", best.path, best.family, best.index, source)
            return best
        if source == "config":
            raise FontError(f"ui.font {path} cannot draw every text: {'; '.join(tried)}")
    raise FontError("no font that can draw Chinese was found; install fonts-wqy-microhei or fonts-noto-cjk"
                    + (f" (tried: {'; '.join(tried)})" if tried else ""))


def register_default_font(choice: FontChoice) -> None:
    """Make ``choice`` Kivy's default font (the name every widget uses unless told otherwise)."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    path = str(choice.path)
    LabelBase.register(DEFAULT_FONT, path, path, path, path)
    LabelBase.register("SeedSans", path, path, path, path)
