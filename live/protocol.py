"""The live protocol: every frame the server sends a reader, and every close code, named once.

Frames are JSON text. A reader receives:
- ``hello`` once on connect, with the blog's newest ``last_seq`` (read after joining, so every
  newer event arrives by push);
- ``event`` for each change, ``{"type": "event", "seq", "kind", "post_id", "html"}``: the post
  partial as the page renders it ("" once the post is gone);
- ``ping`` every heartbeat, with the newest ``last_seq`` the database knows;
- ``error`` in answer to a frame the server cannot use (the socket stays open).
A reader that sees a ``last_seq`` or ``seq`` beyond what it applied asks the catch-up endpoint.

The client mirrors these names from ``static/js/live/protocol.js``, which
``manage.py live_protocol_js`` writes from this module (a test keeps the two in step).
"""

from __future__ import annotations

import json
from enum import IntEnum, StrEnum
from typing import Any


class Close(IntEnum):
    """WebSocket close codes the server uses, and what the client does about each."""

    # The blog was archived: nothing more will come; the client stops.
    NORMAL = 1000
    # 1008 (policy violation) in the application range: autobahn refuses 1001-2999 from
    # applications. Too many frames from the client; it backs off for long.
    POLICY_VIOLATION = 4008
    # A socket that could not take a frame in time (1011 would say it, but Daphne's autobahn
    # accepts only 1000 and 3000-4999 from applications): reconnect and catch up.
    TOO_SLOW = 4011
    # 1013 (try again later) in the application range: the database could not be reached.
    TRY_AGAIN_LATER = 4013
    # No public blog under this slug.
    NOT_FOUND = 4404
    # This client address holds too many sockets in this process; it backs off for long.
    TOO_MANY_SOCKETS = 4429


class Frame(StrEnum):
    """The ``type`` of each frame the server sends."""

    HELLO = "hello"
    EVENT = "event"
    PING = "ping"
    ERROR = "error"


# Event kinds the client treats specially (the rest update or remove a post).
BLOG_ARCHIVED = "blog.archived"


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def hello(last_seq: int) -> str:
    return _dump({"type": Frame.HELLO, "last_seq": last_seq})


def ping(last_seq: int) -> str:
    return _dump({"type": Frame.PING, "last_seq": last_seq})


def event(payload: dict[str, Any]) -> str:
    """The frame for one rendered event (posts.broadcast.render_event's payload)."""
    return _dump({"type": Frame.EVENT, **payload})


def error(message: str) -> str:
    return _dump({"type": Frame.ERROR, "error": message})


def javascript_module() -> str:
    """static/js/live/protocol.js: the same names for the client, as an ES module."""
    lines = [
        "// Generated from live/protocol.py by `manage.py live_protocol_js`: do not edit by hand.",
        "export const Close = Object.freeze({",
        *(f"  {code.name}: {code.value}," for code in Close),
        "});",
        "export const Frame = Object.freeze({",
        *(f'  {frame.name}: "{frame.value}",' for frame in Frame),
        "});",
        f'export const BLOG_ARCHIVED = "{BLOG_ARCHIVED}";',
        "",
    ]
    return "\n".join(lines)
