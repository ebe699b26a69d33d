"""Hostile uploads: verdict, time and memory of the image validation editors' uploads go through.

Each case is built in memory (the 20 MB one in a temporary file, as Django stores uploads over
2.5 MB) and passed to `images.processing.process_photo`, which the composer and the admin call from
`PostForm.clean_image_upload` (avatars go through `process_avatar`, the same `_open` checks). The
bombs are small files: the PNG ones carry a real zlib stream of all-zero rows (50,000 × 50,000
1-bit pixels: 312 MB of scanlines in about 300 KB), the JPEG and WebP ones a patched header.

    .venv/bin/python -m bench.uploads [--repeat 5] [--case png-bomb-50000x50000 ...]
    .venv/bin/python -m bench.uploads --smoke    # two cases, one call each (what CI runs)

Modules: cases.py (the inputs), __main__.py (the measurement and the driver).

Every case runs in a fresh process (so one case's memory does not hide another's), after a warm-up
that loads Pillow's plugins and the message catalogue. Printed per case:
- time: median (and max) wall time of --repeat calls, without tracing;
- RSS rise: the process's peak resident memory during the first call minus its resident memory
  just before (peak reset through /proc/self/clear_refs): everything, Pillow's pixel buffers too;
- tracemalloc peak: Python allocations during one more call, traced. Pillow allocates pixel
  buffers with malloc, which tracemalloc does not see: it shows Python-side copies only.
"""
