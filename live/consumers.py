"""The WebSocket consumer for readers of one live blog (frames and close codes: live/protocol.py).

A reader connects to `/ws/live/<slug>/` and gets a `hello` with the blog's newest seq; from then
on the process's hub (live/hub.py) forwards every event and heartbeat. Pushed events may arrive
before the hello; clients order everything by seq and catch up from the event log on any gap.

Unknown and draft blogs are accepted and closed at once with NOT_FOUND, so browsers see the code
(a refused handshake only shows up as 1006) and stop reconnecting. A client address holding
`LIVEBLOG_MAX_SOCKETS_PER_CLIENT` sockets in this process gets TOO_MANY_SOCKETS; more than
`LIVEBLOG_WS_MAX_FRAMES` client frames within `LIVEBLOG_WS_FRAME_WINDOW` seconds get
POLICY_VIOLATION; a database that cannot be reached (or not within LOOKUP_TIMEOUT) while
connecting gets TRY_AGAIN_LATER. Sockets already open are not touched by a database outage: the
hub keeps pinging them with the seq it last knew. The Origin check happens before any of this, in
liveblog/asgi.py.
"""

from __future__ import annotations

import asyncio
import json
import logging

from channels.db import database_sync_to_async
from django.db import InterfaceError, OperationalError

from ops import metrics
from posts.models import LiveBlog

from . import clients, protocol
from .hub import Hub, get_hub
from .protocol import Close
from .sockets import ReaderSocket

logger = logging.getLogger(__name__)

# Readers have nothing to say yet; anything bigger than this is not ours.
MAX_CLIENT_FRAME = 4096
# What an unreachable (stopped, restarting, overloaded) database raises: on connect or on a query.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# The blog lookup happens before the handshake completes, and Daphne drops a handshake that takes
# 5 s (--websocket_connect_timeout): give up earlier, so the client still gets TRY_AGAIN_LATER. A
# database that is down makes the lookup wait for the connection pool's timeout.
LOOKUP_TIMEOUT = 4.0


@database_sync_to_async
def public_blog(slug: str) -> LiveBlog | None:
    return LiveBlog.objects.public().filter(slug=slug).only("pk", "last_seq").first()


@database_sync_to_async
def last_seq(blog_id: int) -> int:
    return LiveBlog.objects.filter(pk=blog_id).values_list("last_seq", flat=True).first() or 0


class LiveBlogConsumer(ReaderSocket):
    blog_id: int | None = None
    hub: Hub | None = None
    # The address holding one of this process's per-client slots for this socket, until released.
    client: str | None = None
    # The blog (slug) this socket counts under in the reader-sockets metric, until it ends.
    counted_blog: str | None = None

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.frames = clients.FrameRate()

    async def connect(self) -> None:
        if not self.claim_client_slot():
            # Accepted and closed, not refused, so the browser sees the code.
            await self.accept()
            await self.close(code=Close.TOO_MANY_SOCKETS)
            return
        try:
            blog = await asyncio.wait_for(
                public_blog(self.scope["url_route"]["kwargs"]["slug"]), LOOKUP_TIMEOUT
            )
        except (*DATABASE_UNAVAILABLE, TimeoutError) as error:
            await self.accept()
            await self.try_again_later(error)
            return
        await self.accept()
        if blog is None:
            await self.close(code=Close.NOT_FOUND)
            return
        try:
            await self.join(blog)
        except DATABASE_UNAVAILABLE as error:
            await self.try_again_later(error)

    async def join(self, blog: LiveBlog) -> None:
        """Deliver the blog's events to this socket from now on, then say hello with its newest seq."""
        self.blog_id = blog.pk
        self.hub = get_hub()
        if self.hub is not None:
            await self.hub.join(blog.pk, blog.group_name, self)
        self.counted_blog = self.scope["url_route"]["kwargs"]["slug"]
        metrics.reader_joined(self.counted_blog)
        # Read after joining: every event newer than this reaches the socket by push.
        seq = await last_seq(blog.pk)
        if self.hub is not None:
            self.hub.saw_seq(blog.pk, seq)
        await self.send(text_data=protocol.hello(seq))
        metrics.frames_sent(protocol.Frame.HELLO)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Client frames are ignored; a bad one gets an error frame and does not close the socket,
        # but a flood of frames of any kind does.
        if self.closing:
            return
        if self.frames.exceeded():
            await self.close(code=Close.POLICY_VIOLATION)
            return
        error = frame_error(text_data)
        if error:
            await self.send(text_data=protocol.error(error))
            metrics.frames_sent(protocol.Frame.ERROR)

    async def disconnect(self, code: int) -> None:
        await self.cleanup()

    async def try_again_later(self, error: Exception) -> None:
        # Accepted and closed (the browser sees the code); the reader retries with its backoff.
        logger.warning(
            "Database unavailable; closing a new reader socket with %d: %r", Close.TRY_AGAIN_LATER, error
        )
        await self.cleanup()
        await self.close(code=Close.TRY_AGAIN_LATER)

    def claim_client_slot(self) -> bool:
        address = clients.client_address(self.scope)
        if address is None:
            return True
        if not clients.claim_client_slot(address, clients.max_sockets_per_client()):
            return False
        self.client = address
        return True

    async def cleanup(self) -> None:
        if self.client is not None:
            clients.release_client_slot(self.client)
            self.client = None
        if self.counted_blog is not None:
            metrics.reader_left(self.counted_blog)
            self.counted_blog = None
        blog_hub, self.hub = self.hub, None
        if blog_hub is not None and self.blog_id is not None:
            await blog_hub.leave(self.blog_id, self)


def frame_error(text_data: str | None) -> str | None:
    """What is wrong with a client frame, or None for a well-formed one."""
    if text_data is None:
        return "binary frames are not supported"
    if len(text_data) > MAX_CLIENT_FRAME:
        return "frame too large"
    try:
        json.loads(text_data)
    except Exception:  # ValueError, but also RecursionError for absurd nesting
        return "frames must be JSON"
    return None


class UnknownPathConsumer(ReaderSocket):
    """Any other WebSocket path: accepted and closed with NOT_FOUND, as an unknown blog is.

    Without it Channels' URLRouter raises on an unrouted path (an HTTP 500 and a traceback in the
    log for every scanner that tries one).
    """

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=Close.NOT_FOUND)
