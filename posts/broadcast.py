"""The fast path from a committed Event to readers' sockets.

Called by `transaction.on_commit` from services, so it only ever sees committed events. The
channel layer may drop messages; readers recover from the event log (the source of truth), so a
failure here is logged and never reaches the editor who saved.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from .models import Event

logger = logging.getLogger(__name__)


def event_message(event: Event) -> dict:
    return {
        "type": "liveblog.event",
        "seq": event.seq,
        "kind": event.kind,
        "post_id": event.post_id,
    }


def send_event(event_id: int) -> None:
    """Push one committed event to the blog's readers."""
    try:
        event = Event.objects.select_related("live_blog").get(pk=event_id)
        layer = get_channel_layer()
        if layer is None:
            return
        async_to_sync(layer.group_send)(event.live_blog.group_name, event_message(event))
    except Exception:
        logger.exception("Broadcast of event %s failed; readers will catch up from the log", event_id)
