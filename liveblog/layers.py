"""The channel layer settings, from REDIS_URL and the LIVEBLOG_REDIS_* variables (see README)."""

import os
from typing import Any

from django.core.exceptions import ImproperlyConfigured

# channels-redis's blocking pop (the hubs' receive) waits this long on the server (its brpop_timeout).
BLOCKING_POP_SECONDS = 5


def redis_channel_layer(url: str) -> dict[str, Any]:
    """CHANNEL_LAYERS["default"] for the channels-redis layer on `url`.

    The host dict goes to redis-py's connection pool. Its timeouts decide what a hung Redis (stopped,
    frozen: the kernel still accepts connections, nothing answers) costs: without them a read waits
    for ever, and a hub whose receive hangs would stay deaf after Redis came back.
    """
    socket_timeout = float(os.environ.get("LIVEBLOG_REDIS_SOCKET_TIMEOUT", "10"))
    if socket_timeout <= BLOCKING_POP_SECONDS:
        # redis-py 8's default (5 s) equals the blocking pop: idle hubs timed out and reconnected
        # all the time under many readers (see shared/TESTING.md).
        raise ImproperlyConfigured(f"LIVEBLOG_REDIS_SOCKET_TIMEOUT must exceed {BLOCKING_POP_SECONDS} s")
    host = {
        "address": url,
        # A TCP connect that gets no answer (host gone) gives up after this long.
        "socket_connect_timeout": float(os.environ.get("LIVEBLOG_REDIS_CONNECT_TIMEOUT", "2")),
        # Any reply, including the blocking pop's empty one after BLOCKING_POP_SECONDS: a hung
        # Redis then raises TimeoutError; the hub retries and re-joins its groups, and pushes are
        # bounded more tightly still by posts.broadcast (SEND_TIMEOUT_SECONDS).
        "socket_timeout": socket_timeout,
        # A connection idle this long is PINGed before reuse: one that died with a Redis restart is
        # replaced instead of failing the next push.
        "health_check_interval": 30,
        # redis-py 8 caps its pool at 100 connections: too few for a hub per process plus pushes
        # from every request thread under many readers.
        "max_connections": 2000,
    }
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [host],
            "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "liveblog"),
            # Messages a channel may hold before group_send silently drops more. Each process's hub
            # has one channel for all its blogs; channels-redis's default of 100 overflowed under 4
            # concurrent editors (bench/faults/ editors: up to 837 drops per run, each a reader gap
            # to catch up). 1,000 frames of a few KiB stay small for Redis.
            "capacity": int(os.environ.get("LIVEBLOG_LAYER_CAPACITY", "1000")),
        },
    }
