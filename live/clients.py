"""Per-client limits: how many reader sockets one address may hold, how fast it may talk, and how
often it may catch up.

Counted per process. Sockets live on the one event loop (no awaits between read and write, so no
lock); catch-ups are answered in threads, so their buckets have a lock.
"""

from __future__ import annotations

import math
import threading
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
CATCH_UPS_PER_CLIENT = 60
CATCH_UP_WINDOW = 30.0

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


class CatchUpRate:
    """A token bucket per client address: `burst` catch-ups at once, refilled at burst/window per s.

    A reader catches up once per reconnect or gap, and every 10 s while it polls (3 per window),
    so the default leaves room for a household or newsroom of readers behind one address; a client asking
    many times a second (a scraper, a broken loop, distinct `after` values to defeat the cache) is
    answered 429 with the seconds until its next token, which the live client treats like a 503.
    Behind a trusted proxy the address is the client's, not the proxy's (ops/clients.py). Buckets
    refilled to full are forgotten, so memory follows the clients active within one window.
    """

    def __init__(self, burst: int | None = None, window: float | None = None) -> None:
        self.burst = (
            burst
            if burst is not None
            else int(getattr(settings, "LIVEBLOG_CATCH_UPS_PER_CLIENT", CATCH_UPS_PER_CLIENT))
        )
        self.per_second = self.burst / (window if window is not None else CATCH_UP_WINDOW)
        self._buckets: dict[str, tuple[float, float]] = {}  # client: (tokens, at)
        self._lock = threading.Lock()
        self._pruned = time.monotonic()

    def wait_seconds(self, client: str | None) -> int:
        """0 when `client` may catch up now (a token is taken), else whole seconds to wait."""
        if client is None or self.burst <= 0:
            return 0
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                self._prune(now)
                return 0
            self._buckets[client] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.per_second))

    def _prune(self, now: float) -> None:
        full_after = self.burst / self.per_second
        if now - self._pruned < full_after:
            return
        self._pruned = now
        for client, (tokens, at) in list(self._buckets.items()):
            if tokens + (now - at) * self.per_second >= self.burst:
                del self._buckets[client]
