from django.db.models import Max, Q
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import translation
from django.views.decorators.http import require_GET

from .broadcast import events_for_rendering, render_event
from .models import LiveBlog, Post

PAGE_SIZE = 20
# Events per catch-up response; a client that gets a full page asks again from the last seq.
CATCH_UP_LIMIT = 500
SEQ_MAX = 2**31 - 1  # PositiveIntegerField's range; larger numbers would overflow the query


def liveblog_list(request):
    blogs = (
        LiveBlog.objects.public()
        .annotate(last_post_at=Max("posts__published_at"))
        .order_by("state", "-last_post_at", "-created_at")
    )
    return render(request, "posts/liveblog_list.html", {"blogs": blogs})


def _older_than(posts, post: Post):
    """Posts after `post` in reading order (newest first): a cursor that new posts cannot shift."""
    return posts.filter(
        Q(published_at__lt=post.published_at) | Q(published_at=post.published_at, pk__lt=post.pk)
    )


def _page(posts, limit: int = PAGE_SIZE) -> tuple[list[Post], Post | None]:
    """One page of posts and the post to continue after (None at the end)."""
    page = list(posts[: limit + 1])
    return page[:limit], (page[limit - 1] if len(page) > limit else None)


def _reader_context(blog: LiveBlog, *, through: Post | None = None) -> dict:
    """The reader page; with `through`, every post down to that one (the permalink's page)."""
    visible = blog.posts.visible().for_display()
    stream = visible.filter(is_pinned=False)
    if through is not None and not through.is_pinned:
        newer = stream.exclude(pk__in=_older_than(stream, through).values("pk")).count()
        posts, next_post = _page(stream, max(PAGE_SIZE, newer))
    else:
        posts, next_post = _page(stream)
    return {
        "blog": blog,
        "pinned": visible.filter(is_pinned=True).first(),
        "important": visible.filter(is_important=True).only("pk", "headline", "published_at"),
        "posts": posts,
        "next_post": next_post,
        "last_post": visible.only("published_at").first(),
    }


def _public_blog(slug: str) -> LiveBlog:
    return get_object_or_404(LiveBlog.objects.public().select_related("successor"), slug=slug)


def liveblog_detail(request, slug: str):
    blog = _public_blog(slug)
    with translation.override(blog.language):
        if "before" in request.GET:
            return _older_posts(request, blog)
        return render(request, "posts/liveblog_detail.html", _reader_context(blog))


def _older_posts(request, blog: LiveBlog):
    """ "Load older posts": the next page after `?before=<post id>` (htmx fragment or full page)."""
    try:
        cursor = blog.posts.get(pk=int(request.GET["before"]))
    except (ValueError, Post.DoesNotExist):
        raise Http404("No such post") from None
    stream = blog.posts.visible().for_display().filter(is_pinned=False)
    posts, next_post = _page(_older_than(stream, cursor))
    context = {"blog": blog, "posts": posts, "next_post": next_post}
    if request.htmx:
        return render(request, "posts/liveblog_detail.html#older-posts", context)
    return render(request, "posts/liveblog_detail.html", {**_reader_context(blog), **context, "paged": True})


def post_detail(request, slug: str, pk: int):
    blog = _public_blog(slug)
    post = get_object_or_404(Post.objects.visible(), live_blog=blog, pk=pk)
    with translation.override(blog.language):
        return render(
            request, "posts/liveblog_detail.html", {**_reader_context(blog, through=post), "focus": post}
        )


@require_GET
def liveblog_events(request, slug: str):
    """What a reader missed: the blog's events after `?after=<seq>`, in order, as the push sends them.

    Each event carries the post's current markup (or "" once deleted), so replaying is idempotent.
    At most CATCH_UP_LIMIT events; `last_seq` tells the client whether to ask again.
    """
    blog = get_object_or_404(LiveBlog.objects.public(), slug=slug)
    try:
        after = int(request.GET.get("after", "0"))
        if not 0 <= after <= SEQ_MAX:
            raise ValueError
    except ValueError:
        return JsonResponse(
            {"error": "after must be a non-negative integer: the last event seq the client applied."},
            status=400,
        )
    events = [
        render_event(event)
        for event in events_for_rendering()
        .filter(live_blog=blog, seq__gt=after)
        .order_by("seq")[:CATCH_UP_LIMIT]
    ]
    # An event committed after the blog row was read may be in the list: never report less than it.
    last_seq = max(blog.last_seq, events[-1]["seq"] if events else 0)
    response = JsonResponse(
        {"events": events, "last_seq": last_seq},
        json_dumps_params={"ensure_ascii": False},
    )
    # Always fresh: the answer changes with every event.
    response["Cache-Control"] = "no-store"
    return response
