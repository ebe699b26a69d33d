"""What an editors-drill page should show at the end, from the database, and how it compares."""

from __future__ import annotations

from dataclasses import dataclass

from bench.faults.editors.page import EditorsReader


@dataclass
class Check:
    missing: int = 0  # should be on the page, is not
    stale: int = 0  # on the page in an outdated version
    extra: int = 0  # on the page, not visible in the database
    dup_elements: int = 0  # elements beyond the first with one id, now
    older_dup_risk: int = 0  # below a reloaded page's cursor: "Load older posts" will repeat them
    behind: bool = False

    @property
    def converged(self) -> bool:
        """Nothing left that waiting could still fix (duplicate elements stay)."""
        return not (self.missing or self.stale or self.extra or self.behind)

    @property
    def complete(self) -> bool:
        return self.converged and not self.dup_elements


@dataclass
class Final:
    last_seq: int
    html: dict[int, str]  # visible post id -> current markup
    keys: dict[int, tuple]  # every post id (deleted too) -> (published_at, pk), the page's order


def check(reader: EditorsReader, final: Final) -> Check:
    out = Check(behind=reader.last_seq < final.last_seq)
    cursor_key = final.keys.get(reader.cursor) if reader.cursor is not None else None
    for pk, html in final.html.items():
        elements = reader.dom.get(pk)
        below = cursor_key is not None and final.keys[pk] < cursor_key
        if below and elements:
            out.older_dup_risk += 1
        if not elements:
            out.missing += not below
        elif elements[0] != html:
            out.stale += 1
    out.extra = sum(1 for pk in reader.dom if pk not in final.html)
    out.dup_elements = sum(len(e) - 1 for e in reader.dom.values())
    return out


def final_state(blog_id: int) -> Final:
    """The blog's last seq and every visible post's markup as events render it (posts/broadcast.py)."""
    from django.db import close_old_connections
    from django.template.loader import render_to_string
    from django.utils import timezone, translation

    from posts.models import LiveBlog, Post

    close_old_connections()
    blog = LiveBlog.objects.get(pk=blog_id)
    posts = (
        Post.objects.filter(live_blog=blog)
        .select_related("live_blog")
        .prefetch_related("post_authors__author")
    )
    html, keys = {}, {}
    with translation.override(blog.language), timezone.override(blog.time_zone):
        for post in posts:
            keys[post.pk] = (post.published_at, post.pk)
            if not post.is_deleted:
                html[post.pk] = render_to_string("posts/liveblog_detail.html#post", {"post": post}).strip()
    return Final(blog.last_seq, html, keys)
