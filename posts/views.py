import threading

from django.conf import settings
from django.core.cache import cache
from django.db.models import Case, F, Max, Q, When
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control
from django.utils.csp import CSP
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import condition, require_GET

from .broadcast import events_for_rendering, render_event
from .models import LiveBlog, Post
from .structured_data import json_ld, live_blog_posting

PAGE_SIZE = 20
# Events per catch-up response; a client that gets a full page asks again from the last seq.
CATCH_UP_LIMIT = 500
SEQ_MAX = 2**31 - 1  # PositiveIntegerField's range; larger numbers would overflow the query


def liveblog_list(request):
    blogs = (
        LiveBlog.objects.public()
        .annotate(
            last_post_at=Max("posts__published_at"),
            is_running=Case(When(state=LiveBlog.State.LIVE, then=0), default=1),
        )
        .order_by("is_running", F("last_post_at").desc(nulls_last=True), "-created_at")
    )
    return render(request, "posts/liveblog_list.html", {"blogs": blogs})


NEWEST, OLDEST = "newest", "oldest"


def _reading_order(request, blog: LiveBlog) -> str:
    # Oldest-first suits a finished blog read as a story; a live blog always shows newest first.
    return OLDEST if blog.is_archived and request.GET.get("order") == OLDEST else NEWEST


def _stream(blog: LiveBlog, order: str):
    posts = blog.posts.visible().for_display().filter(is_pinned=False)
    return posts.order_by("published_at", "pk") if order == OLDEST else posts


def _after(posts, post: Post, order: str):
    """Posts after `post` in reading order: a cursor that newly published posts cannot shift."""
    if order == OLDEST:
        return posts.filter(
            Q(published_at__gt=post.published_at) | Q(published_at=post.published_at, pk__gt=post.pk)
        )
    return posts.filter(
        Q(published_at__lt=post.published_at) | Q(published_at=post.published_at, pk__lt=post.pk)
    )


def _page(posts, limit: int = PAGE_SIZE) -> tuple[list[Post], Post | None]:
    """One page of posts and the post to continue after (None at the end)."""
    page = list(posts[: limit + 1])
    return page[:limit], (page[limit - 1] if len(page) > limit else None)


def _more_url(blog: LiveBlog, order: str, next_post: Post | None) -> str:
    if next_post is None:
        return ""
    query = f"order={OLDEST}&" if order == OLDEST else ""
    return f"{blog.get_absolute_url()}?{query}cursor={next_post.pk}"


def _reader_context(blog: LiveBlog, order: str = NEWEST, *, through: Post | None = None) -> dict:
    """The reader page; with `through`, every post down to that one (the permalink's page)."""
    visible = blog.posts.visible().for_display()
    stream = _stream(blog, order)
    limit = PAGE_SIZE
    if through is not None and not through.is_pinned:
        limit = max(PAGE_SIZE, stream.count() - _after(stream, through, order).count())
    posts, next_post = _page(stream, limit)
    return {
        "blog": blog,
        "order": order,
        "pinned": visible.filter(is_pinned=True).first(),
        "important": visible.filter(is_important=True).only("pk", "headline", "published_at"),
        "posts": posts,
        "more_url": _more_url(blog, order, next_post),
        "last_post": visible.only("published_at").first(),
        "predecessor": blog.predecessors.public().order_by("-coverage_started_at").first(),
    }


def _with_structured_data(request, context: dict) -> dict:
    posts = [p for p in [context.get("pinned"), *context["posts"]] if p is not None]
    base = f"{request.scheme}://{request.get_host()}"
    context["structured_data"] = json_ld(live_blog_posting(context["blog"], posts, base))
    return context


def _public_blog(slug: str) -> LiveBlog:
    return get_object_or_404(LiveBlog.objects.public().select_related("successor"), slug=slug)


def _last_modified(blog: LiveBlog):
    newest_change = blog.posts.aggregate(at=Max("updated_at"))["at"]
    return max(filter(None, [blog.updated_at, newest_change]))


def _archived_etag(request, slug: str, **kwargs) -> str | None:
    blog = LiveBlog.objects.public().filter(slug=slug).only("pk", "state", "last_seq", "updated_at").first()
    if blog is None or not blog.is_archived:
        return None
    query = request.GET.urlencode()
    return f"archived-{blog.pk}-{blog.last_seq}-{_last_modified(blog).timestamp()}-{query}"


def _archived_last_modified(request, slug: str, **kwargs):
    blog = LiveBlog.objects.public().filter(slug=slug, state=LiveBlog.State.ARCHIVED).first()
    return _last_modified(blog) if blog else None


def _cache_headers(response, blog: LiveBlog):
    # In the blog's language whatever the browser prefers: no Vary on Accept-Language, so every
    # reader shares one cached copy (liveblog.middleware.LocaleMiddleware keeps this header).
    response["Content-Language"] = blog.language
    if blog.is_archived:
        # Frozen: let browsers and CDNs keep it; ETag/Last-Modified answer revalidations with 304.
        patch_cache_control(response, public=True, max_age=3600, stale_while_revalidate=86400)
    else:
        # Live: always revalidate (the page carries its seq; the client catches up anyway).
        patch_cache_control(response, no_cache=True)
    return response


@condition(etag_func=_archived_etag, last_modified_func=_archived_last_modified)
def liveblog_detail(request, slug: str):
    blog = _public_blog(slug)
    order = _reading_order(request, blog)
    with translation.override(blog.language):
        if "cursor" in request.GET or "before" in request.GET:
            response = _more_posts(request, blog, order)
        else:
            context = _with_structured_data(request, _reader_context(blog, order))
            response = render(request, "posts/liveblog_detail.html", context)
    return _cache_headers(response, blog)


def _more_posts(request, blog: LiveBlog, order: str):
    """ "Load older posts": the next page after `?cursor=<post id>` (htmx fragment or full page)."""
    try:
        cursor = blog.posts.get(pk=int(request.GET.get("cursor") or request.GET["before"]))
    except (ValueError, Post.DoesNotExist):
        raise Http404("No such post") from None
    posts, next_post = _page(_after(_stream(blog, order), cursor, order))
    context = {"blog": blog, "order": order, "posts": posts, "more_url": _more_url(blog, order, next_post)}
    if request.htmx:
        # The partial renders outside the page's {% timezone %} block: give it the blog's zone.
        with timezone.override(blog.time_zone):
            return render(request, "posts/liveblog_detail.html#older-posts", context)
    return render(
        request, "posts/liveblog_detail.html", {**_reader_context(blog, order), **context, "paged": True}
    )


@xframe_options_exempt  # framing is governed by CSP frame-ancestors below, per configured origin
def liveblog_embed(request, slug: str):
    """A minimal live page for partners' iframes; it reports its height to the parent page."""
    blog = _public_blog(slug)
    with translation.override(blog.language):
        response = render(request, "posts/liveblog_embed.html", _reader_context(blog))
    response._csp_config = {
        **settings.SECURE_CSP,
        "frame-ancestors": [CSP.SELF, *settings.LIVEBLOG_EMBED_ORIGINS],
    }
    return _cache_headers(response, blog)


def post_detail(request, slug: str, pk: int):
    blog = _public_blog(slug)
    post = get_object_or_404(Post.objects.visible(), live_blog=blog, pk=pk)
    with translation.override(blog.language):
        context = _with_structured_data(request, {**_reader_context(blog, through=post), "focus": post})
        response = render(request, "posts/liveblog_detail.html", context)
    return _cache_headers(response, blog)


# After a burst every reader of a blog asks for the same events at once, and each request holds a
# database connection while it renders: bound how many run at once per process (bench/faults.py
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


@require_GET
def liveblog_events(request, slug: str):
    """What a reader missed: the blog's events after `?after=<seq>`, in order, as the push sends them.

    Each event carries the post's current markup (or "" once deleted), so replaying is idempotent.
    At most CATCH_UP_LIMIT events; `last_seq` tells the client whether to ask again. Answers 503
    with Retry-After when the process is busy with other catch-ups. One query (the blog row) when
    the same answer was rendered within CATCH_UP_CACHE_SECONDS.
    """
    if not _catch_up_slots.acquire(timeout=CATCH_UP_QUEUE_SECONDS):
        response = JsonResponse({"error": "busy, try again shortly"}, status=503)
        response["Retry-After"] = "2"
        response["Cache-Control"] = "no-store"
        return response
    try:
        return _events_response(request, slug)
    finally:
        _catch_up_slots.release()


def _events_response(request, slug: str):
    blog = get_object_or_404(
        LiveBlog.objects.public().only("pk", "last_seq", "language", "time_zone", "updated_at"), slug=slug
    )
    try:
        after = int(request.GET.get("after", "0"))
        if not 0 <= after <= SEQ_MAX:
            raise ValueError
    except ValueError:
        return JsonResponse(
            {"error": "after must be a non-negative integer: the last event seq the client applied."},
            status=400,
        )
    # Everything the answer depends on that the blog row carries: a new event bumps last_seq, an
    # edit of the blog (language, time zone, successor) bumps updated_at.
    key = (
        f"liveblog:catch-up:{blog.pk}:{blog.updated_at.timestamp()}:{blog.last_seq}:{after}:"
        f"{CATCH_UP_LIMIT}:{blog.language}:{blog.time_zone}"
    )
    content = cache.get(key)
    if content is None:
        with _catch_up_render_locks[hash(key) % len(_catch_up_render_locks)]:
            content = cache.get(key)
            if content is None:
                content = _render_events(blog, after)
                cache.set(key, content, CATCH_UP_CACHE_SECONDS)
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
