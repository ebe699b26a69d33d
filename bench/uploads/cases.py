"""The hostile (and one legitimate) uploads of bench.uploads, built in memory."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

MB = 1024 * 1024


def encode(image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A 1×1 PNG whose IHDR says width × height (as tests/test_image_processing.py builds it)."""
    from PIL import Image

    data = bytearray(encode(Image.new("1", (1, 1)), "PNG"))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit greyscale PNG of width × height, all black: every row really is in the IDAT."""
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte "none" + packed pixels
    compressor = zlib.compressobj(9)
    parts = []
    rows_per_chunk = max(1, 4 * MB // len(row))
    for start in range(0, height, rows_per_chunk):
        parts.append(compressor.compress(row * min(rows_per_chunk, height - start)))
    parts.append(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", b"".join(parts))
        + png_chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """An 8×8 JPEG whose SOF0 header says width × height."""
    from PIL import Image

    data = bytearray(encode(Image.new("L", (8, 8)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_claiming(width: int, height: int) -> bytes:
    """A 1×1 lossless WebP whose VP8L header says width × height (at most 16,384 each)."""
    from PIL import Image

    data = bytearray(encode(Image.new("RGB", (1, 1), "red"), "WEBP", lossless=True))
    assert data[12:16] == b"VP8L" and data[20] == 0x2F
    bits = int.from_bytes(data[21:25], "little")
    bits = (bits & ~((1 << 28) - 1)) | (width - 1) | ((height - 1) << 14)
    data[21:25] = bits.to_bytes(4, "little")
    return bytes(data)


def jpeg_real(width: int, height: int) -> bytes:
    from PIL import Image

    return encode(Image.new("L", (width, height), 128), "JPEG", quality=75)


def phone_photo() -> bytes:
    """A legitimate 4000×3000 JPEG (12 MP, what a phone sends) for comparison."""
    from PIL import Image

    gradient = Image.radial_gradient("L").resize((4000, 3000))
    image = Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient))
    return encode(image, "JPEG", quality=90)


def gif_html_polyglot() -> bytes:
    """A valid GIF carrying HTML in its comment extension and after its trailer."""
    from PIL import Image

    html = b"<html><body><script>alert(document.cookie)</script></body></html>"
    return encode(Image.new("P", (120, 90), 1), "GIF", comment=html) + html


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>'
PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)

# name -> (file name, content type, builder, what it is)
CASES: dict[str, tuple[str, str, Callable[[], bytes], str]] = {
    "png-header-50000x50000": (
        "bomb.png",
        "image/png",
        lambda: png_claiming(50_000, 50_000),
        "1×1 PNG, IHDR claims 50,000×50,000",
    ),
    "png-bomb-50000x50000": (
        "bomb.png",
        "image/png",
        lambda: png_bomb(50_000, 50_000),
        "valid 1-bit PNG 50,000×50,000, 312 MB of rows deflated",
    ),
    "png-bomb-8000x8000": (
        "big.png",
        "image/png",
        lambda: png_bomb(8_000, 8_000),
        "valid 1-bit PNG 8,000×8,000 (64 MP: under Pillow's limit, over ours)",
    ),
    "jpeg-header-65500x65500": (
        "bomb.jpg",
        "image/jpeg",
        lambda: jpeg_claiming(65_500, 65_500),
        "8×8 JPEG, SOF0 claims 65,500×65,500",
    ),
    "jpeg-7000x7000": ("big.jpg", "image/jpeg", lambda: jpeg_real(7_000, 7_000), "valid grey JPEG, 49 MP"),
    "webp-header-16383x16383": (
        "bomb.webp",
        "image/webp",
        lambda: webp_claiming(16_383, 16_383),
        "1×1 lossless WebP, VP8L header claims 16,383×16,383",
    ),
    "webp-header-8000x8000": (
        "big.webp",
        "image/webp",
        lambda: webp_claiming(8_000, 8_000),
        "1×1 lossless WebP, VP8L header claims 8,000×8,000",
    ),
    "20MB-file": (
        "huge.jpg",
        "image/jpeg",
        lambda: b"\xff\xd8\xff\xe0" + b"\0" * (20 * MB - 4),
        "JPEG magic + zeros, 20 MB, in a temporary file",
    ),
    "gif-html-polyglot": ("polyglot.gif", "image/gif", gif_html_polyglot, "valid GIF with HTML inside/after"),
    "svg": ("logo.svg", "image/svg+xml", lambda: SVG, "SVG with onload script"),
    "pdf-renamed-jpg": ("scan.jpg", "image/jpeg", lambda: PDF, "PDF named .jpg"),
    "control-phone-photo": ("photo.jpg", "image/jpeg", phone_photo, "legitimate 4000×3000 JPEG"),
}
