"""Hostile uploads: verdict, time and memory of the image validation editors' uploads go through.

Each case is built in memory (the 20 MB one in a temporary file, as Django stores uploads over
2.5 MB) and passed to `images.processing.process_photo`, which the composer and the admin call from
`PostForm.clean_image_upload` (avatars go through `process_avatar`, the same `_open` checks). The
bombs are small files: the PNG ones carry a real zlib stream of all-zero rows (50,000 × 50,000
1-bit pixels: 312 MB of scanlines in about 300 KB), the JPEG and WebP ones a patched header.

    .venv/bin/python bench/uploads.py [--repeat 5] [--case png-bomb-50000x50000 ...]

Every case runs in a fresh process (so one case's memory does not hide another's), after a warm-up
that loads Pillow's plugins and the message catalogue. Printed per case:
- time: median (and max) wall time of --repeat calls, without tracing;
- RSS rise: the process's peak resident memory during the first call minus its resident memory
  just before (peak reset through /proc/self/clear_refs): everything, Pillow's pixel buffers too;
- tracemalloc peak: Python allocations during one more call, traced. Pillow allocates pixel
  buffers with malloc, which tracemalloc does not see: it shows Python-side copies only.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


# Inputs -----------------------------------------------------------------------------------------


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


# One case, in a child process --------------------------------------------------------------------


def proc_status(field: str) -> int:
    """A VmRSS/VmHWM figure of this process, in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # resets VmHWM to the current VmRSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def make_upload(name: str, content_type: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

    if len(data) <= 2_621_440:  # FILE_UPLOAD_MAX_MEMORY_SIZE: Django keeps smaller uploads in memory
        return SimpleUploadedFile(name, data, content_type=content_type)
    upload = TemporaryUploadedFile(name, content_type, len(data), None)
    upload.write(data)
    upload.flush()
    return upload


def run_case(name: str, repeat: int) -> dict:
    import django

    django.setup()
    from django.core.exceptions import ValidationError
    from django.utils import translation
    from PIL import Image

    from images.processing import process_photo

    def call(upload):
        try:
            processed = process_photo(upload)
        except ValidationError as error:
            return error
        return processed

    # Warm-up: Pillow's plugins, the encoders and the message catalogue are loaded once per process.
    translation.activate("en")
    for fmt in ("PNG", "JPEG", "GIF", "WEBP"):
        call(
            make_upload(
                f"warm.{fmt.lower()}", "image/" + fmt.lower(), encode(Image.new("RGB", (64, 48)), fmt)
            )
        )
    for data in (SVG, PDF, png_claiming(50_000, 50_000)):
        result = call(make_upload("warm.jpg", "image/jpeg", data))
        str(result.messages)

    file_name, content_type, build, _what = CASES[name]
    data = build()
    upload = make_upload(file_name, content_type, data)

    exact = reset_peak_rss()
    rss_before = proc_status("VmRSS")
    maxrss_before = _maxrss_kib()
    times = []
    started = time.perf_counter()
    result = call(upload)
    times.append(time.perf_counter() - started)
    rss_rise = (proc_status("VmHWM") if exact else _maxrss_kib()) - (rss_before if exact else maxrss_before)
    for _ in range(repeat - 1):
        started = time.perf_counter()
        call(upload)
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    call(upload)
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    if isinstance(result, ValidationError):
        verdict = f"rejected ({result.code}): {result.messages[0]}"
    else:
        widths = ", ".join(str(width) for width in sorted(result.renditions))
        out = sum(len(rendition) for rendition in result.renditions.values())
        verdict = f"re-encoded as WebP, widths {widths} ({out / 1024:.1f} KiB)"
    return {
        "case": name,
        "bytes": len(data),
        "verdict": verdict,
        "ms_median": statistics.median(times) * 1000,
        "ms_max": max(times) * 1000,
        "rss_rise_kib": rss_rise,
        "rss_exact": exact,
        "traced_peak_kib": traced_peak / 1024,
    }


def _maxrss_kib() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


# Driver -----------------------------------------------------------------------------------------


def human_bytes(n: float) -> str:
    for unit, size in (("MiB", MB), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def machine_line() -> str:
    import django
    import PIL

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (
        f"{now}; {cpu}, {os.cpu_count()} cores; Linux {platform.release()}; "
        f"Python {platform.python_version()}; Django {django.__version__}; Pillow {PIL.__version__}; "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", action="append", choices=list(CASES), help="only these (repeatable)")
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per case (default 5)")
    parser.add_argument("--one", choices=list(CASES), help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "liveblog.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or "bench-" + uuid.uuid4().hex,
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    if args.one:
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        print(json.dumps(run_case(args.one, max(1, args.repeat))), flush=True)
        return

    sys.path.insert(0, str(ROOT))
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from PIL import Image

    print("bench/uploads.py: images.processing.process_photo (PostForm.clean_image_upload)")
    print(machine_line())
    print(
        f"limits: MAX_UPLOAD_BYTES {settings.MAX_UPLOAD_BYTES:,} B, MAX_IMAGE_PIXELS "
        f"{settings.MAX_IMAGE_PIXELS:,}; Pillow refuses more than {2 * Image.MAX_IMAGE_PIXELS:,} px at open"
    )
    print(
        f"time: median (max) of {args.repeat} calls; RSS rise: peak RSS during the first call minus RSS "
        "before it (VmHWM, includes Pillow's C buffers); tracemalloc: Python allocations only\n",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="uploads-bench-") as tmp:
        for name in args.case or list(CASES):
            child = subprocess.run(
                [sys.executable, __file__, "--one", name, "--repeat", str(args.repeat)],
                cwd=ROOT,
                env={**env, "TMPDIR": tmp},
                capture_output=True,
                text=True,
                timeout=600,
            )
            if child.returncode != 0:
                rows.append({"case": name, "error": child.stderr.strip().splitlines()[-1:]})
                print(f"{name}: FAILED {child.stderr.strip()[-400:]}", flush=True)
                continue
            row = json.loads(child.stdout.strip().splitlines()[-1])
            rows.append(row)
            rss = human_bytes(row["rss_rise_kib"] * 1024) + ("" if row["rss_exact"] else " (ru_maxrss)")
            traced = human_bytes(row["traced_peak_kib"] * 1024)
            print(
                f"{name:<24} {human_bytes(row['bytes']):>9}  {row['ms_median']:8.2f} ms "
                f"({row['ms_max']:.2f})  RSS +{rss:<9}  traced {traced:>9}  "
                f"{row['verdict']}",
                flush=True,
            )
    print("\ncases:")
    for name, (_file, _type, _build, what) in CASES.items():
        if name in {row["case"] for row in rows}:
            print(f"  {name}: {what}")


if __name__ == "__main__":
    main()
