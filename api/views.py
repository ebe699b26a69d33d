"""Read-only JSON API for apps and partners (issue 4), described by docs/openapi.yaml.

Three GET endpoints: a blog with a page of its posts (cursor-paginated, newest first), the blog's
event log (the same log, in the same order, as the reader page's catch-up endpoint) and the
OpenAPI document. Everything here is public data: any origin may read it, no credentials.

Posts come out as the same JSON object everywhere, with their *current* state; an event names
what changed and carries the post as it is now (null once deleted), so replaying is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet, prefetch_related_objects
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import conditional_page

from live.views import CATCH_UP_LIMIT
from posts.broadcast import POST_KINDS, events_for_rendering
from posts.models import Event, LiveBlog, Post, bylines
from posts.paging import BadParameter, parse_after, parse_int, posts_after, take_page

from .serializers import absolute, blog_data, decode_cursor, encode_cursor, post_data

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Events per response, as on the catch-up endpoint; `next` continues from the last one.
EVENTS_LIMIT = CATCH_UP_LIMIT

ALLOWED_METHODS = ("GET", "HEAD", "OPTIONS")
LIVE_CACHE = "public, max-age=5"
ARCHIVED_CACHE = "public, max-age=3600"


def _cors(response: HttpResponse) -> HttpResponse:
    # Public, read-only data: any origin may read it. No credentials, so "*" is enough (and
    # allowed: browsers refuse "*" only together with Access-Control-Allow-Credentials).
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _json(
    data: dict[str, Any], *, status: int = 200, cache: str = LIVE_CACHE, language: str | None = None
) -> JsonResponse:
    response = JsonResponse(
        data, status=status, encoder=DjangoJSONEncoder, json_dumps_params={"ensure_ascii": False}
    )
    response["Cache-Control"] = cache
    if language:
        # The blog's texts, in its language, whatever the client prefers (no Vary: Accept-Language).
        response["Content-Language"] = language
    return response


def _error(message: str, status: int, cache: str = LIVE_CACHE) -> JsonResponse:
    return _json({"error": message}, status=status, cache=cache)


def api_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """GET (and HEAD) only, CORS on every answer, OPTIONS preflights answered without the view.

    Answers carry an ETag of their body; a client (or CDN) polling with If-None-Match gets 304
    without the body while nothing changed.
    """
    view = conditional_page(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            response["Access-Control-Max-Age"] = "86400"
        elif request.method not in ALLOWED_METHODS:
            response = _error("method not allowed: this API is read-only (GET)", 405)
            response["Allow"] = ", ".join(ALLOWED_METHODS)
        else:
            response = view(request, *args, **kwargs)
        return _cors(response)

    return wrapper


def _cache_control(blog: LiveBlog) -> str:
    # An archived blog is frozen (a reopen is rare and may show up to an hour late); a live one
    # changes every few seconds, and clients catch up through the events endpoint anyway.
    return ARCHIVED_CACHE if blog.is_archived else LIVE_CACHE


def _public_blog(slug: str) -> LiveBlog | None:
    return LiveBlog.objects.public().select_related("successor").filter(slug=slug).first()


def _limit(request: HttpRequest) -> int:
    message = f"limit must be an integer from 1 to {MAX_LIMIT}."
    return parse_int(request.GET.get("limit"), default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT, message=message)


# -- views --------------------------------------------------------------------------------------


@api_view
def liveblog(request: HttpRequest, slug: str) -> HttpResponse:
    """The blog, its pinned post and a page of the other posts, newest first."""
    # The blog row (and its last_seq) is read before the posts: a post published in between is
    # then both in this answer and after last_seq, which the client applies twice, harmlessly.
    blog = _public_blog(slug)
    if blog is None:
        return _error("not found", 404)
    cache = _cache_control(blog)
    try:
        limit = _limit(request)
        cursor = decode_cursor(request.GET["cursor"]) if "cursor" in request.GET else None
    except BadParameter as error:
        return _error(str(error), 400, cache)

    visible = blog.posts.visible()
    stream: QuerySet[Post] = visible.filter(is_pinned=False).order_by("-published_at", "-pk")
    if cursor is not None:
        stream = posts_after(stream, *cursor)
    posts, next_post = take_page(stream, limit)
    pinned = visible.filter(is_pinned=True).first()
    # One prefetch for the page and the pinned post together.
    prefetch_related_objects([p for p in [pinned, *posts] if p is not None], bylines())

    next_url = None
    if next_post is not None:
        query = urlencode({"cursor": encode_cursor(next_post), "limit": limit})
        next_url = absolute(request, f"{reverse('api-liveblog', kwargs={'slug': blog.slug})}?{query}")
    data = {
        "blog": blog_data(request, blog),
        "pinned": post_data(request, pinned, blog) if pinned else None,
        "posts": [post_data(request, post, blog) for post in posts],
        "next": next_url,
    }
    return _json(data, cache=cache, language=blog.language)


@api_view
def liveblog_events(request: HttpRequest, slug: str) -> HttpResponse:
    """The blog's event log after `?after=<seq>`, in seq order; the same log as the catch-up endpoint."""
    blog = _public_blog(slug)
    if blog is None:
        return _error("not found", 404)
    cache = _cache_control(blog)
    try:
        after = parse_after(request.GET.get("after"))
    except BadParameter as error:
        return _error(str(error), 400, cache)

    events, last_event = take_page(
        events_for_rendering().filter(live_blog=blog, seq__gt=after).order_by("seq"), EVENTS_LIMIT
    )
    posts: dict[int, dict[str, Any] | None] = {}  # one post may appear in many events; serialize it once

    def post_of(event: Event) -> dict[str, Any] | None:
        post = event.post
        if event.kind not in POST_KINDS or post is None or post.is_deleted:
            return None
        if post.pk not in posts:
            posts[post.pk] = post_data(request, post, blog)
        return posts[post.pk]

    # An event committed after the blog row was read may be in the list: never report less than it.
    last_seq = max(blog.last_seq, events[-1].seq if events else 0)
    next_url = None
    if last_event is not None:
        path = reverse("api-liveblog-events", kwargs={"slug": blog.slug})
        next_url = absolute(request, f"{path}?{urlencode({'after': last_event.seq})}")
    data = {
        "events": [
            {
                "seq": event.seq,
                "kind": event.kind,
                "post_id": event.post_id,
                "created_at": event.created_at,
                "post": post_of(event),
            }
            for event in events
        ],
        "last_seq": last_seq,
        "next": next_url,
    }
    return _json(data, cache=cache, language=blog.language)


@api_view
def schema(request: HttpRequest) -> HttpResponse:
    """The OpenAPI 3.1 document (docs/openapi.yaml), written by hand next to this module's views."""
    document = (settings.BASE_DIR / "docs" / "openapi.yaml").read_bytes()
    response = HttpResponse(document, content_type="application/yaml")
    response["Cache-Control"] = ARCHIVED_CACHE  # changes only with a deploy
    return response
