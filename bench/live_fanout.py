"""Live fan-out benchmark: latency from publish to every reader's socket, and memory per socket.

For each combination of server (daphne, uvicorn), fan-out (hub, group: see posts/consumers.py) and
reader count, this script starts ONE server process on 127.0.0.1, opens N reader WebSockets to one
live blog, publishes M posts through `posts.services.publish_post` in this process (the broadcast
goes through Redis to the server, exactly as from the admin), and records, per post and reader, the
time from just before publish_post() to the frame's arrival (both clocks: this process's
perf_counter); one warm-up post per run is not measured. Memory: the server's VmRSS after
connecting minus before, divided by N.

    .venv/bin/python bench/live_fanout.py --readers 100,1000 --servers daphne,uvicorn --fanout hub,group

Needs PostgreSQL (default database `liveblog_bench`, created and migrated) or a SQLite file
(`--database-url sqlite:////tmp/bench.sqlite3`), and Redis. uvicorn serves WebSockets only with
`websockets` or `wsproto` importable in the server process (neither is a project dependency):
e.g. `pip install --target /tmp/bench-site websockets` and run with `PYTHONPATH=/tmp/bench-site`.
Everything stays on 127.0.0.1; every wait is bounded; the script stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
POST_ID = re.compile(rb'"post_id":(\d+)')


# A minimal RFC 6455 client on asyncio streams (no third-party WebSocket library needed) ------------


class Reader:
    def __init__(self, stream: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stream = stream
        self.writer = writer

    @classmethod
    async def open(cls, port: int, path: str) -> Reader:
        stream, writer = await asyncio.open_connection(HOST, port)
        key = base64.b64encode(os.urandom(16))
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: http://{HOST}:{port}\r\n\r\n".encode()
        )
        head = (await stream.readuntil(b"\r\n\r\n")).decode("latin-1")
        if not head.startswith("HTTP/1.1 101"):
            writer.close()
            raise ConnectionError(head.split("\r\n", 1)[0])
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()  # noqa: S324
        if f"sec-websocket-accept: {accept.lower()}" not in head.lower():
            writer.close()
            raise ConnectionError("bad Sec-WebSocket-Accept")
        return cls(stream, writer)

    def _send(self, opcode: int, payload: bytes = b"") -> None:
        # Control frames only (< 126 bytes); the mask is all zeros, which XORs to the payload itself.
        self.writer.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)

    async def next_message(self) -> bytes:
        """The next data message; answers pings; ConnectionError when the server closes."""
        message = b""
        while True:
            first, second = await self.stream.readexactly(2)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(await self.stream.readexactly(2))
            elif length == 127:
                length = int.from_bytes(await self.stream.readexactly(8))
            payload = await self.stream.readexactly(length)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ConnectionError("closed by the server")
            if opcode == 0x9:
                self._send(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            message += payload
            if first & 0x80:
                return message

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self._send(0x8, (1000).to_bytes(2))
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 2)


# Setup ---------------------------------------------------------------------------------------------


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def ensure_postgres_database(url: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = urllib.parse.unquote(parts.path.lstrip("/"))
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}", flush=True)


def setup_django(database_url: str, redis_url: str, prefix: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "liveblog.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CHANNEL_LAYER_PREFIX": prefix,
            "DJANGO_DEBUG": "1",
            "DJANGO_SECRET_KEY": "bench",
            "DJANGO_LOG_LEVEL": "WARNING",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class Server:
    def __init__(self, kind: str, fanout: str, env: dict[str, str], log: Path) -> None:
        self.kind = kind
        self.port = free_port()
        target = "liveblog.asgi:application"
        if kind == "daphne":
            argv = [str(BIN / "daphne"), "-v", "0", "-b", HOST, "-p", str(self.port), target]
        elif kind == "uvicorn":
            argv = [str(BIN / "uvicorn"), "--host", HOST, "--port", str(self.port)]
            argv += ["--log-level", "warning", "--no-access-log", "--ws", "auto", target]
        else:
            raise ValueError(kind)
        self.log_path = log
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**env, "LIVEBLOG_FANOUT": fanout},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.kind} did not start:\n{self.log_path.read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self._log.close()


# One run ---------------------------------------------------------------------------------------------


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
        def pct(q: int) -> str:
            if len(self.latencies_ms) < 2:
                return "-"
            return f"{statistics.quantiles(self.latencies_ms, n=100, method='inclusive')[q - 1]:.1f}"

        rss = "-" if self.rss_per_conn_kib is None else f"{self.rss_per_conn_kib:.1f}"
        return [
            self.server,
            self.fanout,
            str(self.readers),
            f"{self.connected}",
            f"{self.connect_seconds:.1f}",
            f"{self.delivered}/{self.expected}",
            str(self.dropped),
            pct(50),
            pct(95),
            pct(99),
            f"{max(self.latencies_ms):.1f}" if self.latencies_ms else "-",
            rss,
            self.note,
        ]


HEADER = [
    "server",
    "fanout",
    "readers",
    "connected",
    "connect s",
    "delivered/expected",
    "dropped",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "RSS/conn KiB",
    "note",
]


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


def make_blog(tag: str) -> tuple[int, str]:
    from posts.models import LiveBlog

    blog = LiveBlog.objects.create(
        slug=f"bench-{tag}", kicker="Benchmark", title=f"Benchmark {tag}", state=LiveBlog.State.LIVE
    )
    return blog.pk, blog.slug


async def run_one(args, env: dict[str, str], server_kind: str, fanout: str, n: int, logdir: Path) -> Result:
    result = Result(server_kind, fanout, n, expected=n * args.posts)
    blog_id, slug = await asyncio.to_thread(make_blog, f"{server_kind}-{fanout}-{n}-{uuid.uuid4().hex[:6]}")
    path = f"/ws/live/{slug}/"
    server = Server(server_kind, fanout, env, logdir / f"{server_kind}-{fanout}-{n}.log")
    readers: list[Reader] = []
    tasks: list[asyncio.Task] = []
    try:
        await asyncio.to_thread(server.wait_ready)
        # Warm-up: first connection loads code and opens the layer's pools; not part of per-socket RSS.
        warm = await asyncio.wait_for(Reader.open(server.port, path), args.connect_timeout)
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

        async def listen(reader: Reader) -> None:
            nonlocal alive
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, OSError):
                while True:
                    message = await reader.next_message()
                    when = time.perf_counter()
                    if message.startswith(b'{"type":"event"'):
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
                    reader = await asyncio.wait_for(Reader.open(server.port, path), args.connect_timeout)
                    hello = await asyncio.wait_for(reader.next_message(), args.connect_timeout)
                    if hello.startswith(b'{"type": "ping"'):  # the hub's heartbeat may come first
                        hello = await asyncio.wait_for(reader.next_message(), args.connect_timeout)
                    if not hello.startswith(b'{"type": "hello"'):
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

        async def close(reader: Reader) -> None:
            async with gate:
                await reader.close()

        await asyncio.gather(*(close(reader) for reader in readers), return_exceptions=True)
        await asyncio.to_thread(server.stop)
    return result


def print_table(results: list[Result]) -> None:
    rows = [HEADER, *(r.row() for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print("\n".join(lines), flush=True)


async def main_async(args) -> list[Result]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "liveblog.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "CHANNEL_LAYER_PREFIX": args.prefix,
        # Production-like servers: DEBUG off (no query log growing with every query).
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "DJANGO_ALLOWED_HOSTS": HOST,
        "DJANGO_LOG_LEVEL": "WARNING",
    }
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
                    print_table([result])
    return results


def cleanup_redis(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    client.close()


def csv_ints(text: str) -> list[int]:
    return [int(item) for item in text.split(",") if item.strip()]


def csv_choices(choices: set[str]):
    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        unknown = set(items) - choices
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown: {', '.join(sorted(unknown))}")
        return items

    return parse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    args = parser.parse_args()
    for url in (args.redis_url, args.database_url):
        host = urllib.parse.urlsplit(url).hostname
        if url.startswith(("redis", "postgres")) and host not in (HOST, "localhost"):
            parser.error(f"stays on 127.0.0.1: {url}")
    args.prefix = f"liveblog-bench-{uuid.uuid4().hex[:10]}"

    limit = raise_fd_limit()
    if max(args.readers) + 100 > limit:
        parser.error(f"{max(args.readers)} readers need more than the fd limit ({limit})")
    if args.database_url.startswith("postgres"):
        ensure_postgres_database(args.database_url)
    setup_django(args.database_url, args.redis_url, args.prefix)
    print(
        f"fd limit {limit}; {args.posts} posts per run; database {args.database_url}; prefix {args.prefix}",
        flush=True,
    )
    try:
        results = asyncio.run(main_async(args))
    finally:
        cleanup_redis(args.redis_url, args.prefix)
    print("\nAll runs:", flush=True)
    print_table(results)


if __name__ == "__main__":
    main()
