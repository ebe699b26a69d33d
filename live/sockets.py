"""The Channels overrides every reader socket needs, kept apart so consumers read plainly."""

from __future__ import annotations

import contextlib
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer


class ReaderSocket(AsyncWebsocketConsumer):
    """An AsyncWebsocketConsumer that the server may close at any time, and that always cleans up.

    - `cleanup()` runs however the socket ends, also when the server cancels the consumer without
      a disconnect message (abnormal endings); subclasses release what they hold there.
    - Nothing more is sent once the server closed the socket (hub frames, error replies may race
      with the close), and closing twice is harmless.
    - `dispatch` skips Channels' stale-connection check before every handler: that check is a hop
      to the one thread that also runs Django's sync views, for every client frame, so a frame
      flood would queue up there. Handlers that read the database do so through
      `database_sync_to_async`, which closes stale connections itself.
    """

    # No channel of its own: the process's hub receives for all its readers (live/hub.py).
    # The stubs declare it ClassVar[str]; Channels takes None as "no layer" (get_channel_layer(None)).
    channel_layer_alias = None  # type: ignore[assignment]
    closing = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with contextlib.suppress(Exception):
                await self.cleanup()

    async def cleanup(self) -> None:
        """Release what the socket holds; called at least once when it ends, safe to call twice."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def send(  # type: ignore[override]
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None:
        if self.closing:
            return
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        if self.closing:
            return
        self.closing = True
        if isinstance(code, int) and not isinstance(code, bool):
            # A plain int: autobahn refuses int subclasses (protocol.Close) as close codes.
            code = int(code)
        await super().close(code=code, reason=reason)
