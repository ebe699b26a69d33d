"""Per-client limits on reader sockets: how many one address may hold, how fast it may talk.

Counted per process (one event loop: no awaits between read and write, so no lock is needed).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from ops.clients import client_ip

# Defaults of the settings read below.
MAX_SOCKETS_PER_CLIENT = 20
MAX_FRAMES = 50
FRAME_WINDOW = 10.0

# Open sockets per client address in this process.
_client_sockets: dict[str, int] = {}


def client_address(scope: Mapping[str, Any]) -> str | None:
    """The address the per-client socket cap counts under, or None when the server knows none.

    The peer, or behind a trusted proxy the client it names in X-Forwarded-For (ops/clients.py).
    """
    client = scope.get("client")
    peer = str(client[0]) if client else None
    forwarded = [value for name, value in scope.get("headers", ()) if name == b"x-forwarded-for"]
    return client_ip(peer, b",".join(forwarded).decode("latin-1") if forwarded else None)


def max_sockets_per_client() -> int:
    return int(getattr(settings, "LIVEBLOG_MAX_SOCKETS_PER_CLIENT", MAX_SOCKETS_PER_CLIENT))


def claim_client_slot(client: str, limit: int) -> bool:
    """Count one more socket for `client`, unless it already holds `limit` of them."""
    count = _client_sockets.get(client, 0)
    if count >= limit:
        return False
    _client_sockets[client] = count + 1
    return True


def release_client_slot(client: str) -> None:
    count = _client_sockets.get(client, 0) - 1
    if count > 0:
        _client_sockets[client] = count
    else:
        _client_sockets.pop(client, None)


def client_sockets(client: str) -> int:
    return _client_sockets.get(client, 0)


class FrameRate:
    """A sliding window of one socket's client frames: more than `limit` within `window` s is abuse.

    Readers have nothing to say; a client that floods frames is closed (4008) before it can keep
    the process busy answering them.
    """

    def __init__(self, limit: int | None = None, window: float | None = None) -> None:
        self.limit = (
            limit if limit is not None else int(getattr(settings, "LIVEBLOG_WS_MAX_FRAMES", MAX_FRAMES))
        )
        self.window = (
            window
            if window is not None
            else float(getattr(settings, "LIVEBLOG_WS_FRAME_WINDOW", FRAME_WINDOW))
        )
        self._recent: deque[float] = deque()

    def exceeded(self) -> bool:
        """Count one frame now; whether the window now holds more than the limit."""
        now = time.monotonic()
        self._recent.append(now)
        while self._recent and self._recent[0] <= now - self.window:
            self._recent.popleft()
        return len(self._recent) > self.limit
