"""The fast path from a committed Event to readers' sockets.

Called by `transaction.on_commit` from services, so it only ever sees committed events. The
channel layer may drop messages; readers recover from the event log (the source of truth), so a
failure here is logged and never reaches the editor who saved.

Each event is rendered once, here, with the same template partial the reader page uses; the
serialized frame then travels through the channel layer as text and consumers only forward it.
"""

from __future__ import annotations

import json
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .models import Event, LiveBlog

logger = logging.getLogger(__name__)

# The channel-layer message type; the hub (posts/hub.py) forwards its "text" unchanged.
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


def events_for_rendering():
    """Events with everything render_event() reads, in a fixed number of queries."""
    return Event.objects.select_related("live_blog__successor", "post__live_blog").prefetch_related(
        "post__post_authors__author"
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


def event_frame(payload: dict) -> str:
    """The WebSocket text frame for one rendered event."""
    return json.dumps({"type": "event", **payload}, ensure_ascii=False, separators=(",", ":"))


def send_event(event_id: int) -> None:
    """Push one committed event to the blog's readers: rendered once, sent as one message."""
    try:
        event = events_for_rendering().get(pk=event_id)
        layer = get_channel_layer()
        if layer is None:
            return
        message = {
            "type": MESSAGE_TYPE,
            "blog_id": event.live_blog_id,
            "seq": event.seq,
            "text": event_frame(render_event(event)),
        }
        async_to_sync(layer.group_send)(event.live_blog.group_name, message)
    except Exception:
        logger.exception("Broadcast of event %s failed; readers will catch up from the log", event_id)
