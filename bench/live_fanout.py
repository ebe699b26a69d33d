"""Live fan-out benchmark: latency from publish to every reader's socket, and memory per socket.

For each combination of server (daphne, uvicorn), fan-out (hub, group) and reader count, this
script starts ONE server process on 127.0.0.1, opens N reader WebSockets to one live blog, publishes
M posts through `posts.services.publish_post` in this process (the broadcast goes through Redis to
the server, exactly as from the admin), and records, per post and reader, the time from just
before publish_post() to the frame's arrival (both clocks: this process's perf_counter); one
warm-up post per run is not measured. Memory: the server's VmRSS after connecting minus before,
divided by N. Exits 1 unless every run delivered every post to every reader.

Fan-out: "hub" serves the production application (`liveblog.asgi:application`: one channel-layer
membership per process and blog, live/hub.py); "group" serves `bench.group_fanout:application`,
a benchmark-only consumer with a channel and group membership per socket (plain `group_send`).

    .venv/bin/python -m bench.live_fanout --readers 100,1000 --servers daphne,uvicorn --fanout hub,group
    .venv/bin/python -m bench.live_fanout --smoke    # 3 readers, 2 posts (what CI runs)

Needs PostgreSQL (default database `liveblog_bench`, created and migrated) or a SQLite file
(`--database-url sqlite:////tmp/bench.sqlite3`), and Redis (keys under a fresh prefix, deleted at
the end). uvicorn serves WebSockets only with `websockets` or `wsproto` importable in the server
process (`websockets` is a dev dependency). Everything stays on 127.0.0.1; every wait is bounded;
the script stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (
    GROUP_APPLICATION,
    HUB_APPLICATION,
    RawSocket,
    check_local,
    csv_choices,
    csv_ints,
    daphne_server,
    ensure_postgres_database,
    free_port,
    make_blog,
    markdown_table,
    pct,
    raise_fd_limit,
    rss_kib,
    server_env,
    setup_django,
    smoke_defaults,
    stop_all,
    uvicorn_server,
)

POST_ID = re.compile(rb'"post_id":(\d+)')
FRAME_TYPE = re.compile(rb'\{"type": ?"(\w+)"')  # compact or not: the type comes first


def frame_type(message: bytes) -> bytes:
    match = FRAME_TYPE.match(message)
    return match.group(1) if match else b""


# --smoke: one tiny run per server and fan-out asked for (explicit options still win).
SMOKE = dict(readers=[3], posts=2, interval=0.05, post_timeout=10.0, run_timeout=90.0, concurrency=3)


@dataclass
class Result:
    server: str
    fanout: str
    readers: int
    connected: int = 0
    connect_seconds: float = 0.0
    delivered: int = 0
    expected: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    rss_per_conn_kib: float | None = None
    dropped: int = 0
    note: str = ""

    def row(self) -> list[str]:
        def percentile(q: int) -> str:
            return "-" if len(self.latencies_ms) < 2 else f"{pct(self.latencies_ms, q):.1f}"

        rss = "-" if self.rss_per_conn_kib is None else f"{self.rss_per_conn_kib:.1f}"
        return [
            self.server,
            self.fanout,
            str(self.readers),
            f"{self.connected}",
            f"{self.connect_seconds:.1f}",
            f"{self.delivered}/{self.expected}",
            str(self.dropped),
            percentile(50),
            percentile(95),
            percentile(99),
            f"{max(self.latencies_ms):.1f}" if self.latencies_ms else "-",
            rss,
            self.note,
        ]


HEADER = ["server", "fanout", "readers", "connected", "connect s", "delivered/expected", "dropped"]
HEADER += ["p50 ms", "p95 ms", "p99 ms", "max ms", "RSS/conn KiB", "note"]


def publish(blog_id: int, index: int) -> tuple[float, int]:
    """Publish one post from this process; returns (t0 just before publishing, post id)."""
    from django.db import close_old_connections

    from posts import services
    from posts.models import LiveBlog, Post

    close_old_connections()
    blog = LiveBlog.objects.get(pk=blog_id)
    post = Post(live_blog=blog, headline=f"Benchmark {index}", body=f"<p>Meldung {index} im Benchmark.</p>")
    t0 = time.perf_counter()
    services.publish_post(post)  # broadcasts on commit, before it returns
    return t0, post.pk


async def run_one(args, env: dict[str, str], server_kind: str, fanout: str, n: int, logdir: Path) -> Result:
    result = Result(server_kind, fanout, n, expected=n * args.posts)
    blog_id, slug = await asyncio.to_thread(make_blog, "bench", f"{server_kind}-{fanout}-{n}")
    path = f"/ws/live/{slug}/"
    application = GROUP_APPLICATION if fanout == "group" else HUB_APPLICATION
    start = daphne_server if server_kind == "daphne" else uvicorn_server
    server = start(free_port(), env, logdir, f"{fanout}-{n}", application)
    readers: list[RawSocket] = []
    tasks: list[asyncio.Task] = []
    try:
        await asyncio.to_thread(server.start, 30.0)
        # Warm-up: first connection loads code and opens the layer's pools; not part of per-socket RSS.
        warm = await asyncio.wait_for(RawSocket.open(server.port, path), args.connect_timeout)
        await asyncio.wait_for(warm.next_message(), args.connect_timeout)
        await warm.close()
        await asyncio.sleep(1.0)
        rss_before = rss_kib(server.process.pid)

        receipts: dict[int, list[float]] = {}
        done: dict[int, asyncio.Event] = {}

        alive = 0  # readers whose socket is still open: a post is complete when all of them have it

        def check(post_id: int) -> None:
            if post_id in done and len(receipts.get(post_id, ())) >= alive:
                done[post_id].set()

        def arrived(post_id: int, when: float) -> None:
            receipts.setdefault(post_id, []).append(when)
            check(post_id)

        async def listen(reader: RawSocket) -> None:
            nonlocal alive
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, OSError):
                while True:
                    message = await reader.next_message()
                    when = time.perf_counter()
                    if frame_type(message) == b"event":
                        match = POST_ID.search(message, 0, 200)
                        if match:
                            arrived(int(match.group(1)), when)
            # Closed by the server (e.g. the hub drops a socket that could not take a frame).
            alive -= 1
            result.dropped += 1
            for post_id in list(done):
                check(post_id)

        gate = asyncio.Semaphore(args.concurrency)
        failures: list[str] = []

        async def connect_one() -> None:
            async with gate:
                try:
                    reader = await asyncio.wait_for(RawSocket.open(server.port, path), args.connect_timeout)
                    hello = await asyncio.wait_for(reader.next_message(), args.connect_timeout)
                    if frame_type(hello) == b"ping":  # the hub's heartbeat may come first
                        hello = await asyncio.wait_for(reader.next_message(), args.connect_timeout)
                    if frame_type(hello) != b"hello":
                        raise ConnectionError(hello[:80])
                except (OSError, TimeoutError, ConnectionError, asyncio.IncompleteReadError) as error:
                    failures.append(repr(error))
                    return
                readers.append(reader)
                # Listen at once: the server's protocol pings must be answered while others connect.
                nonlocal alive
                alive += 1
                tasks.append(asyncio.create_task(listen(reader)))

        started = time.perf_counter()
        await asyncio.gather(*(connect_one() for _ in range(n)))
        result.connect_seconds = time.perf_counter() - started
        result.connected = len(readers)
        if failures:
            result.note = f"{len(failures)} connect failures, e.g. {failures[0][:60]}"
        await asyncio.sleep(1.0)
        result.rss_per_conn_kib = (rss_kib(server.process.pid) - rss_before) / max(n, 1)

        # One unmeasured post first: template compilation and pools in this process, not fan-out.
        for index in range(-1, args.posts):
            t0, post_id = await asyncio.to_thread(publish, blog_id, index)
            event = done.setdefault(post_id, asyncio.Event())
            check(post_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), args.post_timeout)
            if index < 0:
                continue
            times = receipts.get(post_id, [])
            result.delivered += len(times)
            result.latencies_ms += [(t - t0) * 1000 for t in times]
            await asyncio.sleep(args.interval)
        if server.process.poll() is not None:
            result.note = (result.note + f"; server exited {server.process.returncode}").lstrip("; ")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        gate = asyncio.Semaphore(args.concurrency)

        async def close(reader: RawSocket) -> None:
            async with gate:
                await reader.close()

        await asyncio.gather(*(close(reader) for reader in readers), return_exceptions=True)
        await asyncio.to_thread(server.stop, 15.0)
    return result


async def main_async(args) -> list[Result]:
    # Production-like servers: DEBUG off (no query log growing with every query).
    env = server_env(args.database_url, args.redis_url, args.prefix)
    results = []
    with tempfile.TemporaryDirectory(prefix="live-fanout-") as tmp:
        logdir = Path(args.logdir) if args.logdir else Path(tmp)
        logdir.mkdir(parents=True, exist_ok=True)
        for n in args.readers:
            for server_kind in args.servers:
                for fanout in args.fanout:
                    label = f"{server_kind}/{fanout}/{n}"
                    print(f"running {label} ...", file=sys.stderr, flush=True)
                    try:
                        result = await asyncio.wait_for(
                            run_one(args, env, server_kind, fanout, n, logdir), args.run_timeout
                        )
                    except TimeoutError:
                        result = Result(server_kind, fanout, n, expected=n * args.posts, note="run timed out")
                    except RuntimeError as error:
                        result = Result(server_kind, fanout, n, expected=n * args.posts, note=str(error)[:80])
                    results.append(result)
                    print(markdown_table(HEADER, [result.row()]), flush=True)
    return results


def cleanup_redis(redis_url: str, prefix: str) -> None:
    """Delete this run's channel-layer keys (SCAN by its prefix; nothing else is touched)."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.live_fanout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="3 readers, 2 posts (CI's smoke run)")
    parser.add_argument("--readers", type=csv_ints, default=[100, 1000], help="e.g. 100,1000,5000")
    parser.add_argument("--posts", type=int, default=20, help="posts published per run (default 20)")
    parser.add_argument("--servers", type=csv_choices({"daphne", "uvicorn"}), default=["daphne", "uvicorn"])
    parser.add_argument("--fanout", type=csv_choices({"hub", "group"}), default=["hub", "group"])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/liveblog_bench",
        help="PostgreSQL (created if missing) or sqlite:////path/file.sqlite3; migrated first",
    )
    parser.add_argument("--concurrency", type=int, default=200, help="handshakes in flight at once")
    parser.add_argument("--connect-timeout", type=float, default=15.0, help="per connection, seconds")
    parser.add_argument("--post-timeout", type=float, default=30.0, help="wait for one post, seconds")
    parser.add_argument("--interval", type=float, default=0.2, help="pause between posts, seconds")
    parser.add_argument("--run-timeout", type=float, default=600.0, help="per combination, seconds")
    parser.add_argument("--logdir", help="keep the servers' logs here")
    args = smoke_defaults(parser, SMOKE)
    for url in (args.redis_url, args.database_url):
        if error := check_local(url):
            parser.error(error)
    args.prefix = f"liveblog-bench-{uuid.uuid4().hex[:10]}"

    limit = raise_fd_limit()
    if max(args.readers) + 100 > limit:
        parser.error(f"{max(args.readers)} readers need more than the fd limit ({limit})")
    if args.database_url.startswith("postgres"):
        ensure_postgres_database(args.database_url)
    # This process publishes; the servers get the same settings with DEBUG off (main_async).
    setup_django(server_env(args.database_url, args.redis_url, args.prefix, DJANGO_DEBUG="1"))
    print(
        f"fd limit {limit}; {args.posts} posts per run; database {args.database_url}; prefix {args.prefix}",
        flush=True,
    )
    try:
        results = asyncio.run(main_async(args))
    finally:
        cleanup_redis(args.redis_url, args.prefix)
        stop_all()
    print("\nAll runs:", flush=True)
    print(markdown_table(HEADER, [r.row() for r in results]), flush=True)
    sys.exit(0 if results and all(r.delivered == r.expected and not r.note for r in results) else 1)


if __name__ == "__main__":
    main()
