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

Fan-out (setting or environment variable `LIVEBLOG_FANOUT`): "hub", the default, delivers through
the process's hub (posts/hub.py). "group", for benchmarks only, gives every socket its own layer
channel and group membership, the plain Channels way (no heartbeat pings).
"""

from __future__ import annotations

import json
import os

from channels import DEFAULT_CHANNEL_LAYER
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from .hub import Hub, get_hub
from .models import LiveBlog

# Readers have nothing to say yet; anything bigger than this is not ours.
MAX_CLIENT_FRAME = 4096
CLOSE_NOT_FOUND = 4404
FANOUT_HUB = "hub"
FANOUT_GROUP = "group"


def fanout() -> str:
    """The fan-out mode, "hub" (default) or "group": see the module docstring."""
    mode = getattr(settings, "LIVEBLOG_FANOUT", None) or os.environ.get("LIVEBLOG_FANOUT") or FANOUT_HUB
    if mode not in (FANOUT_HUB, FANOUT_GROUP):
        raise ValueError(f"LIVEBLOG_FANOUT must be {FANOUT_HUB!r} or {FANOUT_GROUP!r}, not {mode!r}")
    return mode


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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if fanout() == FANOUT_GROUP:
            # A channel of its own (made by AsyncConsumer.__call__) and one membership per socket.
            self.own_channel = True
            self.channel_layer_alias = DEFAULT_CHANNEL_LAYER

    async def connect(self) -> None:
        blog = await _public_blog(self.scope["url_route"]["kwargs"]["slug"])
        await self.accept()
        if blog is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
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

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.hub is not None and self.blog_id is not None:
            await self.hub.leave(self.blog_id, self)

    async def liveblog_event(self, message: dict) -> None:
        """Group fan-out only: broadcast.MESSAGE_TYPE ("liveblog.event"), its frame forwarded unchanged."""
        await self.send(text_data=message["text"])

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Client frames are ignored; a bad one gets an error frame and never closes the socket.
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
