"""One channel-layer membership per process and blog, fanned out to that process's sockets.

With a channel per reader, `group_send` costs one layer write per reader (channels-redis pushes
the message onto every member's queue). Here each server process joins a blog's group once, with
a single process channel, when its first reader of that blog connects, and leaves when its last
one goes. One background task receives from that channel and forwards the already-serialized
frame to the local sockets, so a broadcast costs one layer write per process, not per reader.

Lifecycle: the hub belongs to one event loop and one channel layer (`get_hub()` makes a new one
when either changes, e.g. between tests). Its tasks start with the first reader and stop with
the last; group memberships are refreshed periodically because channels-redis expires them.

While the database cannot be reached, the heartbeat logs a warning and pings with the seq each
blog had when it last could (a query that does not answer within HEARTBEAT_QUERY_TIMEOUT counts as
unreachable, and no second one is queued behind it); sockets stay open, and the first heartbeat
after the database returns carries its last_seq again.

A `blog.archived` event is the blog's last: after forwarding it the hub closes the blog's sockets
with 1000, so an archived blog holds no connections.

The layer message (posts/broadcast.py) carries the event's `kind` and its rendered payload; the
hub builds the frame once (live/protocol.py) and hands the same text to every local socket.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings
from django.db import InterfaceError, OperationalError

from ops import metrics
from posts.broadcast import MESSAGE_TYPE
from posts.models import LiveBlog

from . import protocol
from .protocol import Close

logger = logging.getLogger(__name__)

# A socket that takes longer than this to accept a frame is closed; its client reconnects and
# catches up from the event log. Daphne's send only buffers, so this is a last resort.
SEND_TIMEOUT = 5.0
# Keeps proxies from closing idle sockets and tells clients the newest seq *from the database*, so a
# reader whose pushes were lost (Redis down or wiped) catches up within one heartbeat.
HEARTBEAT_SECONDS = float(getattr(settings, "LIVEBLOG_HEARTBEAT_SECONDS", 25.0))
# How long a heartbeat waits for the database (a hung server answers nothing) before it pings with
# the seqs it knows.
HEARTBEAT_QUERY_TIMEOUT = 5.0
# How long a join or a leave (under the hub's lock) waits for the channel layer (a hung Redis).
LAYER_TIMEOUT = 2.0
# Re-join the blogs' groups this often: channels-redis forgets members after `group_expiry`, and a
# Redis restart or FLUSHALL forgets them at once (without any error to notice). group_add is one
# cheap Redis command per blog and process.
REFRESH_SECONDS = float(getattr(settings, "LIVEBLOG_GROUP_REFRESH_SECONDS", 60.0))


def closes_blog(message: dict[str, Any]) -> bool:
    """Whether this layer message is a blog's `blog.archived` event (its sockets close after it)."""
    return message.get("kind") == protocol.BLOG_ARCHIVED


class Reader(Protocol):
    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None: ...

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None: ...


class Hub:
    def __init__(self, layer: BaseChannelLayer, loop: asyncio.AbstractEventLoop) -> None:
        self.layer = layer
        self.loop = loop
        self.channel: str | None = None
        self.readers: dict[int, set[Reader]] = {}
        self.groups: dict[int, str] = {}
        self.last_seq: dict[int, int] = {}
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        # The heartbeat's database query, kept while it runs (it may outlive one heartbeat).
        self._seq_query: asyncio.Future[list[tuple[int, int]]] | None = None

    async def join(self, blog_id: int, group: str, reader: Reader) -> None:
        """Deliver the blog's events to `reader` from now on."""
        async with self._lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
            if not self._tasks:
                self._tasks = [
                    asyncio.create_task(self._receive_forever()),
                    asyncio.create_task(self._heartbeat_forever()),
                    asyncio.create_task(self._refresh_forever()),
                ]
            if blog_id not in self.readers:
                try:
                    # Under the lock every other join and leave waits: a hung Redis must not hold
                    # them for its socket timeout. The reader gets the heartbeat meanwhile, and the
                    # refresh (or the receive loop's retry) joins the group later.
                    await asyncio.wait_for(self.layer.group_add(group, self.channel), LAYER_TIMEOUT)
                except Exception:
                    logger.warning("Could not join %s now; pushes start with the next refresh", group)
                self.readers[blog_id] = set()
                self.groups[blog_id] = group
            self.readers[blog_id].add(reader)

    async def leave(self, blog_id: int, reader: Reader) -> None:
        async with self._lock:
            readers = self.readers.get(blog_id)
            if readers is None or reader not in readers:
                return
            readers.discard(reader)
            if not readers:
                del self.readers[blog_id]
                self.last_seq.pop(blog_id, None)
                group = self.groups.pop(blog_id)
                try:
                    assert self.channel is not None  # set by the join() that added the reader
                    await asyncio.wait_for(self.layer.group_discard(group, self.channel), LAYER_TIMEOUT)
                except Exception:
                    logger.exception("Could not leave %s; the membership will expire", group)
            if not self.readers:
                for task in self._tasks:
                    task.cancel()
                self._tasks = []

    def saw_seq(self, blog_id: int, seq: int) -> None:
        if blog_id in self.readers:
            self.last_seq[blog_id] = max(seq, self.last_seq.get(blog_id, 0))

    async def forward(self, blog_id: int, text: str, kind: str = protocol.Frame.EVENT) -> int:
        """Send one frame to every local reader of the blog; one bad socket affects only itself.

        Returns how many readers took it; `kind` labels the frames-sent metric.
        """
        readers = list(self.readers.get(blog_id, ()))
        if not readers:
            return 0
        results = await asyncio.gather(
            *(asyncio.wait_for(reader.send(text_data=text), SEND_TIMEOUT) for reader in readers),
            return_exceptions=True,
        )
        failed = [
            reader
            for reader, result in zip(readers, results, strict=True)
            if isinstance(result, BaseException)
        ]
        metrics.frames_sent(kind, len(readers) - len(failed))
        if failed:
            # Its client reconnects and catches up from the event log.
            logger.warning(
                "Dropping %d reader(s) of blog %s that could not take a frame", len(failed), blog_id
            )
            await asyncio.gather(
                *(asyncio.wait_for(reader.close(code=Close.TOO_SLOW), SEND_TIMEOUT) for reader in failed),
                return_exceptions=True,
            )
            # Last: leaving with the last reader stops this very task.
            for reader in failed:
                await self.leave(blog_id, reader)
        return len(readers) - len(failed)

    async def close_blog(self, blog_id: int, code: int = Close.NORMAL) -> None:
        """Close every local socket of the blog (after its last event) and forget them."""
        readers = list(self.readers.get(blog_id, ()))
        await asyncio.gather(
            *(asyncio.wait_for(reader.close(code=code), SEND_TIMEOUT) for reader in readers),
            return_exceptions=True,
        )
        # Last: leaving with the last reader stops this very task.
        for reader in readers:
            await self.leave(blog_id, reader)

    async def _receive_forever(self) -> None:
        assert self.channel is not None  # join() sets it before it starts this task
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Hub receive failed; retrying")
                await asyncio.sleep(1)
                # The layer may have lost our memberships with its data (a Redis restart).
                await self._rejoin()
                continue
            if message.get("type") != MESSAGE_TYPE:
                continue
            blog_id = message.get("blog_id")
            if blog_id is None:  # no blog has readers here under None: nothing to forward
                continue
            self.saw_seq(blog_id, message.get("seq", 0))
            kind = message.get("kind") or protocol.Frame.EVENT
            if await self.forward(blog_id, protocol.event(message["event"]), kind):
                metrics.fanned_out(message.get("committed_at"))
            if closes_blog(message):
                await self.close_blog(blog_id)

    async def _heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await self.heartbeat()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The next heartbeat must still come: readers replace a silent socket after 60 s.
                logger.exception("Heartbeat failed; trying again at the next one")

    async def heartbeat(self) -> None:
        """Ping every local socket with its blog's newest seq: one query per process, not per reader."""
        blog_ids = list(self.readers)
        if not blog_ids:
            return
        for blog_id, seq in await self._read_last_seqs(blog_ids):
            self.saw_seq(blog_id, seq)
        for blog_id in blog_ids:
            await self.forward(blog_id, protocol.ping(self.last_seq.get(blog_id, 0)), protocol.Frame.PING)

    async def _read_last_seqs(self, blog_ids: list[int]) -> list[tuple[int, int]]:
        """The blogs' last_seq from the database; [] (logged) when it cannot answer now."""
        if self._seq_query is not None and not self._seq_query.done():
            logger.warning(
                "Heartbeat: the database has not answered the previous query; pinging with known seqs"
            )
            return []
        query = self._seq_query = asyncio.ensure_future(_last_seqs(blog_ids))
        # Read its outcome even if nobody awaits it any more (the hub stopped meanwhile).
        query.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            return await asyncio.wait_for(asyncio.shield(query), HEARTBEAT_QUERY_TIMEOUT)
        except TimeoutError:
            logger.warning(
                "Heartbeat: no answer from the database within %.0f s; pinging with known seqs",
                HEARTBEAT_QUERY_TIMEOUT,
            )
        except (OperationalError, InterfaceError) as error:
            logger.warning("Heartbeat: database unavailable (%s); pinging with known seqs", error)
        except Exception:
            logger.exception("Heartbeat could not read the event counters; pinging with known seqs")
        return []

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            await self._rejoin()

    async def _rejoin(self) -> None:
        assert self.channel is not None  # set by the join() that started the hub's tasks
        for group in list(self.groups.values()):
            try:
                await self.layer.group_add(group, self.channel)
            except Exception:
                logger.exception("Could not refresh membership of %s", group)


@database_sync_to_async
def _last_seqs(blog_ids: list[int]) -> list[tuple[int, int]]:
    return list(LiveBlog.objects.filter(pk__in=blog_ids).values_list("pk", "last_seq"))


_hub: Hub | None = None


def get_hub() -> Hub | None:
    """This process's hub for the running loop, or None without a channel layer."""
    global _hub
    layer = get_channel_layer()
    if layer is None:
        return None
    loop = asyncio.get_running_loop()
    if _hub is None or _hub.loop is not loop or _hub.layer is not layer:
        _hub = Hub(layer, loop)
    return _hub
