"""The catch-up endpoint: what a reader missed, from the event log (the source of truth).

The client asks it on a gap in the seqs it received, after a reconnect, when a hello or ping names
a newer seq, and every few seconds while the socket cannot connect.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from ops import metrics
from ops.clients import request_client_ip
from posts.broadcast import events_for_rendering, render_event
from posts.models import LiveBlog
from posts.paging import BadParameter, parse_after

from .clients import CatchUpRate

# Events per catch-up response; a client that gets a full page asks again from the last seq.
CATCH_UP_LIMIT = 500
# After a burst every reader of a blog asks for the same events at once, and each request holds a
# database connection while it renders: bound how many run at once per process (bench/faults
# exhausted PostgreSQL's connections without this). Readers told to wait retry with jitter.
_catch_up_slots = threading.BoundedSemaphore(settings.LIVEBLOG_CATCH_UP_CONCURRENCY)
CATCH_UP_QUEUE_SECONDS = 5.0
# A reconnect herd asks the same question (the same `after`, the same newest seq) hundreds of times
# within seconds: the rendered answer is cached for this long, so that each of those readers costs
# one query (the blog row). The key holds the blog's last_seq, so every event changes it; what is
# not an event (an author's new name, the successor blog's new title) shows up at most this late.
CATCH_UP_CACHE_SECONDS = 5
# Readers that miss the cache together wait for the one that renders the answer (per process).
_catch_up_render_locks = [threading.Lock() for _ in range(16)]
# Per client address and process (live/clients.py).
catch_up_rate = CatchUpRate()


@require_GET
def liveblog_events(request: HttpRequest, slug: str) -> HttpResponse:
    """The blog's events after `?after=<seq>`, in order, as the push sends them.

    Each event carries the post's current markup (or "" once deleted), so replaying is idempotent.
    At most CATCH_UP_LIMIT events; `last_seq` tells the client whether to ask again. Answers 429
    with Retry-After to a client asking too often, 503 with Retry-After when the process is busy
    with other catch-ups. One query (the blog row) when the same answer was rendered within
    CATCH_UP_CACHE_SECONDS.
    """
    wait = catch_up_rate.wait_seconds(request_client_ip(request))
    if wait:
        metrics.catch_up("rate_limited")
        return _retry_later({"error": "too many catch-ups, try again later"}, 429, wait)
    if not _catch_up_slots.acquire(timeout=CATCH_UP_QUEUE_SECONDS):
        metrics.catch_up("busy")
        metrics.unavailable("catch_up_busy")
        return _retry_later({"error": "busy, try again shortly"}, 503, 2)
    try:
        return _events_response(request, slug)
    except Http404:
        metrics.catch_up("not_found")
        raise
    finally:
        _catch_up_slots.release()


def _retry_later(body: dict[str, str], status: int, seconds: int) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Retry-After"] = str(seconds)
    response["Cache-Control"] = "no-store"
    return response


def _events_response(request: HttpRequest, slug: str) -> HttpResponse:
    blog = get_object_or_404(
        LiveBlog.objects.public().only("pk", "last_seq", "language", "time_zone", "updated_at"), slug=slug
    )
    try:
        after = parse_after(request.GET.get("after"))
    except BadParameter as error:
        metrics.catch_up("bad_request")
        return JsonResponse({"error": str(error)}, status=400)
    # Everything the answer depends on that the blog row carries: a new event bumps last_seq, an
    # edit of the blog (language, time zone, successor) bumps updated_at.
    key = (
        f"liveblog:catch-up:{blog.pk}:{blog.updated_at.timestamp()}:{blog.last_seq}:{after}:"
        f"{CATCH_UP_LIMIT}:{blog.language}:{blog.time_zone}"
    )
    outcome = "cached"
    content = cache.get(key)
    if content is None:
        with _catch_up_render_locks[hash(key) % len(_catch_up_render_locks)]:
            content = cache.get(key)
            if content is None:
                content = _render_events(blog, after)
                cache.set(key, content, CATCH_UP_CACHE_SECONDS)
                outcome = "rendered"
    metrics.catch_up(outcome)
    response = HttpResponse(content, content_type="application/json")
    # Always fresh for browsers and proxies: the answer changes with every event.
    response["Cache-Control"] = "no-store"
    response["Content-Language"] = blog.language
    return response


def _render_events(blog: LiveBlog, after: int) -> bytes:
    """The catch-up answer's JSON body (the events query: a fixed number of queries)."""
    events = [
        render_event(event)
        for event in events_for_rendering()
        .filter(live_blog=blog, seq__gt=after)
        .order_by("seq")[:CATCH_UP_LIMIT]
    ]
    # An event committed after the blog row was read may be in the list: never report less than it.
    last_seq = max(blog.last_seq, events[-1]["seq"] if events else 0)
    return JsonResponse(
        {"events": events, "last_seq": last_seq}, json_dumps_params={"ensure_ascii": False}
    ).content
