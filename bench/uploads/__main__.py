"""bench.uploads' measurement (one case per child process) and its driver; see the package's docstring."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid

import bench.uploads
from bench.common import ROOT, setup_django, smoke_defaults
from bench.uploads.cases import CASES, MB, PDF, SVG, encode, png_claiming

# --smoke: a bomb refused from its header and a polyglot re-encoded, one timed call each.
SMOKE_CASES = ["png-header-50000x50000", "gif-html-polyglot"]


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
    setup_django(migrate=False)
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
    parser = argparse.ArgumentParser(
        prog="python -m bench.uploads", description=bench.uploads.__doc__.split("\n\n")[0]
    )
    parser.add_argument("--smoke", action="store_true", help="two cases, one call each (CI's smoke run)")
    parser.add_argument("--case", action="append", choices=list(CASES), help="only these (repeatable)")
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per case (default 5)")
    parser.add_argument("--one", choices=list(CASES), help=argparse.SUPPRESS)  # child mode
    args = smoke_defaults(parser, {"repeat": 1})
    if args.smoke and not args.case:
        args.case = SMOKE_CASES

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "liveblog.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or "bench-" + uuid.uuid4().hex,
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    if args.one:
        print(json.dumps(run_case(args.one, max(1, args.repeat))), flush=True)
        return

    setup_django(migrate=False)
    from django.conf import settings
    from PIL import Image

    print("bench.uploads: images.processing.process_photo (PostForm.clean_image_upload)")
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
                [sys.executable, "-m", "bench.uploads", "--one", name, "--repeat", str(args.repeat)],
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
    sys.exit(1 if any("error" in row for row in rows) else 0)


if __name__ == "__main__":
    main()
