"""Atom feeds of a live blog (Django's syndication framework): all posts, or the important ones."""

from __future__ import annotations

from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404
from django.utils import translation
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _

from .models import LiveBlog, Post

FEED_SIZE = 50


class LiveBlogFeed(Feed):
    feed_type = Atom1Feed
    important_only = False

    def get_object(self, request, slug: str) -> LiveBlog:
        return get_object_or_404(LiveBlog.objects.public(), slug=slug)

    def __call__(self, request, *args, **kwargs):
        # Also the feed's xml:lang: Django reads Feed.language as a plain attribute (a method there
        # would be printed as "<bound method …>") and falls back to the active language.
        blog = self.get_object(request, *args, **kwargs)
        with translation.override(blog.language):
            return super().__call__(request, *args, **kwargs)

    def title(self, blog: LiveBlog) -> str:
        if self.important_only:
            return _("%(title)s – important updates") % {"title": blog.title}
        return blog.title

    def subtitle(self, blog: LiveBlog) -> str:
        return blog.teaser

    def link(self, blog: LiveBlog) -> str:
        return blog.get_absolute_url()

    def feed_url(self, blog: LiveBlog) -> str:
        return self.link(blog) + ("feed/important/" if self.important_only else "feed/")

    def feed_guid(self, blog: LiveBlog) -> str:
        return self.feed_url(blog)

    def feed_copyright(self, blog: LiveBlog) -> str:
        return blog.credit_line

    def items(self, blog: LiveBlog):
        posts = blog.posts.visible()
        if self.important_only:
            posts = posts.filter(is_important=True)
        return posts.select_related("live_blog").for_display()[:FEED_SIZE]

    def item_title(self, post: Post) -> str:
        return post.headline

    def item_description(self, post: Post) -> str:
        # Bodies are sanitized on every save (posts/sanitize.py).
        return post.body

    def item_link(self, post: Post) -> str:
        return post.get_absolute_url()

    def item_guid(self, post: Post) -> str:
        # The permalink never changes; edits update the entry, they do not make a new one.
        return post.get_absolute_url()

    def item_author_name(self, post: Post) -> str:
        return ", ".join(author.name for author in post.ordered_authors)

    def item_pubdate(self, post: Post):
        return post.published_at

    def item_updateddate(self, post: Post):
        return post.edited_at or post.published_at


class ImportantUpdatesFeed(LiveBlogFeed):
    important_only = True
