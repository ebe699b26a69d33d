from django.db.models import Max
from django.http import JsonResponse
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


def _reader_context(blog: LiveBlog) -> dict:
    posts = blog.posts.visible().for_display()
    return {
        "blog": blog,
        "pinned": posts.filter(is_pinned=True).first(),
        "important": posts.filter(is_important=True).only("pk", "headline", "published_at"),
        "posts": posts.filter(is_pinned=False)[:PAGE_SIZE],
    }


def liveblog_detail(request, slug: str):
    blog = get_object_or_404(LiveBlog.objects.public(), slug=slug)
    with translation.override(blog.language):
        return render(request, "posts/liveblog_detail.html", _reader_context(blog))


def post_detail(request, slug: str, pk: int):
    blog = get_object_or_404(LiveBlog.objects.public(), slug=slug)
    post = get_object_or_404(Post.objects.visible(), live_blog=blog, pk=pk)
    with translation.override(blog.language):
        return render(request, "posts/liveblog_detail.html", {**_reader_context(blog), "focus": post})


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
