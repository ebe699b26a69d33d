"""Fault drills for the live path: readers must end with exactly the database's posts.

Every scenario starts its own Daphne (and a throwaway Redis) on 127.0.0.1, creates a fresh live
blog in a dedicated PostgreSQL database (default `liveblog_faults`, created and migrated here),
connects readers that follow static/js/live.js's algorithm (bench/reader.py), injects one fault,
and checks every reader's final set of shown posts against the blog's visible posts in the
DATABASE (missing = in the DB but not shown, extra = shown but not in the DB).

    .venv/bin/python bench/faults.py --scenario all

Scenarios:
- redis-outage: Redis stopped (SIGTERM) for --outage-seconds while the editor publishes
  --outage-posts posts in this process through posts.services; Redis restarted (empty) on the
  same port; then --after-posts more. Counts saves ok/failed and logged broadcast failures.
- redis-wipe: Redis restarted with its memory wiped (or FLUSHALL, --wipe-mode) under connected
  readers; then --wipe-posts posts.
- burst: --burst-posts posts as fast as services allow (--burst-threads editors, one transaction
  per post; or --burst-batch posts per services.publish_posts call, as a results feed would) to
  --burst-readers readers, --slow-readers of them sleeping --slow-sleep s per frame.
- daphne-kill: --readers readers; Daphne SIGTERM, SIGKILL after --term-grace s (or at once with
  --sigkill); --down-posts posts
  while it is down; restarted on the same port after --down-seconds. Reconnect times and
  catch-up requests per reader (counted by the readers).
- archive: --readers readers; services.archive_blog; all must get blog.archived and be closed;
  then services.publish_post must raise BlogClosedError.

After the fault each scenario waits up to --settle-seconds for all readers to be complete. If they
are not, it opens one fresh "probe" socket (a new connection makes the hub read the blog's
last_seq from the database, see posts/consumers.py) and waits again, to show what (if anything)
recovers them (since commit 7f7609b the heartbeat itself reads last_seq from the database, so the
probe should no longer be needed). Daphne gets the hub's heartbeat through the app's setting
LIVEBLOG_HEARTBEAT_SECONDS (--heartbeat, 5 s here; the app's default is 25 s); the redis-wipe
scenario's Daphne also gets LIVEBLOG_GROUP_REFRESH_SECONDS (--group-refresh, 10 s; app default 60 s),
the other scenarios keep the app's default.

While a scenario runs, a sampler counts the connections to the drill's database in
pg_stat_activity every 0.25 s (db_conns_peak; `server` = all databases of the shared server).

Everything stays on 127.0.0.x (readers use source addresses 127.0.0.2, 127.0.0.3, ... so that at
most --per-address sockets come from one address: the server caps sockets per address at 20).
Every wait is bounded; every process started here is stopped by its PID at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reader import LiveReader, source_address

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float, process: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def stop_process(process: subprocess.Popen | None, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; only this PID."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


class Managed:
    """One child process with its log; started, stopped and restarted by PID only."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, logdir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.port = port
        self.logdir = logdir
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 60.0) -> None:
        self.starts += 1
        log = (self.logdir / f"{self.name}-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        ALL_PROCESSES.append(self.process)
        if not wait_port(self.port, timeout, self.process):
            tail = (self.logdir / f"{self.name}-{self.starts}.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} did not start on {self.port}:\n{tail}")

    def stop(self, grace: float = 10.0) -> None:
        stop_process(self.process, grace)

    def kill_hard(self, grace: float, sigkill: bool = False) -> str:
        """SIGTERM, then SIGKILL if still alive after `grace` s (or SIGKILL at once); what ended it."""
        assert self.process is not None
        if sigkill:
            self.process.kill()
            self.process.wait(timeout=10)
            return "SIGKILL"
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
            return "SIGTERM"
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            return "SIGKILL"


ALL_PROCESSES: list[subprocess.Popen] = []


def redis_server(port: int, logdir: Path) -> Managed:
    argv = ["redis-server", "--bind", HOST, "--port", str(port), "--daemonize", "no", "--save", ""]
    argv += ["--appendonly", "no", "--protected-mode", "no"]
    return Managed("redis", argv, dict(os.environ), port, logdir)


def daphne_server(port: int, env: dict[str, str], logdir: Path, name: str) -> Managed:
    argv = [PYTHON, "-m", "daphne", "-v", "0", "-b", HOST, "-p", str(port), "liveblog.asgi:application"]
    return Managed(f"daphne-{name}", argv, env, port, logdir)


# Django in this process -------------------------------------------------------------------------


def ensure_postgres_database(url: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = urllib.parse.unquote(parts.path.lstrip("/"))
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}", flush=True)


class BroadcastFailures(logging.Handler):
    """Counts posts.broadcast's logged failures ("Broadcast of event ... failed")."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1  # handle() already holds the handler's lock


BROADCAST_FAILURES = BroadcastFailures()


def setup_django(env: dict[str, str]) -> None:
    # This process only: editors keep their connection instead of one per post (Daphne keeps 0).
    os.environ.update({**env, "DJANGO_CONN_MAX_AGE": "60"})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    broadcast_logger = logging.getLogger("posts.broadcast")
    broadcast_logger.addHandler(BROADCAST_FAILURES)
    # Counted, not printed: 300 tracebacks would bury the figures.
    broadcast_logger.propagate = False


def make_blog(tag: str) -> tuple[int, str]:
    from django.db import close_old_connections

    from posts.models import LiveBlog

    close_old_connections()
    blog = LiveBlog.objects.create(
        slug=f"faults-{tag}-{uuid.uuid4().hex[:6]}",
        kicker="Faults",
        title=f"Faults {tag}",
        state=LiveBlog.State.LIVE,
    )
    return blog.pk, blog.slug


def publish(blog_id: int, label: str) -> bool:
    """One post through services; True when the save committed (whatever the broadcast did)."""
    from django.db import close_old_connections

    from posts import services
    from posts.models import LiveBlog, Post

    close_old_connections()
    try:
        blog = LiveBlog.objects.get(pk=blog_id)
        services.publish_post(Post(live_blog=blog, headline=f"Fault {label}", body=f"<p>{label}</p>"))
    except Exception as error:  # a save that failed: counted
        print(f"  save {label} failed: {error!r}"[:200], file=sys.stderr, flush=True)
        return False
    return True


def publish_many(
    blog_id: int, count: int, label: str, interval: float = 0.0, threads: int = 1
) -> tuple[int, float]:
    """`count` posts from `threads` editors, each pausing `interval` s; (saves ok, seconds)."""
    from django.db import connection

    ok = 0
    lock = threading.Lock()
    counter = iter(range(count))

    def editor() -> None:
        nonlocal ok
        try:
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                started = time.monotonic()
                if publish(blog_id, f"{label}-{index}"):
                    with lock:
                        ok += 1
                if interval:
                    time.sleep(max(0.0, interval - (time.monotonic() - started)))
        finally:
            connection.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=editor) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return ok, time.perf_counter() - started


def publish_batches(blog_id: int, count: int, label: str, batch: int) -> tuple[int, float, float]:
    """`count` posts through services.publish_posts, `batch` per call (one editor, or a feed).

    Each call is one transaction: the blog's row lock taken once, one event per post, and the
    broadcasts right after the commit. Returns (saves ok, seconds until the last batch was
    committed, seconds until its broadcasts were sent).
    """
    from django.db import close_old_connections, connection, transaction

    from posts import services
    from posts.models import LiveBlog, Post

    close_old_connections()
    blog = LiveBlog.objects.get(pk=blog_id)
    ok, committed = 0, 0.0
    started = time.perf_counter()

    def mark_committed() -> None:
        nonlocal committed
        committed = time.perf_counter() - started

    try:
        for first in range(0, count, batch):
            indexes = range(first, min(first + batch, count))
            with transaction.atomic():
                # Registered first, so it runs first after the commit, before the broadcasts.
                transaction.on_commit(mark_committed)
                services.publish_posts(
                    blog, [Post(headline=f"Fault {label}-{i}", body=f"<p>{i}</p>") for i in indexes]
                )
            ok += len(indexes)
    except Exception as error:  # a failed batch: counted
        print(f"  batch failed: {error!r}"[:200], file=sys.stderr, flush=True)
    finally:
        connection.close()
    return ok, committed, time.perf_counter() - started


def db_state(blog_id: int) -> tuple[set[int], int, str]:
    """(visible post ids, last_seq, state) from the database."""
    from django.db import close_old_connections

    from posts.models import LiveBlog, Post

    close_old_connections()
    blog = LiveBlog.objects.get(pk=blog_id)
    ids = set(Post.objects.filter(live_blog_id=blog_id).visible().values_list("pk", flat=True))
    return ids, blog.last_seq, blog.state


def archive(blog_id: int) -> None:
    from django.db import close_old_connections

    from posts import services
    from posts.models import LiveBlog

    close_old_connections()
    services.archive_blog(LiveBlog.objects.get(pk=blog_id))


def write_after_archive(blog_id: int) -> str:
    from django.db import close_old_connections

    from posts import services
    from posts.models import LiveBlog, Post

    close_old_connections()
    blog = LiveBlog.objects.get(pk=blog_id)
    try:
        services.publish_post(Post(live_blog=blog, headline="After archive", body="<p>no</p>"))
    except services.BlogClosedError:
        return "BlogClosedError"
    except Exception as error:
        return f"other error {type(error).__name__}"
    return "ACCEPTED"


class ConnectionSampler:
    """Peak connections to the drill's database (and to the whole server), every 0.25 s, one connection."""

    def __init__(self, url: str, interval: float = 0.25) -> None:
        parts = urllib.parse.urlsplit(url)
        self.name = urllib.parse.unquote(parts.path.lstrip("/"))
        self.admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
        self.interval = interval
        self.peak_db = 0
        self.peak_server = 0
        self.samples = 0
        self.windows: dict[int, int] = {}  # 5 s window since start -> peak connections to the drill's DB
        self._started = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.admin, autocommit=True, connect_timeout=5) as conn:
                while not self._done.is_set():
                    db, total = conn.execute(
                        "SELECT count(*) FILTER (WHERE datname = %s), count(*) FROM pg_stat_activity"
                        " WHERE backend_type = 'client backend'",
                        [self.name],
                    ).fetchone()
                    self.peak_db = max(self.peak_db, db)
                    window = int((time.monotonic() - self._started) // 5)
                    self.windows[window] = max(self.windows.get(window, 0), db)
                    self.peak_server = max(self.peak_server, total)
                    self.samples += 1
                    self._done.wait(self.interval)
        except Exception as error:  # the figure is then missing, the drill goes on
            print(f"  connection sampler stopped: {error!r}"[:200], file=sys.stderr, flush=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def text(self) -> str:
        return f"{self.peak_db}(server:{self.peak_server})" if self.samples else "n/a"

    def timeline(self) -> str:
        """Peak per 5 s window from the scenario's start, e.g. 3/40/99/99/12."""
        return "/".join(str(self.windows.get(w, 0)) for w in range(max(self.windows, default=-1) + 1))


# Results --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    scenario: str
    readers: int = 0
    posts_db: int = 0
    complete: int = 0
    missing: int = 0
    extra: int = 0
    settle: str = "-"
    catchups: str = "-"
    reconnect: str = "-"
    extra_figures: dict[str, str] = field(default_factory=dict)
    ok: bool = False
    probe_needed: bool = False  # complete only after a fresh socket: a FAIL of the fault handling

    def verdict(self) -> str:
        if self.probe_needed:
            return "FAIL*" if self.ok else "FAIL"
        return "PASS" if self.ok else "FAIL"

    def line(self) -> str:
        figures = " ".join(f"{key}={value}" for key, value in self.extra_figures.items())
        verdict = self.verdict()
        return (
            f"[{self.scenario}] {verdict} readers={self.readers} db_posts={self.posts_db} "
            f"complete={self.complete}/{self.readers} missing={self.missing} extra={self.extra} "
            f"settle={self.settle} catchups={self.catchups} reconnect={self.reconnect} {figures}"
        ).rstrip()


HEADER = [
    "scenario",
    "result",
    "readers",
    "db posts",
    "complete",
    "missing",
    "extra",
    "settle",
    "catch-ups",
    "reconnect s",
]


def print_table(outcomes: list[Outcome]) -> None:
    rows = [HEADER] + [
        [
            o.scenario,
            o.verdict(),
            str(o.readers),
            str(o.posts_db),
            f"{o.complete}/{o.readers}",
            str(o.missing),
            str(o.extra),
            o.settle,
            o.catchups,
            o.reconnect,
        ]
        for o in outcomes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print("\n".join(lines), flush=True)
    if any(o.probe_needed for o in outcomes):
        print(
            "FAIL* = readers were NOT complete within --settle-seconds after the fault; they became\n"
            "complete only after a fresh socket connected to the same Daphne (see after_probe).",
            flush=True,
        )


def pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# The drill --------------------------------------------------------------------------------------


class Drill:
    def __init__(self, args, logdir: Path) -> None:
        self.args = args
        self.logdir = logdir
        self.redis_port = free_port()
        self.redis = redis_server(self.redis_port, logdir)
        self.redis_url = f"redis://{HOST}:{self.redis_port}/0"
        self.prefix = f"liveblog-faults-{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "liveblog.settings",
            "DATABASE_URL": args.database_url,
            "REDIS_URL": self.redis_url,
            "CHANNEL_LAYER_PREFIX": self.prefix,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_SECRET_KEY": "faults-" + uuid.uuid4().hex,
            "DJANGO_ALLOWED_HOSTS": HOST,
            "DJANGO_LOG_LEVEL": "WARNING",
            "LIVEBLOG_HEARTBEAT_SECONDS": str(args.heartbeat),
        }
        self.daphne: Managed | None = None
        self.rng = random.Random(args.seed)

    # -- helpers --

    def start_daphne(self, name: str, **extra_env: str) -> Managed:
        self.daphne = daphne_server(free_port(), {**self.env, **extra_env}, self.logdir, name)
        self.daphne.start()
        return self.daphne

    async def connect_readers(
        self, port: int, slug: str, count: int, slow: int = 0
    ) -> tuple[list[LiveReader], list[asyncio.Task]]:
        readers, tasks = [], []
        for index in range(count):
            reader = LiveReader(
                port,
                slug,
                local_host=source_address(index, self.args.per_address),
                slow_seconds=self.args.slow_sleep if index < slow else 0.0,
                rng=random.Random(self.rng.random()),
            )
            readers.append(reader)
        batch = self.args.concurrency
        for start in range(0, count, batch):
            group = readers[start : start + batch]
            tasks += [asyncio.create_task(r.run()) for r in group]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(r.connected.wait() for r in group)), 60)
        connected = sum(r.connected.is_set() for r in readers)
        if connected < count:
            print(f"  warning: {connected}/{count} readers connected", file=sys.stderr, flush=True)
        # Let the initial catch-ups finish.
        await asyncio.sleep(1.0)
        return readers, tasks

    async def stop_readers(self, readers: list[LiveReader], tasks: list[asyncio.Task]) -> None:
        for reader in readers:
            reader.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 20)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(r.shutdown() for r in readers), return_exceptions=True)

    async def settle(self, blog_id: int, readers: list[LiveReader], timeout: float) -> float | None:
        """Seconds until every reader shows exactly the DB's posts, or None after `timeout`."""
        expected, _, _ = await asyncio.to_thread(db_state, blog_id)
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if all(r.present == expected for r in readers):
                return time.monotonic() - started
            await asyncio.sleep(0.2)
        return None

    async def settle_or_probe(
        self, blog_id: int, slug: str, port: int, readers: list[LiveReader], out: Outcome, since: float
    ) -> None:
        waited = await self.settle(blog_id, readers, self.args.settle_seconds)
        if waited is not None:
            out.settle = f"{time.monotonic() - since:.1f}s"
            return
        out.settle = f">{time.monotonic() - since:.0f}s"
        expected, _, _ = await asyncio.to_thread(db_state, blog_id)
        before = sum(r.present == expected for r in readers)
        out.extra_figures["complete_before_probe"] = f"{before}/{len(readers)}"
        # A fresh socket makes the hub read last_seq from the DB; its next ping carries it.
        probe = LiveReader(port, slug, local_host="127.0.1.250", rng=random.Random(1))
        probe_task = asyncio.create_task(probe.run())
        waited = await self.settle(blog_id, readers, self.args.heartbeat * 2 + 10)
        out.extra_figures["after_probe"] = f"{waited:.1f}s" if waited is not None else "never"
        out.probe_needed = True
        await self.stop_readers([probe], [probe_task])

    async def verify(self, blog_id: int, readers: list[LiveReader], out: Outcome) -> None:
        expected, _, _ = await asyncio.to_thread(db_state, blog_id)
        out.readers = len(readers)
        out.posts_db = len(expected)
        out.complete = sum(r.present == expected for r in readers)
        out.missing = sum(len(expected - r.present) for r in readers)
        out.extra = sum(len(r.present - expected) for r in readers)
        out.ok = out.complete == len(readers) and out.missing == 0 and out.extra == 0

    @staticmethod
    def catchup_figures(
        readers: list[LiveReader], base: list[tuple[int, int]]
    ) -> tuple[str, list[int], list[int]]:
        requests = [r.stats.catchup_requests - b[0] for r, b in zip(readers, base, strict=True)]
        failures = [r.stats.catchup_failures - b[1] for r, b in zip(readers, base, strict=True)]
        text = f"{sum(requests)} (max {max(requests, default=0)}/reader)"
        return text, requests, failures

    @staticmethod
    def baseline(readers: list[LiveReader]) -> list[tuple[int, int]]:
        return [(r.stats.catchup_requests, r.stats.catchup_failures) for r in readers]

    # -- scenarios --

    async def redis_outage(self) -> Outcome:
        args, out = self.args, Outcome("redis-outage")
        daphne = self.start_daphne("outage")
        blog_id, slug = await asyncio.to_thread(make_blog, "outage")
        readers, tasks = await self.connect_readers(daphne.port, slug, args.outage_readers)
        try:
            await asyncio.to_thread(publish_many, blog_id, 5, "before")
            await self.settle(blog_id, readers, 15)
            base = self.baseline(readers)
            pushed_before = sum(r.stats.pushed_events for r in readers)
            failures_before = BROADCAST_FAILURES.count
            t0 = time.monotonic()
            await asyncio.to_thread(self.redis.stop)
            interval = args.outage_seconds / max(args.outage_posts, 1)
            ok, seconds = await asyncio.to_thread(
                publish_many, blog_id, args.outage_posts, "outage", interval
            )
            remaining = args.outage_seconds - (time.monotonic() - t0)
            if remaining > 0:
                await asyncio.sleep(remaining)
            down = time.monotonic() - t0
            await asyncio.to_thread(self.redis.start)
            restarted = time.monotonic()
            out.extra_figures["saves_ok"] = f"{ok}/{args.outage_posts}"
            out.extra_figures["broadcast_failures_logged"] = str(BROADCAST_FAILURES.count - failures_before)
            out.extra_figures["publish_s"] = f"{seconds:.1f}"
            out.extra_figures["redis_down_s"] = f"{down:.1f}"
            out.extra_figures["5xx"] = "n/a(in-process)"
            pushed_mid = sum(r.stats.pushed_events for r in readers)
            await asyncio.sleep(2)
            await asyncio.to_thread(publish_many, blog_id, args.after_posts, "after")
            await asyncio.sleep(2)
            pushed_after = sum(r.stats.pushed_events for r in readers) - pushed_mid
            out.extra_figures["pushes_after_restart"] = f"{pushed_after}/{args.after_posts * len(readers)}"
            out.extra_figures["pushes_during_outage"] = str(pushed_mid - pushed_before)
            await self.settle_or_probe(blog_id, slug, daphne.port, readers, out, restarted)
            out.catchups, _, fails = self.catchup_figures(readers, base)
            out.extra_figures["catchup_failures"] = str(sum(fails))
            await self.verify(blog_id, readers, out)
        finally:
            await self.stop_readers(readers, tasks)
            daphne.stop()
        return out

    async def redis_wipe(self) -> Outcome:
        args = self.args
        out = Outcome(f"redis-wipe({args.wipe_mode})")
        daphne = self.start_daphne("wipe", LIVEBLOG_GROUP_REFRESH_SECONDS=str(args.group_refresh))
        blog_id, slug = await asyncio.to_thread(make_blog, "wipe")
        readers, tasks = await self.connect_readers(daphne.port, slug, args.wipe_readers)
        try:
            await asyncio.to_thread(publish_many, blog_id, 5, "before")
            await self.settle(blog_id, readers, 15)
            base = self.baseline(readers)
            if args.wipe_mode == "restart":
                await asyncio.to_thread(self.redis.stop)
                await asyncio.to_thread(self.redis.start)
            else:
                import redis

                client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2)
                client.flushall()
                client.close()
            wiped = time.monotonic()
            await asyncio.sleep(2)  # the hub's receive loop notices and reconnects (restart mode)
            pushed = sum(r.stats.pushed_events for r in readers)
            ok, _ = await asyncio.to_thread(publish_many, blog_id, args.wipe_posts, "wipe", 0.05)
            out.extra_figures["saves_ok"] = f"{ok}/{args.wipe_posts}"
            await asyncio.sleep(2)
            out.extra_figures["pushes_after_wipe"] = (
                f"{sum(r.stats.pushed_events for r in readers) - pushed}/{args.wipe_posts * len(readers)}"
            )
            await self.settle_or_probe(blog_id, slug, daphne.port, readers, out, wiped)
            out.catchups, _, _ = self.catchup_figures(readers, base)
            await self.verify(blog_id, readers, out)
        finally:
            await self.stop_readers(readers, tasks)
            daphne.stop()
        return out

    async def burst(self) -> Outcome:
        args, out = self.args, Outcome("burst")
        daphne = self.start_daphne("burst")
        blog_id, slug = await asyncio.to_thread(make_blog, "burst")
        readers, tasks = await self.connect_readers(
            daphne.port, slug, args.burst_readers, slow=args.slow_readers
        )
        try:
            base = self.baseline(readers)
            t0 = time.monotonic()
            if args.burst_batch:
                ok, seconds, sent = await asyncio.to_thread(
                    publish_batches, blog_id, args.burst_posts, "burst", args.burst_batch
                )
                out.extra_figures["batch"] = str(args.burst_batch)
                out.extra_figures["broadcasts_sent_s"] = f"{sent:.2f}"
            else:
                ok, seconds = await asyncio.to_thread(
                    publish_many, blog_id, args.burst_posts, "burst", 0.0, args.burst_threads
                )
            out.extra_figures["saves_ok"] = f"{ok}/{args.burst_posts}"
            out.extra_figures["publish_s"] = f"{seconds:.2f}"
            out.extra_figures["rate_per_s"] = f"{ok / seconds:.0f}"
            waited = await self.settle(blog_id, readers, args.settle_seconds)
            out.settle = (
                f"{time.monotonic() - t0:.1f}s" if waited is not None else f">{time.monotonic() - t0:.0f}s"
            )
            out.catchups, requests, _ = self.catchup_figures(readers, base)
            slow = requests[: args.slow_readers]
            out.extra_figures["catchups_slow"] = f"{sum(slow)}"
            out.extra_figures["catchups_fast"] = f"{sum(requests[args.slow_readers :])}"
            out.extra_figures["pushed_frames"] = str(sum(r.stats.pushed_events for r in readers))
            out.extra_figures["closed_by_server"] = str(sum(len(r.stats.close_codes) for r in readers))
            out.extra_figures["catchup_5xx"] = str(sum(r.stats.catchup_5xx for r in readers))
            out.extra_figures["catchup_other_failures"] = str(
                sum(r.stats.catchup_failures - r.stats.catchup_5xx for r in readers)
            )
            out.extra_figures["catchup_retries"] = str(sum(r.stats.catchup_retries for r in readers))
            out.extra_figures["gap_waits_resolved_by_push"] = str(sum(r.stats.soon_skipped for r in readers))
            await self.verify(blog_id, readers, out)
        finally:
            await self.stop_readers(readers, tasks)
            daphne.stop()
        return out

    async def daphne_kill(self) -> Outcome:
        """Readers spread over source addresses (--per-address, under the server's cap of 20 per
        address); 1,000 of them need ~1,000 file descriptors in this process and in Daphne (main()
        raises the soft limit to the hard one) and stay far below PostgreSQL's 100 connections
        (the catch-up endpoint runs LIVEBLOG_CATCH_UP_CONCURRENCY at once per process).

        db_queries: statements the drill's database ran from the restart until settled
        (pg_stat_database.xact_commit + xact_rollback; each autocommit statement is one
        transaction), also per reader. A socket's connect reads 2 (its blog, then its last_seq), a
        catch-up 1 when its answer is cached (3 when it renders it), the heartbeat 1 per process
        every --heartbeat s; each connection checkout adds one more statement (the pool's health
        check, or SET TIME ZONE on a new connection when the server's zone is not UTC). So
        3 queries per reader show as ~6 statements.
        """
        args, out = self.args, Outcome("daphne-kill")

        def statements() -> int | None:
            import psycopg

            parts = urllib.parse.urlsplit(args.database_url)
            name = urllib.parse.unquote(parts.path.lstrip("/"))
            admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
            try:
                with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
                    row = conn.execute(
                        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", [name]
                    ).fetchone()
            except Exception as error:  # the figure is then missing, the drill goes on
                print(f"  statement count failed: {error!r}"[:200], file=sys.stderr, flush=True)
                return None
            return int(row[0]) if row else None

        def triggers(readers: list[LiveReader]) -> dict[str, int]:
            total: dict[str, int] = {}
            for reader in readers:
                for name, count in reader.stats.catchup_triggers.items():
                    total[name] = total.get(name, 0) + count
            return total

        daphne = self.start_daphne("kill")
        blog_id, slug = await asyncio.to_thread(make_blog, "kill")
        readers, tasks = await self.connect_readers(daphne.port, slug, args.readers)
        try:
            await asyncio.to_thread(publish_many, blog_id, 5, "before")
            await self.settle(blog_id, readers, 20)
            base = self.baseline(readers)
            triggers_before = triggers(readers)
            early_before = sum(r.stats.early_reconnects for r in readers)
            # Sockets in service (they got their hello): one closed at once with 4013 is no reconnect.
            connects = [r.stats.served for r in readers]
            how = await asyncio.to_thread(daphne.kill_hard, args.term_grace, args.sigkill)
            killed = time.monotonic()
            ok, _ = await asyncio.to_thread(publish_many, blog_id, args.down_posts, "down")
            remaining = args.down_seconds - (time.monotonic() - killed)
            if remaining > 0:
                await asyncio.sleep(remaining)
            await asyncio.to_thread(daphne.start)
            statements_before = await asyncio.to_thread(statements)
            out.extra_figures["stopped_by"] = how
            out.extra_figures["down_s"] = f"{time.monotonic() - killed:.1f}"
            out.extra_figures["saves_ok"] = f"{ok}/{args.down_posts}"
            failures_before = [r.stats.connect_failures for r in readers]
            codes_before = [len(r.stats.close_codes) for r in readers]
            fivexx_before = sum(r.stats.catchup_5xx for r in readers)
            deadline = time.monotonic() + args.reconnect_wait
            while time.monotonic() < deadline and not all(
                r.stats.served > c for r, c in zip(readers, connects, strict=True)
            ):
                await asyncio.sleep(0.2)
            await self.settle_or_probe(blog_id, slug, daphne.port, readers, out, killed)
            await asyncio.sleep(1.0)  # backends report their statistics within a second
            statements_after = await asyncio.to_thread(statements)
            times = [t for r in readers for t in r.stats.reconnect_seconds]
            worst = max(times, default=float("nan"))
            out.reconnect = f"p50 {pct(times, 50):.1f} p95 {pct(times, 95):.1f} max {worst:.1f}"
            out.extra_figures["reconnected"] = (
                f"{sum(r.stats.served > c for r, c in zip(readers, connects, strict=True))}/{len(readers)}"
            )
            out.catchups, requests, failures = self.catchup_figures(readers, base)
            out.extra_figures["readers_over_1_query"] = str(sum(n > 1 for n in requests))
            after = triggers(readers)
            out.extra_figures["catchups_by_trigger"] = (
                ",".join(
                    f"{name}:{after[name] - triggers_before.get(name, 0)}"
                    for name in sorted(after)
                    if after[name] > triggers_before.get(name, 0)
                )
                or "none"
            )
            out.extra_figures["early_reconnects"] = str(
                sum(r.stats.early_reconnects for r in readers) - early_before
            )
            if statements_before is not None and statements_after is not None:
                queries = statements_after - statements_before
                out.extra_figures["db_queries"] = f"{queries}({queries / max(len(readers), 1):.2f}/reader)"
            out.extra_figures["failed_catchups"] = str(sum(failures))
            out.extra_figures["catchup_retries"] = str(sum(r.stats.catchup_retries for r in readers))
            out.extra_figures["catchup_5xx"] = str(sum(r.stats.catchup_5xx for r in readers) - fivexx_before)
            out.extra_figures["ws_connect_failures"] = str(
                sum(r.stats.connect_failures - f for r, f in zip(readers, failures_before, strict=True))
            )
            codes: dict[int, int] = {}
            for r, n in zip(readers, codes_before, strict=True):
                for code in r.stats.close_codes[n:]:
                    codes[code] = codes.get(code, 0) + 1
            out.extra_figures["close_codes"] = (
                ",".join(f"{c}x{k}" for c, k in sorted(codes.items())) or "none"
            )
            await self.verify(blog_id, readers, out)
        finally:
            await self.stop_readers(readers, tasks)
            daphne.stop()
        return out

    async def archive(self) -> Outcome:
        args, out = self.args, Outcome("archive")
        daphne = self.start_daphne("archive")
        blog_id, slug = await asyncio.to_thread(make_blog, "archive")
        readers, tasks = await self.connect_readers(daphne.port, slug, args.readers)
        try:
            await asyncio.to_thread(publish_many, blog_id, 3, "before")
            await self.settle(blog_id, readers, 20)
            connects = sum(r.stats.connects for r in readers)
            t0 = time.monotonic()
            await asyncio.to_thread(archive, blog_id)
            deadline = time.monotonic() + args.settle_seconds
            while time.monotonic() < deadline and not all(
                r.archived and not r.connected.is_set() for r in readers
            ):
                await asyncio.sleep(0.1)
            out.settle = f"{time.monotonic() - t0:.1f}s"
            await asyncio.sleep(2)  # would anyone reconnect?
            out.extra_figures["got_archived"] = f"{sum(r.archived for r in readers)}/{len(readers)}"
            out.extra_figures["closed"] = f"{sum(not r.connected.is_set() for r in readers)}/{len(readers)}"
            codes: dict[int, int] = {}
            for r in readers:
                for code in r.stats.close_codes:
                    codes[code] = codes.get(code, 0) + 1
            out.extra_figures["close_codes"] = (
                ",".join(f"{c}x{n}" for c, n in sorted(codes.items())) or "none"
            )
            out.extra_figures["reconnects_after"] = str(sum(r.stats.connects for r in readers) - connects)
            write = await asyncio.to_thread(write_after_archive, blog_id)
            out.extra_figures["write_after_archive"] = write
            _, _, state = await asyncio.to_thread(db_state, blog_id)
            out.extra_figures["db_state"] = state
            await self.verify(blog_id, readers, out)
            out.ok = out.ok and write == "BlogClosedError" and all(r.archived for r in readers)
        finally:
            await self.stop_readers(readers, tasks)
            daphne.stop()
        return out


SCENARIOS = ["redis-outage", "redis-wipe", "burst", "daphne-kill", "archive"]

# Scenarios that live in their own module (bench/faults_<name>.py): each module defines NAME,
# `add_arguments(parser)` and `async def run(drill) -> Outcome` (optionally `timeout(args)`, its
# bound in seconds instead of --scenario-timeout); they share the Drill's helpers.
PLUGIN_MODULES = ["faults_postgres", "faults_editors"]


def load_plugins() -> dict:
    import importlib

    # Plugins `import faults` for Outcome, Drill and the helpers above: let that be this module
    # (also when it runs as __main__), not a second copy.
    sys.modules.setdefault("faults", sys.modules[__name__])
    plugins = {}
    for module_name in PLUGIN_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        plugins[module.NAME] = module
    return plugins


PLUGINS = load_plugins()


def scenario_timeout(name: str, args) -> float:
    """--scenario-timeout, or what a plugin with many runs asks for (its `timeout(args)`)."""
    plugin = PLUGINS.get(name)
    if plugin is not None and hasattr(plugin, "timeout"):
        return plugin.timeout(args)
    return args.scenario_timeout


SCENARIOS += list(PLUGINS)


async def main_async(args, logdir: Path) -> list[Outcome]:
    drill = Drill(args, logdir)
    outcomes: list[Outcome] = []
    try:
        drill.redis.start()
        await asyncio.to_thread(setup_django, drill.env)
        print(
            f"redis 127.0.0.1:{drill.redis_port} (throwaway); database {args.database_url}; "
            f"heartbeat {args.heartbeat}s; group refresh (redis-wipe) {args.group_refresh}s; logs {logdir}",
            flush=True,
        )
        names = SCENARIOS if args.scenario == "all" else [args.scenario]
        for name in names:
            if name in PLUGINS:
                method = partial(PLUGINS[name].run, drill)
            else:
                method = getattr(drill, name.replace("-", "_"))
            print(f"running {name} ...", file=sys.stderr, flush=True)
            sampler = ConnectionSampler(args.database_url)
            sampler.start()
            try:
                outcome = await asyncio.wait_for(method(), scenario_timeout(name, args))
            except TimeoutError:
                outcome = Outcome(name, extra_figures={"error": "scenario timed out"})
            except Exception as error:  # report and go on with the next scenario
                outcome = Outcome(name, extra_figures={"error": repr(error)[:120]})
            finally:
                sampler.stop()
            outcome.extra_figures["db_conns_peak"] = sampler.text()
            if args.conn_timeline:
                outcome.extra_figures["db_conns_per_5s"] = sampler.timeline()
            print(outcome.line(), flush=True)
            outcomes.append(outcome)
            if drill.redis.process is None or drill.redis.process.poll() is not None:
                drill.redis.start()
    finally:
        if drill.daphne is not None:
            drill.daphne.stop()
        drill.redis.stop()
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=["all", *SCENARIOS], default="all")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/liveblog_faults")
    parser.add_argument("--heartbeat", type=float, default=5.0, help="hub heartbeat in Daphne, s (app: 25)")
    parser.add_argument(
        "--group-refresh", type=float, default=10.0, help="redis-wipe: LIVEBLOG_GROUP_REFRESH_SECONDS, s"
    )
    parser.add_argument("--settle-seconds", type=float, default=45.0, help="max wait for complete readers")
    parser.add_argument("--scenario-timeout", type=float, default=400.0)
    parser.add_argument("--concurrency", type=int, default=20, help="readers connecting at once")
    parser.add_argument("--per-address", type=int, default=10, help="readers per 127.0.0.x source address")
    parser.add_argument(
        "--readers",
        type=int,
        default=100,
        help="daphne-kill, archive (daphne-kill: 1,000 tested; see --per-address)",
    )
    parser.add_argument("--outage-readers", type=int, default=20)
    parser.add_argument("--outage-seconds", type=float, default=30.0)
    parser.add_argument("--outage-posts", type=int, default=300)
    parser.add_argument("--after-posts", type=int, default=5, help="posts after Redis is back")
    parser.add_argument("--wipe-readers", type=int, default=20)
    parser.add_argument("--wipe-posts", type=int, default=20)
    parser.add_argument("--wipe-mode", choices=["restart", "flushall"], default="restart")
    parser.add_argument("--burst-readers", type=int, default=100)
    parser.add_argument("--burst-posts", type=int, default=500)
    parser.add_argument("--burst-threads", type=int, default=4)
    parser.add_argument(
        "--burst-batch",
        type=int,
        default=0,
        help="burst: posts per publish_posts call (0: publish_post, --burst-threads editors)",
    )
    parser.add_argument("--slow-readers", type=int, default=10)
    parser.add_argument("--slow-sleep", type=float, default=0.02, help="slow readers' sleep per frame, s")
    parser.add_argument("--down-posts", type=int, default=20, help="posts while Daphne is down")
    parser.add_argument("--down-seconds", type=float, default=5.0)
    parser.add_argument("--reconnect-wait", type=float, default=90.0, help="daphne-kill: max wait, s")
    parser.add_argument("--term-grace", type=float, default=2.0, help="SIGKILL after this many s")
    parser.add_argument(
        "--sigkill", action="store_true", help="daphne-kill: SIGKILL at once (no SIGTERM, no graceful close)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--conn-timeline", action="store_true", help="also print the peak DB connections per 5 s window"
    )
    parser.add_argument("--logdir", help="keep the servers' logs here")
    for plugin in PLUGINS.values():
        plugin.add_arguments(parser)
    args = parser.parse_args()
    host = urllib.parse.urlsplit(args.database_url).hostname
    if host not in (HOST, "localhost"):
        parser.error("stays on 127.0.0.1")
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ensure_postgres_database(args.database_url)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        logdir = Path(args.logdir) if args.logdir else Path(tmp)
        logdir.mkdir(parents=True, exist_ok=True)
        try:
            outcomes = asyncio.run(main_async(args, logdir))
        finally:
            for process in ALL_PROCESSES:  # anything still running, by PID
                stop_process(process, 5)
    print(f"\nAll scenarios ({time.monotonic() - started:.0f} s):", flush=True)
    print_table(outcomes)
    sys.exit(0 if all(o.verdict() == "PASS" for o in outcomes) else 1)


if __name__ == "__main__":
    main()
