"""WebSocket consumer for readers of one live blog.

Frames to the client (JSON text):
- `{"type": "hello", "last_seq": n}` once after connecting: the newest event at that moment;
  a client whose page is older asks the catch-up endpoint for the rest. Pushed events may
  arrive before the hello; clients order everything by seq.
- `{"type": "event", "seq", "kind", "post_id", "html"}`, rendered once in posts/broadcast.py.
- `{"type": "ping", "last_seq": n}` every 25 s (posts/hub.py).
- `{"type": "error", "error": "..."}` for a frame we cannot read; the socket stays open.
Unknown and draft blogs are accepted and closed at once with code 4404, so browsers see the
code (a refused handshake only shows up as 1006) and stop reconnecting.

Close codes: 4404 (unknown or draft blog); 4429 (this client address already holds
`LIVEBLOG_MAX_SOCKETS_PER_CLIENT` sockets in this process: back off for long); 4008 (more than
`LIVEBLOG_WS_MAX_FRAMES` client frames within `LIVEBLOG_WS_FRAME_WINDOW` seconds: readers have
nothing to say); 4011 (the socket could not take a frame in time, posts/hub.py); 4013 (the
database could not be reached, or not within LOOKUP_TIMEOUT, while connecting: try again later,
like 1013); 1000 (the blog was archived, after its `blog.archived` event). Daphne (autobahn) lets
an application close only with 1000 or 3000-4999 and raises on anything else, so 4008 stands in
for 1008 (policy violation) and 4013 for 1013. Sockets already open are not touched by a database
outage: the hub keeps pinging them with the seq it last knew (posts/hub.py).
The Origin check happens before any of this, in liveblog/asgi.py.

The client address is `scope["client"]`, or the first X-Forwarded-For entry when
`LIVEBLOG_TRUST_X_FORWARDED_FOR` is on (only behind a proxy that sets that header itself).

Fan-out (setting or environment variable `LIVEBLOG_FANOUT`): "hub", the default, delivers through
the process's hub (posts/hub.py). "group", for benchmarks only, gives every socket its own layer
channel and group membership, the plain Channels way (no heartbeat pings).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections import deque

from channels import DEFAULT_CHANNEL_LAYER
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import hub as hubs
from .hub import Hub, closes_blog, get_hub
from .models import LiveBlog

logger = logging.getLogger(__name__)

# Readers have nothing to say yet; anything bigger than this is not ours.
MAX_CLIENT_FRAME = 4096
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY_SOCKETS = 4429
# 1008 (policy violation) in the application range: autobahn refuses 1001-2999 from applications.
CLOSE_POLICY_VIOLATION = 4008
# 1013 (try again later) in the application range: the database could not be reached.
CLOSE_TRY_AGAIN_LATER = 4013
# What an unreachable (stopped, restarting, overloaded) database raises: on connect or on a query.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# The blog lookup happens before the handshake completes, and Daphne drops a handshake that takes
# 5 s (--websocket_connect_timeout): give up earlier, so the client still gets 4013. A database
# that is down makes the lookup wait for the connection pool's timeout (DJANGO_DB_POOL_TIMEOUT).
LOOKUP_TIMEOUT = 4.0
CLOSE_NORMAL = hubs.CLOSE_NORMAL
# Defaults of the settings read below.
MAX_SOCKETS_PER_CLIENT = 20
MAX_FRAMES = 50
FRAME_WINDOW = 10.0
FANOUT_HUB = "hub"
FANOUT_GROUP = "group"


def fanout() -> str:
    """The fan-out mode, "hub" (default) or "group": see the module docstring."""
    mode = getattr(settings, "LIVEBLOG_FANOUT", None) or os.environ.get("LIVEBLOG_FANOUT") or FANOUT_HUB
    if mode not in (FANOUT_HUB, FANOUT_GROUP):
        raise ValueError(f"LIVEBLOG_FANOUT must be {FANOUT_HUB!r} or {FANOUT_GROUP!r}, not {mode!r}")
    return mode


def client_address(scope: dict) -> str | None:
    """The address the per-client socket cap counts under, or None when the server knows none."""
    if getattr(settings, "LIVEBLOG_TRUST_X_FORWARDED_FOR", False):
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-for":
                first = value.decode("latin-1").split(",")[0].strip()
                if first:
                    return first
                break
    client = scope.get("client")
    return client[0] if client else None


@database_sync_to_async
def _public_blog(slug: str) -> LiveBlog | None:
    return LiveBlog.objects.public().filter(slug=slug).only("pk", "last_seq").first()


@database_sync_to_async
def _last_seq(blog_id: int) -> int:
    return LiveBlog.objects.filter(pk=blog_id).values_list("last_seq", flat=True).first() or 0


class LiveBlogConsumer(AsyncWebsocketConsumer):
    # No channel of its own: the process's hub receives for all its readers (see posts/hub.py).
    channel_layer_alias = None

    blog_id: int | None = None
    hub: Hub | None = None
    group: str | None = None
    own_channel = False
    # The address holding one of this process's per-client slots for this socket, until released.
    client: str | None = None
    closing = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if fanout() == FANOUT_GROUP:
            # A channel of its own (made by AsyncConsumer.__call__) and one membership per socket.
            self.own_channel = True
            self.channel_layer_alias = DEFAULT_CHANNEL_LAYER
        self.max_frames = int(getattr(settings, "LIVEBLOG_WS_MAX_FRAMES", MAX_FRAMES))
        self.frame_window = float(getattr(settings, "LIVEBLOG_WS_FRAME_WINDOW", FRAME_WINDOW))
        self.recent_frames: deque[float] = deque()

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Also when the server cancels the consumer without a disconnect (abnormal endings).
            self._release_client()
            with contextlib.suppress(Exception):
                await self._leave()

    async def dispatch(self, message: dict) -> None:
        # Channels' dispatch closes stale database connections before every handler, a hop to the
        # one thread that also runs Django's sync views, for every client frame; a frame flood
        # would queue up there. Only connect() reads the database, through database_sync_to_async,
        # which closes stale connections itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close=False) -> None:
        # Nothing more (hub frames, error replies) once the server has closed the socket.
        if self.closing:
            return
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        if self.closing:
            return
        self.closing = True
        await super().close(code=code, reason=reason)

    async def connect(self) -> None:
        address = client_address(self.scope)
        if address is not None:
            limit = int(getattr(settings, "LIVEBLOG_MAX_SOCKETS_PER_CLIENT", MAX_SOCKETS_PER_CLIENT))
            if not hubs.claim_client_slot(address, limit):
                # Accepted and closed, not refused, so the browser sees the code.
                await self.accept()
                await self.close(code=CLOSE_TOO_MANY_SOCKETS)
                return
            self.client = address
        try:
            blog = await asyncio.wait_for(
                _public_blog(self.scope["url_route"]["kwargs"]["slug"]), LOOKUP_TIMEOUT
            )
        except (*DATABASE_UNAVAILABLE, TimeoutError) as error:
            await self.accept()
            await self._try_again_later(error)
            return
        await self.accept()
        if blog is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        try:
            await self._start(blog)
        except DATABASE_UNAVAILABLE as error:
            await self._try_again_later(error)

    async def _start(self, blog: LiveBlog) -> None:
        """Deliver the blog's events to this socket from now on, then say hello with its newest seq."""
        self.blog_id = blog.pk
        if self.own_channel:
            if self.channel_layer is not None:
                self.group = blog.group_name
                await self.channel_layer.group_add(self.group, self.channel_name)
            last_seq = await _last_seq(blog.pk)
            await self.send(text_data=json.dumps({"type": "hello", "last_seq": last_seq}))
            return
        self.hub = get_hub()
        if self.hub is not None:
            await self.hub.join(blog.pk, blog.group_name, self)
        # Read after joining: every event newer than this reaches the socket by push.
        last_seq = await _last_seq(blog.pk)
        if self.hub is not None:
            self.hub.saw_seq(blog.pk, last_seq)
        await self.send(text_data=json.dumps({"type": "hello", "last_seq": last_seq}))

    async def _try_again_later(self, error: Exception) -> None:
        # Accepted and closed (the browser sees the code); the reader retries with its backoff.
        logger.warning(
            "Database unavailable; closing a new reader socket with %d: %r", CLOSE_TRY_AGAIN_LATER, error
        )
        self._release_client()
        await self._leave()
        await self.close(code=CLOSE_TRY_AGAIN_LATER)

    async def disconnect(self, code: int) -> None:
        self._release_client()
        await self._leave()

    def _release_client(self) -> None:
        if self.client is not None:
            hubs.release_client_slot(self.client)
            self.client = None

    async def _leave(self) -> None:
        """Leave the group or the hub; safe to call twice."""
        group, self.group = self.group, None
        if group is not None:
            await self.channel_layer.group_discard(group, self.channel_name)
        blog_hub, self.hub = self.hub, None
        if blog_hub is not None and self.blog_id is not None:
            await blog_hub.leave(self.blog_id, self)

    async def liveblog_event(self, message: dict) -> None:
        """Group fan-out only: broadcast.MESSAGE_TYPE ("liveblog.event"), its frame forwarded unchanged."""
        if self.closing:
            return
        await self.send(text_data=message["text"])
        if closes_blog(message):
            await self.close(code=CLOSE_NORMAL)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Client frames are ignored; a bad one gets an error frame and does not close the socket,
        # but more than `max_frames` of any kind within `frame_window` seconds do (4008).
        if self.closing:
            return
        now = time.monotonic()
        frames = self.recent_frames
        frames.append(now)
        while frames and frames[0] <= now - self.frame_window:
            frames.popleft()
        if len(frames) > self.max_frames:
            await self.close(code=CLOSE_POLICY_VIOLATION)
            return
        error = None
        if text_data is None:
            error = "binary frames are not supported"
        elif len(text_data) > MAX_CLIENT_FRAME:
            error = "frame too large"
        else:
            try:
                json.loads(text_data)
            except Exception:  # ValueError, but also RecursionError for absurd nesting
                error = "frames must be JSON"
        if error:
            await self.send(text_data=json.dumps({"type": "error", "error": error}))
