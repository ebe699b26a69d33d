from django.db.models import Max
from django.shortcuts import get_object_or_404, render
from django.utils import translation

from .models import LiveBlog, Post

PAGE_SIZE = 20


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
