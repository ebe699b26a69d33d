"""Reader page and catch-up: requests/s and latency of /live/<slug>/ and its events endpoint.

    .venv/bin/python -m bench.reader_page --clients 10 --seconds 15
    .venv/bin/python -m bench.reader_page --app-dir . --app-dir /tmp/wt-200e23a --rounds 2
    .venv/bin/python -m bench.reader_page --smoke    # 2 clients, 1 s per phase (what CI runs)

One Daphne process (production settings: DEBUG off, collected static files, PostgreSQL through
the connection pool, in-memory channel layer) serves a live blog of --posts posts, each with a
byline of two authors, no images. C clients (asyncio, each a new connection per request, all from
127.0.0.1) ask as fast as they are answered for T seconds each:

- page: the reader page /live/<slug>/ (its first 20 posts);
- catch-up cached: /live/<slug>/events/?after=<seq>, `after` cycling over 0, 10, 20, 30, 40
  (the answers the view caches for 5 s, so nearly all cost the blog row only);
- catch-up distinct: `after` never repeated (newest seq + 1, + 2, ...; the warm-up asks others), so
  every request is a cache miss (what a client defeating the cache costs): the blog row and the
  events query each time, with an empty list of events, so not the cost of rendering events.

The per-client catch-up limit is lifted (LIVEBLOG_CATCH_UPS_PER_CLIENT=0): every client here is
127.0.0.1. Each --app-dir is a checkout whose code the server runs (cwd and PYTHONPATH, this
.venv's python); with several, the runs alternate (a, b, a, b for --rounds 2), each on a fresh
database `<--database-url name>_rp<n>` of the same PostgreSQL server, migrated and filled by that
checkout's own code, dropped afterwards. A warm-up (unmeasured) precedes each phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.common import (
    PYTHON,
    ROOT,
    admin_url,
    check_local,
    cpu_seconds,
    create_postgres_database,
    daphne_server,
    drop_postgres_database,
    free_port,
    http_get,
    markdown_table,
    pct,
    server_env,
    smoke_defaults,
    stop_all,
    tally,
)

CACHED_AFTER = (0, 10, 20, 30, 40)
WARMUP_FIRST = 10**9  # the distinct phase's warm-up asks for seqs the measured run never asks again
# Run by the checkout's own manage.py shell, so an older checkout fills its database with its code.
SEED = """
from authors.models import Author
from posts.models import LiveBlog, Post
from posts.services import publish_post

blog = LiveBlog.objects.create(slug="reader-page", title="Reader page", state=LiveBlog.State.LIVE)
authors = [Author.objects.create(name=f"Reporter {n}", slug=f"reporter-{n}",
                                 role="Korrespondentin in Berlin") for n in range(4)]
body = "<p>" + "Ein Absatz mit einigen Sätzen über das Geschehen, wie ein Ticker ihn schreibt. " * 4 + "</p>"
for n in range(POSTS):
    post = Post(live_blog=blog, headline=f"Meldung {n}: was gerade geschieht", body=body * 2)
    publish_post(post, authors=[authors[n % 4], authors[(n + 1) % 4]])
blog.refresh_from_db()
print("SEED", blog.slug, blog.last_seq)
"""


@dataclass
class Phase:
    requests: int
    seconds: float
    latencies: list[float]
    statuses: list[int | str]
    body_bytes: int
    cpu: float


async def hammer(
    port: int, path_of: Callable[[int], str], clients: int, seconds: float, pid: int, first: int = 0
) -> Phase:
    """`clients` loops of GETs for `seconds`; the n-th request of the phase asks `path_of(first + n)`."""
    latencies: list[float] = []
    statuses: list[int | str] = []
    sizes = [0]
    counter = iter(range(first, 1 << 62))
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            path = path_of(next(counter))
            started = time.perf_counter()
            try:
                status, body = await asyncio.wait_for(http_get(port, path), 30)
            except (OSError, TimeoutError, ValueError, IndexError) as error:
                status, body = type(error).__name__, b""
            latencies.append(time.perf_counter() - started)
            statuses.append(status)
            sizes[0] += len(body)

    cpu_before, started = cpu_seconds(pid), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return Phase(len(latencies), elapsed, latencies, statuses, sizes[0], cpu_seconds(pid) - cpu_before)


def phases(slug: str) -> dict[str, Callable[[int], str]]:
    events = f"/live/{slug}/events/?after="
    return {
        "page": lambda n: f"/live/{slug}/",
        "catch-up cached": lambda n: events + str(CACHED_AFTER[n % len(CACHED_AFTER)]),
        "catch-up distinct": lambda n: events + str(n),
    }


def git_line(app_dir: Path) -> str:
    """The checkout's commit, and its uncommitted edits outside bench/, tests/, docs/ (not served)."""

    def git(*argv: str) -> str:
        return subprocess.run(["git", "-C", str(app_dir), *argv], capture_output=True, text=True).stdout

    commit = git("log", "-1", "--format=%h %cI").strip()
    dirty = [
        line[3:]
        for line in git("status", "--porcelain", "--", ".", ":!bench", ":!tests", ":!docs").splitlines()
    ]
    return f"{commit}; uncommitted edits outside bench/, tests/, docs/: {', '.join(dirty) or 'none'}"


def manage(app_dir: Path, env: dict[str, str], *argv: str) -> str:
    argv = ("env", "-C", str(app_dir), PYTHON, "manage.py", *argv)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"{' '.join(argv[3:6])} in {app_dir} failed:\n{done.stdout}{done.stderr}"[-3000:])
    return done.stdout


def base_env(database_url: str, app_dir: Path, **extra: str) -> dict[str, str]:
    env = server_env(database_url, PYTHONPATH=str(app_dir), LIVEBLOG_CATCH_UPS_PER_CLIENT="0", **extra)
    env.pop("REDIS_URL", None)  # one worker: the in-memory layer, as for every checkout alike
    return env


async def one_run(args, app_dir: Path, number: int, static_root: str, logdir: Path) -> list[list[str]]:
    label = app_dir.name
    name, _ = admin_url(args.database_url)
    url = args.database_url.rsplit("/", 1)[0] + f"/{name}_rp{number}"
    drop_postgres_database(url)  # left over by an interrupted run
    create_postgres_database(url)
    env = base_env(url, app_dir, DJANGO_STATIC_ROOT=static_root)
    daphne = None
    try:
        manage(app_dir, env, "migrate", "--noinput", "-v", "0")
        seeded = manage(app_dir, env, "shell", "-c", SEED.replace("POSTS", str(args.posts))).split()
        assert seeded[-3:] == ["SEED", "reader-page", str(args.posts)], seeded
        slug, last_seq = "reader-page", args.posts
        daphne = daphne_server(free_port(), env, logdir, f"{label}-{number}")
        daphne.argv = ["env", "-C", str(app_dir), *daphne.argv]
        daphne.start()
        assert daphne.process is not None
        check_answers(
            await http_get(daphne.port, f"/live/{slug}/"),
            await http_get(daphne.port, f"/live/{slug}/events/?after=0"),
            args.posts,
        )
        rows = []
        for phase_name, path_of in phases(slug).items():
            pid = daphne.process.pid
            await hammer(daphne.port, path_of, args.clients, args.warmup, pid, first=WARMUP_FIRST)
            phase = await hammer(daphne.port, path_of, args.clients, args.seconds, pid, first=last_seq + 1)
            rows.append(row(label, number, phase_name, args.clients, phase))
            print(f"run {number} ({label}) {phase_name}: {rows[-1][6]} req/s", file=sys.stderr, flush=True)
        return rows
    finally:
        if daphne is not None:
            daphne.stop()
        drop_postgres_database(url)


def check_answers(page: tuple[int, bytes], events: tuple[int, bytes], posts: int) -> None:
    """The server answers what the phases measure: the page with its posts, every event."""
    if page[0] != 200 or b"Meldung" not in page[1]:
        raise SystemExit(f"reader page answered {page[0]}: {page[1][:300]!r}")
    if events[0] != 200 or len(json.loads(events[1])["events"]) != posts:
        raise SystemExit(f"catch-up answered {events[0]}: {events[1][:300]!r}")


HEADER = ["code", "run", "phase", "clients", "s", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms"]
HEADER += ["max ms", "KiB/answer", "server CPU ms/req", "statuses"]


def row(label: str, number: int, phase_name: str, clients: int, phase: Phase) -> list[str]:
    ms = [1000 * value for value in phase.latencies]
    per = max(phase.requests, 1)
    figures = [phase.requests / phase.seconds, *(pct(ms, q) for q in (50, 95, 99)), max(ms, default=0.0)]
    head = [label, str(number), phase_name, str(clients), f"{phase.seconds:.1f}", str(phase.requests)]
    tail = [f"{phase.body_bytes / per / 1024:.1f}", f"{1000 * phase.cpu / per:.2f}", tally(phase.statuses)]
    return head + [f"{value:.1f}" for value in figures] + tail


def summary(rows: list[list[str]]) -> str:
    """Per code and phase: the rounds' req/s and p50 side by side, and their mean."""
    out = []
    for key in dict.fromkeys((r[0], r[2]) for r in rows):
        mine = [r for r in rows if (r[0], r[2]) == key]
        rates, p50s = [float(r[6]) for r in mine], [float(r[7]) for r in mine]
        out.append([*key, " / ".join(r[6] for r in mine), f"{statistics.fmean(rates):.1f}"])
        out[-1] += [" / ".join(r[7] for r in mine), f"{statistics.fmean(p50s):.1f}"]
    return markdown_table(
        ["code", "phase", "req/s by run", "mean req/s", "p50 ms by run", "mean p50 ms"], out
    )


def machine_lines(app_dirs: list[Path]) -> Iterator[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    yield f"bench/reader_page.py {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; nproc {os.cpu_count()}; {cpu}; "
    yield f"{platform.platform()}; Python {platform.python_version()}\n"
    yield f"load average at start (1/5/15 min): {load}\n"
    for path in dict.fromkeys(app_dirs):
        yield f"code {path.name}: {path} = {git_line(path)}\n"


async def main_async(args, app_dirs: list[Path]) -> int:
    print("".join(machine_lines(app_dirs)), end="")
    print(
        f"one Daphne worker, DEBUG off, PostgreSQL (pool), in-memory layer; {args.posts} posts with bylines,"
    )
    print(f"no images; {args.clients} clients, {args.seconds:g} s per phase after {args.warmup:g} s warm-up;")
    print("LIVEBLOG_CATCH_UPS_PER_CLIENT=0: per-client catch-up limit lifted (all clients are 127.0.0.1)")
    logdir = Path(tempfile.mkdtemp(prefix="bench-reader-page-"))
    statics = {}
    for app_dir in dict.fromkeys(app_dirs):  # this checkout's templates need its own manifest
        statics[app_dir] = root = str(logdir / f"static-{len(statics)}")
        env = base_env(args.database_url, app_dir, DJANGO_STATIC_ROOT=root)
        manage(app_dir, env, "collectstatic", "--noinput", "-v", "0")
    rows: list[list[str]] = []
    number = 0
    try:
        for _ in range(args.rounds):
            for app_dir in app_dirs:
                number += 1
                rows += await one_run(args, app_dir, number, statics[app_dir], logdir)
    finally:
        stop_all()
    for root in statics.values():
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{markdown_table(HEADER, rows)}\n\nsummary:\n{summary(rows)}")
    print(f"load average at end: {' / '.join(f'{v:.2f}' for v in os.getloadavg())}; logs in {logdir}")
    bad = [r for r in rows if r[-1] != f"200x{r[5]}"]
    return 1 if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reader_page", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="2 clients, 1 s per phase, 5 posts (CI)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/liveblog_reader_page")
    parser.add_argument(
        "--app-dir", action="append", type=Path, help="a checkout to serve (repeatable; default: this one)"
    )
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1, help="runs of each --app-dir, alternating")
    args = smoke_defaults(parser, {"clients": 2, "seconds": 1.0, "warmup": 0.5, "posts": 5})
    if (error := check_local(args.database_url)) or not args.database_url.startswith("postgres"):
        parser.error(error or "--database-url must be postgres://")
    app_dirs = [path.resolve() for path in (args.app_dir or [ROOT])]
    for path in app_dirs:
        if not (path / "manage.py").exists():
            parser.error(f"no manage.py in {path}")
    raise SystemExit(asyncio.run(main_async(args, app_dirs)))


if __name__ == "__main__":
    main()
