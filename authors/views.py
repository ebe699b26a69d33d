from django.shortcuts import get_object_or_404, render

from posts.models import Post

from .models import Author


def author_detail(request, slug: str):
    author = get_object_or_404(Author, slug=slug)
    posts = (
        Post.objects.visible()
        .filter(post_authors__author=author, live_blog__state__in=["live", "archived"])
        .select_related("live_blog")
        .order_by("-published_at")[:20]
    )
    return render(request, "authors/author_detail.html", {"author": author, "posts": posts})
