"""The CJK font the PDF reports print with: found on this machine, registered once, embedded as a subset.

Chinese names must print on any machine that opens the PDF, so the font travels inside the file:
reportlab embeds the glyphs a document uses of a TrueType font (a subset), never the whole face.
The font is WenQuanYi Micro Hei from the Debian package ``fonts-wqy-microhei`` (``make`` installs it);
``SEED_REPORT_FONT`` may point to another ``.ttf`` / ``.ttc`` with Chinese glyphs instead. Nothing is
downloaded: a missing font is an error that names the package to install.

WenQuanYi Micro Hei has no bold face: the family's bold is the same face, and the PDF writer makes
subtotal and total rows look bold by stroking the glyph outlines (see ``pdf_writer``).
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

logger = logging.getLogger(__name__)

FONT_NAME = "SeedCJK"
ENV_VAR = "SEED_REPORT_FONT"
PACKAGE = "fonts-wqy-microhei"
CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),  # the same package on other distributions
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)
HAS_BOLD = False  # WenQuanYi Micro Hei ships one weight
# look-alikes for marks a CJK face may lack (WenQuanYi Micro Hei has no ✗): the first one the face has is printed
LOOK_ALIKES: dict[str, str] = {"✗": "✘×x", "☓": "×✘x", "✓": "√✔", "✔": "√✓", "✘": "×x"}

_lock = threading.Lock()
_registered: Path | None = None


class FontMissing(RuntimeError):
    """No font with Chinese glyphs was found, or the one named cannot be read."""


def font_path() -> Path:
    """The font file to print with: ``$SEED_REPORT_FONT`` when set, else the first installed candidate."""
    named = os.environ.get(ENV_VAR, "").strip()
    if named:
        path = Path(named)
        if path.suffix.lower() not in (".ttf", ".ttc"):
            raise FontMissing(f"{ENV_VAR}={named}: 只支持 .ttf / .ttc 字体 / only a .ttf or .ttc font can be embedded")
        if not path.is_file():
            raise FontMissing(f"{ENV_VAR}={named}: 字体文件不存在 / no such font file")
        return path
    for path in CANDIDATES:
        if path.is_file():
            return path
    raise FontMissing(
        f"找不到中文字体 / no Chinese font found (looked for {', '.join(str(p) for p in CANDIDATES)}): "
        f"请安装 {PACKAGE} / install the Debian package {PACKAGE} (apt-get install {PACKAGE}, or run make), "
        f"or set {ENV_VAR} to a .ttf/.ttc font with Chinese glyphs")


def substitutions(name: str = FONT_NAME) -> dict[int, str]:
    """A ``str.translate`` table from the marks the registered face lacks to look-alikes it has."""
    face = pdfmetrics.getFont(name).face
    table: dict[int, str] = {}
    for mark, alternatives in LOOK_ALIKES.items():
        if ord(mark) not in face.charToGlyph:
            usable = [c for c in alternatives if ord(c) in face.charToGlyph]
            if usable:
                table[ord(mark)] = usable[0]
    return table


def register() -> str:
    """Register the CJK font with reportlab (once per process and path) and return its name.

    The face is registered as its own bold, italic and bold italic too, so ``<b>`` in a paragraph keeps
    the Chinese glyphs instead of falling back to a Latin-only font.
    """
    global _registered
    path = font_path()
    with _lock:
        if _registered == path:
            return FONT_NAME
        try:
            font = TTFont(FONT_NAME, str(path), subfontIndex=0)
        except (TTFError, OSError) as exc:
            raise FontMissing(f"字体无法读取 / the font {path} cannot be read: {exc}") from exc
        pdfmetrics.registerFont(font)
        for bold in (0, 1):
            for italic in (0, 1):
                addMapping(FONT_NAME, bold, italic, FONT_NAME)
        _registered = path
        logger.info("report font %s registered from %s", FONT_NAME, path)
    return FONT_NAME
