"""The fast path from a committed Event to readers' sockets.

Called by `transaction.on_commit` from services, so it only ever sees committed events. The
channel layer may drop messages; readers recover from the event log (the source of truth), so a
failure here is logged and never reaches the editor who saved.

Each event is rendered once, here, with the same template partial the reader page uses, and sent
as one channel-layer message; each server process's hub (live/hub.py) builds the frame once and
forwards the same text to its sockets. This module knows the layer message, not the wire format
(live/protocol.py), so the domain never imports the real-time app above it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation

from ops import metrics

from .models import Event, LiveBlog, bylines

logger = logging.getLogger(__name__)

# The channel-layer message type the hubs (live/hub.py) receive: {"type", "blog_id", "seq", "kind",
# "event", "committed_at"}, where "event" is render_event()'s payload and "committed_at" the wall
# clock when the push began, right after the commit (the hubs' fan-out latency metric).
MESSAGE_TYPE = "liveblog.event"

POST_KINDS = frozenset(
    {
        Event.Kind.POST_CREATED,
        Event.Kind.POST_UPDATED,
        Event.Kind.IMPORTANT_CHANGED,
        Event.Kind.PINNED_CHANGED,
        Event.Kind.POST_DELETED,
    }
)


def events_for_rendering() -> QuerySet[Event]:
    """Events with everything render_event() reads, in a fixed number of queries."""
    return Event.objects.select_related("live_blog__successor", "post__live_blog").prefetch_related(
        bylines("post__")
    )


def _render_html(event: Event, blog: LiveBlog) -> str:
    # The post's (or blog's) *current* state, not its state at the time of the event: replaying
    # old events can then never resurrect a deleted post, and applying an event twice is harmless.
    if event.kind in POST_KINDS:
        post = event.post
        if post is None or post.is_deleted:
            return ""
        return render_to_string("posts/liveblog_detail.html#post", {"post": post})
    if event.kind == Event.Kind.BLOG_ARCHIVED and blog.is_archived:
        return render_to_string("posts/liveblog_detail.html#archive_notice", {"blog": blog})
    return ""


def render_event(event: Event) -> dict:
    """The JSON-able payload readers apply: the same for the push and the catch-up endpoint.

    `html` is the post partial exactly as the page renders it (blog language and time zone), or
    "" when the post is gone (the client removes `#post-<id>`).
    """
    blog = event.live_blog
    with translation.override(blog.language), timezone.override(blog.time_zone):
        html = _render_html(event, blog)
    return {"seq": event.seq, "kind": event.kind, "post_id": event.post_id, "html": html}


def _message(event: Event, committed_at: float) -> dict:
    return {
        "type": MESSAGE_TYPE,
        "blog_id": event.live_blog_id,
        "seq": event.seq,
        "kind": event.kind,
        "event": render_event(event),
        "committed_at": committed_at,
    }


def send_event(event_id: int) -> None:
    """Push one committed event to the blog's readers: rendered once, sent as one message."""
    send_events([event_id])


def send_events(event_ids: list[int]) -> None:
    """Push committed events in seq order, read in one query; never raises.

    A layer that fails, or does not answer within SEND_TIMEOUT_SECONDS (a hung Redis), costs the
    editor's request at most that long: the rest of the batch is skipped, and after a time-out no
    send is tried for BREAKER_SECONDS. Readers get the events from the log (heartbeat, catch-up).
    """
    committed_at = time.time()  # called on commit: the start of publish→broadcast latency
    if time.monotonic() < _breaker.open_until:
        _count_failure()
        metrics.broadcast_failed("breaker_open", len(event_ids))
        logger.warning(
            "Channel layer failed recently; %d event(s) left to the readers' catch-up", len(event_ids)
        )
        return
    sent = 0
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        for event in events_for_rendering().filter(pk__in=event_ids).order_by("seq"):
            _group_send(layer, event.live_blog.group_name, _message(event, committed_at))
            sent += 1
            metrics.broadcast_sent(committed_at)
    except Exception as error:
        timed_out = isinstance(error, TimeoutError)
        if timed_out:
            # Hung, not refusing: each further try would cost a save SEND_TIMEOUT_SECONDS again.
            _breaker.open_until = time.monotonic() + BREAKER_SECONDS
            metrics.breaker_opened()
        _count_failure()
        metrics.broadcast_failed("timeout" if timed_out else "error", len(event_ids) - sent)
        logger.exception(
            "Broadcast of %d event(s) failed; readers will catch up from the log", len(event_ids)
        )


# How long an editor's request waits for the channel layer before giving the push up (and logging).
SEND_TIMEOUT_SECONDS = 2.0
# After a send timed out, how long this process does not try the layer again (a hung Redis would
# otherwise cost every save SEND_TIMEOUT_SECONDS); the heartbeat carries readers meanwhile. A layer
# that refuses at once (Redis stopped) is tried every time: that costs nothing and resumes at once.
BREAKER_SECONDS = 10.0


class _Breaker:
    open_until = 0.0


_breaker = _Breaker()
# Failed pushes, per thread: the desk compares the count before and after a service call (whose
# on_commit callbacks run in the calling thread) to tell the editor that live delivery is delayed.
_failures = threading.local()


def _count_failure() -> None:
    _failures.count = failure_count() + 1


def failure_count() -> int:
    """How many pushes failed in this thread so far (see _failures)."""
    return int(getattr(_failures, "count", 0))


class _SenderLoop:
    """One long-lived event loop thread per process for sync callers that have no event loop.

    Under Daphne, services run in sync_to_async threads and async_to_sync hands the send to the
    server's loop, whose Redis connections stay open. Management commands, scripts and editors'
    bulk tools have no such loop: async_to_sync would build a loop and a new Redis connection for
    every event (about 2 ms each here, half the cost of a publish). They share this one instead.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            # A forked child inherits the object but not the thread: start its own.
            if self._loop is None or self._pid != os.getpid() or self._loop.is_closed():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                threading.Thread(target=self._loop.run_forever, name="broadcast-sender", daemon=True).start()
            return self._loop

    def run(self, coroutine, timeout: float):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop()).result(timeout)


_sender = _SenderLoop()


def _has_server_loop() -> bool:
    return (
        getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) == os.getpid()
        and getattr(SyncToAsync.threadlocal, "main_event_loop", None) is not None
    )


async def _bounded_send(layer: BaseChannelLayer, group: str, message: dict[str, Any]) -> None:
    await asyncio.wait_for(layer.group_send(group, message), SEND_TIMEOUT_SECONDS)


def _group_send(layer: BaseChannelLayer, group: str, message: dict[str, Any]) -> None:
    # The in-memory layer's queues belong to the loop that reads them: keep asgiref's routing.
    if _has_server_loop() or isinstance(layer, InMemoryChannelLayer):
        async_to_sync(_bounded_send)(layer, group, message)
    else:
        _sender.run(_bounded_send(layer, group, message), SEND_TIMEOUT_SECONDS + 1)
