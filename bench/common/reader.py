"""An asyncio reader that follows the live client's algorithm (static/js/live/), for fault drills.

The socket and the page here; catch-up, its retry and polling in bench/common/catchup.py.

What it does, as the live client does it (since commit 7f7609b):

- Tracks `last_seq`, the seq of the last applied event. A pushed event with seq == last + 1 is
  applied (then any buffered successors); an older one is ignored; a newer one is buffered and
  starts a *delayed* catch-up (`catch_up_soon`): 300 ms + random 0-2 s, so that a push overtaken by
  another can still arrive; when the timer fires it catches up only if something is still buffered
  or the server has announced a newer seq.
- `hello` / `ping` frames with `last_seq` > ours remember that seq (`pending_seq`) and also use
  `catch_up_soon` (every reader hears the same ping at once).
- Catch-up: GET /live/<slug>/events/?after=<last_seq>, apply what is newer, repeat while the page
  was non-empty and `last_seq` < the answer's `last_seq`. One catch-up at a time (later callers
  join the running one). 404 stops the reader. A failed catch-up (refused, timed out, not 200,
  bad body) is retried after `random() * min(30 s, 1 s * 2**failures)` (failures counted since the
  last successful page), by one retry timer at a time, which a successful catch-up cancels. After
  a successful one, anything still missing (a buffered push, an announced seq the answer did not
  reach) gets `catch_up_soon`.
- Page load: one catch-up, then connect.
- On close: 4404 stops; 1000 catches up once, then stops if the blog was archived, else reconnects;
  4429/4008 start polling and push the backoff to at least 8 attempts (cap then 300 s). Otherwise
  reconnect after `random() * min(cap, base * 2**attempts)` (full jitter, base 1 s, cap 30 s),
  *without* a catch-up before the attempt (the server's hello triggers it). After two failed
  connection attempts in a row it also polls the catch-up endpoint every 10 s (+-50 %, jittered
  per tick) until a socket opens.
- A socket is in service from its first frame (the hello), not from its opening: only then are
  the backoff and the failure count reset and polling stopped. A server that cannot take the
  socket now accepts it only to close it with a code (4013, 4429); counted as open, that reset
  the backoff and every reader tried again within a second.
- A catch-up answered while no socket is in service means the server is back: polling stops,
  and a pending reconnect moves up to `random() * base` from then (unless 4429/4008 asked for the
  long backoff, where polling is the way to stay current). The socket's hello then finds nothing
  missing, so a reconnect costs one catch-up, whichever came first. Polling resumes if that
  attempt fails too. (Before, polls went on every 10 s for as long as the backoff, up to 30 s,
  kept the socket down, and during a slow handshake: up to 3 catch-ups per reader.)
- A socket silent for longer than the heartbeat timeout (60 s) is closed and replaced.
- `blog.archived` stops the reader (no reconnect).

Where a post goes (the live client `place()`) is not modelled here: this reader's page is the set of ids
it shows, an event with html adds its post, "" removes it. That is what the live client shows for a page
with every post on it and no "Load older posts" (as here: a page loaded empty at seq 0 that catches
up everything), read at the top and not paused. the live client's placement rules for the other pages
(a post older than "Load older posts" is left to that link, which drops a post already on the page;
new posts are held back while the reader is away, and "Show new updates" skips what is on the page
by then; a delete removes both) are modelled by bench/faults/editors/page.py's EditorsReader.

What it records: the set of post ids it shows (an event with html -> present, html "" -> absent),
catch-up requests (ok/failed/retries, and what started each), connections, reconnect durations
(from noticing the close to the next open socket), close codes, and whether it saw `blog.archived`.

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

from bench.common.catchup import CatchUp
from bench.common.net import HOST


@dataclass
class ReaderStats:
    connects: int = 0  # sockets opened (the first one included)
    served: int = 0  # ... of those, sockets that got a frame (in service)
    connect_failures: int = 0
    catchup_requests: int = 0  # HTTP requests to /events/ answered 200
    catchup_failures: int = 0  # refused, timed out or not 200
    catchup_5xx: int = 0  # of those: answered 5xx
    catchup_retries: int = 0  # catch-ups started by the retry-after-failure timer
    # Requests answered 200 by what started their catch-up: page, hello, ping, gap, poll, retry,
    # close, more (the next page of a truncated answer).
    catchup_triggers: dict[str, int] = field(default_factory=dict)
    early_reconnects: int = 0  # reconnects moved up because a catch-up found the server back
    soon_fired: int = 0  # catch_up_soon timers that fired and still needed a catch-up
    soon_skipped: int = 0  # ... that fired but found nothing missing (the push had arrived)
    pushed_events: int = 0  # event frames received on the socket
    pings: int = 0
    silence_replacements: int = 0
    close_codes: list[int] = field(default_factory=list)
    reconnect_seconds: list[float] = field(default_factory=list)


class LiveReader(CatchUp):
    """One reader's page and socket; `run()` until stopped (see the module's docstring)."""

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
        soon_base: float = 0.3,
        soon_jitter: float = 2.0,
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
        self.soon_base = soon_base
        self.soon_jitter = soon_jitter
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
        self.pending_seq = 0  # the newest seq the server has announced (hello/ping)
        self._catchup_failures = 0  # since the last successful page
        self._catching: asyncio.Task | None = None
        self._soon: asyncio.Task | None = None
        self._soon_trigger = "gap"
        self._retry: asyncio.Task | None = None
        self._poll_task: asyncio.Task | None = None
        self._socket = None
        self._attempts = 0
        self._failures_before_open = 0
        self._throttled = False  # closed with 4429/4008: keep the long backoff
        self._served = False  # the current (or last) socket got a frame
        self._reconnect_at: float | None = None  # while waiting to reconnect (monotonic)
        self._wake = asyncio.Event()
        self._down_since: float | None = None
        self.last_close_code: int | None = None
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
            self.catch_up_soon("gap")

    def _drain(self) -> None:
        while self.last_seq + 1 in self._buffered:
            event = self._buffered.pop(self.last_seq + 1)
            self.last_seq = event["seq"]
            self._apply(event)
        for seq in [s for s in self._buffered if s <= self.last_seq]:
            del self._buffered[seq]

    # ---- the socket --------------------------------------------------------------------------

    def _in_service(self) -> None:
        """The socket's first frame: the live client's `served`."""
        self._served = True
        self.stats.served += 1
        self._attempts = 0
        self._failures_before_open = 0
        self._throttled = False
        self._poll_stop()
        if self._down_since is not None:
            self.stats.reconnect_seconds.append(time.monotonic() - self._down_since)
            self._down_since = None

    async def _session(self) -> bool:
        """One socket, from connecting to its close; whether it opened (see `_served`)."""
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
        self.last_close_code = None
        self.stats.connects += 1
        self.connected.set()
        try:
            while not self.stopped:
                try:
                    message = await asyncio.wait_for(socket.recv(), self.heartbeat_timeout)
                except TimeoutError:
                    self.stats.silence_replacements += 1
                    break
                if not self._served:
                    self._in_service()
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
                        self.pending_seq = max(self.pending_seq, frame["last_seq"])
                        self.catch_up_soon(kind)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else 1006
            self.stats.close_codes.append(code)
            self.last_close_code = code
        finally:
            self.connected.clear()
            self._socket = None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(socket.close(), 3)
        return True

    async def run(self) -> None:
        """Until stopped (archived, 404/4404, or stop()); the caller bounds it with a timeout."""
        self.catch_up("page")  # an event committed between "render" and socket open
        try:
            while not self.stopped:
                self._served = False
                opened = await self._session()
                if self.stopped:
                    break
                if self._served:
                    self._down_since = time.monotonic()
                code = self.last_close_code if opened else None
                if code == 4404:  # the blog is gone for readers
                    self.stop()
                    break
                if code == 1000:
                    # Closed cleanly only when archived: one last catch-up, then stop if archived.
                    await asyncio.shield(self.catch_up("close"))
                    if self.archived or self.stopped:
                        self.stop()
                        break
                if code in (4429, 4008):
                    self._poll_start()
                    self._attempts = max(self._attempts, 8)
                    self._throttled = True
                # scheduleReconnect(served)
                if not self._served:
                    self._failures_before_open += 1
                if self._failures_before_open >= self.failures_before_polling:
                    self._poll_start()
                cap = self.backoff_cap * 10 if self._attempts >= 8 else self.backoff_cap
                delay = self.rng.random() * min(cap, self.backoff_base * 2**self._attempts)
                self._attempts += 1
                await self._wait_to_reconnect(delay)
                # No catch-up here: the server's hello names its newest seq (or polling catches up).
        finally:
            self._poll_stop()

    def stop(self) -> None:
        self.stopped = True
        self._poll_stop()
        self._cancel_retry()
        self._wake.set()
        socket = self._socket
        if socket is not None:
            self._spawn(socket.close(1000))

    async def shutdown(self) -> None:
        self.stop()
        for task in (self._catching, *list(self._background)):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
