"""``make screenshots``: every kiosk screen in both languages, drawn offscreen, saved as PNG.

    python -m terminal.ui.screenshots [--out docs/screenshots] [--size 800x480] [--languages zh,en]

Each language tours a fresh simulated terminal (see :mod:`terminal.ui.tour`); with the
shared face photos present the camera preview shows a real face and the face screens
are included.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_FACES = Path(os.environ.get("SEED_SHARED_DIR", REPO.parent / "shared")) / "testdata" / "faces"


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 800x480, got {text!r}") from None
    if not (320 <= width <= 3840 and 240 <= height <= 3840):
        raise argparse.ArgumentTypeError(f"size {text} is out of range")
    return width, height


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m terminal.ui.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots", help="output folder")
    parser.add_argument("--size", type=parse_size, default=(800, 480), help="screen size (default 800x480)")
    parser.add_argument("--languages", default="zh,en", help="comma-separated languages (zh, en)")
    parser.add_argument("--faces", type=Path, default=DEFAULT_FACES, help="shared face photos (optional)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    unknown = [lang for lang in languages if lang not in ("zh", "en")]
    if unknown:
        parser.error(f"unknown language(s): {', '.join(unknown)} (zh, en)")
    faces_dir = args.faces if (args.faces / "video").is_dir() else None
    if faces_dir is None:
        print(f"face photos not found at {args.faces}: screens without the camera picture", file=sys.stderr)

    from terminal.ui.tour import run_tour

    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for lang in languages:
        def save(kiosk, name, lang=lang):
            written.append(kiosk.save_png(args.out / f"{name}-{lang}.png"))

        run_tour(lang, args.size, save, faces_dir=faces_dir)
    for path in written:
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    print(f"{len(written)} screenshots at {args.size[0]}x{args.size[1]} in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
