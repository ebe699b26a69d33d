"""The plain Channels fan-out, for the benchmark only: a layer channel and a group membership per
socket, so `group_send` writes once per reader (bench/live_fanout.py compares it with our hub).

Serve with `daphne bench.group_fanout:application`. No heartbeat pings (the hub sends those).
"""

from __future__ import annotations

from typing import Any

from channels import DEFAULT_CHANNEL_LAYER
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

# First: sets Django up, as the production entry point does; the same HTTP app and Origin checks.
from liveblog.asgi import OriginRequired, django_asgi_app  # isort: skip
from live import protocol
from live.consumers import LiveBlogConsumer, last_seq
from live.hub import closes_blog
from posts.models import LiveBlog


class GroupFanoutConsumer(LiveBlogConsumer):
    channel_layer_alias = DEFAULT_CHANNEL_LAYER
    group: str | None = None

    async def join(self, blog: LiveBlog) -> None:
        self.blog_id = blog.pk
        if self.channel_layer is not None:
            self.group = blog.group_name
            await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send(text_data=protocol.hello(await last_seq(blog.pk)))

    async def liveblog_event(self, message: dict[str, Any]) -> None:
        """posts.broadcast.MESSAGE_TYPE ("liveblog.event"): build the frame, send it."""
        if self.closing:
            return
        await self.send(text_data=protocol.event(message["event"]))
        if closes_blog(message):
            await self.close(code=protocol.Close.NORMAL)

    async def cleanup(self) -> None:
        group, self.group = self.group, None
        if group is not None:
            await self.channel_layer.group_discard(group, self.channel_name)
        await super().cleanup()


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginRequired(
            AllowedHostsOriginValidator(
                URLRouter([path("ws/live/<slug:slug>/", GroupFanoutConsumer.as_asgi())])
            )
        ),
    }
)
