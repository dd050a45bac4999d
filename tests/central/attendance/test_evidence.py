"""Evidence files of requests (证明): what is kept of a phone's photo (upright, scaled, no metadata), PDFs as they
are, and every file the product refuses with why. The kept bytes are read back with Pillow and searched for the
metadata markers directly."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from central.attendance.evidence import MAX_BYTES, EvidenceError, prepared


def jpeg_with_gps(size: tuple[int, int] = (3000, 1000), orientation: int = 6) -> bytes:
    """A phone's photo: EXIF with the camera, a GPS position and an orientation (6: turned 90 degrees clockwise)."""
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 2, size[1]))  # left half blue
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (31.0, 13.0, 30.0), 3: "E", 4: (121.0, 28.0, 12.0)})  # Shanghai
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def test_a_phone_photo_is_kept_upright_scaled_and_without_its_metadata() -> None:
    raw = jpeg_with_gps()
    assert b"Exif" in raw and b"PhoneMaker" in raw
    kept = prepared("IMG_2041.HEIC.jpeg", raw)
    assert (kept.content_type, kept.name) == ("image/jpeg", "IMG_2041.HEIC.jpg")
    assert b"Exif" not in kept.data and b"PhoneMaker" not in kept.data and b"GPS" not in kept.data
    with Image.open(io.BytesIO(kept.data)) as image:
        assert image.format == "JPEG" and image.size == (667, 2000)  # 3000x1000 turned upright, then scaled to 2000
        assert not image.getexif()
        top, bottom = image.getpixel((333, 10)), image.getpixel((333, 1990))
    assert top[2] > 150 > top[0] and bottom[0] > 150 > bottom[2]  # the blue left half is now on top


def test_a_png_loses_its_text_chunks_and_a_pdf_is_kept_as_it_is() -> None:
    out = io.BytesIO()
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "GPS 31.2304 121.4737")
    Image.new("RGBA", (40, 30), (0, 128, 0, 255)).save(out, "PNG", pnginfo=info)
    kept = prepared("screenshot.png", out.getvalue())
    assert kept.content_type == "image/png" and b"GPS" not in kept.data and b"tEXt" not in kept.data
    with Image.open(io.BytesIO(kept.data)) as image:
        assert image.size == (40, 30) and image.getpixel((5, 5)) == (0, 128, 0, 255)
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    kept = prepared("../../etc/诊断证明\x00.pdf", pdf)
    assert (kept.content_type, kept.data, kept.name) == ("application/pdf", pdf, "诊断证明.pdf")


@pytest.mark.parametrize(("name", "data", "says"), [
    ("empty.jpg", b"", "空"),
    ("page.jpg", b"<html><script>alert(1)</script></html>", "JPEG、PNG"),
    ("cut.jpg", jpeg_with_gps((400, 300))[:600], "无法读取"),
    ("cut.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\n", "不完整"),
    ("huge.jpg", b"\xff\xd8\xff" + b"\0" * MAX_BYTES, "5 MB"),
    ("bomb.png", b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0))
     + png_chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + png_chunk(b"IEND", b""), "太大"),
    ("big.png", b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 8000, 8000, 8, 0, 0, 0, 0))
     + png_chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + png_chunk(b"IEND", b""), "8000×8000"),
])
def test_files_that_are_not_kept_are_refused_with_why(name: str, data: bytes, says: str) -> None:
    with pytest.raises(EvidenceError) as refused:
        prepared(name, data)
    assert says in str(refused.value) and " / " in str(refused.value) and refused.value.field == "evidence"
