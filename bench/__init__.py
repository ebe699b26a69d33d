"""Benchmarks and fault drills (scripts, not tests). Run each from the project root:

    .venv/bin/python -m bench.live_fanout --help
    .venv/bin/python -m bench.faults --help
    .venv/bin/python -m bench.publish_rate --help
    .venv/bin/python -m bench.reader_page --help
    .venv/bin/python -m bench.uploads --help

What they share (the reader client, Django and the database, servers, figures) is in bench.common.
Their figures are in docs/benchmarks.md and docs/faults.md; tests/test_bench_smoke.py runs each
one briefly (--smoke) in CI.
"""
