"""An asyncio reader that follows static/js/live.js's algorithm, for benchmarks and fault drills.

What it does, as live.js does it:

- Tracks `last_seq`, the seq of the last applied event. A pushed event with seq == last + 1 is
  applied (then any buffered successors); an older one is ignored; a newer one is buffered and
  starts a catch-up.
- Catch-up: GET /live/<slug>/events/?after=<last_seq>, apply what is newer, repeat while the page
  was non-empty and `last_seq` < the answer's `last_seq`. One catch-up at a time (later callers
  join the running one). 404 stops the reader.
- `hello` / `ping` frames with `last_seq` > ours start a catch-up.
- On close: 4404 stops; otherwise reconnect after `random() * min(cap, base * 2**attempts)`
  (full jitter, base 1 s, cap 30 s), calling catch-up just before reconnecting. After two failed
  connection attempts in a row it also polls the catch-up endpoint every 10 s until a socket opens.
- A socket silent for longer than the heartbeat timeout (60 s) is closed and replaced.
- `blog.archived` stops the reader (no reconnect).

What it records: the set of post ids it shows (an event with html → present, html "" → absent),
catch-up requests (ok/failed), connections, reconnect durations (from noticing the close to the
next open socket), close codes, and whether it saw `blog.archived`.

Only 127.0.0.x addresses are used. `local_host` picks the client's source address (127.0.0.2,
127.0.0.3, ...) so that many readers stay under the server's per-address socket cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

HOST = "127.0.0.1"


@dataclass
class ReaderStats:
    connects: int = 0  # sockets opened (the first one included)
    connect_failures: int = 0
    catchup_requests: int = 0  # HTTP requests to /events/ answered 200
    catchup_failures: int = 0  # refused, timed out or not 200
    catchup_5xx: int = 0  # of those: answered 5xx
    pushed_events: int = 0  # event frames received on the socket
    pings: int = 0
    silence_replacements: int = 0
    close_codes: list[int] = field(default_factory=list)
    reconnect_seconds: list[float] = field(default_factory=list)


class LiveReader:
    def __init__(
        self,
        port: int,
        slug: str,
        *,
        local_host: str = HOST,
        last_seq: int = 0,
        present: set[int] | None = None,
        slow_seconds: float = 0.0,
        heartbeat_timeout: float = 60.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        poll_seconds: float = 10.0,
        failures_before_polling: int = 2,
        http_timeout: float = 15.0,
        connect_timeout: float = 15.0,
        rng: random.Random | None = None,
    ) -> None:
        self.port = port
        self.slug = slug
        self.local_host = local_host
        self.last_seq = last_seq
        self.present: set[int] = set(present or ())
        self.slow_seconds = slow_seconds
        self.heartbeat_timeout = heartbeat_timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.poll_seconds = poll_seconds
        self.failures_before_polling = failures_before_polling
        self.http_timeout = http_timeout
        self.connect_timeout = connect_timeout
        self.rng = rng or random.Random()
        self.stats = ReaderStats()
        self.stopped = False
        self.archived = False
        self.connected = asyncio.Event()  # set while a socket is open
        self._buffered: dict[int, dict] = {}
        self._catching: asyncio.Task | None = None
        self._poll_task: asyncio.Task | None = None
        self._socket = None
        self._attempts = 0
        self._failures_before_open = 0
        self._down_since: float | None = None
        self._background: set[asyncio.Task] = set()

    # ---- applying events ---------------------------------------------------------------------

    def _apply(self, event: dict) -> None:
        if event.get("kind") == "blog.archived":
            self.archived = True
            self.stop()
        elif event.get("post_id"):
            if event.get("html"):
                self.present.add(int(event["post_id"]))
            else:
                self.present.discard(int(event["post_id"]))

    def _receive(self, event: dict) -> None:
        seq = event["seq"]
        if seq <= self.last_seq:
            return
        if seq == self.last_seq + 1:
            self.last_seq = seq
            self._apply(event)
            self._drain()
        else:
            self._buffered[seq] = event
            self.catch_up()

    def _drain(self) -> None:
        while self.last_seq + 1 in self._buffered:
            event = self._buffered.pop(self.last_seq + 1)
            self.last_seq = event["seq"]
            self._apply(event)
        for seq in [s for s in self._buffered if s <= self.last_seq]:
            del self._buffered[seq]

    # ---- catch-up over HTTP ------------------------------------------------------------------

    async def _get(self, path: str) -> tuple[int, bytes]:
        stream, writer = await asyncio.open_connection(HOST, self.port, local_addr=(self.local_host, 0))
        try:
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nAccept: application/json\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            raw = await stream.read(-1)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        head, _, body = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if b"transfer-encoding: chunked" in head.lower():
            body = _unchunk(body)
        return status, body

    def catch_up(self) -> asyncio.Task:
        if self._catching is None or self._catching.done():
            self._catching = asyncio.create_task(self._catch_up())
        return self._catching

    async def _catch_up(self) -> None:
        while not self.stopped:
            try:
                status, body = await asyncio.wait_for(
                    self._get(f"/live/{self.slug}/events/?after={self.last_seq}"), self.http_timeout
                )
            except (OSError, TimeoutError, ValueError, IndexError):
                self.stats.catchup_failures += 1
                return
            if status == 404:
                self.stats.catchup_requests += 1
                self.stop()
                return
            if status != 200:
                self.stats.catchup_failures += 1
                if status >= 500:
                    self.stats.catchup_5xx += 1
                return
            self.stats.catchup_requests += 1
            data = json.loads(body)
            for event in data["events"]:
                if event["seq"] > self.last_seq:
                    self.last_seq = event["seq"]
                    self._apply(event)
            self._drain()
            if self.stopped or not data["events"] or self.last_seq >= data["last_seq"]:
                return

    def _poll_start(self) -> None:
        if self._poll_task is None or self._poll_task.done():
            self._poll_task = asyncio.create_task(self._poll())

    def _poll_stop(self) -> None:
        if self._poll_task is not None:
            self._poll_task.cancel()
            self._poll_task = None

    async def _poll(self) -> None:
        while not self.stopped:
            await asyncio.sleep(self.poll_seconds)
            self.catch_up()

    # ---- the socket --------------------------------------------------------------------------

    async def _session(self) -> bool:
        """One socket, from connecting to its close; whether it opened."""
        url = f"ws://{HOST}:{self.port}/ws/live/{self.slug}/"
        try:
            socket = await asyncio.wait_for(
                connect(
                    url,
                    origin=f"http://{HOST}:{self.port}",
                    ping_interval=None,  # browsers do not ping; they answer the server's pings
                    open_timeout=None,
                    close_timeout=2,
                    max_size=None,
                    local_addr=(self.local_host, 0),
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError, InvalidHandshake):
            self.stats.connect_failures += 1
            return False
        self._socket = socket
        self.stats.connects += 1
        self._attempts = 0
        self._failures_before_open = 0
        self._poll_stop()
        if self._down_since is not None:
            self.stats.reconnect_seconds.append(time.monotonic() - self._down_since)
            self._down_since = None
        self.connected.set()
        try:
            while not self.stopped:
                try:
                    message = await asyncio.wait_for(socket.recv(), self.heartbeat_timeout)
                except TimeoutError:
                    self.stats.silence_replacements += 1
                    break
                if self.slow_seconds:
                    await asyncio.sleep(self.slow_seconds)
                try:
                    frame = json.loads(message)
                except ValueError:
                    continue
                kind = frame.get("type")
                if kind == "event":
                    self.stats.pushed_events += 1
                    self._receive(frame)
                elif kind in ("hello", "ping"):
                    if kind == "ping":
                        self.stats.pings += 1
                    if frame.get("last_seq", 0) > self.last_seq:
                        self.catch_up()
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else 1006
            self.stats.close_codes.append(code)
            if code == 4404:
                self.stop()
        finally:
            self.connected.clear()
            self._socket = None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(socket.close(), 3)
        return True

    async def run(self) -> None:
        """Until stopped (archived, 404/4404, or stop()); the caller bounds it with a timeout."""
        self.catch_up()  # an event committed between "render" and socket open
        try:
            while not self.stopped:
                opened = await self._session()
                if self.stopped:
                    break
                if opened:
                    self._down_since = time.monotonic()
                else:
                    self._failures_before_open += 1
                if self._failures_before_open >= self.failures_before_polling:
                    self._poll_start()
                delay = self.rng.random() * min(self.backoff_cap, self.backoff_base * 2**self._attempts)
                self._attempts += 1
                await asyncio.sleep(delay)
                if self.stopped:
                    break
                self.catch_up()
        finally:
            self._poll_stop()

    def stop(self) -> None:
        self.stopped = True
        self._poll_stop()
        socket = self._socket
        if socket is not None:
            task = asyncio.create_task(socket.close(1000))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def shutdown(self) -> None:
        self.stop()
        for task in (self._catching, *self._background):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def source_address(index: int, per_address: int) -> str:
    """127.0.0.2, 127.0.0.3, ...: `per_address` readers each (the server caps sockets per address)."""
    n = index // per_address
    return f"127.0.{n // 250}.{n % 250 + 2}"
