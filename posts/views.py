"""The reader pages: the blog list, a blog's page (and its older posts), a permalink, the embed,
an author's page."""

from django.conf import settings
from django.db.models import Case, F, Max, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control
from django.utils.csp import CSP
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import condition

from authors.models import Author

from .models import LiveBlog, Post
from .paging import NEWEST, OLDEST, posts_after, take_page
from .structured_data import json_ld, live_blog_posting

PAGE_SIZE = 20


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


def _reading_order(request, blog: LiveBlog) -> str:
    # Oldest-first suits a finished blog read as a story; a live blog always shows newest first.
    return OLDEST if blog.is_archived and request.GET.get("order") == OLDEST else NEWEST


def _stream(blog: LiveBlog, order: str):
    posts = blog.posts.visible().for_display().filter(is_pinned=False)
    return posts.order_by("published_at", "pk") if order == OLDEST else posts


def _after(posts, post: Post, order: str):
    return posts_after(posts, post.published_at, post.pk, order)


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
    posts, next_post = take_page(stream, limit)
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
    posts, next_post = take_page(_after(_stream(blog, order), cursor, order), PAGE_SIZE)
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
    # What django.views.decorators.csp.csp_override sets, but per request: the origins are a setting.
    response._csp_config = {  # type: ignore[attr-defined]
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


def author_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """An author's page: who they are and their latest posts in public blogs."""
    author = get_object_or_404(Author, slug=slug)
    posts = (
        Post.objects.public()
        .filter(post_authors__author=author)
        .select_related("live_blog")
        .order_by("-published_at")[:20]
    )
    return render(request, "authors/author_detail.html", {"author": author, "posts": posts})
