"""WebSocket consumer for readers of one live blog."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .models import LiveBlog


@database_sync_to_async
def _public_blog(slug: str) -> LiveBlog | None:
    return LiveBlog.objects.public().filter(slug=slug).first()


class LiveBlogConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        blog = await _public_blog(self.scope["url_route"]["kwargs"]["slug"])
        if blog is None:
            await self.close(code=4404)
            return
        self.group_name = blog.group_name
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group_name", None):
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        # Readers have nothing to tell us yet; client frames are ignored.
        return

    async def liveblog_event(self, message: dict) -> None:
        await self.send_json({k: v for k, v in message.items() if k != "type"})
